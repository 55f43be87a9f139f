// The pipeline steps against the embedded engines: replays write nothing
// twice, retries get the first result, ids keep increasing in a
// conversation whatever the clock does, seqs stay gapless, and sends are
// acknowledged from the log while the message store is down.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>
#include <utility>

#include "adapters/embedded/file_log.hpp"
#include "adapters/embedded/memory_state_store.hpp"
#include "adapters/embedded/rocks_directory.hpp"
#include "adapters/embedded/rocks_message_store.hpp"
#include "adapters/embedded/rocks_rooms.hpp"
#include "adapters/embedded/rocks_sequencer_state.hpp"
#include "adapters/embedded/rocks_social_graph.hpp"
#include "adapters/embedded/sqlite_search_index.hpp"
#include "core/clock.hpp"
#include "forwarding_message_store.hpp"
#include "services/fan_outs.hpp"
#include "services/inbox_owner.hpp"
#include "services/pipeline_step.hpp"
#include "services/records.hpp"
#include "services/search_indexer.hpp"
#include "services/sequencer.hpp"
#include "services/store_writer.hpp"

namespace parley::services {
namespace {

template <class T>
std::unique_ptr<T> must(Result<std::unique_ptr<T>> r) {
  if (!r) throw std::runtime_error(r.error().message);
  return std::move(r).value();
}

// A message store that can be taken down: its writes fail with
// `unavailable` while it is, as Cassandra's do while it restarts.
class SwitchableStore final : public ForwardingMessageStore {
 public:
  using ForwardingMessageStore::ForwardingMessageStore;
  bool down = false;

  Result<MessageId> last_message_id(std::string_view conversation) override {
    if (down) return unavailable();
    return inner_.last_message_id(conversation);
  }
  Result<void> put_messages(std::span<const Message> messages) override {
    if (down) return unavailable();
    return inner_.put_messages(messages);
  }
  Result<void> flush() override {
    if (down) return unavailable();
    return inner_.flush();
  }

