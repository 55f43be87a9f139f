// ChatService against the embedded engines: a send is appended to the
// conversation's log partition as a command naming this server and the
// ticket, and answered once durable; sync pages a device's inbox from its
// cursor; acks move a device's cursor forward only and never past the
// inbox; history is refused to non-members, as if the room did not exist.

#include "services/chat_service.hpp"

#include <gtest/gtest.h>

#include <future>

#include "adapters/embedded/file_log.hpp"
#include "service_fixture.hpp"

namespace parley::services {
namespace {

using testkit::Engines;
using testkit::must;

class ChatServiceTest : public ::testing::Test {
 protected:
  ChatServiceTest() {
    alice_ = engines_.user("alice");
    bob_ = engines_.user("bob");
    carol_ = engines_.user("carol");
    engines_.befriend(alice_, bob_);
  }

  // Submits a send and waits for the log's answer (on a log thread).
  Result<std::uint64_t> send(UserId from, Recipient to, std::string client_msg_id, std::string body,
                             std::uint64_t ticket) {
    std::promise<Result<std::uint64_t>> appended;
    auto answer = appended.get_future();
    chat_.submit_send(from, codec::SendRequest{to, std::move(client_msg_id), std::move(body)}, ticket,
                      [&appended](Result<std::uint64_t> offset) { appended.set_value(std::move(offset)); });
    return answer.get();
  }

  // Puts `count` messages from bob into alice's inbox, seqs 1..count.
  void fill_inbox(int count) {
    std::vector<ports::MessageStore::InboxWrite> writes;
    for (int i = 1; i <= count; ++i) {
      Message m;
      m.id = MessageId{static_cast<std::uint64_t>(1000 + i)};
      m.conversation = to_string(direct_conversation(alice_, bob_));
      m.from = bob_;
      m.to = Recipient{Recipient::Kind::user, alice_.value};
      m.body = "entry " + std::to_string(i);
      writes.push_back({alice_, InboxEntry{static_cast<Seq>(i), m}});
    }
    ASSERT_TRUE(engines_.store->put_inbox(writes).ok());
  }

  static std::vector<Seq> seqs(const ChatService::SyncPage& page) {
    std::vector<Seq> out;
    for (const auto& e : page.entries) out.push_back(e.seq);
    return out;
  }

  Engines engines_{"parley-chat"};
  std::unique_ptr<embedded::FileLog> log_ =
      must(embedded::FileLog::open({.path = engines_.sub("log"), .durability = embedded::Durability::os}));
  RoomsService rooms_{*engines_.rooms, *engines_.directory, *engines_.social, {}};
  ChatService chat_{*log_, *engines_.store, engines_.state, rooms_, {.server_id = "server-7"}};
  UserId alice_, bob_, carol_;
};

TEST_F(ChatServiceTest, ASendIsAppendedToItsConversationsPartitionAndAnsweredOnceDurable) {
  const Recipient to_bob{Recipient::Kind::user, bob_.value};
  auto offset = send(alice_, to_bob, "c-1", "hello bob", 41);
  ASSERT_TRUE(offset.ok()) << offset.error().message;

  // One partition holds the conversation, whichever side sends.
  const std::string conversation = to_string(direct_conversation(alice_, bob_));
  const int partition = log_->partition_for(records::kConversationsTopic, conversation);
  auto stored = log_->read(records::kConversationsTopic, partition, offset.value(), 1);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 1U);
  EXPECT_EQ((*stored)[0].key, conversation);
  const auto command = records::decode_send((*stored)[0].value);
  ASSERT_TRUE(command.has_value());
  EXPECT_EQ(command->origin, "server-7");  // where the sequencer sends the answer
  EXPECT_EQ(command->ticket, 41U);
  EXPECT_EQ(command->from, alice_);
  EXPECT_EQ(command->to, to_bob);
  EXPECT_EQ(command->client_msg_id, "c-1");
  EXPECT_EQ(command->body, "hello bob");

