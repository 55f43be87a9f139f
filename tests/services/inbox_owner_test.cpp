// The inbox owner when a store write fails part-way (issue 7): the retry
// must write what the failed try planned, not plan again from a store that
// shows half of that write. And what it keeps in memory within one
// ownership generation: in the steady state it reads nothing from the
// store, yet a new generation, a crash, a replayed record or a failed write
// never places a message twice or leaves a gap.

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <random>

#include "adapters/embedded/memory_state_store.hpp"
#include "adapters/embedded/rocks_message_store.hpp"
#include "forwarding_message_store.hpp"
#include "services/inbox_owner.hpp"
#include "services/records.hpp"

namespace parley::services {
namespace {

// A MessageStore over the embedded one whose next put_inbox fails after
// only the entries' index rows became visible (all of them, or those after
// the first `skip`): what a reader of Cassandra sees after a write died
// part-way (each partition is applied on its own, and the heads come last).
//
// It also counts the inbox owner's reads (the batch reads' defaults ask
// these one key at a time).
class HalfWritingStore final : public ForwardingMessageStore {
 public:
  using ForwardingMessageStore::ForwardingMessageStore;

  void fail_next_put_inbox(std::size_t skip = 0) {
    fail_next_ = true;
    skip_ = skip;
  }

  struct Reads {
    int placement = 0;      // inbox_seq_of, one per record checked
    int head = 0;           // inbox_head, one per user
    int conversations = 0;  // conversations_of, one per user
    [[nodiscard]] int total() const { return placement + head + conversations; }
  };
  Reads reads;

  Result<Seq> inbox_head(UserId user) override {
    ++reads.head;
    return inner_.inbox_head(user);
  }
  Result<std::vector<ConversationSummary>> conversations_of(UserId user) override {
    ++reads.conversations;
    return inner_.conversations_of(user);
  }
  Result<std::optional<Seq>> inbox_seq_of(UserId user, MessageId message) override {
    ++reads.placement;
    if (auto it = half_written_.find({user.value, message.value}); it != half_written_.end()) {
      return std::optional<Seq>(it->second);
    }
    return inner_.inbox_seq_of(user, message);
  }
  Result<void> put_inbox(std::span<const InboxWrite> writes) override {
    if (fail_next_) {
      fail_next_ = false;
      for (std::size_t i = skip_; i < writes.size(); ++i) {
        half_written_[{writes[i].user.value, writes[i].entry.message.id.value}] = writes[i].entry.seq;
      }
      return make_error(ErrorCode::unavailable, "the node died part-way through the batch");
    }
    return inner_.put_inbox(writes);
  }

 private:
  bool fail_next_ = false;
  std::size_t skip_ = 0;
  std::map<std::pair<std::uint64_t, std::uint64_t>, Seq> half_written_;  // (user, message) -> seq
};

// The inbox owner asks the log only for end offsets: here, every record the
// test has made so far is in the log.
class EndOnlyLog final : public ports::MessageLog {
 public:
  explicit EndOnlyLog(const std::uint64_t& end) : end_(end) {}
  int end_reads = 0;

  int partitions(std::string_view /*topic*/) const override { return 1; }
  int partition_for(std::string_view /*topic*/, std::string_view /*key*/) const override { return 0; }
  void append(std::string_view /*topic*/, std::string /*key*/, std::string /*value*/,
              ports::AppendCallback done) override {
    done(make_error(ErrorCode::internal, "not in this test"));
  }
  Result<std::unique_ptr<ports::LogConsumer>> subscribe(std::string_view /*topic*/,
                                                        std::string_view /*group*/) override {
    return make_error(ErrorCode::internal, "not in this test");
  }
  Result<std::uint64_t> end_offset(std::string_view /*topic*/, int /*partition*/) override {
    ++end_reads;
    return end_;
  }
  Result<std::vector<ports::LogRecord>> read(std::string_view /*topic*/, int /*partition*/, std::uint64_t /*from*/,
                                             std::size_t /*max*/) override {
    return make_error(ErrorCode::internal, "not in this test");
  }

