// The push step against the embedded engines: an inbox record wakes each
// recipient with no device online, nor one gone since the message was sent
// (with the seq the inbox owner gave the
// entry, a preview cut to size, the time seen), never the sender, nobody
// online and nobody for a channel post; a replayed batch adds nothing; and
// an entry the inbox owner has not stored yet fails the batch (so that it
// is retried) instead of being skipped. The seqs of a batch's entries are
// asked for together: one call to the store, and again only for the
// entries not stored yet.

#include "services/push_step.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <thread>
#include <utility>

#include "adapters/embedded/rocks_push_ledger.hpp"
#include "forwarding_message_store.hpp"
#include "service_fixture.hpp"

namespace parley::services {
namespace {

using testkit::Engines;
using testkit::must;
using testkit::ServerDevices;

// Records the store's seq lookups: the keys of each call (inbox_seqs_of)
// and the lookups of one entry (inbox_seq_of). After its first call it can
// place entries, as an inbox owner a few milliseconds behind this step does.
class CountingStore final : public ForwardingMessageStore {
 public:
  using ForwardingMessageStore::ForwardingMessageStore;

  Result<std::optional<Seq>> inbox_seq_of(UserId user, MessageId message) override {
    ++single_lookups;
    return inner_.inbox_seq_of(user, message);
  }
  Result<std::vector<std::optional<Seq>>> inbox_seqs_of(std::span<const InboxKey> keys) override {
    calls.emplace_back(keys.begin(), keys.end());
    auto out = inner_.inbox_seqs_of(keys);
    if (auto then = std::exchange(after_first_call, nullptr)) then();
    return out;
  }

  std::vector<std::vector<InboxKey>> calls;
  int single_lookups = 0;
  std::function<void()> after_first_call;
};

class PushStepTest : public ::testing::Test {
 protected:
  PushStepTest() {
    alice_ = engines_.user("alice");
    bob_ = engines_.user("bob");
    carol_ = engines_.user("carol");
  }

  PushStep step(std::chrono::milliseconds seq_wait = std::chrono::milliseconds(0), ports::MessageStore* store = nullptr,
                std::size_t keys_per_lookup = 4096) {
    return PushStep(store != nullptr ? *store : *engines_.store, engines_.state, *ledger_,
                    {.preview_bytes = 5,
                     .seq_wait = seq_wait,
                     .keys_per_lookup = keys_per_lookup,
                     .clock = [this] { return now_; },
                     .on_added = [this] { ++woken_; }});
  }

  Message message(UserId from, Recipient to, std::uint64_t id, std::string body) {
    Message m;
    m.id = MessageId{id};
    m.conversation = to_string(conversation_of(from, to));
    m.from = from;
    m.to = to;
    m.body = std::move(body);
    return m;
  }

  // Stores the message at the next seq of each user's inbox, as the inbox
  // owner does before (or while) the push step reads the same record.
  void place(const Message& m, const std::vector<UserId>& users) {
    std::vector<ports::MessageStore::InboxWrite> writes;
    for (UserId u : users) writes.push_back({u, InboxEntry{engines_.store->inbox_head(u).value() + 1, m}});
    ASSERT_TRUE(engines_.store->put_inbox(writes).ok());
  }

  ports::LogRecord record(const Message& m, std::vector<UserId> users) {
    return {std::string(records::kInboxesTopic), 0, offset_++, to_string(users.front()),
            records::encode(records::InboxCommand{std::move(users), m})};
  }

  // The ledger's batches, by user then conversation.
  std::vector<ports::PushBatch> batches() {
    auto all = ledger_->batches().value();
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
      return std::tie(a.user, a.conversation) < std::tie(b.user, b.conversation);
    });
    return all;
  }

  Engines engines_{"parley-push-step"};
  std::unique_ptr<embedded::RocksPushLedger> ledger_ =
      must(embedded::RocksPushLedger::open(engines_.sub("ledger"), embedded::Durability::os));
  TimeMs now_ = 1'800'000'000'000;
  int woken_ = 0;
  std::uint64_t offset_ = 0;
  UserId alice_, bob_, carol_;
};