  auto reply = send(bob_, Recipient{Recipient::Kind::user, alice_.value}, "c-1", "hi alice", 42);
  ASSERT_TRUE(reply.ok());
  auto after = log_->read(records::kConversationsTopic, partition, reply.value(), 1);
  ASSERT_EQ(after->size(), 1U);
  EXPECT_EQ((*after)[0].key, conversation);
  EXPECT_GT(reply.value(), offset.value());  // the same partition, in order
}

TEST_F(ChatServiceTest, SyncPagesTheInboxFromTheDevicesCursorOrFromAGivenSeq) {
  fill_inbox(5);
  auto first = chat_.sync(alice_, "phone", codec::SyncRequest{std::nullopt, 2});
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(seqs(*first), (std::vector<Seq>{1, 2}));
  EXPECT_TRUE(first->more);
  EXPECT_EQ(first->entries[0].message.body, "entry 1");

  // Syncing does not move the cursor; acking does, and the next sync starts after it.
  EXPECT_EQ(seqs(chat_.sync(alice_, "phone", codec::SyncRequest{std::nullopt, 2}).value()), (std::vector<Seq>{1, 2}));
  ASSERT_EQ(chat_.ack(alice_, "phone", 2).value(), 2U);
  auto rest = chat_.sync(alice_, "phone", codec::SyncRequest{std::nullopt, 3});
  EXPECT_EQ(seqs(*rest), (std::vector<Seq>{3, 4, 5}));
  EXPECT_FALSE(rest->more);  // exactly the rest: no more

  // Another device has its own cursor; an explicit `after` overrides the cursor.
  EXPECT_EQ(seqs(chat_.sync(alice_, "laptop", codec::SyncRequest{std::nullopt, 100}).value()),
            (std::vector<Seq>{1, 2, 3, 4, 5}));
  EXPECT_EQ(seqs(chat_.sync(alice_, "phone", codec::SyncRequest{Seq{4}, 100}).value()), (std::vector<Seq>{5}));
  EXPECT_TRUE(chat_.sync(alice_, "phone", codec::SyncRequest{Seq{5}, 100})->entries.empty());
  // bob's inbox is his own: empty.
  EXPECT_TRUE(chat_.sync(bob_, "phone", codec::SyncRequest{std::nullopt, 100})->entries.empty());
}

TEST_F(ChatServiceTest, AnAckMovesTheCursorForwardOnlyAndNeverPastTheInbox) {
  fill_inbox(3);
  EXPECT_EQ(chat_.ack(alice_, "phone", 3).value(), 3U);
  EXPECT_EQ(chat_.ack(alice_, "phone", 1).value(), 3U);  // a late ack moves nothing back
  EXPECT_EQ(engines_.store->cursor(alice_, "phone").value(), 3U);
  auto beyond = chat_.ack(alice_, "laptop", 4);
  ASSERT_FALSE(beyond.ok());
  EXPECT_EQ(beyond.error().code, ErrorCode::bad_request);
  EXPECT_EQ(engines_.store->cursor(alice_, "laptop").value(), 0U);
  EXPECT_EQ(chat_.ack(bob_, "phone", 1).error().code, ErrorCode::bad_request);  // bob's inbox is empty
}

TEST_F(ChatServiceTest, HistoryIsNewestFirstForMembersAndRefusedToOthersAlike) {
  const auto group = rooms_.create_group(alice_, "pair", {bob_}).value().ref;
  const std::string g = to_string(conversation_of(group));
  std::vector<Message> messages;
  for (std::uint64_t id = 1; id <= 4; ++id) {
    Message m;
    m.id = MessageId{id * 10};
    m.conversation = g;
    m.from = id % 2 == 0 ? alice_ : bob_;
    m.to = Recipient{Recipient::Kind::group, group.id};
    m.body = "g" + std::to_string(id);
    messages.push_back(m);
  }
  ASSERT_TRUE(engines_.store->put_messages(messages).ok());

  auto newest = chat_.history(bob_, codec::HistoryRequest{g, MessageId{}, 3});
  ASSERT_TRUE(newest.ok()) << newest.error().message;
  ASSERT_EQ(newest->size(), 3U);
  EXPECT_EQ((*newest)[0].id, MessageId{40});
  EXPECT_EQ((*newest)[2].id, MessageId{20});
  auto older = chat_.history(bob_, codec::HistoryRequest{g, MessageId{20}, 3});
  ASSERT_EQ(older->size(), 1U);
  EXPECT_EQ((*older)[0].body, "g1");

  // carol is no member; a group id that does not exist answers the same.
  const std::string missing = to_string(conversation_of(ports::RoomRef{ports::RoomKind::group, group.id ^ 0x77}));
  auto stranger = chat_.history(carol_, codec::HistoryRequest{g, MessageId{}, 3});
  auto nowhere = chat_.history(alice_, codec::HistoryRequest{missing, MessageId{}, 3});
  ASSERT_FALSE(stranger.ok());
  ASSERT_FALSE(nowhere.ok());
  EXPECT_EQ(stranger.error().code, ErrorCode::forbidden);
  EXPECT_EQ(nowhere.error().code, ErrorCode::forbidden);
  EXPECT_EQ(stranger.error().message, nowhere.error().message);
  // Another pair's 1:1 is no one else's either.
  EXPECT_EQ(chat_.history(carol_, codec::HistoryRequest{to_string(direct_conversation(alice_, bob_)), MessageId{}, 3})
                .error()
                .code,
            ErrorCode::forbidden);
  EXPECT_EQ(chat_.history(alice_, codec::HistoryRequest{"nonsense", MessageId{}, 3}).error().code,
            ErrorCode::bad_request);
}

}  // namespace
}  // namespace parley::services