 private:
  static Error unavailable() { return make_error(ErrorCode::unavailable, "the store is down"); }
};

class PipelineTest : public ::testing::Test {
 protected:
  PipelineTest() {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() / ("parley-pipeline-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(dir_);
    log_ = must(embedded::FileLog::open({.path = (dir_ / "log").string()}));
    store_ = must(embedded::RocksMessageStore::open((dir_ / "store").string(), embedded::Durability::os));
    directory_ = must(embedded::RocksDirectory::open((dir_ / "directory").string()));
    rooms_ = must(embedded::RocksRooms::open((dir_ / "rooms").string()));
    social_ = must(embedded::RocksSocialGraph::open((dir_ / "social").string()));
    decided_ = must(embedded::RocksSequencerState::open((dir_ / "sequencer").string()));
    authorizer_ = std::make_unique<RoomsService>(*rooms_, *directory_, *social_, RoomsService::Options{});
    replies_ = must(state_.subscribe(records::server_channel("test"), [this](std::string_view payload) {
      auto envelope = records::decode_envelope(payload);
      if (envelope && std::holds_alternative<records::SendDone>(*envelope)) {
        replies_seen_.push_back(std::get<records::SendDone>(*envelope).result);
      }
      if (envelope && std::holds_alternative<records::SendDones>(*envelope)) {
        for (const auto& done : std::get<records::SendDones>(*envelope).items) replies_seen_.push_back(done.result);
      }
    }));
    alice_ = directory_->create_user("alice", "h")->id;
    bob_ = directory_->create_user("bob", "h")->id;
  }
  ~PipelineTest() override {
    replies_.reset();
    authorizer_.reset();
    decided_.reset();
    log_.reset();
    store_.reset();
    directory_.reset();
    rooms_.reset();
    social_.reset();
    std::filesystem::remove_all(dir_);
  }

  Sequencer sequencer(Snowflake::Clock clock, ports::SequencerState* decided = nullptr,
                      ports::MessageStore* store = nullptr) {
    return Sequencer(*log_, decided != nullptr ? *decided : *decided_, store != nullptr ? *store : *store_,
                     *authorizer_, state_, Snowflake(1, std::move(clock)));
  }

  // Every record of `topic` so far.
  std::vector<ports::LogRecord> records_of(std::string_view topic) {
    auto consumer = must(log_->subscribe(topic, "test-reader-" + std::to_string(readers_++)));
    std::vector<ports::LogRecord> all;
    for (;;) {
      auto batch = consumer->poll(std::chrono::milliseconds(0), 10000);
      if (!batch || batch->empty()) break;
      all.insert(all.end(), batch->begin(), batch->end());
    }
    return all;
  }

  // A batch of sends as the gateway would append them.
  std::vector<ports::LogRecord> sends(const std::vector<std::string>& client_ids, UserId from, UserId to) {
    std::vector<ports::LogRecord> out;
    for (const auto& id : client_ids) {
      records::SendCommand c{"test", 0, from, Recipient{Recipient::Kind::user, to.value}, id, "body " + id};
      out.push_back({"conversations", 0, next_offset_++, "k", records::encode(c)});
    }
    return out;
  }

  std::vector<ports::LogRecord> inbox_records() { return records_of(records::kInboxesTopic); }
  // How many (user, message) inbox placements the inbox records ask for.
  std::size_t inbox_placements() {
    std::size_t n = 0;
    for (const auto& r : inbox_records()) n += records::decode_inbox(r.value).value().users.size();
    return n;
  }
  std::vector<ports::LogRecord> changelog() { return records_of(records::kSequencedTopic); }

  // `user`'s inbox holds exactly `ids`, in that order, at seqs 1, 2, ...
  void expect_inbox(UserId user, const std::vector<MessageId>& ids) {
    const auto inbox = store_->inbox(user, 0, 100).value();
    ASSERT_EQ(inbox.size(), ids.size());
    for (std::size_t i = 0; i < inbox.size(); ++i) {
      EXPECT_EQ(inbox[i].seq, i + 1);
      EXPECT_EQ(inbox[i].message.id, ids[i]);
    }
  }

  std::filesystem::path dir_;
  std::unique_ptr<embedded::FileLog> log_;
  std::unique_ptr<embedded::RocksMessageStore> store_;
  std::unique_ptr<embedded::RocksDirectory> directory_;
  std::unique_ptr<embedded::RocksRooms> rooms_;
  std::unique_ptr<embedded::RocksSocialGraph> social_;
  std::unique_ptr<embedded::RocksSequencerState> decided_;
  std::unique_ptr<RoomsService> authorizer_;  // the sequencer's, over rooms_, directory_ and social_
  embedded::MemoryStateStore state_;
  std::unique_ptr<ports::Subscription> replies_;
  std::vector<Result<Message>> replies_seen_;  // the senders' answers, in order
  UserId alice_, bob_;
  std::uint64_t next_offset_ = 0;
  int readers_ = 0;
};

TEST_F(PipelineTest, AReplayedBatchWritesNothingTwice) {
  auto seq = sequencer(now_ms);
  const auto batch = sends({"a", "b", "c"}, alice_, bob_);
  ASSERT_TRUE(seq.process(batch).ok());
  const auto first = store_->history(to_string(direct_conversation(alice_, bob_)), MessageId{}, 10).value();
  ASSERT_TRUE(seq.process(batch).ok());  // as after a crash before the offset commit
  const auto second = store_->history(to_string(direct_conversation(alice_, bob_)), MessageId{}, 10).value();
  EXPECT_EQ(first, second);
  ASSERT_EQ(second.size(), 3U);
  EXPECT_EQ(changelog().size(), 3U);  // the replay decided nothing new

  // The store writer's fan-out, run twice (12 placements asked for); the
  // inbox owner stores each once.
  StoreWriter writer(*log_, *store_, state_);
  const auto decisions = changelog();
  ASSERT_TRUE(writer.process(decisions).ok());
  ASSERT_TRUE(writer.process(decisions).ok());
  ASSERT_EQ(inbox_placements(), 12U);
  const auto records = inbox_records();
  InboxOwner owner(*log_, *store_, state_);
  ASSERT_TRUE(owner.process(records).ok());
  ASSERT_TRUE(owner.process(records).ok());
  for (UserId user : {alice_, bob_}) {
    const auto inbox = store_->inbox(user, 0, 100).value();
    ASSERT_EQ(inbox.size(), 3U);
    for (std::size_t i = 0; i < inbox.size(); ++i) {
      EXPECT_EQ(inbox[i].seq, i + 1);                    // gapless from 1
      EXPECT_EQ(inbox[i].message.id, second[2 - i].id);  // history is newest first
    }
    EXPECT_EQ(store_->inbox_head(user).value(), 3U);
  }
}

// The search indexer indexes every decision of the changelog, off the
// sequencer's path; its replays (a crash before its offset commit) index
// nothing twice, and what a retry decided nothing for is indexed once.
TEST_F(PipelineTest, TheSearchIndexerIndexesEveryDecisionOnce) {
  auto seq = sequencer(now_ms);
  ASSERT_TRUE(seq.process(sends({"a", "b"}, alice_, bob_)).ok());
  ASSERT_TRUE(seq.process(sends({"a", "c"}, alice_, bob_)).ok());  // "a" again: a retry
  auto index = must(embedded::SqliteSearchIndex::open((dir_ / "search.sqlite").string()));
  SearchIndexer indexer(*index);
  const auto decisions = changelog();
  ASSERT_EQ(decisions.size(), 3U);
  ASSERT_TRUE(indexer.process(decisions).ok());
  ASSERT_TRUE(indexer.process(decisions).ok());
  const ports::SearchIndex::Scope scope{{}, alice_};
  const auto found = index->search("body", scope, 10).value();
  ASSERT_EQ(found.size(), 3U);
  EXPECT_EQ(found[0].client_msg_id, "c");  // newest first
  EXPECT_EQ(found[2].client_msg_id, "a");
  EXPECT_EQ(index->search("b", scope, 10).value().size(), 1U);
}

// A step with min_interval takes what an interval brought in one batch.
TEST_F(PipelineTest, AStepWithAnIntervalTakesWhatTheIntervalBroughtInOneBatch) {
  struct Batches final : BatchHandler {
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<std::size_t> sizes;
    std::size_t seen = 0;
    Result<void> process(std::span<const ports::LogRecord> batch) override {
      std::lock_guard lock(mutex);
      sizes.push_back(batch.size());
      seen += batch.size();
      cv.notify_all();
      return Ok{};
    }
  } handler;
  PipelineStep step("test-interval", must(log_->subscribe("interval-topic", "g")), handler,
                    {.min_interval = std::chrono::seconds(2)});
  step.start();
  ASSERT_TRUE(append_all(*log_, "interval-topic", {{"k", "first"}}).ok());
  {
    std::unique_lock lock(handler.mutex);
    ASSERT_TRUE(handler.cv.wait_for(lock, std::chrono::seconds(10), [&] { return handler.seen == 1; }));
  }
  // The step now waits out its interval: these come in one batch, though
  // each is appended (and could be polled) on its own.
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(append_all(*log_, "interval-topic", {{"k", "r" + std::to_string(i)}}).ok());
  {
    std::unique_lock lock(handler.mutex);
    ASSERT_TRUE(handler.cv.wait_for(lock, std::chrono::seconds(10), [&] { return handler.seen == 51; }));
    EXPECT_EQ(handler.sizes, (std::vector<std::size_t>{1, 50}));
  }
  step.stop();
}

// A store that counts the messages put_messages was given.
class CountingStore final : public ForwardingMessageStore {
 public:
  using ForwardingMessageStore::ForwardingMessageStore;
  std::size_t put = 0;
  std::size_t flushes = 0;
  std::size_t puts_at_last_flush = 0;  // how many messages the last flush covered
  Result<void> put_messages(std::span<const Message> messages) override {
    put += messages.size();
    return inner_.put_messages(messages);
  }
  Result<void> flush() override {
    ++flushes;
    puts_at_last_flush = put;
    return inner_.flush();
  }
};

TEST_F(PipelineTest, TheStoreWriterSkipsWhatTheSequencerOfItsServerStored) {
  CountingStore store(*store_);
  SwitchableStore sometimes_down(store);
  StoredMessages stored;
  Sequencer seq(*log_, *decided_, sometimes_down, *authorizer_, state_, Snowflake(1), {.stored = &stored});
  ASSERT_TRUE(seq.process(sends({"1", "2"}, alice_, bob_)).ok());
  EXPECT_EQ(store.put, 2U);
  // The next one is logged while the store is down: the sequencer does not
  // store it, so the store writer must.
  sometimes_down.down = true;
  ASSERT_TRUE(seq.process(sends({"3"}, alice_, bob_)).ok());
  sometimes_down.down = false;

  StoreWriter writer(*log_, store, state_, &stored);
  ASSERT_TRUE(writer.process(changelog()).ok());
  EXPECT_EQ(store.put, 3U);  // "3" only
  EXPECT_EQ(inbox_placements(), 6U);
  const auto history = store_->history(to_string(direct_conversation(alice_, bob_)), MessageId{}, 10).value();
  EXPECT_EQ(history.size(), 3U);

  // Another server's store writer (or this one after a restart) knows
  // nothing of them and stores all three again, harmlessly.
  StoreWriter elsewhere(*log_, store, state_);
  ASSERT_TRUE(elsewhere.process(changelog()).ok());
  EXPECT_EQ(store.put, 6U);
}

// On the embedded store the sequencer does not flush its write: the store
// writer skips storing those messages again but still flushes before its
// offsets move, so that they are durable when it commits.
TEST_F(PipelineTest, WhatTheSequencerStoredUnflushedIsFlushedByTheStoreWriter) {
  CountingStore store(*store_);
  StoredMessages stored;
  Sequencer seq(*log_, *decided_, store, *authorizer_, state_, Snowflake(1),
                {.stored = &stored, .flush_stored = false});
  ASSERT_TRUE(seq.process(sends({"1", "2"}, alice_, bob_)).ok());
  EXPECT_EQ(store.put, 2U);
  EXPECT_EQ(store.flushes, 0U);  // the sequencer left it to the store writer

  StoreWriter writer(*log_, store, state_, &stored);
  ASSERT_TRUE(writer.process(changelog()).ok());
  EXPECT_EQ(store.put, 2U);                 // not stored again
  EXPECT_EQ(store.flushes, 1U);             // but flushed
  EXPECT_EQ(store.puts_at_last_flush, 2U);  // after the sequencer's write
}

// The decisions of the changelog from offset `from` on (of its partitions,
// here one).
std::vector<ports::LogRecord> from_offset(std::vector<ports::LogRecord> records, std::uint64_t from) {
  std::erase_if(records, [from](const ports::LogRecord& r) { return r.offset < from; });
  return records;
}

// The ids of the messages the inbox records name for `user`, in log order.
std::vector<MessageId> ids_in(const std::vector<ports::LogRecord>& inbox, UserId user) {
  std::vector<MessageId> out;
  for (const auto& r : inbox) {
    const auto command = records::decode_inbox(r.value).value();
    if (std::ranges::find(command.users, user) != command.users.end()) out.push_back(command.message.id);
  }
  return out;
}

// A server's sequencer and store writer on a log shared out among servers
// (Kafka): the sequencer fans out what it stored where the order allows.
struct SharedLogServer {
  SharedLogServer(ports::MessageLog& log, ports::SequencerState& decided, ports::MessageStore& store,
                  RoomsService& authorizer, ports::StateStore& state)
      : seq(log, decided, store, authorizer, state, Snowflake(1),
            // The store is tried again at once after a failure.
            {.store_retry_interval = std::chrono::milliseconds(0), .stored = &stored, .fan_outs = &fan_outs}),
        writer(log, store, state, &stored, nullptr, &fan_outs) {}

