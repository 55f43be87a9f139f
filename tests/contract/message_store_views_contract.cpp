// The MessageStore contract, part two: the conversation index, read
// positions and unread counts behind the conversation list.

#include <map>
#include <random>

#include "contracts.hpp"

namespace parley::contract {
namespace {

struct Ids {
  std::uint64_t base;
  UserId user(std::uint64_t i) const { return UserId{base + i}; }
};

Ids fresh() {
  static std::mt19937_64 rng{std::random_device{}()};
  return Ids{(rng() >> 24) + 1};
}

Message message(std::string conversation, std::uint64_t id, UserId from, UserId to) {
  return Message{MessageId{id}, std::move(conversation), from, Recipient{Recipient::Kind::user, to.value}, "body",
                 1000,          "c" + std::to_string(id)};
}

TEST_P(MessageStoreContract, TheInboxIndexesEachConversationsNewestMessage) {
  const Ids ids = fresh();
  const UserId alice = ids.user(1), bob = ids.user(2), carol = ids.user(3);
  const std::string ab = to_string(direct_conversation(alice, bob));
  const std::string ac = to_string(direct_conversation(alice, carol));
  const std::vector<ports::MessageStore::InboxWrite> writes = {
      {alice, {1, message(ab, 10, bob, alice)}},
      {alice, {2, message(ac, 11, carol, alice)}},
      {alice, {3, message(ab, 12, alice, bob)}},
  };
  ASSERT_TRUE(port_->put_inbox(writes).ok());
  // A replay of an older entry does not move the index back.
  ASSERT_TRUE(port_->put_inbox(std::vector<ports::MessageStore::InboxWrite>{writes[0]}).ok());
  restart();
  auto list = port_->conversations_of(alice);
  ASSERT_TRUE(list.ok()) << list.error().message;
  std::map<std::string, std::uint64_t> got;
  for (const auto& c : list.value()) got[c.conversation] = c.last_message.value;
  EXPECT_EQ(got, (std::map<std::string, std::uint64_t>{{ab, 12}, {ac, 11}}));
  EXPECT_TRUE(port_->conversations_of(bob)->empty());  // only what is in bob's own inbox
}

// An inbox that runs past a seq bucket (Cassandra: 65,536 seqs a
// partition), in writes that end at, cross and start at a bucket's edge:
// the head, the pages and the conversation index read as one inbox, after
// a restart too.
TEST_P(MessageStoreContract, AnInboxAcrossSeqBucketsReadsAsOne) {
  const Ids ids = fresh();
  const UserId alice = ids.user(1), bob = ids.user(2), carol = ids.user(3);
  const std::string ab = to_string(direct_conversation(alice, bob));
  const std::string ac = to_string(direct_conversation(alice, carol));
  constexpr Seq edge = 65'536;  // the first seq of the second bucket
  ASSERT_TRUE(
      port_
          ->put_inbox(std::vector<ports::MessageStore::InboxWrite>{{alice, {edge - 2, message(ac, 20, carol, alice)}},
                                                                   {alice, {edge - 1, message(ab, 21, bob, alice)}}})
          .ok());
  EXPECT_EQ(port_->inbox_head(alice).value(), edge - 1);
  ASSERT_TRUE(
      port_->put_inbox(std::vector<ports::MessageStore::InboxWrite>{{alice, {edge, message(ab, 22, bob, alice)}}})
          .ok());
  EXPECT_EQ(port_->inbox_head(alice).value(), edge);
  ASSERT_TRUE(port_
                  ->put_inbox(std::vector<ports::MessageStore::InboxWrite>{
                      {alice, {2 * edge - 1, message(ab, 23, alice, bob)}},
                      {alice, {2 * edge, message(ab, 24, bob, alice)}},
                      {alice, {2 * edge + 1, message(ab, 25, bob, alice)}}})
                  .ok());
  restart();
  EXPECT_EQ(port_->inbox_head(alice).value(), 2 * edge + 1);
  EXPECT_EQ(port_->inbox_heads(std::vector{bob, alice}).value(), (std::vector<Seq>{0, 2 * edge + 1}));
  auto page = port_->inbox(alice, edge - 1, 10);
  ASSERT_TRUE(page.ok()) << page.error().message;
  std::vector<std::pair<Seq, std::uint64_t>> got;
  for (const auto& e : page.value()) got.emplace_back(e.seq, e.message.id.value);
  EXPECT_EQ(got, (std::vector<std::pair<Seq, std::uint64_t>>{
                     {edge, 22}, {2 * edge - 1, 23}, {2 * edge, 24}, {2 * edge + 1, 25}}));
  auto list = port_->conversations_of(alice);
  ASSERT_TRUE(list.ok()) << list.error().message;
  std::map<std::string, std::uint64_t> newest;
  for (const auto& c : list.value()) newest[c.conversation] = c.last_message.value;
  EXPECT_EQ(newest, (std::map<std::string, std::uint64_t>{{ab, 25}, {ac, 20}}));
  auto each = port_->conversations_of_each(std::vector{bob, alice});
  ASSERT_TRUE(each.ok()) << each.error().message;
  EXPECT_TRUE(each->at(0).empty());
  EXPECT_EQ(each->at(1).size(), 2U);
}

TEST_P(MessageStoreContract, ReadPositionsOnlyMoveForwardAndSurviveARestart) {
  const Ids ids = fresh();
  const UserId alice = ids.user(1);
  const std::string conversation = to_string(direct_conversation(alice, ids.user(2)));
  EXPECT_EQ(port_->read_position(alice, conversation).value(), MessageId{});
  EXPECT_EQ(port_->advance_read_position(alice, conversation, MessageId{50}).value(), MessageId{50});
  EXPECT_EQ(port_->advance_read_position(alice, conversation, MessageId{40}).value(), MessageId{50});
  restart();
  EXPECT_EQ(port_->read_position(alice, conversation).value(), MessageId{50});
  EXPECT_EQ(port_->read_position(ids.user(2), conversation).value(), MessageId{});  // per user
}

TEST_P(MessageStoreContract, UnreadCountsOthersMessagesAfterAPosition) {
  const Ids ids = fresh();
  const UserId alice = ids.user(1), bob = ids.user(2);
  const std::string conversation = to_string(direct_conversation(alice, bob));
  std::vector<Message> history;
  for (std::uint64_t id = 1; id <= 10; ++id) history.push_back(message(conversation, id, id % 2 ? bob : alice, alice));
  ASSERT_TRUE(port_->put_messages(history).ok());
  EXPECT_EQ(port_->count_unread(conversation, MessageId{}, alice, 100).value(), 5U);   // bob's: 1,3,5,7,9
  EXPECT_EQ(port_->count_unread(conversation, MessageId{5}, alice, 100).value(), 2U);  // 7,9
  EXPECT_EQ(port_->count_unread(conversation, MessageId{}, alice, 3).value(), 3U);     // capped
  EXPECT_EQ(port_->count_unread(conversation, MessageId{10}, bob, 100).value(), 0U);
}

}  // namespace
}  // namespace parley::contract
