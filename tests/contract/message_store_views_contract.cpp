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
