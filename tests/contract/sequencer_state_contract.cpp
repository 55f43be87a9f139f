// The SequencerState contract: a send's first result found again by
// (conversation, sender, client_msg_id) and by nothing else; last message
// ids that start empty and never go down; applied offsets that start at 0
// and move per partition, each on its own; applying a batch again changes
// nothing; and all of it survives a close and reopen.
//
// That apply() is all or nothing (no offset without its messages, no
// messages without their offset) needs an engine that fails part-way, which
// this suite cannot make; what it checks is that after apply() returns, or
// after a restart, the messages and the offset are there together.

#include <string>
#include <vector>

#include "sequencer_state_contract.hpp"

namespace parley::contract {
namespace {

Message sent(const std::string& conversation, std::uint64_t id, UserId from, std::string client_msg_id,
             std::string body = "hi") {
  Message m;
  m.id = MessageId{id};
  m.conversation = conversation;
  m.from = from;
  m.to = Recipient{Recipient::Kind::user, 8};
  m.body = std::move(body);
  m.sent_at = static_cast<TimeMs>(1'800'000'000'000 + id);
  m.client_msg_id = std::move(client_msg_id);
  return m;
}

const UserId alice{7};
const UserId bob{9};

TEST_P(SequencerStateContract, AFreshStateKnowsNothing) {
  const std::string a = dir_.unique("a");
  EXPECT_EQ(port_->last_message_id(a).value(), MessageId{});
  EXPECT_FALSE(port_->find_sent(a, alice, "1").value().has_value());
  EXPECT_EQ(port_->applied(0).value(), 0U);
  EXPECT_EQ(port_->applied(5).value(), 0U);
}

TEST_P(SequencerStateContract, ASendIsFoundByItsConversationSenderAndClientIdOnly) {
  const std::string a = dir_.unique("a");
  const std::string b = dir_.unique("b");
  const Message first = sent(a, 100, alice, "c-1", "the first result");
  ASSERT_TRUE(port_->apply(0, std::vector{first, sent(a, 101, bob, "c-2")}, 2).ok());

  auto found = port_->find_sent(a, alice, "c-1");
  ASSERT_TRUE(found.ok()) << found.error().message;
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ(**found, first);  // every field, body and time included

  // Another client id, sender or conversation is another send.
  EXPECT_FALSE(port_->find_sent(a, alice, "c-2").value().has_value());
  EXPECT_FALSE(port_->find_sent(a, bob, "c-1").value().has_value());
  EXPECT_FALSE(port_->find_sent(b, alice, "c-1").value().has_value());
  EXPECT_FALSE(port_->find_sent(a, alice, "c-").value().has_value());
  EXPECT_FALSE(port_->find_sent(a, alice, "c-10").value().has_value());
  EXPECT_FALSE(port_->find_sent(a, alice, "").value().has_value());
  EXPECT_EQ(port_->find_sent(a, bob, "c-2").value()->id, MessageId{101});

  // Later sends leave the earlier ones found as they were.
  ASSERT_TRUE(port_->apply(0, std::vector{sent(a, 102, alice, "c-3"), sent(b, 5, alice, "c-1")}, 3).ok());
  EXPECT_EQ(port_->find_sent(a, alice, "c-1").value(), std::optional<Message>(first));
  EXPECT_EQ(port_->find_sent(b, alice, "c-1").value()->id, MessageId{5});
}

TEST_P(SequencerStateContract, ClientIdsAndConversationsAreNotConfusedByWhereOneEndsAndTheNextBegins) {
  const std::string a = dir_.unique("a");
  // Names that run into each other if concatenated without a boundary.
  ASSERT_TRUE(port_->apply(0, std::vector{sent(a + "x", 1, alice, "y"), sent(a, 2, alice, "xy")}, 2).ok());
  EXPECT_EQ(port_->find_sent(a + "x", alice, "y").value()->id, MessageId{1});
  EXPECT_EQ(port_->find_sent(a, alice, "xy").value()->id, MessageId{2});
  EXPECT_FALSE(port_->find_sent(a, alice, "y").value().has_value());
  EXPECT_EQ(port_->last_message_id(a).value(), MessageId{2});
  EXPECT_EQ(port_->last_message_id(a + "x").value(), MessageId{1});
}

TEST_P(SequencerStateContract, ALastIdIsPerConversationAndNeverGoesDown) {
  const std::string a = dir_.unique("a");
  const std::string b = dir_.unique("b");
  // Within one apply, the highest counts, whatever the order.
  ASSERT_TRUE(
      port_->apply(0, std::vector{sent(a, 120, alice, "1"), sent(a, 110, alice, "2"), sent(b, 50, bob, "3")}, 3).ok());
  EXPECT_EQ(port_->last_message_id(a).value(), MessageId{120});
  EXPECT_EQ(port_->last_message_id(b).value(), MessageId{50});

  // A lower id applied later (a replay, another partition) leaves it.
  ASSERT_TRUE(port_->apply(1, std::vector{sent(a, 90, bob, "4")}, 1).ok());
  EXPECT_EQ(port_->last_message_id(a).value(), MessageId{120});
  ASSERT_TRUE(port_->apply(0, std::vector{sent(a, 130, alice, "5")}, 4).ok());
  EXPECT_EQ(port_->last_message_id(a).value(), MessageId{130});
  EXPECT_EQ(port_->last_message_id(b).value(), MessageId{50});
  EXPECT_EQ(port_->last_message_id(dir_.unique("c")).value(), MessageId{});
}

// apply_all() is apply() of each partition: every one's messages found,
// its offset moved, the highest id per conversation across all of them kept;
// a partition not in it is left alone.
TEST_P(SequencerStateContract, ApplyAllAppliesEachPartitionAsApplyWould) {
  const std::string a = dir_.unique("a");
  const std::string b = dir_.unique("b");
  const std::vector zero{sent(a, 140, alice, "z-1"), sent(b, 60, bob, "z-2")};
  const std::vector two{sent(a, 150, bob, "t-1")};
  const std::vector<ports::SequencerState::PartitionApply> parts{{0, zero, 5}, {2, two, 9}, {4, {}, 3}};
  ASSERT_TRUE(port_->apply_all(parts).ok());
  EXPECT_EQ(port_->applied(0).value(), 5U);
  EXPECT_EQ(port_->applied(1).value(), 0U);
  EXPECT_EQ(port_->applied(2).value(), 9U);
  EXPECT_EQ(port_->applied(4).value(), 3U);
  EXPECT_EQ(port_->last_message_id(a).value(), MessageId{150});
  EXPECT_EQ(port_->last_message_id(b).value(), MessageId{60});
  EXPECT_EQ(port_->find_sent(a, alice, "z-1").value(), std::optional(zero[0]));
  EXPECT_EQ(port_->find_sent(a, bob, "t-1").value(), std::optional(two[0]));
  EXPECT_TRUE(port_->apply_all({}).ok());
  EXPECT_EQ(port_->applied(2).value(), 9U);
}

TEST_P(SequencerStateContract, AppliedMovesToNextForEachPartitionOnItsOwn) {
  const std::string a = dir_.unique("a");
  ASSERT_TRUE(port_->apply(0, std::vector{sent(a, 1, alice, "1")}, 10).ok());
  EXPECT_EQ(port_->applied(0).value(), 10U);
  EXPECT_EQ(port_->applied(1).value(), 0U);
  ASSERT_TRUE(port_->apply(3, std::vector{sent(a, 2, alice, "2")}, 7).ok());
  EXPECT_EQ(port_->applied(3).value(), 7U);
  EXPECT_EQ(port_->applied(0).value(), 10U);
  // Records with no message (a batch of refusals) move the offset all the same.
  ASSERT_TRUE(port_->apply(0, std::vector<Message>{}, 12).ok());
  EXPECT_EQ(port_->applied(0).value(), 12U);
  EXPECT_EQ(port_->last_message_id(a).value(), MessageId{2});
}

TEST_P(SequencerStateContract, ApplyingTheSameBatchAgainChangesNothing) {
  const std::string a = dir_.unique("a");
  const std::string b = dir_.unique("b");
  const std::vector batch{sent(a, 100, alice, "1"), sent(b, 200, bob, "2"), sent(a, 101, bob, "3")};
  ASSERT_TRUE(port_->apply(2, batch, 3).ok());
  ASSERT_TRUE(port_->apply(2, batch, 3).ok());  // as after a crash before the consumer's commit
  EXPECT_EQ(port_->applied(2).value(), 3U);
  EXPECT_EQ(port_->last_message_id(a).value(), MessageId{101});
  EXPECT_EQ(port_->last_message_id(b).value(), MessageId{200});
  for (const auto& m : batch) {
    EXPECT_EQ(port_->find_sent(m.conversation, m.from, m.client_msg_id).value(), std::optional<Message>(m));
  }
}

TEST_P(SequencerStateContract, EverythingSurvivesACloseAndReopen) {
  const std::string a = dir_.unique("a");
  const std::string b = dir_.unique("b");
  const Message first = sent(a, 100, alice, "c-1", "kept");
  ASSERT_TRUE(port_->apply(0, std::vector{first, sent(b, 300, bob, "c-2")}, 2).ok());
  ASSERT_TRUE(port_->apply(4, std::vector{sent(a, 90, bob, "c-3")}, 6).ok());
  restart();

  EXPECT_EQ(port_->find_sent(a, alice, "c-1").value(), std::optional<Message>(first));
  EXPECT_EQ(port_->find_sent(a, bob, "c-3").value()->id, MessageId{90});
  EXPECT_FALSE(port_->find_sent(a, bob, "c-2").value().has_value());
  EXPECT_EQ(port_->last_message_id(a).value(), MessageId{100});
  EXPECT_EQ(port_->last_message_id(b).value(), MessageId{300});
  EXPECT_EQ(port_->applied(0).value(), 2U);
  EXPECT_EQ(port_->applied(4).value(), 6U);
  EXPECT_EQ(port_->applied(1).value(), 0U);

  // And it goes on from there: a last id still never goes down.
  ASSERT_TRUE(port_->apply(0, std::vector{sent(a, 50, alice, "c-4")}, 3).ok());
  EXPECT_EQ(port_->last_message_id(a).value(), MessageId{100});
  restart();
  EXPECT_EQ(port_->last_message_id(a).value(), MessageId{100});
  EXPECT_EQ(port_->applied(0).value(), 3U);
  EXPECT_EQ(port_->find_sent(a, alice, "c-4").value()->id, MessageId{50});
}

}  // namespace
}  // namespace parley::contract