  StoredMessages stored;
  FanOuts fan_outs;
  Sequencer seq;
  StoreWriter writer;
};

// On a log shared out among servers (Kafka) the sequencer appends the
// inbox records of what it stored itself, a hop before the store writer
// would, once the store writer of its process has caught up with the
// partition; that store writer then appends none of them again.
TEST_F(PipelineTest, OnASharedLogTheSequencerFansOutWhatItStoredAndTheStoreWriterSkipsIt) {
  SharedLogServer server(*log_, *decided_, *store_, *authorizer_, state_);
  Sequencer& seq = server.seq;
  StoreWriter& writer = server.writer;

  // Nothing is known of the partition yet: the store writer fans out.
  ASSERT_TRUE(seq.process(sends({"1", "2"}, alice_, bob_)).ok());
  EXPECT_TRUE(inbox_records().empty());
  ASSERT_TRUE(writer.process(changelog()).ok());
  EXPECT_EQ(inbox_placements(), 4U);

  // Caught up: the sequencer's own records are in the log when it returns.
  ASSERT_TRUE(seq.process(sends({"3", "4"}, alice_, bob_)).ok());
  EXPECT_EQ(inbox_placements(), 8U);
  ASSERT_TRUE(writer.process(from_offset(changelog(), 2)).ok());
  EXPECT_EQ(inbox_placements(), 8U);  // none twice

  InboxOwner owner(*log_, *store_, state_);
  ASSERT_TRUE(owner.process(inbox_records()).ok());
  const auto history = store_->history(to_string(direct_conversation(alice_, bob_)), MessageId{}, 10).value();
  ASSERT_EQ(history.size(), 4U);
  const std::vector<MessageId> in_order{history[3].id, history[2].id, history[1].id, history[0].id};
  expect_inbox(alice_, in_order);
  expect_inbox(bob_, in_order);
}

// A decision the sequencer left to the store writer (the store was down
// when it was logged) keeps the sequencer from fanning out any later one of
// its partition until the store writer has appended it: otherwise a later
// message would reach the inboxes first and be placed before it.
TEST_F(PipelineTest, TheSequencerFansOutNothingAheadOfWhatItLeftToTheStoreWriter) {
  SwitchableStore sometimes_down(*store_);
  SharedLogServer server(*log_, *decided_, sometimes_down, *authorizer_, state_);
  Sequencer& seq = server.seq;
  StoreWriter& writer = server.writer;
  ASSERT_TRUE(seq.process(sends({"1"}, alice_, bob_)).ok());
  ASSERT_TRUE(writer.process(changelog()).ok());  // caught up at offset 1

  sometimes_down.down = true;
  ASSERT_TRUE(seq.process(sends({"2"}, alice_, bob_)).ok());  // answered from the log, not stored
  sometimes_down.down = false;
  ASSERT_TRUE(seq.process(sends({"3"}, alice_, bob_)).ok());  // stored, but it waits for "2"
  EXPECT_EQ(inbox_placements(), 2U);                          // "1" only

  ASSERT_TRUE(writer.process(from_offset(changelog(), 1)).ok());  // stores "2", fans out "2" and "3"
  ASSERT_TRUE(seq.process(sends({"4"}, alice_, bob_)).ok());      // caught up again: the sequencer's
  const auto history = store_->history(to_string(direct_conversation(alice_, bob_)), MessageId{}, 10).value();
  ASSERT_EQ(history.size(), 4U);
  const std::vector<MessageId> in_order{history[3].id, history[2].id, history[1].id, history[0].id};
  EXPECT_EQ(ids_in(inbox_records(), alice_), in_order);  // none out of order, none twice
  EXPECT_EQ(ids_in(inbox_records(), bob_), in_order);

  InboxOwner owner(*log_, *store_, state_);
  ASSERT_TRUE(owner.process(inbox_records()).ok());
  expect_inbox(alice_, in_order);
  expect_inbox(bob_, in_order);
}

// A log whose appends to "inboxes" fail while `failing` is set; the rest
// goes to `inner`.
class InboxesFailingLog final : public ports::MessageLog {
 public:
  explicit InboxesFailingLog(ports::MessageLog& inner) : inner_(inner) {}
  bool failing = false;