TEST_F(PushStepTest, AnOfflineRecipientIsWokenWithTheSeqOfTheirEntryAndAShortPreview) {
  const Message hello = message(alice_, {Recipient::Kind::user, bob_.value}, 100, "hello there bob");
  place(message(carol_, {Recipient::Kind::user, bob_.value}, 50, "earlier"), {carol_, bob_});  // bob's seq 1
  place(hello, {alice_, bob_});                                                                // bob's seq 2
  auto push = step();
  ASSERT_TRUE(push.process(std::vector{record(hello, {alice_, bob_})}).ok());

  const auto all = batches();
  ASSERT_EQ(all.size(), 1U) << "the sender was woken for her own message";
  EXPECT_EQ(all[0].user, bob_);
  EXPECT_EQ(all[0].conversation, hello.conversation);
  EXPECT_FALSE(all[0].group);  // 1:1: high priority
  EXPECT_EQ(all[0].count, 1U);
  EXPECT_EQ(all[0].first_seq, 2U);
  EXPECT_EQ(all[0].last_seq, 2U);
  EXPECT_EQ(all[0].last_message, MessageId{100});
  EXPECT_EQ(all[0].last_sender, alice_);
  EXPECT_EQ(all[0].last_preview, "hello");  // preview_bytes
  EXPECT_EQ(all[0].opened_at, now_);
  EXPECT_EQ(woken_, 1);
}

// On the embedded log the step reads the changelog: a decision names every
// member, and wakes whom its inbox records would have.
TEST_F(PushStepTest, ADecisionOfTheChangelogWakesWhomItsInboxRecordWould) {
  const Message hello = message(alice_, {Recipient::Kind::user, bob_.value}, 100, "hello there bob");
  place(hello, {alice_, bob_});
  auto push = step();
  const ports::LogRecord decision{std::string(records::kSequencedTopic), 0, 0, hello.conversation,
                                  records::encode(records::Sequenced{hello, {alice_, bob_}, std::nullopt})};
  ASSERT_TRUE(push.process(std::vector{decision}).ok());

  const auto all = batches();
  ASSERT_EQ(all.size(), 1U) << "the sender was woken for her own message";
  EXPECT_EQ(all[0].user, bob_);
  EXPECT_EQ(all[0].first_seq, 1U);
  EXPECT_EQ(all[0].last_message, MessageId{100});
  EXPECT_EQ(woken_, 1);
}

TEST_F(PushStepTest, NobodyWithADeviceOnlineIsWokenAndChannelPostsWakeNobody) {
  ServerDevices server(engines_.state, "s1");
  server.connect(carol_);
  const auto group = ports::RoomRef{ports::RoomKind::group, 4242};
  const Message in_group = message(alice_, {Recipient::Kind::group, group.id}, 100, "group news");
  const Message in_channel = message(alice_, {Recipient::Kind::channel, 4343}, 101, "channel news");
  place(in_group, {alice_, bob_, carol_});
  auto push = step();
  ASSERT_TRUE(push.process(std::vector{record(in_group, {alice_, bob_, carol_}), record(in_channel, {bob_})}).ok());

  const auto all = batches();
  ASSERT_EQ(all.size(), 1U);
  EXPECT_EQ(all[0].user, bob_);  // carol is online: she got it live
  EXPECT_TRUE(all[0].group);     // low priority
  EXPECT_EQ(all[0].conversation, in_group.conversation);
}

TEST_F(PushStepTest, ADeviceThatTookTheMessageLiveAndWentAwayBeforeTheStepReadItIsNotWoken) {
  // Bob's laptop was online when alice sent, got the message live and went
  // away before this step read the entry: no route is left, but presence
  // saw him after the message was sent. Carol's last device went away just
  // before it was sent: she is woken.
  const TimeMs sent = 1'700'000'000'000;
  const auto group = ports::RoomRef{ports::RoomKind::group, 4242};
  Message news = message(alice_, {Recipient::Kind::group, group.id}, 100, "group news");
  news.sent_at = sent;
  ASSERT_TRUE(engines_.state.touch_device(bob_, "laptop", std::chrono::seconds(30), sent - 5000).ok());
  ASSERT_TRUE(engines_.state.remove_device(bob_, "laptop", sent + 20).ok());
  ASSERT_TRUE(engines_.state.touch_device(carol_, "phone", std::chrono::seconds(30), sent - 5000).ok());
  ASSERT_TRUE(engines_.state.remove_device(carol_, "phone", sent - 10).ok());
  place(news, {alice_, bob_, carol_});
  auto push = step();
  ASSERT_TRUE(push.process(std::vector{record(news, {alice_, bob_, carol_})}).ok());

  const auto all = batches();
  ASSERT_EQ(all.size(), 1U) << "bob was woken for a message his laptop took live";
  EXPECT_EQ(all[0].user, carol_);
}

