// The MessageStore contract: history paging, inboxes and cursors.

#include <thread>

#include "contracts.hpp"

namespace parley::contract {
namespace {

Message message(std::string conversation, std::uint64_t id, std::uint64_t from, std::string client_msg_id) {
  Message m;
  m.id = MessageId{id};
  m.conversation = std::move(conversation);
  m.from = UserId{from};
  m.to = Recipient{Recipient::Kind::user, from + 1};
  using namespace std::string_literals;
  m.body = "body of " + std::to_string(id) + " with \0 a NUL and unicode \xc3\xa9"s;
  m.sent_at = 1'700'000'000'000 + static_cast<TimeMs>(id);
  m.client_msg_id = std::move(client_msg_id);
  return m;
}

std::vector<std::uint64_t> ids(const std::vector<Message>& messages) {
  std::vector<std::uint64_t> out;
  for (const auto& m : messages) out.push_back(m.id.value);
  return out;
}

std::vector<Seq> seqs(const std::vector<InboxEntry>& entries) {
  std::vector<Seq> out;
  for (const auto& e : entries) out.push_back(e.seq);
  return out;
}

// A user id no other test uses, for engines shared between tests.
UserId user_for(const TempDir& dir, std::uint64_t n) {
  return UserId{(std::hash<std::string>{}(dir.path()) & 0xFFFFFFFFULL) * 1000 + n};
}

TEST_P(MessageStoreContract, HistoryPagesNewestFirst) {
  const std::string conv = dir_.unique("g:history");
  std::vector<Message> batch;
  for (std::uint64_t id = 1; id <= 10; ++id) batch.push_back(message(conv, id * 100, 7, "c" + std::to_string(id)));
  ASSERT_TRUE(port_->put_messages(batch).ok());

  auto newest = port_->history(conv, MessageId{}, 4);
  ASSERT_TRUE(newest.ok());
  EXPECT_EQ(ids(*newest), (std::vector<std::uint64_t>{1000, 900, 800, 700}));
  EXPECT_EQ(newest->front(), batch.back());  // every field comes back as written

  auto older = port_->history(conv, newest->back().id, 4);
  ASSERT_TRUE(older.ok());
  EXPECT_EQ(ids(*older), (std::vector<std::uint64_t>{600, 500, 400, 300}));

  auto oldest = port_->history(conv, older->back().id, 4);
  ASSERT_TRUE(oldest.ok());
  EXPECT_EQ(ids(*oldest), (std::vector<std::uint64_t>{200, 100}));

  auto none = port_->history(conv, MessageId{100}, 4);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_P(MessageStoreContract, HistoryOfUnknownConversationIsEmpty) {
  auto history = port_->history(dir_.unique("g:nothing"), MessageId{}, 10);
  ASSERT_TRUE(history.ok());
  EXPECT_TRUE(history->empty());
  auto last = port_->last_message_id(dir_.unique("g:nothing"));
  ASSERT_TRUE(last.ok());
  EXPECT_FALSE(last->valid());
}

TEST_P(MessageStoreContract, ConversationsDoNotSeeEachOther) {
  // "g:1" is a prefix of "g:12": their rows must still stay apart.
  const std::string a = dir_.unique("g:1");
  const std::string b = a + "2";
  ASSERT_TRUE(port_->put_messages(std::vector{message(a, 5, 1, "x"), message(b, 6, 1, "y")}).ok());
  auto history_a = port_->history(a, MessageId{}, 10);
  auto history_b = port_->history(b, MessageId{}, 10);
  ASSERT_TRUE(history_a.ok() && history_b.ok());
  EXPECT_EQ(ids(*history_a), std::vector<std::uint64_t>{5});
  EXPECT_EQ(ids(*history_b), std::vector<std::uint64_t>{6});
  EXPECT_EQ(port_->last_message_id(a)->value, 5U);
  EXPECT_EQ(port_->last_message_id(b)->value, 6U);
}

TEST_P(MessageStoreContract, LastMessageIdIsTheHighest) {
  const std::string conv = dir_.unique("d:1:2");
  ASSERT_TRUE(port_->put_messages(std::vector{message(conv, 30, 1, "a"), message(conv, 10, 1, "b")}).ok());
  ASSERT_TRUE(port_->put_messages(std::vector{message(conv, 20, 2, "c")}).ok());
  auto last = port_->last_message_id(conv);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->value, 30U);
}

TEST_P(MessageStoreContract, RewritingAMessageChangesNothing) {
  const std::string conv = dir_.unique("g:again");
  const Message m = message(conv, 77, 5, "same");
  ASSERT_TRUE(port_->put_messages(std::vector{m}).ok());
  ASSERT_TRUE(port_->put_messages(std::vector{m}).ok());
  auto history = port_->history(conv, MessageId{}, 10);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 1U);
  EXPECT_EQ(history->front(), m);
}

// The sequencer's own write of its new decisions, then the store writer's
// replay of the same ones: one row each, as put_messages keeps them.
TEST_P(MessageStoreContract, NewMessagesAreStoredAndAReplayOfThemChangesNothing) {
  const std::string conv = dir_.unique("g:new");
  const Message first = message(conv, 81, 5, "first");
  const Message second = message(conv, 82, 6, "second");
  ASSERT_TRUE(port_->put_new_messages(std::vector{first, second}).ok());
  ASSERT_TRUE(port_->put_messages(std::vector{first, second}).ok());
  auto history = port_->history(conv, MessageId{}, 10);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 2U);
  EXPECT_EQ(history->front(), second);
  EXPECT_EQ(history->back(), first);
  EXPECT_FALSE(port_->put_new_messages(std::vector{Message{}}).ok()) << "a message with no id or conversation";
}

