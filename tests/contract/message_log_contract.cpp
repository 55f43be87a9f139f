// The MessageLog contract: what the pipeline relies on from any log engine.

#include <algorithm>
#include <map>
#include <set>
#include <thread>

#include "contracts.hpp"
#include "log_helpers.hpp"

namespace parley::contract {
namespace {

using namespace std::chrono_literals;

// Each partition's acknowledged offsets, in submission order (acks[i] was
// appended under keys[i]), run 0, 1, 2… with no gap.
void expect_submission_order_per_partition(ports::MessageLog& log, std::string_view topic,
                                           const std::vector<std::string>& keys,
                                           std::vector<std::future<Result<std::uint64_t>>>& acks) {
  std::map<int, std::vector<std::uint64_t>> by_partition;
  for (std::size_t i = 0; i < acks.size(); ++i) {
    by_partition[log.partition_for(topic, keys[i])].push_back(await_offset(acks[i]));
  }
  for (auto& [partition, offsets] : by_partition) {
    for (std::size_t i = 0; i < offsets.size(); ++i) EXPECT_EQ(offsets[i], i) << "partition " << partition;
  }
}

TEST_P(MessageLogContract, AppendsGetContiguousOffsetsPerPartition) {
  const std::string topic = dir_.unique("offsets");
  std::vector<std::future<Result<std::uint64_t>>> acks;
  std::vector<std::string> keys;
  for (int i = 0; i < 200; ++i) {
    keys.push_back("key-" + std::to_string(i % 23));
    acks.push_back(append_async(*port_, topic, keys.back(), "v" + std::to_string(i)));
  }
  expect_submission_order_per_partition(*port_, topic, keys, acks);

  auto consumer = port_->subscribe(topic, "g");
  ASSERT_TRUE(consumer.ok());
  for (const auto& r : read_exactly(**consumer, 200)) {
    EXPECT_EQ(r.topic, topic);
    EXPECT_EQ(r.partition, port_->partition_for(topic, r.key));
  }
}

TEST_P(MessageLogContract, SameKeyKeepsOrderUnderConcurrentAppenders) {
  const std::string topic = dir_.unique("order");
  constexpr int kThreads = 4;
  constexpr int kPerThread = 250;
  std::vector<std::vector<std::uint64_t>> offsets(kThreads);
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        std::vector<std::future<Result<std::uint64_t>>> acks;
        for (int i = 0; i < kPerThread; ++i) {
          acks.push_back(append_async(*port_, topic, "sender-" + std::to_string(t), std::to_string(i)));
        }
        for (auto& a : acks) offsets[t].push_back(await_offset(a));
      });
    }
  }
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_TRUE(std::is_sorted(offsets[t].begin(), offsets[t].end()));
    EXPECT_EQ(std::set<std::uint64_t>(offsets[t].begin(), offsets[t].end()).size(), offsets[t].size());
  }

  auto consumer = port_->subscribe(topic, "g");
  ASSERT_TRUE(consumer.ok());
  std::map<std::string, int> next;  // key → next value expected
  for (const auto& r : read_exactly(**consumer, static_cast<std::size_t>(kThreads) * kPerThread)) {
    EXPECT_EQ(r.value, std::to_string(next[r.key]++)) << r.key;
  }
}

// The store writer keys each inbox record by one of its users and relies on
// a user's records keeping their order in the user's partition, whichever
// user keys them.
TEST_P(MessageLogContract, AppendsFromOneThreadToOnePartitionKeepTheirOrderWhateverTheirKeys) {
  const std::string topic = dir_.unique("partition-order");
  const int partition = port_->partition_for(topic, "k0");
  std::vector<std::string> keys;
  for (int i = 0; keys.size() < 8 && i < 10000; ++i) {
    std::string key = "k" + std::to_string(i);
    if (port_->partition_for(topic, key) == partition) keys.push_back(std::move(key));
  }
  ASSERT_GE(keys.size(), 2U);
  constexpr int kRecords = 200;
  std::vector<std::future<Result<std::uint64_t>>> acks;
  for (int i = 0; i < kRecords; ++i)
    acks.push_back(append_async(*port_, topic, keys[i % keys.size()], std::to_string(i)));
  std::vector<std::uint64_t> offsets;
  for (auto& a : acks) offsets.push_back(await_offset(a));
  EXPECT_TRUE(std::is_sorted(offsets.begin(), offsets.end()));

  auto consumer = port_->subscribe(topic, "g");
  ASSERT_TRUE(consumer.ok());
  int next = 0;
  for (const auto& r : read_exactly(**consumer, kRecords)) {
    EXPECT_EQ(r.partition, partition);
    EXPECT_EQ(r.value, std::to_string(next++));
  }
}