TEST_F(PushStepTest, AReplayedBatchAddsNothingAndWakesNobody) {
  const Message one = message(alice_, {Recipient::Kind::user, bob_.value}, 100, "one");
  const Message two = message(alice_, {Recipient::Kind::user, bob_.value}, 101, "two");
  place(one, {alice_, bob_});
  place(two, {alice_, bob_});
  const std::vector batch{record(one, {alice_, bob_}), record(two, {alice_, bob_})};
  auto push = step();
  ASSERT_TRUE(push.process(batch).ok());
  ASSERT_EQ(woken_, 1);
  const auto first = batches();
  ASSERT_EQ(first.size(), 1U);
  EXPECT_EQ(first[0].count, 2U);

  // As after a crash before the offset commit; a new step, a later clock.
  now_ += 60'000;
  auto again = step();
  ASSERT_TRUE(again.process(batch).ok());
  EXPECT_EQ(batches(), first);
  EXPECT_EQ(woken_, 1);
}

TEST_F(PushStepTest, AnEntryNotStoredYetFailsTheBatchSoThatItIsRetried) {
  const Message early = message(alice_, {Recipient::Kind::user, bob_.value}, 100, "early");
  const std::vector batch{record(early, {alice_, bob_})};
  auto push = step(std::chrono::milliseconds(0));
  auto failed = push.process(batch);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, ErrorCode::unavailable);
  EXPECT_TRUE(batches().empty());
  EXPECT_EQ(woken_, 0);

  // The inbox owner stores it; the retry wakes bob.
  place(early, {alice_, bob_});
  ASSERT_TRUE(push.process(batch).ok());
  ASSERT_EQ(batches().size(), 1U);
  EXPECT_EQ(batches()[0].last_seq, 1U);
  EXPECT_EQ(woken_, 1);
}

// A group message to many offline members costs one call to the store, not
// one per member (on Cassandra, a round trip each, one after another).
TEST_F(PushStepTest, TheSeqsOfABatchAreAskedForInOneRound) {
  const UserId dave = engines_.user("dave");
  const Message news = message(alice_, {Recipient::Kind::group, 4242}, 100, "group news");
  const Message hello = message(alice_, {Recipient::Kind::user, bob_.value}, 101, "hello bob");
  place(message(bob_, {Recipient::Kind::user, carol_.value}, 50, "earlier"), {carol_});  // carol's seq 1
  place(message(bob_, {Recipient::Kind::user, dave.value}, 51, "earlier"), {dave});      // dave's seq 1
  place(message(bob_, {Recipient::Kind::user, dave.value}, 52, "earlier"), {dave});      // dave's seq 2
  place(news, {alice_, bob_, carol_, dave});  // bob's seq 1, carol's 2, dave's 3
  place(hello, {alice_, bob_});               // bob's seq 2
  CountingStore store(*engines_.store);
  auto push = step(std::chrono::milliseconds(0), &store);
  ASSERT_TRUE(
      push.process(std::vector{record(news, {alice_, bob_, carol_, dave}), record(hello, {alice_, bob_})}).ok());

  ASSERT_EQ(store.calls.size(), 1U);
  EXPECT_EQ(store.calls[0].size(), 4U);  // bob twice, carol, dave; never alice
  EXPECT_EQ(store.single_lookups, 0);
  const auto all = batches();
  ASSERT_EQ(all.size(), 4U);
  EXPECT_EQ(all[0].user, bob_);
  EXPECT_EQ(all[1].user, bob_);
  EXPECT_EQ(all[0].first_seq, all[0].conversation == hello.conversation ? 2U : 1U);
  EXPECT_EQ(all[1].first_seq, all[1].conversation == hello.conversation ? 2U : 1U);
  EXPECT_NE(all[0].conversation, all[1].conversation);
  EXPECT_EQ(all[2].user, carol_);
  EXPECT_EQ(all[2].first_seq, 2U);
  EXPECT_EQ(all[3].user, dave);
  EXPECT_EQ(all[3].first_seq, 3U);
}