  int partitions(std::string_view topic) const override { return inner_.partitions(topic); }
  int partition_for(std::string_view topic, std::string_view key) const override {
    return inner_.partition_for(topic, key);
  }
  void append(std::string_view topic, std::string key, std::string value, ports::AppendCallback done) override {
    if (refuses(topic)) return done(make_error(ErrorCode::unavailable, "the log is down"));
    inner_.append(topic, std::move(key), std::move(value), std::move(done));
  }
  void append_many(std::string_view topic, std::vector<Record> records) override {
    if (!refuses(topic)) return inner_.append_many(topic, std::move(records));
    for (auto& r : records) r.done(make_error(ErrorCode::unavailable, "the log is down"));
  }
  Result<std::unique_ptr<ports::LogConsumer>> subscribe(std::string_view topic, std::string_view group) override {
    return inner_.subscribe(topic, group);
  }
  Result<std::uint64_t> end_offset(std::string_view topic, int partition) override {
    return inner_.end_offset(topic, partition);
  }
  Result<std::vector<ports::LogRecord>> read(std::string_view topic, int partition, std::uint64_t from,
                                             std::size_t max) override {
    return inner_.read(topic, partition, from, max);
  }

 private:
  bool refuses(std::string_view topic) const { return failing && topic == records::kInboxesTopic; }
  ports::MessageLog& inner_;
};

// When the sequencer's append of inbox records fails, the send stays
// answered and the store writer appends them: no inbox misses the message,
// and the sequencer fans out again once the store writer is past it.
TEST_F(PipelineTest, InboxRecordsTheSequencerFailedToAppendAreTheStoreWriters) {
  InboxesFailingLog log(*log_);
  SharedLogServer server(log, *decided_, *store_, *authorizer_, state_);
  Sequencer& seq = server.seq;
  StoreWriter& writer = server.writer;
  ASSERT_TRUE(seq.process(sends({"1"}, alice_, bob_)).ok());
  ASSERT_TRUE(writer.process(changelog()).ok());

  log.failing = true;
  ASSERT_TRUE(seq.process(sends({"2"}, alice_, bob_)).ok());
  log.failing = false;
  EXPECT_EQ(replies_seen_.size(), 2U);  // "2" answered all the same
  EXPECT_EQ(inbox_placements(), 2U);    // "1" only
  ASSERT_TRUE(writer.process(from_offset(changelog(), 1)).ok());
  EXPECT_EQ(inbox_placements(), 4U);  // "2", by the store writer
  ASSERT_TRUE(seq.process(sends({"3"}, alice_, bob_)).ok());
  EXPECT_EQ(inbox_placements(), 6U);  // "3", by the sequencer again

  InboxOwner owner(*log_, *store_, state_);
  ASSERT_TRUE(owner.process(inbox_records()).ok());
  const auto history = store_->history(to_string(direct_conversation(alice_, bob_)), MessageId{}, 10).value();
  ASSERT_EQ(history.size(), 3U);
  const std::vector<MessageId> in_order{history[2].id, history[1].id, history[0].id};
  expect_inbox(alice_, in_order);
  expect_inbox(bob_, in_order);
}

// When the store writer's partitions move (a rebalance of its group), the
// sequencer of its process stops fanning out until that store writer has
// caught up with a partition again: a partition it no longer owns is
// another server's store writer's to fan out, which knows nothing of this
// sequencer's records and would append them all again.
TEST_F(PipelineTest, AfterTheStoreWritersPartitionsMoveTheSequencerWaitsForItAgain) {
  SharedLogServer server(*log_, *decided_, *store_, *authorizer_, state_);
  Sequencer& seq = server.seq;
  StoreWriter& writer = server.writer;
  ASSERT_TRUE(seq.process(sends({"1"}, alice_, bob_)).ok());
  ASSERT_TRUE(writer.process(changelog()).ok());
  ASSERT_TRUE(seq.process(sends({"2"}, alice_, bob_)).ok());
  EXPECT_EQ(inbox_placements(), 4U);  // "2" by the sequencer

  writer.on_generation(2);
  ASSERT_TRUE(seq.process(sends({"3"}, alice_, bob_)).ok());
  EXPECT_EQ(inbox_placements(), 4U);  // left to the store writer
  ASSERT_TRUE(writer.process(from_offset(changelog(), 1)).ok());
  EXPECT_EQ(inbox_placements(), 6U);  // "3" only: "2" was the sequencer's
}

// On the embedded log (one process owns every partition) the store writer
// places the inbox entries itself: no inbox record is appended, a replay
// places nothing twice, and what the sequencer stored unflushed is flushed
// before the offsets move, even by a batch that places nothing.
TEST_F(PipelineTest, OnALogItOwnsWholeTheStoreWriterPlacesTheEntriesItself) {
  CountingStore store(*store_);
  StoredMessages stored;
  Sequencer seq(*log_, *decided_, store, *authorizer_, state_, Snowflake(1),
                {.stored = &stored, .flush_stored = false});
  ASSERT_TRUE(seq.process(sends({"a", "b", "c"}, alice_, bob_)).ok());
  InboxOwner owner(*log_, store, state_);
  StoreWriter writer(*log_, store, state_, &stored, &owner);
  const auto decisions = changelog();
  ASSERT_TRUE(writer.process(decisions).ok());
  EXPECT_EQ(store.put, 3U);  // the sequencer's write, not repeated
  EXPECT_EQ(store.puts_at_last_flush, 3U);
  EXPECT_TRUE(inbox_records().empty());

  ASSERT_TRUE(seq.process(sends({"d"}, alice_, bob_)).ok());
  ASSERT_EQ(store.put, 4U);
  ASSERT_TRUE(writer.process(decisions).ok());  // a replay, as after a crash before the commit
  EXPECT_EQ(store.puts_at_last_flush, 4U);      // it placed nothing, and flushed "d"

  const auto history = store_->history(to_string(direct_conversation(alice_, bob_)), MessageId{}, 10).value();
  ASSERT_EQ(history.size(), 4U);
  for (UserId user : {alice_, bob_}) expect_inbox(user, {history[3].id, history[2].id, history[1].id});  // a, b, c
}

// A server upgraded from a pipeline that wrote inbox records: what its store
// writer appended to "inboxes" and nobody placed yet goes before anything
// decided since, so every inbox keeps the conversation's order.
TEST_F(PipelineTest, InboxRecordsLeftByAnEarlierVersionArePlacedBeforeWhatFollows) {
  auto seq = sequencer(now_ms);
  ASSERT_TRUE(seq.process(sends({"old-1", "old-2"}, alice_, bob_)).ok());
  {
    StoreWriter earlier(*log_, *store_, state_);  // appends inbox records
    auto consumer = must(log_->subscribe(records::kSequencedTopic, records::kStoreWriterGroup));
    const auto batch = consumer->poll(std::chrono::seconds(5), 100).value();
    ASSERT_EQ(batch.size(), 2U);
    ASSERT_TRUE(earlier.process(batch).ok());
    ASSERT_TRUE(consumer->commit(batch.back().partition, batch.back().offset + 1).ok());
  }
  ASSERT_TRUE(seq.process(sends({"new"}, alice_, bob_)).ok());

  // The store writer's step, told each batch it handled.
  struct Told final : BatchHandler {
    explicit Told(BatchHandler& wrapped) : inner(wrapped) {}
    BatchHandler& inner;
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<std::string> topics;
    Result<void> process(std::span<const ports::LogRecord> batch) override {
      auto done = inner.process(batch);
      std::lock_guard lock(mutex);
      for (const auto& r : batch) topics.push_back(r.topic);
      cv.notify_all();
      return done;
    }
    void on_generation(std::uint64_t generation) override { inner.on_generation(generation); }
  };
  InboxOwner owner(*log_, *store_, state_);
  StoreWriter writer(*log_, *store_, state_, nullptr, &owner);
  Told backlog(owner);
  Told decided(writer);
  PipelineStep step("store-writer", must(log_->subscribe(records::kSequencedTopic, records::kStoreWriterGroup)),
                    decided, {});
  step.drain_first(must(log_->subscribe(records::kInboxesTopic, records::kInboxGroup)), backlog);
  step.start();
  {
    std::unique_lock lock(decided.mutex);
    ASSERT_TRUE(decided.cv.wait_for(lock, std::chrono::seconds(10), [&] { return !decided.topics.empty(); }));
  }
  step.stop();
  EXPECT_EQ(decided.topics, std::vector<std::string>{std::string(records::kSequencedTopic)});  // "new" alone

  ASSERT_EQ(replies_seen_.size(), 3U);
  const std::vector<MessageId> in_order{replies_seen_[0].value().id, replies_seen_[1].value().id,
                                        replies_seen_[2].value().id};  // old-1, old-2, new
  for (UserId user : {alice_, bob_}) expect_inbox(user, in_order);
}

TEST_F(PipelineTest, SendsAreAcknowledgedFromTheLogWhileTheStoreIsDown) {
  SwitchableStore store(*store_);
  auto seq = sequencer(now_ms, nullptr, &store);
  ASSERT_TRUE(seq.process(sends({"before"}, alice_, bob_)).ok());
  store.down = true;
  ASSERT_TRUE(seq.process(sends({"during-1", "during-2", "before"}, alice_, bob_)).ok());

  // Every send is answered with its message, the retry with its first one.
  ASSERT_EQ(replies_seen_.size(), 4U);
  for (const auto& reply : replies_seen_) ASSERT_TRUE(reply.ok()) << reply.error().message;
  EXPECT_EQ(replies_seen_[3].value().id, replies_seen_[0].value().id);
  const std::string conversation = to_string(direct_conversation(alice_, bob_));
  EXPECT_EQ(store_->history(conversation, MessageId{}, 10)->size(), 1U);  // the store has only the first

  // The store writer cannot store them yet, and fans nothing out for them.
  StoreWriter writer(*log_, store, state_);
  const auto decisions = changelog();
  ASSERT_EQ(decisions.size(), 3U);
  EXPECT_FALSE(writer.process(decisions).ok());
  store.down = false;
  ASSERT_TRUE(writer.process(decisions).ok());

  // Once it is back: history holds each acknowledged send once, under the
  // acknowledged id, and both inboxes have all three in the one order.
  const auto history = store_->history(conversation, MessageId{}, 10).value();
  ASSERT_EQ(history.size(), 3U);
  EXPECT_EQ(history[0].id, replies_seen_[2].value().id);
  EXPECT_EQ(history[1].id, replies_seen_[1].value().id);
  EXPECT_EQ(history[2].id, replies_seen_[0].value().id);
  InboxOwner owner(*log_, *store_, state_);
  ASSERT_TRUE(owner.process(inbox_records()).ok());
  for (UserId user : {alice_, bob_}) {
    const auto inbox = store_->inbox(user, 0, 100).value();
    ASSERT_EQ(inbox.size(), 3U);
    for (std::size_t i = 0; i < inbox.size(); ++i) EXPECT_EQ(inbox[i].message.id, history[2 - i].id);
  }
}

TEST_F(PipelineTest, OnTheEmbeddedStoreASendIsAnsweredOnlyOnceStored) {
  // answer_after_store (the embedded store, on the log's disk): a store
  // that cannot write fails the batch, and nobody is answered; the retry
  // stores the decisions it made and answers them with their first ids.
  SwitchableStore store(*store_);
  StoredMessages stored;
  Sequencer seq(*log_, *decided_, store, *authorizer_, state_, Snowflake(1),
                {.stored = &stored, .flush_stored = false, .answer_after_store = true});
  const auto batch = sends({"1", "2"}, alice_, bob_);
  store.down = true;
  EXPECT_FALSE(seq.process(batch).ok());
  EXPECT_TRUE(replies_seen_.empty());
  EXPECT_FALSE(seq.process(batch).ok());  // still down: still nobody answered
  EXPECT_TRUE(replies_seen_.empty());
  ASSERT_EQ(changelog().size(), 2U);  // decided once, however often tried

  store.down = false;
  ASSERT_TRUE(seq.process(batch).ok());
  ASSERT_EQ(replies_seen_.size(), 2U);
  const std::string conversation = to_string(direct_conversation(alice_, bob_));
  const auto history = store_->history(conversation, MessageId{}, 10).value();
  ASSERT_EQ(history.size(), 2U);
  EXPECT_EQ(history[1].id, replies_seen_[0].value().id);
  EXPECT_EQ(history[0].id, replies_seen_[1].value().id);
  EXPECT_EQ(changelog().size(), 2U);
}

// What makes the never-synced "conversations" hop safe (parleyd's log,
// apps/parleyd/engines.cpp): a send is answered only once its decision is
// synced in the changelog. While the changelog's sync is held, nobody is
// answered; once it is done, the sender is.
TEST_F(PipelineTest, ASendIsAnsweredOnlyOnceItsDecisionIsSynced) {
  std::mutex mu;
  std::condition_variable cv;
  bool in_sync = false;
  bool release = false;
  log_.reset();
  log_ = must(embedded::FileLog::open({.path = (dir_ / "held-log").string(),
                                       .unsynced_topics = {std::string(records::kConversationsTopic)},
                                       .before_sync = [&] {
                                         std::unique_lock lock(mu);
                                         in_sync = true;
                                         cv.notify_all();
                                         cv.wait(lock, [&] { return release; });
                                       }}));
  auto seq = sequencer(now_ms);
  std::thread deciding([&] { EXPECT_TRUE(seq.process(sends({"held"}, alice_, bob_)).ok()); });
  {
    std::unique_lock lock(mu);
    EXPECT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return in_sync; }));
    // Held in the changelog's sync: the decision is written, not answered.
    EXPECT_TRUE(replies_seen_.empty());
    release = true;
  }
  cv.notify_all();
  deciding.join();
  ASSERT_EQ(replies_seen_.size(), 1U);
  EXPECT_TRUE(replies_seen_[0].ok());
}