// A step's batch of appends in one call: each as append() would, in order.
TEST_P(MessageLogContract, AppendManyAppendsEachInOrder) {
  const std::string topic = dir_.unique("many");
  EXPECT_EQ(append_ok(*port_, topic, "k", "first"), 0U);
  std::vector<std::string> values;
  for (int i = 0; i < 12; ++i) values.push_back("v" + std::to_string(i));
  auto acks = append_many_async(*port_, topic, "k", values);
  for (std::size_t i = 0; i < acks.size(); ++i) EXPECT_EQ(await_offset(acks[i]), i + 1);
  auto consumer = port_->subscribe(topic, "g");
  ASSERT_TRUE(consumer.ok());
  const auto records = read_exactly(**consumer, 13);
  ASSERT_EQ(records.size(), 13U);
  for (std::size_t i = 1; i < records.size(); ++i) EXPECT_EQ(records[i].value, values[i - 1]);
}

// A step that appends its next batch before the last one is acknowledged
// (keys of several partitions): each partition's records land in the
// order of the calls, at the offsets their acknowledgements name.
TEST_P(MessageLogContract, AppendManyCallsKeepTheirOrderPerPartition) {
  const std::string topic = dir_.unique("many-calls");
  std::vector<std::future<Result<std::uint64_t>>> acks;
  std::vector<std::string> keys;
  for (int call = 0; call < 3; ++call) {
    std::vector<ports::MessageLog::Record> records;
    for (int i = 0; i < 20; ++i) {
      auto promise = std::make_shared<std::promise<Result<std::uint64_t>>>();
      acks.push_back(promise->get_future());
      keys.push_back("key-" + std::to_string(i % 7));
      records.push_back({keys.back(), std::to_string(call * 20 + i),
                         [promise](Result<std::uint64_t> offset) { promise->set_value(std::move(offset)); }});
    }
    port_->append_many(topic, std::move(records));
  }
  expect_submission_order_per_partition(*port_, topic, keys, acks);
}

TEST_P(MessageLogContract, RecordsSurviveRestart) {
  const std::string topic = dir_.unique("durable");
  for (int i = 0; i < 50; ++i) append_ok(*port_, topic, "k" + std::to_string(i % 5), "value-" + std::to_string(i));
  restart();

  auto consumer = port_->subscribe(topic, "after-restart");
  ASSERT_TRUE(consumer.ok());
  std::set<std::string> values;
  for (const auto& r : read_exactly(**consumer, 50)) values.insert(r.value);
  EXPECT_EQ(values.size(), 50U);
  EXPECT_TRUE(values.contains("value-0"));
  EXPECT_TRUE(values.contains("value-49"));
}

TEST_P(MessageLogContract, OffsetsContinueAfterRestart) {
  const std::string topic = dir_.unique("continue");
  EXPECT_EQ(append_ok(*port_, topic, "k", "a"), 0U);
  EXPECT_EQ(append_ok(*port_, topic, "k", "b"), 1U);
  restart();
  EXPECT_EQ(append_ok(*port_, topic, "k", "c"), 2U);
}

TEST_P(MessageLogContract, GroupResumesFromCommittedOffsetAfterRestart) {
  const std::string topic = dir_.unique("resume");
  for (int i = 0; i < 20; ++i) append_ok(*port_, topic, "one-key", std::to_string(i));
  const int partition = port_->partition_for(topic, "one-key");
  {
    auto consumer = port_->subscribe(topic, "g");
    ASSERT_TRUE(consumer.ok());
    const auto records = read_exactly(**consumer, 20);
    ASSERT_EQ(records.size(), 20U);
    // Done with the first ten only; the rest were read but not committed.
    ASSERT_TRUE((*consumer)->commit(partition, 10).ok());
  }
  restart();

  auto consumer = port_->subscribe(topic, "g");
  ASSERT_TRUE(consumer.ok());
  const auto replay = read_exactly(**consumer, 10);
  ASSERT_EQ(replay.size(), 10U);
  for (std::size_t i = 0; i < replay.size(); ++i) {
    EXPECT_EQ(replay[i].offset, 10 + i);
    EXPECT_EQ(replay[i].value, std::to_string(10 + i));
  }
}

TEST_P(MessageLogContract, ResubscribingResumesFromCommittedOffset) {
  const std::string topic = dir_.unique("resubscribe");
  for (int i = 0; i < 6; ++i) append_ok(*port_, topic, "k", std::to_string(i));
  const int partition = port_->partition_for(topic, "k");
  {
    auto consumer = port_->subscribe(topic, "g");
    ASSERT_TRUE(consumer.ok());
    ASSERT_EQ(read_exactly(**consumer, 6).size(), 6U);
    ASSERT_TRUE((*consumer)->commit(partition, 4).ok());
  }
  auto consumer = port_->subscribe(topic, "g");
  ASSERT_TRUE(consumer.ok());
  const auto replay = read_exactly(**consumer, 2);
  ASSERT_EQ(replay.size(), 2U);
  EXPECT_EQ(replay[0].value, "4");
  EXPECT_EQ(replay[1].value, "5");
}