TEST_P(MessageStoreContract, InboxHeadStartsAtZeroAndFollowsPuts) {
  const UserId user = user_for(dir_, 1);
  EXPECT_EQ(*port_->inbox_head(user), 0U);
  const std::string conv = dir_.unique("g:inbox");
  std::vector<ports::MessageStore::InboxWrite> writes;
  for (Seq s = 1; s <= 3; ++s)
    writes.push_back({user, InboxEntry{s, message(conv, 10 + s, 9, "m" + std::to_string(s))}});
  ASSERT_TRUE(port_->put_inbox(writes).ok());
  EXPECT_EQ(*port_->inbox_head(user), 3U);
}

TEST_P(MessageStoreContract, InboxPagesAscendingAfterASeq) {
  const UserId user = user_for(dir_, 1);
  const std::string conv = dir_.unique("g:pages");
  std::vector<ports::MessageStore::InboxWrite> writes;
  for (Seq s = 1; s <= 7; ++s)
    writes.push_back({user, InboxEntry{s, message(conv, 100 + s, 9, "m" + std::to_string(s))}});
  ASSERT_TRUE(port_->put_inbox(writes).ok());

  auto first = port_->inbox(user, 0, 3);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(seqs(*first), (std::vector<Seq>{1, 2, 3}));
  EXPECT_EQ(first->front(), writes.front().entry);

  auto next = port_->inbox(user, first->back().seq, 3);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(seqs(*next), (std::vector<Seq>{4, 5, 6}));

  auto rest = port_->inbox(user, 6, 100);
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(seqs(*rest), (std::vector<Seq>{7}));

  auto past_end = port_->inbox(user, 7, 100);
  ASSERT_TRUE(past_end.ok());
  EXPECT_TRUE(past_end->empty());
}

TEST_P(MessageStoreContract, InboxSeqOfFindsReplays) {
  const UserId user = user_for(dir_, 1);
  const std::string conv = dir_.unique("g:seqof");
  ASSERT_TRUE(
      port_
          ->put_inbox(std::vector<ports::MessageStore::InboxWrite>{{user, InboxEntry{1, message(conv, 500, 9, "a")}},
                                                                   {user, InboxEntry{2, message(conv, 501, 9, "b")}}})
          .ok());
  auto seq = port_->inbox_seq_of(user, MessageId{501});
  ASSERT_TRUE(seq.ok());
  EXPECT_EQ(*seq, std::optional<Seq>(2));
  auto missing = port_->inbox_seq_of(user, MessageId{502});
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  auto other_user = port_->inbox_seq_of(UserId{user.value + 1}, MessageId{501});
  ASSERT_TRUE(other_user.ok());
  EXPECT_FALSE(other_user->has_value());
}