 private:
  const std::uint64_t& end_;
};

class InboxOwnerTest : public ::testing::Test {
 protected:
  InboxOwnerTest() {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() / ("parley-inbox-" + std::to_string(rd()) + std::to_string(rd()));
    auto opened = embedded::RocksMessageStore::open(dir_.string(), embedded::Durability::os);
    if (!opened) throw std::runtime_error(opened.error().message);
    rocks_ = std::move(opened).value();
    store_ = std::make_unique<HalfWritingStore>(*rocks_);
  }
  ~InboxOwnerTest() override {
    store_.reset();
    rocks_.reset();
    std::filesystem::remove_all(dir_);
  }

  // The inbox record of message `id` (from alice to bob) for `user`.
  ports::LogRecord record(UserId user, std::uint64_t id) {
    Message m{MessageId{id},           "d:1:2", alice_, Recipient{Recipient::Kind::user, bob_.value}, "body", 0,
              "m" + std::to_string(id)};
    return {std::string(records::kInboxesTopic), 0, next_offset_++, to_string(user),
            records::encode(records::InboxCommand{{user}, std::move(m)})};
  }

  std::vector<std::uint64_t> inbox_ids(UserId user) {
    std::vector<std::uint64_t> out;
    Seq expected = 1;
    auto entries = rocks_->inbox(user, 0, 100);
    if (!entries) {
      ADD_FAILURE() << entries.error().message;
      return out;
    }
    for (const auto& e : entries.value()) {
      EXPECT_EQ(e.seq, expected++) << "not gapless";
      out.push_back(e.message.id.value);
    }
    return out;
  }