TEST_P(MessageLogContract, GroupsAreIndependent) {
  const std::string topic = dir_.unique("groups");
  for (int i = 0; i < 5; ++i) append_ok(*port_, topic, "k", std::to_string(i));
  const int partition = port_->partition_for(topic, "k");
  {
    auto first = port_->subscribe(topic, "first");
    ASSERT_TRUE(first.ok());
    ASSERT_EQ(read_exactly(**first, 5).size(), 5U);
    ASSERT_TRUE((*first)->commit(partition, 5).ok());
  }
  auto second = port_->subscribe(topic, "second");
  ASSERT_TRUE(second.ok());
  const auto records = read_exactly(**second, 5);
  ASSERT_EQ(records.size(), 5U);
  EXPECT_EQ(records.front().offset, 0U);

  auto first_again = port_->subscribe(topic, "first");
  ASSERT_TRUE(first_again.ok());
  EXPECT_TRUE(read_exactly(**first_again, 0).empty());
}

TEST_P(MessageLogContract, PollRespectsMaxRecords) {
  const std::string topic = dir_.unique("max");
  for (int i = 0; i < 10; ++i) append_ok(*port_, topic, "k", std::to_string(i));
  auto consumer = port_->subscribe(topic, "g");
  ASSERT_TRUE(consumer.ok());
  auto batch = (*consumer)->poll(kPatience, 3);
  ASSERT_TRUE(batch.ok());
  EXPECT_GE(batch->size(), 1U);
  EXPECT_LE(batch->size(), 3U);
  EXPECT_EQ(batch->front().value, "0");
}

TEST_P(MessageLogContract, PollOnEmptyTopicReturnsNothing) {
  auto consumer = port_->subscribe(dir_.unique("empty"), "g");
  ASSERT_TRUE(consumer.ok());
  auto batch = (*consumer)->poll(0ms, 10);
  ASSERT_TRUE(batch.ok());
  EXPECT_TRUE(batch->empty());
}

// A waiting poll returns the record as soon as it is appended, well before
// its timeout (no polling interval in between).
TEST_P(MessageLogContract, WaitingPollWakesWhenARecordArrives) {
  const std::string topic = dir_.unique("wake");
  auto consumer = port_->subscribe(topic, "g");
  ASSERT_TRUE(consumer.ok());
  const auto started = std::chrono::steady_clock::now();
  auto polled = std::async(std::launch::async, [&] { return (*consumer)->poll(60s, 10); });
  append_ok(*port_, topic, "k", "hello");
  ASSERT_EQ(polled.wait_for(kPatience), std::future_status::ready);
  auto batch = polled.get();
  ASSERT_TRUE(batch.ok());
  // The poll may have started after the append; either way it has the record.
  ASSERT_EQ(batch->size(), 1U);
  EXPECT_EQ(batch->front().value, "hello");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 20s);
}

TEST_P(MessageLogContract, WakeupReturnsAWaitingPoll) {
  auto consumer = port_->subscribe(dir_.unique("wakeup"), "g");
  ASSERT_TRUE(consumer.ok());
  const auto started = std::chrono::steady_clock::now();
  auto polled = std::async(std::launch::async, [&] { return (*consumer)->poll(60s, 10); });
  (*consumer)->wakeup();
  ASSERT_EQ(polled.wait_for(kPatience), std::future_status::ready);
  auto batch = polled.get();
  ASSERT_TRUE(batch.ok());
  EXPECT_TRUE(batch->empty());
  EXPECT_LT(std::chrono::steady_clock::now() - started, 20s);
}

TEST_P(MessageLogContract, PartitionForIsStableAndInRange) {
  const std::string topic = dir_.unique("stable");
  const int partitions = port_->partitions(topic);
  ASSERT_GE(partitions, 1);
  std::vector<int> before;
  for (int i = 0; i < 100; ++i) {
    const int p = port_->partition_for(topic, "user-" + std::to_string(i));
    EXPECT_GE(p, 0);
    EXPECT_LT(p, partitions);
    before.push_back(p);
  }
  restart();
  for (int i = 0; i < 100; ++i) EXPECT_EQ(port_->partition_for(topic, "user-" + std::to_string(i)), before[i]);
  // Keys spread: 100 keys do not all land in one partition when there are more.
  if (partitions > 1) {
    EXPECT_GT(std::set<int>(before.begin(), before.end()).size(), 1U);
  }
}

TEST_P(MessageLogContract, CommitOfAnUnknownPartitionIsRejected) {
  const std::string topic = dir_.unique("badcommit");
  auto consumer = port_->subscribe(topic, "g");
  ASSERT_TRUE(consumer.ok());
  auto result = (*consumer)->commit(port_->partitions(topic), 0);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::bad_request);
}

