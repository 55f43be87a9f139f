// What RocksLog promises beyond the MessageLog contract: group commit and
// retention. (Tests of one engine, not of the port.)

#include <gtest/gtest.h>

#include <thread>

#include "adapters/embedded/rocks_log.hpp"
#include "log_helpers.hpp"
#include "temp_dir.hpp"

namespace parley::contract {
namespace {

std::unique_ptr<embedded::RocksLog> open_log(const TempDir& dir, embedded::Durability durability) {
  embedded::LogOptions options;
  options.path = dir.sub("log");
  options.durability = durability;
  auto log = embedded::RocksLog::open(options);
  if (!log) {
    ADD_FAILURE() << log.error().message;
    return nullptr;
  }
  return std::move(log).value();
}

// Many appends in flight at once share WAL syncs: the writer commits what is
// queued as one batch with one fsync.
TEST(RocksLog, ConcurrentAppendsShareFsyncs) {
  TempDir dir;
  auto log = open_log(dir, embedded::Durability::fsync);
  ASSERT_NE(log, nullptr);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 125;  // 1000 appends in all
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        std::vector<std::future<Result<std::uint64_t>>> acks;
        for (int i = 0; i < kPerThread; ++i) {
          acks.push_back(append_async(*log, "burst", "k" + std::to_string(t * kPerThread + i), "v"));
        }
        for (auto& a : acks) await_offset(a);
      });
    }
  }
  EXPECT_GE(log->syncs(), 1U);
  EXPECT_LT(log->syncs(), static_cast<std::uint64_t>(kThreads * kPerThread));
  // Typically a handful; allow slack for a slow disk and the scheduler.
  EXPECT_LT(log->syncs(), 500U);
}

TEST(RocksLog, OsDurabilityDoesNotSync) {
  TempDir dir;
  auto log = open_log(dir, embedded::Durability::os);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(append_ok(*log, "t", "k", "v"), 0U);
  EXPECT_EQ(log->syncs(), 0U);
}

TEST(RocksLog, RetentionKeepsWhatAnyGroupStillNeeds) {
  TempDir dir;
  auto log = open_log(dir, embedded::Durability::fsync);
  ASSERT_NE(log, nullptr);
  for (int i = 0; i < 10; ++i) append_ok(*log, "t", "k", std::to_string(i));
  const int partition = log->partition_for("t", "k");
  {
    auto fast = log->subscribe("t", "fast");
    auto slow = log->subscribe("t", "slow");
    ASSERT_TRUE(fast.ok() && slow.ok());
    ASSERT_EQ(read_exactly(**fast, 10).size(), 10U);
    ASSERT_TRUE((*fast)->commit(partition, 8).ok());
    ASSERT_TRUE((*slow)->commit(partition, 3).ok());
  }
  ASSERT_TRUE(log->run_retention().ok());

  // The slow group still gets everything from its committed offset.
  auto slow = log->subscribe("t", "slow");
  ASSERT_TRUE(slow.ok());
  const auto records = read_exactly(**slow, 7);
  ASSERT_EQ(records.size(), 7U);
  EXPECT_EQ(records.front().offset, 3U);
  ASSERT_TRUE((*slow)->commit(partition, 10).ok());
  slow->reset();

  // Now only "fast" holds records back: 8 and 9 stay, 3..7 may go.
  ASSERT_TRUE(log->run_retention().ok());
  auto fast = log->subscribe("t", "fast");
  ASSERT_TRUE(fast.ok());
  const auto rest = read_exactly(**fast, 2);
  ASSERT_EQ(rest.size(), 2U);
  EXPECT_EQ(rest[0].value, "8");
  EXPECT_EQ(rest[1].value, "9");

  // A group that never read starts at the oldest record still kept.
  auto late = log->subscribe("t", "late");
  ASSERT_TRUE(late.ok());
  const auto kept = read_exactly(**late, 2);
  ASSERT_EQ(kept.size(), 2U);
  EXPECT_EQ(kept[0].offset, 8U);

  // And offsets continue after a restart even with the early records gone.
  late->reset();
  fast->reset();
  log.reset();
  log = open_log(dir, embedded::Durability::fsync);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(append_ok(*log, "t", "k", "10"), 10U);
}