TEST_F(PipelineTest, ANewOwnerDecidesOnWhatTheChangelogHolds) {
  auto seq = sequencer(now_ms);
  ASSERT_TRUE(seq.process(sends({"x", "y"}, alice_, bob_)).ok());

  // Another server takes the partition over with no state of its own (and
  // a clock a minute behind): a retry gets the first result, and a new send
  // gets a greater id, both from the changelog alone.
  auto decided = must(embedded::RocksSequencerState::open((dir_ / "other-sequencer").string()));
  TimeMs behind = now_ms() - 60000;
  auto other = sequencer([&behind] { return behind; }, decided.get());
  ASSERT_TRUE(other.process(sends({"x", "z"}, alice_, bob_)).ok());
  ASSERT_EQ(replies_seen_.size(), 4U);
  EXPECT_EQ(replies_seen_[2].value().id, replies_seen_[0].value().id);
  EXPECT_GT(replies_seen_[3].value().id, replies_seen_[1].value().id);
  EXPECT_EQ(changelog().size(), 3U);
}

// Issue 12: two sequencers that both believe they own a partition (on
// Kafka, one that lost it in a rebalance and does not know it yet) give no
// send two ids. Each has read the partition to its end once and decides
// without reading it again; the other appends in between.
TEST_F(PipelineTest, TwoSequencersBelievingTheyOwnAPartitionGiveNoSendTwoIds) {
  auto old_owner = sequencer(now_ms);
  ASSERT_TRUE(old_owner.process(sends({"x"}, alice_, bob_)).ok());
  auto decided = must(embedded::RocksSequencerState::open((dir_ / "new-owner").string()));
  auto new_owner = sequencer(now_ms, decided.get());
  ASSERT_TRUE(new_owner.process(sends({"y"}, alice_, bob_)).ok());
  ASSERT_EQ(replies_seen_.size(), 2U);
  const MessageId x = replies_seen_[0].value().id;
  const MessageId y = replies_seen_[1].value().id;

  // The old owner gets "y" as well (its client resent it there) and a new
  // "w". Its decisions land past the new owner's, not where it meant them:
  // it answers nobody and stores nothing. Decided again on what the
  // changelog holds, "y" keeps the new owner's id.
  const auto to_old = sends({"y", "w"}, alice_, bob_);
  EXPECT_FALSE(old_owner.process(to_old).ok());
  EXPECT_EQ(replies_seen_.size(), 2U);
  ASSERT_TRUE(old_owner.process(to_old).ok());
  ASSERT_EQ(replies_seen_.size(), 4U);
  EXPECT_EQ(replies_seen_[2].value().id, y);
  const MessageId w = replies_seen_[3].value().id;
  EXPECT_GT(w, y);

  // And the other way round: the new owner had not read "w".
  const auto to_new = sends({"w", "v"}, alice_, bob_);
  EXPECT_FALSE(new_owner.process(to_new).ok());
  ASSERT_TRUE(new_owner.process(to_new).ok());
  ASSERT_EQ(replies_seen_.size(), 6U);
  EXPECT_EQ(replies_seen_[4].value().id, w);
  const MessageId v = replies_seen_[5].value().id;
  EXPECT_GT(v, w);

  // Downstream, only what stands: each send once, under the id its sender
  // was given, in every inbox in one order.
  EXPECT_EQ(changelog().size(), 8U);  // four of them fenced off
  InboxOwner owner(*log_, *store_, state_);
  StoreWriter writer(*log_, *store_, state_, nullptr, &owner);
  ASSERT_TRUE(writer.process(changelog()).ok());
  const auto history = store_->history(to_string(direct_conversation(alice_, bob_)), MessageId{}, 10).value();
  ASSERT_EQ(history.size(), 4U);
  EXPECT_EQ(history[0].id, v);
  EXPECT_EQ(history[1].id, w);
  EXPECT_EQ(history[2].id, y);
  EXPECT_EQ(history[3].id, x);
  for (UserId user : {alice_, bob_}) expect_inbox(user, {x, y, w, v});
}