// Reading a partition directly, outside any group: how a step rebuilds the
// state it keeps beside the log.
TEST_P(MessageLogContract, EndOffsetIsWhereTheNextAppendGoes) {
  const std::string topic = dir_.unique("end");
  const int partition = port_->partition_for(topic, "one-key");
  auto fresh = port_->end_offset(topic, partition);
  ASSERT_TRUE(fresh.ok()) << fresh.error().message;
  EXPECT_EQ(*fresh, 0U);

  for (int i = 0; i < 5; ++i) append_ok(*port_, topic, "one-key", std::to_string(i));
  auto end = port_->end_offset(topic, partition);
  ASSERT_TRUE(end.ok()) << end.error().message;
  EXPECT_EQ(*end, 5U);
  const int partitions = port_->partitions(topic);
  if (partitions > 1) {
    auto other = port_->end_offset(topic, (partition + 1) % partitions);
    ASSERT_TRUE(other.ok()) << other.error().message;
    EXPECT_EQ(*other, 0U);
  }

  restart();
  end = port_->end_offset(topic, partition);
  ASSERT_TRUE(end.ok()) << end.error().message;
  EXPECT_EQ(*end, 5U);
  EXPECT_EQ(append_ok(*port_, topic, "one-key", "5"), 5U);
}

TEST_P(MessageLogContract, ReadReturnsAPartitionFromAnOffset) {
  const std::string topic = dir_.unique("read");
  for (int i = 0; i < 10; ++i) append_ok(*port_, topic, "one-key", "v" + std::to_string(i));
  const int partition = port_->partition_for(topic, "one-key");

  auto tail = port_->read(topic, partition, 3, 100);
  ASSERT_TRUE(tail.ok()) << tail.error().message;
  ASSERT_EQ(tail->size(), 7U);
  for (std::size_t i = 0; i < tail->size(); ++i) {
    const auto& r = (*tail)[i];
    EXPECT_EQ(r.topic, topic);
    EXPECT_EQ(r.partition, partition);
    EXPECT_EQ(r.offset, 3 + i);
    EXPECT_EQ(r.key, "one-key");
    EXPECT_EQ(r.value, "v" + std::to_string(3 + i));
  }

  auto at_end = port_->read(topic, partition, 10, 100);
  ASSERT_TRUE(at_end.ok()) << at_end.error().message;
  EXPECT_TRUE(at_end->empty());

  // Fewer than `max` only where the partition ends.
  auto head = port_->read(topic, partition, 0, 2);
  ASSERT_TRUE(head.ok()) << head.error().message;
  ASSERT_EQ(head->size(), 2U);
  EXPECT_EQ((*head)[0].offset, 0U);
  EXPECT_EQ((*head)[1].value, "v1");

  const int partitions = port_->partitions(topic);
  if (partitions > 1) {
    auto other = port_->read(topic, (partition + 1) % partitions, 0, 100);
    ASSERT_TRUE(other.ok()) << other.error().message;
    EXPECT_TRUE(other->empty());
  }
}

TEST_P(MessageLogContract, ConcurrentReadsEachGetThePartition) {
  const std::string topic = dir_.unique("concurrent-read");
  for (int i = 0; i < 20; ++i) append_ok(*port_, topic, "one-key", std::to_string(i));
  const int partition = port_->partition_for(topic, "one-key");
  constexpr int kReaders = 4;
  std::vector<std::size_t> counts(kReaders);
  {
    std::vector<std::jthread> readers;
    for (int t = 0; t < kReaders; ++t) {
      readers.emplace_back([&, t] {
        // Each from its own offset, so that one reader's position is no other's.
        auto records = port_->read(topic, partition, static_cast<std::uint64_t>(t), 100);
        if (records && !records->empty() && records->front().offset == static_cast<std::uint64_t>(t)) {
          counts[t] = records->size();
        }
      });
    }
  }
  for (int t = 0; t < kReaders; ++t) EXPECT_EQ(counts[t], static_cast<std::size_t>(20 - t)) << "reader " << t;
}

TEST_P(MessageLogContract, ReadOutOfRangePartitionIsRejected) {
  const std::string topic = dir_.unique("badread");
  const int partitions = port_->partitions(topic);
  for (const int partition : {-1, partitions}) {
    auto records = port_->read(topic, partition, 0, 10);
    ASSERT_FALSE(records.ok()) << "partition " << partition;
    EXPECT_EQ(records.error().code, ErrorCode::bad_request);
    auto end = port_->end_offset(topic, partition);
    ASSERT_FALSE(end.ok()) << "partition " << partition;
    EXPECT_EQ(end.error().code, ErrorCode::bad_request);
  }
}

}  // namespace
}  // namespace parley::contract