// A kept topic (a changelog) stays whole however far its groups committed;
// other topics are cut as usual, and read() skips what retention removed.
TEST(RocksLog, RetentionKeepsAKeptTopic) {
  TempDir dir;
  embedded::LogOptions options;
  options.path = dir.sub("log");
  options.kept_topics = {"changelog"};
  auto opened = embedded::RocksLog::open(options);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  auto log = std::move(opened).value();
  const int partition = log->partition_for("changelog", "k");
  for (const char* topic : {"changelog", "t"}) {
    for (int i = 0; i < 5; ++i) append_ok(*log, topic, "k", std::to_string(i));
    auto consumer = log->subscribe(topic, "g");
    ASSERT_TRUE(consumer.ok());
    ASSERT_EQ(read_exactly(**consumer, 5).size(), 5U);
    ASSERT_TRUE((*consumer)->commit(partition, 5).ok());
  }
  ASSERT_TRUE(log->run_retention().ok());

  auto kept = log->read("changelog", partition, 0, 100);
  ASSERT_TRUE(kept.ok());
  ASSERT_EQ(kept->size(), 5U);
  EXPECT_EQ(kept->front().offset, 0U);
  EXPECT_EQ(kept->back().value, "4");

  auto cut = log->read("t", partition, 0, 100);
  ASSERT_TRUE(cut.ok());
  EXPECT_TRUE(cut->empty());
  auto end = log->end_offset("t", partition);
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(*end, 5U);
  EXPECT_EQ(append_ok(*log, "t", "k", "5"), 5U);
  auto after = log->read("t", partition, 0, 100);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 1U);
  EXPECT_EQ(after->front().offset, 5U);
}

TEST(RocksLog, CommitPastTheEndIsRejected) {
  TempDir dir;
  auto log = open_log(dir, embedded::Durability::fsync);
  ASSERT_NE(log, nullptr);
  append_ok(*log, "t", "k", "v");
  auto consumer = log->subscribe("t", "g");
  ASSERT_TRUE(consumer.ok());
  auto result = (*consumer)->commit(log->partition_for("t", "k"), 2);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::bad_request);
}

TEST(RocksLog, DestructorFlushesQueuedAppends) {
  TempDir dir;
  std::vector<std::future<Result<std::uint64_t>>> acks;
  {
    auto log = open_log(dir, embedded::Durability::os);
    ASSERT_NE(log, nullptr);
    for (int i = 0; i < 100; ++i) acks.push_back(append_async(*log, "t", "k", std::to_string(i)));
  }
  for (std::size_t i = 0; i < acks.size(); ++i) {
    ASSERT_EQ(acks[i].wait_for(std::chrono::seconds(0)), std::future_status::ready);
    EXPECT_EQ(await_offset(acks[i]), i);
  }
  auto log = open_log(dir, embedded::Durability::os);
  ASSERT_NE(log, nullptr);
  auto consumer = log->subscribe("t", "g");
  ASSERT_TRUE(consumer.ok());
  EXPECT_EQ(read_exactly(**consumer, 100).size(), 100U);
}

TEST(RocksLog, BadOptionsAndNamesAreRejected) {
  TempDir dir;
  embedded::LogOptions options;
  options.path = dir.sub("log");
  options.partitions = 0;
  auto bad = embedded::RocksLog::open(options);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::bad_request);

  auto log = open_log(dir, embedded::Durability::os);
  ASSERT_NE(log, nullptr);
  auto ack = append_async(*log, "", "k", "v");
  auto result = ack.get();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::bad_request);
  EXPECT_FALSE(log->subscribe("t", std::string("a\0b", 3)).ok());
}

}  // namespace
}  // namespace parley::contract