TEST_F(PipelineTest, AStateAheadOfItsChangelogDecidesNothing) {
  // State built from another (longer) changelog: deciding on it could give
  // a new message an id already taken, or miss a first result. The batch
  // fails (and is retried) instead; nobody is answered, nothing is logged.
  auto decided = must(embedded::RocksSequencerState::open((dir_ / "foreign-sequencer").string()));
  for (int p = 0; p < log_->partitions(records::kSequencedTopic); ++p) {
    ASSERT_TRUE(decided->apply(p, {}, 1000).ok());
  }
  auto seq = sequencer(now_ms, decided.get());
  EXPECT_FALSE(seq.process(sends({"x"}, alice_, bob_)).ok());
  EXPECT_TRUE(replies_seen_.empty());
  EXPECT_TRUE(changelog().empty());
}

TEST_F(PipelineTest, ARetryGetsTheFirstResultHoweverLateItComes) {
  auto seq = sequencer(now_ms);
  ASSERT_TRUE(seq.process(sends({"x"}, alice_, bob_)).ok());
  ASSERT_TRUE(seq.process(sends({"y", "z"}, alice_, bob_)).ok());
  ASSERT_EQ(replies_seen_.size(), 3U);
  ASSERT_TRUE(replies_seen_[0].ok());
  const Message original = replies_seen_[0].value();
  ASSERT_TRUE(seq.process(sends({"x", "x"}, alice_, bob_)).ok());  // retried twice, in one batch
  ASSERT_EQ(replies_seen_.size(), 5U);
  EXPECT_EQ(replies_seen_[3].value().id, original.id);
  EXPECT_EQ(replies_seen_[4].value().id, original.id);
  // Stored once, under its first id; the sequencer's state still names it.
  const auto history = store_->history(original.conversation, MessageId{}, 10).value();
  ASSERT_EQ(history.size(), 3U);
  EXPECT_EQ(std::count_if(history.begin(), history.end(), [](const Message& m) { return m.client_msg_id == "x"; }), 1);
  EXPECT_EQ(history.back().id, original.id);  // the oldest
  EXPECT_EQ(decided_->find_sent(original.conversation, alice_, "x").value()->id, original.id);
}