  std::filesystem::path dir_;
  std::unique_ptr<embedded::RocksMessageStore> rocks_;
  std::unique_ptr<HalfWritingStore> store_;
  embedded::MemoryStateStore state_;
  UserId alice_{1}, bob_{2};
  std::uint64_t next_offset_ = 0;
  EndOnlyLog log_{next_offset_};
};

TEST_F(InboxOwnerTest, ARetryAfterAHalfAppliedWriteStoresTheBatch) {
  InboxOwner owner(log_, *store_, state_);
  ASSERT_TRUE(owner.process(std::vector{record(bob_, 100)}).ok());

  const std::vector batch{record(alice_, 200), record(bob_, 200)};
  store_->fail_next_put_inbox();
  ASSERT_FALSE(owner.process(batch).ok());
  ASSERT_TRUE(owner.process(batch).ok());  // the step's retry, with the index rows visible

  ASSERT_TRUE(owner.process(std::vector{record(bob_, 300)}).ok());
  EXPECT_EQ(inbox_ids(bob_), (std::vector<std::uint64_t>{100, 200, 300}));
  EXPECT_EQ(inbox_ids(alice_), (std::vector<std::uint64_t>{200}));
  EXPECT_EQ(rocks_->inbox_head(bob_).value(), 3U);
}

TEST_F(InboxOwnerTest, AnotherBatchAfterAFailureIsPlannedAfresh) {
  InboxOwner owner(log_, *store_, state_);
  store_->fail_next_put_inbox();
  ASSERT_FALSE(owner.process(std::vector{record(bob_, 100)}).ok());
  // Not the step's retry (the partition was handed over and back): the
  // stale plan is dropped, and what the store shows decides.
  ASSERT_TRUE(owner.process(std::vector{record(bob_, 300)}).ok());
  EXPECT_EQ(inbox_ids(bob_), (std::vector<std::uint64_t>{300}));
}

TEST_F(InboxOwnerTest, TheSteadyStateReadsNothingFromTheStore) {
  InboxOwner owner(log_, *store_, state_);
  ASSERT_TRUE(owner.process(std::vector{record(bob_, 100), record(alice_, 100)}).ok());
  EXPECT_GT(store_->reads.total(), 0);  // the first batch of a generation is read for

  store_->reads = {};
  log_.end_reads = 0;
  ASSERT_TRUE(owner.process(std::vector{record(bob_, 200), record(alice_, 200), record(bob_, 300)}).ok());
  ASSERT_TRUE(owner.process(std::vector{record(alice_, 400)}).ok());
  ASSERT_TRUE(owner.process(std::vector{record(bob_, 500), record(alice_, 500)}).ok());
  EXPECT_EQ(store_->reads.placement, 0);
  EXPECT_EQ(store_->reads.head, 0);
  EXPECT_EQ(store_->reads.conversations, 0);
  EXPECT_EQ(log_.end_reads, 0);
  EXPECT_EQ(inbox_ids(bob_), (std::vector<std::uint64_t>{100, 200, 300, 500}));
  EXPECT_EQ(inbox_ids(alice_), (std::vector<std::uint64_t>{100, 200, 400, 500}));
}

TEST_F(InboxOwnerTest, ANewGenerationReadsAgainWhatAnotherOwnerMayHaveWritten) {
  InboxOwner owner(log_, *store_, state_);
  ASSERT_TRUE(owner.process(std::vector{record(bob_, 100)}).ok());
  ASSERT_TRUE(owner.process(std::vector{record(bob_, 200)}).ok());

  // The partition goes to another member, which writes bob's inbox, and
  // comes back.
  owner.on_generation(1);
  InboxOwner other(log_, *store_, state_);
  ASSERT_TRUE(other.process(std::vector{record(bob_, 300)}).ok());
  owner.on_generation(2);

  // Its first batch asks the log where the partition ends and the store
  // about every record and user.
  store_->reads = {};
  log_.end_reads = 0;
  ASSERT_TRUE(owner.process(std::vector{record(bob_, 400), record(alice_, 400)}).ok());
  EXPECT_EQ(log_.end_reads, 1);
  EXPECT_EQ(store_->reads.placement, 2);
  EXPECT_EQ(store_->reads.head, 2);
  EXPECT_EQ(inbox_ids(bob_), (std::vector<std::uint64_t>{100, 200, 300, 400}));
  EXPECT_EQ(inbox_ids(alice_), (std::vector<std::uint64_t>{400}));

  // Then it is the steady state again.
  store_->reads = {};
  ASSERT_TRUE(owner.process(std::vector{record(bob_, 500)}).ok());
  EXPECT_EQ(store_->reads.total(), 0);
  EXPECT_EQ(inbox_ids(bob_), (std::vector<std::uint64_t>{100, 200, 300, 400, 500}));
}

TEST_F(InboxOwnerTest, AReplayAfterACrashPlacesNothingTwice) {
  const std::vector first{record(bob_, 100), record(alice_, 100)};
  const std::vector second{record(bob_, 200), record(bob_, 300), record(alice_, 300)};
  {
    InboxOwner owner(log_, *store_, state_);
    ASSERT_TRUE(owner.process(first).ok());
    ASSERT_TRUE(owner.process(second).ok());
  }  // dies before committing either batch

  InboxOwner owner(log_, *store_, state_);
  ASSERT_TRUE(owner.process(first).ok());
  ASSERT_TRUE(owner.process(second).ok());
  ASSERT_TRUE(owner.process(std::vector{record(bob_, 400)}).ok());
  // The store writer's replay appends bob's 300 again, after the new owner
  // got the partition: a later offset, yet not a new message.
  ASSERT_TRUE(owner.process(std::vector{record(bob_, 300), record(alice_, 500)}).ok());
  ASSERT_TRUE(owner.process(std::vector{record(bob_, 600)}).ok());

  EXPECT_EQ(inbox_ids(bob_), (std::vector<std::uint64_t>{100, 200, 300, 400, 600}));
  EXPECT_EQ(inbox_ids(alice_), (std::vector<std::uint64_t>{100, 300, 500}));
}

TEST_F(InboxOwnerTest, AWriteAPreviousOwnerLeftHalfAppliedIsWrittenAgainAtItsSeqs) {
  {
    InboxOwner owner(log_, *store_, state_);
    ASSERT_TRUE(owner.process(std::vector{record(bob_, 100)}).ok());
    store_->fail_next_put_inbox();
    ASSERT_FALSE(owner.process(std::vector{record(bob_, 200), record(bob_, 300)}).ok());
  }  // dies; bob's 200 and 300 show in the inbox index at seqs 2 and 3,
     // above his head (1), which a store writes last

  next_offset_ = 1;  // the new owner replays from the committed offset
  InboxOwner owner(log_, *store_, state_);
  ASSERT_TRUE(owner.process(std::vector{record(bob_, 200), record(bob_, 300)}).ok());
  ASSERT_TRUE(owner.process(std::vector{record(bob_, 400)}).ok());
  // Written again at the seqs they had, and the head moved past them.
  const auto entries = rocks_->inbox(bob_, 0, 100).value();
  ASSERT_EQ(entries.size(), 4U);
  EXPECT_EQ(entries[1].seq, 2U);
  EXPECT_EQ(entries[1].message.id.value, 200U);
  EXPECT_EQ(entries[2].seq, 3U);
  EXPECT_EQ(entries[2].message.id.value, 300U);
  EXPECT_EQ(entries[3].seq, 4U);
  EXPECT_EQ(entries[3].message.id.value, 400U);
  EXPECT_EQ(rocks_->inbox_head(bob_).value(), 4U);
}

TEST_F(InboxOwnerTest, AWriteCutShortWithAHoleLeavesNoGapAfterTheReplay) {
  {
    InboxOwner owner(log_, *store_, state_);
    ASSERT_TRUE(owner.process(std::vector{record(bob_, 100), record(alice_, 100)}).ok());
    // Rows of concurrent writes land in any order: 300 (seq 3) and 400
    // (seq 4) are stored, 200 (seq 2) is not, and no head moved.
    store_->fail_next_put_inbox(1);
    ASSERT_FALSE(
        owner.process(std::vector{record(bob_, 200), record(bob_, 300), record(alice_, 300), record(bob_, 400)}).ok());
  }  // dies before the retry

  next_offset_ = 2;
  InboxOwner owner(log_, *store_, state_);
  ASSERT_TRUE(
      owner.process(std::vector{record(bob_, 200), record(bob_, 300), record(alice_, 300), record(bob_, 400)}).ok());
  // The store writer's replay appends 300 again later: placed, not repeated.
  ASSERT_TRUE(owner.process(std::vector{record(bob_, 300), record(bob_, 500)}).ok());
  EXPECT_EQ(inbox_ids(bob_), (std::vector<std::uint64_t>{100, 200, 300, 400, 500}));
  EXPECT_EQ(inbox_ids(alice_), (std::vector<std::uint64_t>{100, 300}));
  EXPECT_EQ(rocks_->inbox_head(bob_).value(), 5U);
}

TEST_F(InboxOwnerTest, AFailedWriteAndItsRetryKeepTheCacheInStepWithTheStore) {
  InboxOwner owner(log_, *store_, state_);
  ASSERT_TRUE(owner.process(std::vector{record(bob_, 100), record(alice_, 100)}).ok());
  ASSERT_TRUE(owner.process(std::vector{record(bob_, 200)}).ok());

  const std::vector batch{record(bob_, 300), record(alice_, 300), record(bob_, 400)};
  store_->fail_next_put_inbox();
  ASSERT_FALSE(owner.process(batch).ok());
  ASSERT_TRUE(owner.process(batch).ok());
  ASSERT_TRUE(owner.process(std::vector{record(bob_, 500), record(alice_, 500)}).ok());
  ASSERT_TRUE(owner.process(std::vector{record(bob_, 600)}).ok());

  EXPECT_EQ(inbox_ids(bob_), (std::vector<std::uint64_t>{100, 200, 300, 400, 500, 600}));
  EXPECT_EQ(inbox_ids(alice_), (std::vector<std::uint64_t>{100, 300, 500}));
  EXPECT_EQ(rocks_->inbox_head(bob_).value(), 6U);
}

TEST_F(InboxOwnerTest, TheCacheKeepsAtMostItsBound) {
  InboxOwner owner(log_, *store_, state_, 1);
  ASSERT_TRUE(owner.process(std::vector{record(bob_, 100)}).ok());
  ASSERT_TRUE(owner.process(std::vector{record(alice_, 200)}).ok());  // bob is dropped
  store_->reads = {};
  ASSERT_TRUE(owner.process(std::vector{record(bob_, 300)}).ok());
  EXPECT_EQ(store_->reads.head, 1);
  store_->reads = {};
  ASSERT_TRUE(owner.process(std::vector{record(bob_, 400)}).ok());
  EXPECT_EQ(store_->reads.total(), 0);
  EXPECT_EQ(inbox_ids(bob_), (std::vector<std::uint64_t>{100, 300, 400}));
}

}  // namespace
}  // namespace parley::services