// A batch that wakes more users than one call asks for is asked for in
// several calls, each at most the limit, and wakes them all.
TEST_F(PushStepTest, ABatchOfManyEntriesIsAskedForInCallsOfAtMostTheLimit) {
  const UserId dave = engines_.user("dave");
  const UserId erin = engines_.user("erin");
  const Message news = message(alice_, {Recipient::Kind::group, 4242}, 100, "group news");
  place(news, {alice_, bob_, carol_, dave, erin});
  CountingStore store(*engines_.store);
  auto push = step(std::chrono::milliseconds(0), &store, /*keys_per_lookup=*/3);
  ASSERT_TRUE(push.process(std::vector{record(news, {alice_, bob_, carol_, dave, erin})}).ok());

  ASSERT_EQ(store.calls.size(), 2U);
  EXPECT_EQ(store.calls[0].size(), 3U);
  EXPECT_EQ(store.calls[1].size(), 1U);
  const auto all = batches();
  ASSERT_EQ(all.size(), 4U);  // bob, carol, dave, erin
  for (const auto& b : all) EXPECT_EQ(b.first_seq, 1U) << to_string(b.user);
}

// The inbox owner stores an entry while the step waits for it: the next
// call asks for that one alone, and the batch wakes everyone.
TEST_F(PushStepTest, AnEntryStoredWhileTheStepWaitsIsAskedForAgainAlone) {
  const Message one = message(alice_, {Recipient::Kind::user, bob_.value}, 100, "one");
  const Message two = message(carol_, {Recipient::Kind::user, bob_.value}, 101, "two");
  place(one, {alice_, bob_});
  CountingStore store(*engines_.store);
  store.after_first_call = [&] { place(two, {carol_, bob_}); };
  auto push = step(std::chrono::milliseconds(3000), &store);
  ASSERT_TRUE(push.process(std::vector{record(one, {alice_, bob_}), record(two, {carol_, bob_})}).ok());

  ASSERT_EQ(store.calls.size(), 2U);
  EXPECT_EQ(store.calls[0].size(), 2U);
  ASSERT_EQ(store.calls[1].size(), 1U);
  EXPECT_EQ(store.calls[1][0].message, two.id);
  const auto all = batches();
  ASSERT_EQ(all.size(), 2U);  // bob, in two conversations
  for (const auto& b : all) {
    EXPECT_EQ(b.user, bob_);
    EXPECT_EQ(b.first_seq, b.last_message == two.id ? 2U : 1U);
  }
}

// The wait for entries not stored yet starts when the first call has
// answered: a store slower than the wait (a large batch on a busy Cassandra)
// still gets one more call for what was missing, and the batch is not failed
// for its own lookups' time. (The pause stands for a slow store; it is not
// waiting for anything.)
TEST_F(PushStepTest, ASlowFirstCallDoesNotUseUpTheWaitForMissingEntries) {
  const Message one = message(alice_, {Recipient::Kind::user, bob_.value}, 100, "one");
  const Message two = message(carol_, {Recipient::Kind::user, bob_.value}, 101, "two");
  place(one, {alice_, bob_});
  CountingStore store(*engines_.store);
  store.after_first_call = [&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
    place(two, {carol_, bob_});
  };
  auto push = step(std::chrono::milliseconds(30), &store);
  ASSERT_TRUE(push.process(std::vector{record(one, {alice_, bob_}), record(two, {carol_, bob_})}).ok());

  ASSERT_EQ(store.calls.size(), 2U);
  EXPECT_EQ(batches().size(), 2U);
}

TEST_F(PushStepTest, ARecordThatDoesNotDecodeIsSkipped) {
  const Message m = message(alice_, {Recipient::Kind::user, bob_.value}, 100, "fine");
  place(m, {alice_, bob_});
  std::vector batch{ports::LogRecord{std::string(records::kInboxesTopic), 0, 0, "k", "not a record"},
                    record(m, {alice_, bob_})};
  auto push = step();
  ASSERT_TRUE(push.process(batch).ok());
  EXPECT_EQ(batches().size(), 1U);
}

}  // namespace
}  // namespace parley::services