TEST_F(PipelineTest, IdsKeepIncreasingInAConversationWhenTheClockStepsBack) {
  TimeMs now = now_ms();
  auto seq = sequencer([&now] { return now; });
  ASSERT_TRUE(seq.process(sends({"1", "2"}, alice_, bob_)).ok());
  now -= 60000;  // a minute back
  ASSERT_TRUE(seq.process(sends({"3"}, bob_, alice_)).ok());
  // A new sequencer (a restart, another owner) with a clock further back still.
  now -= 60000;
  auto other = sequencer([&now] { return now; });
  ASSERT_TRUE(other.process(sends({"4"}, alice_, bob_)).ok());
  const auto history = store_->history(to_string(direct_conversation(alice_, bob_)), MessageId{}, 10).value();
  ASSERT_EQ(history.size(), 4U);
  for (std::size_t i = 1; i < history.size(); ++i) EXPECT_GT(history[i - 1].id, history[i].id);
  EXPECT_EQ(history.front().client_msg_id, "4");
}

TEST_F(PipelineTest, SendsToUnknownUsersAreRefusedAndStoreNothing) {
  auto seq = sequencer(now_ms);
  ASSERT_TRUE(seq.process(sends({"lost"}, alice_, UserId{999})).ok());
  ASSERT_EQ(replies_seen_.size(), 1U);
  ASSERT_FALSE(replies_seen_[0].ok());
  EXPECT_EQ(replies_seen_[0].error().code, ErrorCode::not_found);
  const std::string conversation = to_string(direct_conversation(alice_, UserId{999}));
  EXPECT_TRUE(store_->history(conversation, MessageId{}, 10).value().empty());
  EXPECT_FALSE(decided_->find_sent(conversation, alice_, "lost").value().has_value());
  EXPECT_TRUE(changelog().empty());
  EXPECT_TRUE(inbox_records().empty());
}

// Rooms that can be taken down: role_of fails with `unavailable` while it
// is, as a scale-out engine's call does while it restarts.
class SwitchableRooms final : public ports::Rooms {
 public:
  explicit SwitchableRooms(ports::Rooms& inner) : inner_(inner) {}
  bool down = false;

  Result<ports::RoomRecord> create_room(ports::RoomRef ref, std::string_view name, UserId owner,
                                        ports::PostPolicy post_policy, ports::Access access,
                                        const std::vector<UserId>& members) override {
    return inner_.create_room(ref, name, owner, post_policy, access, members);
  }
  Result<ports::RoomRecord> find_room(ports::RoomRef room) override { return inner_.find_room(room); }
  Result<std::optional<ports::Role>> role_of(ports::RoomRef room, UserId user) override {
    if (down) return make_error(ErrorCode::unavailable, "the rooms are down");
    return inner_.role_of(room, user);
  }
  Result<void> put_member(ports::RoomRef room, UserId user, ports::Role role, std::size_t max_members) override {
    return inner_.put_member(room, user, role, max_members);
  }
  Result<void> remove_member(ports::RoomRef room, UserId user) override { return inner_.remove_member(room, user); }
  Result<std::vector<ports::Member>> members(ports::RoomRef room) override { return inner_.members(room); }
  Result<std::size_t> member_count(ports::RoomRef room) override { return inner_.member_count(room); }
  Result<std::vector<ports::Membership>> rooms_of(UserId user) override { return inner_.rooms_of(user); }

 private:
  ports::Rooms& inner_;
};