// An inbox past its first 65,536 seqs (Cassandra keeps an entry's index row
// in its seq's bucket, which the message id does not tell).
TEST_P(MessageStoreContract, InboxSeqOfFindsEntriesInEveryBucketOfTheInbox) {
  const UserId user = user_for(dir_, 1);
  const std::string conv = dir_.unique("g:buckets");
  ASSERT_TRUE(port_
                  ->put_inbox(std::vector<ports::MessageStore::InboxWrite>{
                      {user, InboxEntry{3, message(conv, 700, 9, "a")}},
                      {user, InboxEntry{70'000, message(conv, 701, 9, "b")}},
                      {user, InboxEntry{140'000, message(conv, 702, 9, "c")}}})
                  .ok());
  auto placed = port_->inbox_seqs_of(std::vector<ports::MessageStore::InboxKey>{
      {user, MessageId{702}}, {user, MessageId{703}}, {user, MessageId{700}}, {user, MessageId{701}}});
  ASSERT_TRUE(placed.ok()) << placed.error().message;
  EXPECT_EQ(placed.value(), (std::vector<std::optional<Seq>>{140'000, std::nullopt, 3, 70'000}));
}

TEST_P(MessageStoreContract, ABatchOfInboxReadsAnswersEachInOrder) {
  const UserId alice = user_for(dir_, 1), bob = user_for(dir_, 2), carol = user_for(dir_, 3);
  const std::string conv = dir_.unique("g:batch");
  std::vector<ports::MessageStore::InboxWrite> writes;
  for (Seq s = 1; s <= 300; ++s) writes.push_back({alice, InboxEntry{s, message(conv, 1000 + s, 9, "m")}});
  writes.push_back({bob, InboxEntry{1, message(conv, 1001, 9, "m")}});
  ASSERT_TRUE(port_->put_inbox(writes).ok());

  // More keys than one window of requests in flight, placed and not, mixed.
  std::vector<ports::MessageStore::InboxKey> keys;
  std::vector<std::optional<Seq>> expected;
  for (Seq s = 1; s <= 300; ++s) {
    keys.push_back({alice, MessageId{1000 + s}});
    expected.emplace_back(s);
    keys.push_back({bob, MessageId{1000 + s}});
    expected.push_back(s == 1 ? std::optional<Seq>(1) : std::nullopt);
  }
  auto placed = port_->inbox_seqs_of(keys);
  ASSERT_TRUE(placed.ok()) << placed.error().message;
  EXPECT_EQ(placed.value(), expected);

  auto heads = port_->inbox_heads(std::vector<UserId>{carol, alice, bob});
  ASSERT_TRUE(heads.ok()) << heads.error().message;
  EXPECT_EQ(heads.value(), (std::vector<Seq>{0, 300, 1}));
  EXPECT_TRUE(port_->inbox_heads(std::vector<UserId>{})->empty());
}

TEST_P(MessageStoreContract, ReplayedInboxWriteDoesNotMoveTheHeadBack) {
  const UserId user = user_for(dir_, 1);
  const std::string conv = dir_.unique("g:replay");
  const ports::MessageStore::InboxWrite first{user, InboxEntry{1, message(conv, 1, 9, "a")}};
  const ports::MessageStore::InboxWrite second{user, InboxEntry{2, message(conv, 2, 9, "b")}};
  ASSERT_TRUE(port_->put_inbox(std::vector{first, second}).ok());
  ASSERT_TRUE(port_->put_inbox(std::vector{first}).ok());
  EXPECT_EQ(*port_->inbox_head(user), 2U);
  EXPECT_EQ(seqs(*port_->inbox(user, 0, 10)), (std::vector<Seq>{1, 2}));
}

TEST_P(MessageStoreContract, UsersDoNotSeeEachOthersInbox) {
  const UserId alice = user_for(dir_, 1);
  const UserId bob = user_for(dir_, 2);
  const std::string conv = dir_.unique("g:two");
  ASSERT_TRUE(
      port_
          ->put_inbox(std::vector<ports::MessageStore::InboxWrite>{{alice, InboxEntry{1, message(conv, 1, 9, "a")}},
                                                                   {alice, InboxEntry{2, message(conv, 2, 9, "b")}},
                                                                   {bob, InboxEntry{1, message(conv, 2, 9, "b")}}})
          .ok());
  EXPECT_EQ(seqs(*port_->inbox(alice, 0, 10)), (std::vector<Seq>{1, 2}));
  auto bobs = port_->inbox(bob, 0, 10);
  ASSERT_TRUE(bobs.ok());
  ASSERT_EQ(bobs->size(), 1U);
  EXPECT_EQ(bobs->front().message.id.value, 2U);
  EXPECT_EQ(*port_->inbox_head(alice), 2U);
  EXPECT_EQ(*port_->inbox_head(bob), 1U);
}

TEST_P(MessageStoreContract, CursorsStartAtZeroAndOnlyMoveForward) {
  const UserId user = user_for(dir_, 1);
  EXPECT_EQ(*port_->cursor(user, "phone"), 0U);
  EXPECT_EQ(*port_->advance_cursor(user, "phone", 5), 5U);
  EXPECT_EQ(*port_->advance_cursor(user, "phone", 3), 5U);  // an old ack moves nothing
  EXPECT_EQ(*port_->cursor(user, "phone"), 5U);
  EXPECT_EQ(*port_->cursor(user, "laptop"), 0U);  // each device has its own
  EXPECT_EQ(*port_->cursor(UserId{user.value + 1}, "phone"), 0U);
  EXPECT_EQ(*port_->advance_cursor(user, "phone", 9), 9U);
}

TEST_P(MessageStoreContract, ADeletedCursorReadsZeroAndStartsOver) {
  const UserId user = user_for(dir_, 1);
  ASSERT_EQ(*port_->advance_cursor(user, "phone", 7), 7U);
  ASSERT_EQ(*port_->advance_cursor(user, "laptop", 4), 4U);
  ASSERT_TRUE(port_->delete_cursor(user, "phone").ok());
  EXPECT_EQ(*port_->cursor(user, "phone"), 0U);
  EXPECT_EQ(*port_->cursor(user, "laptop"), 4U);           // the user's other devices keep theirs
  ASSERT_TRUE(port_->delete_cursor(user, "phone").ok());   // again: nothing to forget, no error
  ASSERT_TRUE(port_->delete_cursor(user, "tablet").ok());  // never had one
  // A device that comes back with the id starts over and moves forward.
  EXPECT_EQ(*port_->advance_cursor(user, "phone", 9), 9U);
  EXPECT_EQ(*port_->cursor(user, "phone"), 9U);
}

TEST_P(MessageStoreContract, ConcurrentCursorAdvancesKeepTheMaximum) {
  const UserId user = user_for(dir_, 1);
  constexpr int kThreads = 8;
  constexpr Seq kPerThread = 200;
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (Seq s = 1; s <= kPerThread; ++s) {
          auto r = port_->advance_cursor(user, "phone", s * kThreads + static_cast<Seq>(t));
          EXPECT_TRUE(r.ok());
          if (r) {
            EXPECT_GE(*r, s * kThreads + static_cast<Seq>(t));
          }
        }
      });
    }
  }
  EXPECT_EQ(*port_->cursor(user, "phone"), kPerThread * kThreads + kThreads - 1);
}

TEST_P(MessageStoreContract, DataSurvivesRestart) {
  const UserId user = user_for(dir_, 1);
  const std::string conv = dir_.unique("g:restart");
  const Message m = message(conv, 900, user.value, "keep");
  ASSERT_TRUE(port_->put_messages(std::vector{m}).ok());
  ASSERT_TRUE(port_->put_inbox(std::vector<ports::MessageStore::InboxWrite>{{user, InboxEntry{1, m}}}).ok());
  ASSERT_TRUE(port_->advance_cursor(user, "phone", 1).ok());
  ASSERT_TRUE(port_->flush().ok());
  restart();

  EXPECT_EQ(port_->history(conv, MessageId{}, 10)->front(), m);
  EXPECT_EQ(port_->last_message_id(conv)->value, 900U);
  EXPECT_EQ(*port_->inbox_head(user), 1U);
  EXPECT_EQ(port_->inbox(user, 0, 10)->front(), (InboxEntry{1, m}));
  EXPECT_EQ(*port_->inbox_seq_of(user, MessageId{900}), std::optional<Seq>(1));
  EXPECT_EQ(*port_->cursor(user, "phone"), 1U);
}

// A deleted user's messages (AdminService::remove): tombstones in the
// history and in the inboxes named, everything else of them kept, other
// senders' messages untouched; a replay does not bring a body back.
TEST_P(MessageStoreContract, ASendersMessagesBecomeTombstonesInHistoryAndInboxes) {
  const UserId alice = user_for(dir_, 1), bob = user_for(dir_, 2), carol = user_for(dir_, 3);
  const std::string conv = dir_.unique("g:erase");
  std::vector<Message> sent = {message(conv, 100, bob.value, "b1"), message(conv, 200, alice.value, "a1"),
                               message(conv, 300, bob.value, "b2")};
  sent[1].body.clear();  // an empty body is no tombstone
  ASSERT_TRUE(port_->put_messages(sent).ok());
  std::vector<ports::MessageStore::InboxWrite> writes;
  for (UserId user : {alice, bob, carol}) {
    for (Seq seq = 1; seq <= 3; ++seq) writes.push_back({user, InboxEntry{seq, sent[seq - 1]}});
  }
  ASSERT_TRUE(port_->put_inbox(writes).ok());

  const std::vector<UserId> holders{alice};  // carol left the group before: not named
  auto erased = port_->erase_sent(conv, bob, holders);
  ASSERT_TRUE(erased.ok()) << erased.error().message;
  EXPECT_EQ(*erased, (std::vector<MessageId>{MessageId{100}, MessageId{300}}));

  auto tombstone = [](Message m) {
    make_tombstone(m);
    return m;
  };
  const std::vector<Message> expected{tombstone(sent[2]), sent[1], tombstone(sent[0])};
  EXPECT_EQ(*port_->history(conv, MessageId{}, 10), expected);
  EXPECT_TRUE(port_->history(conv, MessageId{}, 10)->front().body.empty());
  EXPECT_FALSE((*port_->history(conv, MessageId{}, 10))[1].deleted);
  auto inbox = port_->inbox(alice, 0, 10);
  ASSERT_EQ(inbox->size(), 3U);
  EXPECT_EQ((*inbox)[0], (InboxEntry{1, tombstone(sent[0])}));
  EXPECT_EQ((*inbox)[1], (InboxEntry{2, sent[1]}));
  EXPECT_EQ((*inbox)[2], (InboxEntry{3, tombstone(sent[2])}));
  EXPECT_EQ(port_->inbox(carol, 0, 10)->front(), (InboxEntry{1, sent[0]}));  // not named: as it was

  // Again: the same ids, nothing changes; a replayed write of the message
  // does not bring its body back.
  EXPECT_EQ(*port_->erase_sent(conv, bob, holders), *erased);
  ASSERT_TRUE(port_->put_messages(std::vector{sent[0]}).ok());
  EXPECT_EQ(*port_->history(conv, MessageId{}, 10), expected);
  restart();
  EXPECT_EQ(*port_->history(conv, MessageId{}, 10), expected);
  EXPECT_EQ(port_->inbox(alice, 0, 10)->front(), (InboxEntry{1, tombstone(sent[0])}));
  EXPECT_TRUE(port_->erase_sent(dir_.unique("g:nothing"), bob, holders)->empty());
}

TEST_P(MessageStoreContract, ADeletedInboxIsEmptyWithItsCursorsAndReadPositions) {
  const UserId bob = user_for(dir_, 1), alice = user_for(dir_, 2);
  const std::string conv = dir_.unique("g:gone");
  const Message m = message(conv, 500, alice.value, "m");
  ASSERT_TRUE(port_->put_messages(std::vector{m}).ok());
  ASSERT_TRUE(
      port_->put_inbox(std::vector<ports::MessageStore::InboxWrite>{{bob, InboxEntry{1, m}}, {alice, InboxEntry{1, m}}})
          .ok());
  ASSERT_TRUE(port_->advance_cursor(bob, "phone", 1).ok());
  ASSERT_TRUE(port_->advance_read_position(bob, conv, MessageId{500}).ok());

  ASSERT_TRUE(port_->delete_inbox(bob).ok());
  ASSERT_TRUE(port_->delete_inbox(bob).ok());  // again: nothing to do
  EXPECT_EQ(*port_->inbox_head(bob), 0U);
  EXPECT_TRUE(port_->inbox(bob, 0, 10)->empty());
  EXPECT_FALSE(port_->inbox_seq_of(bob, MessageId{500})->has_value());
  EXPECT_EQ(*port_->cursor(bob, "phone"), 0U);
  EXPECT_TRUE(port_->conversations_of(bob)->empty());
  EXPECT_EQ(*port_->read_position(bob, conv), MessageId{});
  // Nobody else's.
  EXPECT_EQ(port_->inbox(alice, 0, 10)->size(), 1U);
  EXPECT_EQ(port_->conversations_of(alice)->size(), 1U);
  EXPECT_EQ(port_->history(conv, MessageId{}, 10)->size(), 1U);
}

TEST_P(MessageStoreContract, NonPositiveLimitsAreRejected) {
  for (const int limit : {0, -1}) {
    auto history = port_->history(dir_.unique("g:limits"), MessageId{}, limit);
    ASSERT_FALSE(history.ok());
    EXPECT_EQ(history.error().code, ErrorCode::bad_request);
    auto inbox = port_->inbox(user_for(dir_, 1), 0, limit);
    ASSERT_FALSE(inbox.ok());
    EXPECT_EQ(inbox.error().code, ErrorCode::bad_request);
  }
}

TEST_P(MessageStoreContract, FlushSucceeds) { EXPECT_TRUE(port_->flush().ok()); }

}  // namespace
}  // namespace parley::contract
