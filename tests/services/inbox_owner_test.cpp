// The inbox owner when a store write fails part-way (issue 7): the retry
// must write what the failed try planned, not plan again from a store that
// shows half of that write.

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
// only the entries' index rows became visible: what a reader of Cassandra
// sees after the node died part-way through a logged batch (each partition
// is applied on its own; the batchlog completes the rest some time after the
// restart).
class HalfWritingStore final : public ForwardingMessageStore {
 public:
  using ForwardingMessageStore::ForwardingMessageStore;

  void fail_next_put_inbox() { fail_next_ = true; }

  Result<std::optional<Seq>> inbox_seq_of(UserId user, MessageId message) override {
    if (auto it = half_written_.find({user.value, message.value}); it != half_written_.end()) {
      return std::optional<Seq>(it->second);
    }
    return inner_.inbox_seq_of(user, message);
  }
  Result<void> put_inbox(std::span<const InboxWrite> writes) override {
    if (fail_next_) {
      fail_next_ = false;
      for (const auto& w : writes) half_written_[{w.user.value, w.entry.message.id.value}] = w.entry.seq;
      return make_error(ErrorCode::unavailable, "the node died part-way through the batch");
    }
    return inner_.put_inbox(writes);
  }

 private:
  bool fail_next_ = false;
  std::map<std::pair<std::uint64_t, std::uint64_t>, Seq> half_written_;  // (user, message) -> seq
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
            records::encode(records::InboxCommand{user, std::move(m)})};
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
};

TEST_F(InboxOwnerTest, ARetryAfterAHalfAppliedWriteStoresTheBatch) {
  InboxOwner owner(*store_, state_);
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
  InboxOwner owner(*store_, state_);
  store_->fail_next_put_inbox();
  ASSERT_FALSE(owner.process(std::vector{record(bob_, 100)}).ok());
  // Not the step's retry (the partition was handed over and back): the
  // stale plan is dropped, and what the store shows decides.
  ASSERT_TRUE(owner.process(std::vector{record(bob_, 300)}).ok());
  EXPECT_EQ(inbox_ids(bob_), (std::vector<std::uint64_t>{300}));
}

}  // namespace
}  // namespace parley::services