// A send to group `group` as the gateway would append it.
ports::LogRecord group_send(std::uint64_t offset, UserId from, std::uint64_t group, std::string client_id) {
  records::SendCommand c{"test", 0, from, Recipient{Recipient::Kind::group, group}, client_id, "body " + client_id};
  return {"conversations", 0, offset, "k", records::encode(c)};
}

// The sequencer asks the one authorizer: a stranger's send to a group is
// refused with the very answer RoomsService gives everyone else who asks.
TEST_F(PipelineTest, ANonMembersGroupSendIsRefusedWithTheAuthorizersAnswer) {
  const ports::RoomRef group{ports::RoomKind::group, 7};
  ASSERT_TRUE(
      rooms_->create_room(group, "g", alice_, ports::PostPolicy::everyone, ports::Access::invite_only, {}).ok());
  auto seq = sequencer(now_ms);
  const std::vector<ports::LogRecord> batch{group_send(0, bob_, group.id, "intruder")};
  ASSERT_TRUE(seq.process(batch).ok());
  ASSERT_EQ(replies_seen_.size(), 1U);
  ASSERT_FALSE(replies_seen_[0].ok());
  const auto asked = authorizer_->check_member(conversation_of(group), bob_);
  ASSERT_FALSE(asked.ok());
  EXPECT_EQ(replies_seen_[0].error().code, asked.error().code);
  EXPECT_EQ(replies_seen_[0].error().message, asked.error().message);
  EXPECT_TRUE(changelog().empty());
}

// An engine that fails while a send is authorized is not a refusal: the
// batch fails (and is retried), nobody is answered, nothing is decided; once
// the engine is back the same batch is decided and answered.
TEST_F(PipelineTest, AnEngineFailingWhileAuthorizingRetriesTheBatchInsteadOfRefusing) {
  const ports::RoomRef group{ports::RoomKind::group, 7};
  ASSERT_TRUE(
      rooms_->create_room(group, "g", alice_, ports::PostPolicy::everyone, ports::Access::invite_only, {bob_}).ok());
  SwitchableRooms rooms(*rooms_);
  RoomsService authorizer(rooms, *directory_, *social_, RoomsService::Options{});
  Sequencer seq(*log_, *decided_, *store_, authorizer, state_, Snowflake(1, now_ms));
  const std::vector<ports::LogRecord> batch{group_send(0, alice_, group.id, "hello")};
  rooms.down = true;
  const auto failed = seq.process(batch);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, ErrorCode::unavailable);
  EXPECT_TRUE(replies_seen_.empty());
  EXPECT_TRUE(changelog().empty());
  rooms.down = false;
  ASSERT_TRUE(seq.process(batch).ok());
  ASSERT_EQ(replies_seen_.size(), 1U);
  EXPECT_TRUE(replies_seen_[0].ok());
  EXPECT_EQ(changelog().size(), 1U);
}

// A consumer that hands out scripted batches, each under the generation
// given with it, then nothing.
class ScriptedConsumer final : public ports::LogConsumer {
 public:
  struct Step {
    std::uint64_t generation;
    std::uint64_t offset;
  };
  explicit ScriptedConsumer(std::vector<Step> steps) : steps_(std::move(steps)) {}

  Result<std::vector<ports::LogRecord>> poll(std::chrono::milliseconds timeout, std::size_t /*max*/) override {
    std::unique_lock lock(mutex_);
    if (next_ < steps_.size()) {
      const Step& step = steps_[next_++];
      generation_.store(step.generation);
      return std::vector<ports::LogRecord>{{std::string(records::kInboxesTopic), 0, step.offset, "k", "v"}};
    }
    cv_.wait_for(lock, timeout, [this] { return woken_; });
    woken_ = false;
    return std::vector<ports::LogRecord>{};
  }
  Result<void> commit(int /*partition*/, std::uint64_t /*next_offset*/) override { return Ok{}; }
  void wakeup() override {
    {
      std::lock_guard lock(mutex_);
      woken_ = true;
    }
    cv_.notify_all();
  }
  std::uint64_t generation() const noexcept override { return generation_.load(); }

 private:
  std::vector<Step> steps_;
  std::mutex mutex_;  // guards next_ and woken_
  std::condition_variable cv_;
  std::size_t next_ = 0;
  bool woken_ = false;
  std::atomic<std::uint64_t> generation_{0};
};

// Records each batch's first offset with the generation it was last told.
class GenerationRecorder final : public BatchHandler {
 public:
  Result<void> process(std::span<const ports::LogRecord> batch) override {
    std::lock_guard lock(mutex_);
    seen_.emplace_back(told_.back(), batch.front().offset);
    cv_.notify_all();
    return Ok{};
  }
  void on_generation(std::uint64_t generation) override {
    std::lock_guard lock(mutex_);
    told_.push_back(generation);
  }
  // Waits (a minute at most) for `n` batches; what it saw, and was told.
  std::pair<std::vector<std::pair<std::uint64_t, std::uint64_t>>, std::vector<std::uint64_t>> wait_for(std::size_t n) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, std::chrono::minutes(1), [&] { return seen_.size() >= n; });
    return {seen_, told_};
  }

 private:
  std::mutex mutex_;  // guards all below
  std::condition_variable cv_;
  std::vector<std::uint64_t> told_{~std::uint64_t{0}};         // a value no consumer gives, until told
  std::vector<std::pair<std::uint64_t, std::uint64_t>> seen_;  // (generation told, first offset)
};

TEST(PipelineStepTest, TellsItsHandlerEachNewGenerationBeforeTheBatchesOfIt) {
  GenerationRecorder handler;
  PipelineStep step(
      "test",
      std::make_unique<ScriptedConsumer>(std::vector<ScriptedConsumer::Step>{{0, 0}, {0, 1}, {3, 2}, {3, 3}, {4, 4}}),
      handler, {.poll_timeout = std::chrono::milliseconds(10)});
  step.start();
  const auto [seen, told] = handler.wait_for(5);
  step.stop();
  EXPECT_EQ(told, (std::vector<std::uint64_t>{~std::uint64_t{0}, 0, 3, 4}));
  EXPECT_EQ(seen, (std::vector<std::pair<std::uint64_t, std::uint64_t>>{{0, 0}, {0, 1}, {3, 2}, {3, 3}, {4, 4}}));
}

}  // namespace
}  // namespace parley::services
