// ConversationService against the embedded engines: the conversation list
// (most recent first, unread counts per user, rooms without messages last,
// groups left gone), read positions and their receipts, and typing events
// (throttled, to the other members only, stopped by blocks).

#include "services/conversation_service.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

#include "service_fixture.hpp"

namespace parley::services {
namespace {

using std::chrono::milliseconds;
using testkit::Engines;
using testkit::field;
using testkit::ServerDevices;

class ConversationServiceTest : public ::testing::Test {
 protected:
  ConversationServiceTest() {
    alice_ = engines_.user("alice");
    bob_ = engines_.user("bob");
    carol_ = engines_.user("carol");
    dave_ = engines_.user("dave");
    engines_.befriend(alice_, bob_);
    engines_.befriend(alice_, carol_);
    group_ = access_.create_group(alice_, "trio", {bob_, carol_}).value().ref;
    for (UserId u : {alice_, bob_, carol_, dave_}) server_.connect(u);
  }

  // Stores a message as the pipeline would: in its conversation's history
  // and, for 1:1 and groups, in each member's inbox.
  Message post(UserId from, Recipient to, std::uint64_t id) {
    Message m;
    m.id = MessageId{id};
    m.conversation = to_string(conversation_of(from, to));
    m.from = from;
    m.to = to;
    m.body = "message " + std::to_string(id);
    m.sent_at = static_cast<TimeMs>(id);
    m.client_msg_id = std::to_string(id);
    EXPECT_TRUE(engines_.store->put_messages(std::vector{m}).ok());
    if (to.kind != Recipient::Kind::channel) {
      std::vector<ports::MessageStore::InboxWrite> writes;
      const auto members = access_.members(conversation_of(from, to));
      EXPECT_TRUE(members.ok());
      for (UserId member : members.value()) {
        writes.push_back({member, InboxEntry{engines_.store->inbox_head(member).value() + 1, m}});
      }
      EXPECT_TRUE(engines_.store->put_inbox(writes).ok());
    }
    return m;
  }

  Recipient to_user(UserId u) const { return {Recipient::Kind::user, u.value}; }
  Recipient to_group() const { return {Recipient::Kind::group, group_.id}; }
  std::string direct(UserId a, UserId b) const { return to_string(direct_conversation(a, b)); }
  std::string group() const { return to_string(conversation_of(group_)); }

  template <class T>
  static std::optional<ErrorCode> code(const Result<T>& r) {
    if (r) return std::nullopt;
    return r.error().code;
  }

  // The events of kind `ev` delivered to `user`'s devices.
  std::vector<boost::json::object> events(UserId user, std::string_view ev) {
    auto frames = server_.frames_for(user);
    std::erase_if(frames, [&](const auto& f) { return field(f, "ev") != ev; });
    return frames;
  }

  Engines engines_{"parley-conversations"};
  RoomsService access_{*engines_.rooms, *engines_.directory, *engines_.social, {}};
  ConversationService conversations_{*engines_.store,
                                     *engines_.rooms,
                                     access_,
                                     engines_.state,
                                     {.typing_interval = milliseconds(2000), .unread_cap = 1000}};
  ServerDevices server_{engines_.state, "s1"};
  UserId alice_, bob_, carol_, dave_;
  ports::RoomRef group_;
};

TEST_F(ConversationServiceTest, TheListIsMostRecentFirstWithUnreadCountsAndEmptyRoomsLast) {
  post(bob_, to_user(alice_), 100);
  post(alice_, to_user(bob_), 110);
  post(bob_, to_user(alice_), 120);
  post(carol_, to_group(), 200);
  post(dave_, to_user(alice_), 150);
  const auto channel = access_.create_channel(bob_, "news", ports::PostPolicy::everyone, ports::Access::open);
  ASSERT_TRUE(access_.add(alice_, channel->ref, alice_).ok());

  auto list = conversations_.list(alice_, 10);
  ASSERT_TRUE(list.ok()) << list.error().message;
  ASSERT_EQ(list->size(), 4U);
  EXPECT_EQ((*list)[0].conversation, group());
  EXPECT_EQ((*list)[0].kind, Recipient::Kind::group);
  EXPECT_EQ((*list)[0].last_message->id, MessageId{200});
  EXPECT_EQ((*list)[0].unread, 1U);
  EXPECT_EQ((*list)[1].conversation, direct(alice_, dave_));
  EXPECT_EQ((*list)[1].unread, 1U);
  EXPECT_EQ((*list)[2].conversation, direct(alice_, bob_));
  EXPECT_EQ((*list)[2].last_message->body, "message 120");
  EXPECT_EQ((*list)[2].unread, 2U);  // bob's two; her own does not count
  // A channel with no message yet: listed, last.
  EXPECT_EQ((*list)[3].conversation, to_string(conversation_of(channel->ref)));
  EXPECT_EQ((*list)[3].kind, Recipient::Kind::channel);
  EXPECT_FALSE((*list)[3].last_message.has_value());
  EXPECT_EQ((*list)[3].unread, 0U);

  // A post in the channel moves it to the top; the limit cuts the tail.
  post(bob_, Recipient{Recipient::Kind::channel, channel->ref.id}, 300);
  auto top = conversations_.list(alice_, 2);
  ASSERT_EQ(top->size(), 2U);
  EXPECT_EQ((*top)[0].conversation, to_string(conversation_of(channel->ref)));
  EXPECT_EQ((*top)[0].unread, 1U);
  EXPECT_EQ((*top)[1].conversation, group());

  // Reading moves the count, the same on every device (per user).
  ASSERT_TRUE(conversations_.read(alice_, direct(alice_, bob_), MessageId{110}).ok());
  auto after = conversations_.list(alice_, 10);
  const auto it =
      std::find_if(after->begin(), after->end(), [&](const auto& e) { return e.conversation == direct(alice_, bob_); });
  ASSERT_NE(it, after->end());
  EXPECT_EQ(it->unread, 1U);
  // bob's count is his own.
  auto bobs = conversations_.list(bob_, 10);
  const auto his =
      std::find_if(bobs->begin(), bobs->end(), [&](const auto& e) { return e.conversation == direct(alice_, bob_); });
  ASSERT_NE(his, bobs->end());
  EXPECT_EQ(his->unread, 1U);
}

TEST_F(ConversationServiceTest, AGroupLeftLeavesTheListAndANewOneIsThereBeforeItsFirstMessage) {
  post(carol_, to_group(), 200);
  ASSERT_EQ(conversations_.list(bob_, 10)->size(), 1U);
  ASSERT_TRUE(access_.remove(bob_, group_, bob_).ok());
  EXPECT_TRUE(conversations_.list(bob_, 10)->empty());

  const auto fresh = access_.create_group(alice_, "new", {carol_});
  auto carols = conversations_.list(carol_, 10);
  ASSERT_EQ(carols->size(), 2U);
  EXPECT_EQ((*carols)[0].conversation, group());
  EXPECT_EQ((*carols)[1].conversation, to_string(conversation_of(fresh->ref)));
  EXPECT_FALSE((*carols)[1].last_message.has_value());
}

TEST_F(ConversationServiceTest, ReadingMovesThePositionAndTellsTheMembersOnlyWhenItMoves) {
  post(bob_, to_group(), 200);
  post(carol_, to_group(), 210);
  ASSERT_TRUE(conversations_.read(alice_, group(), MessageId{210}).ok());
  EXPECT_EQ(engines_.store->read_position(alice_, group()).value(), MessageId{210});
  for (UserId u : {alice_, bob_, carol_}) {
    const auto receipts = events(u, "receipt");
    ASSERT_EQ(receipts.size(), 1U) << "user " << to_string(u);
    EXPECT_EQ(field(receipts[0], "conversation"), group());
    EXPECT_EQ(field(receipts[0], "user"), to_string(alice_));
    EXPECT_EQ(field(receipts[0], "message_id"), "210");
  }
  EXPECT_TRUE(server_.frames_for(dave_).empty());

  // Reading an older message again moves nothing and tells nobody.
  server_.clear();
  ASSERT_TRUE(conversations_.read(alice_, group(), MessageId{200}).ok());
  EXPECT_EQ(engines_.store->read_position(alice_, group()).value(), MessageId{210});
  EXPECT_TRUE(server_.delivered().empty());
}

TEST_F(ConversationServiceTest, ReadsAreRefusedToStrangersAndForMessagesThatAreNotThere) {
  post(bob_, to_user(alice_), 100);
  EXPECT_EQ(code(conversations_.read(carol_, direct(alice_, bob_), MessageId{100})), ErrorCode::forbidden);
  EXPECT_EQ(code(conversations_.read(dave_, group(), MessageId{100})), ErrorCode::forbidden);
  EXPECT_EQ(code(conversations_.read(alice_, direct(alice_, bob_), MessageId{101})), ErrorCode::bad_request);
  EXPECT_EQ(code(conversations_.read(alice_, direct(alice_, bob_), MessageId{})), ErrorCode::bad_request);
  EXPECT_EQ(code(conversations_.read(alice_, "not a conversation", MessageId{100})), ErrorCode::bad_request);
  EXPECT_EQ(engines_.store->read_position(alice_, direct(alice_, bob_)).value(), MessageId{});
  EXPECT_EQ(engines_.store->read_position(carol_, direct(alice_, bob_)).value(), MessageId{});
  EXPECT_TRUE(server_.delivered().empty());
}

TEST_F(ConversationServiceTest, ABlockStopsReceiptsBothWaysButTheReadersDevicesStillHear) {
  ASSERT_TRUE(engines_.social->block(carol_, alice_).ok());
  post(bob_, to_group(), 200);
  ASSERT_TRUE(conversations_.read(alice_, group(), MessageId{200}).ok());
  EXPECT_EQ(events(alice_, "receipt").size(), 1U);
  EXPECT_EQ(events(bob_, "receipt").size(), 1U);
  EXPECT_TRUE(events(carol_, "receipt").empty());
  ASSERT_TRUE(conversations_.read(carol_, group(), MessageId{200}).ok());
  EXPECT_EQ(events(alice_, "receipt").size(), 1U);  // still only her own
  EXPECT_EQ(events(carol_, "receipt").size(), 1U);
}

TEST_F(ConversationServiceTest, AReceiptInAChannelGoesOnlyToTheReadersOwnDevices) {
  const auto channel = access_.create_channel(bob_, "news", ports::PostPolicy::everyone, ports::Access::open);
  ASSERT_TRUE(access_.add(alice_, channel->ref, alice_).ok());
  server_.follow(ChannelId{channel->ref.id});
  post(bob_, Recipient{Recipient::Kind::channel, channel->ref.id}, 300);
  ASSERT_TRUE(conversations_.read(alice_, to_string(conversation_of(channel->ref)), MessageId{300}).ok());
  EXPECT_EQ(events(alice_, "receipt").size(), 1U);
  EXPECT_TRUE(events(bob_, "receipt").empty());
  EXPECT_TRUE(server_.room_events().empty());
}

TEST_F(ConversationServiceTest, TypingReachesTheOtherMembersAtMostOncePerInterval) {
  const auto t0 = ConversationService::Clock::time_point{} + std::chrono::hours(1);
  ASSERT_TRUE(conversations_.typing(alice_, group(), t0).ok());
  EXPECT_TRUE(events(alice_, "typing").empty());  // not to the typist
  for (UserId u : {bob_, carol_}) {
    const auto typing = events(u, "typing");
    ASSERT_EQ(typing.size(), 1U);
    EXPECT_EQ(field(typing[0], "conversation"), group());
    EXPECT_EQ(field(typing[0], "user"), to_string(alice_));
  }
  EXPECT_TRUE(server_.frames_for(dave_).empty());

  ASSERT_TRUE(conversations_.typing(alice_, group(), t0 + milliseconds(1999)).ok());
  EXPECT_EQ(events(bob_, "typing").size(), 1U);  // throttled
  // Another conversation, or another typist, has its own interval.
  ASSERT_TRUE(conversations_.typing(alice_, direct(alice_, bob_), t0 + milliseconds(1999)).ok());
  ASSERT_TRUE(conversations_.typing(carol_, group(), t0 + milliseconds(1999)).ok());
  EXPECT_EQ(events(bob_, "typing").size(), 3U);
  EXPECT_EQ(events(carol_, "typing").size(), 1U);
  ASSERT_TRUE(conversations_.typing(alice_, group(), t0 + milliseconds(2000)).ok());
  EXPECT_EQ(events(carol_, "typing").size(), 2U);
}

TEST_F(ConversationServiceTest, TypingIsStoppedByABlockAndRefusedToStrangers) {
  ASSERT_TRUE(engines_.social->block(bob_, alice_).ok());
  const auto t0 = ConversationService::Clock::time_point{} + std::chrono::hours(1);
  ASSERT_TRUE(conversations_.typing(alice_, group(), t0).ok());
  ASSERT_TRUE(conversations_.typing(alice_, direct(alice_, bob_), t0).ok());
  EXPECT_TRUE(events(bob_, "typing").empty());
  EXPECT_EQ(events(carol_, "typing").size(), 1U);

  EXPECT_EQ(code(conversations_.typing(dave_, group(), t0)), ErrorCode::forbidden);
  EXPECT_EQ(code(conversations_.typing(dave_, direct(alice_, bob_), t0)), ErrorCode::forbidden);
  EXPECT_EQ(code(conversations_.typing(dave_, "g:", t0)), ErrorCode::bad_request);
  EXPECT_EQ(events(alice_, "typing").size(), 0U);
  EXPECT_EQ(events(carol_, "typing").size(), 1U);
}

TEST_F(ConversationServiceTest, TypingInAChannelGoesToItsTopicMarkedWithTheTypist) {
  const auto channel = access_.create_channel(bob_, "news", ports::PostPolicy::everyone, ports::Access::open);
  server_.follow(ChannelId{channel->ref.id});
  EXPECT_EQ(code(conversations_.typing(alice_, to_string(conversation_of(channel->ref)))), ErrorCode::forbidden);
  ASSERT_TRUE(access_.add(alice_, channel->ref, alice_).ok());
  ASSERT_TRUE(conversations_.typing(alice_, to_string(conversation_of(channel->ref))).ok());
  const auto room_events = server_.room_events();
  ASSERT_EQ(room_events.size(), 1U);
  EXPECT_EQ(room_events[0].channel, ChannelId{channel->ref.id});
  EXPECT_EQ(room_events[0].except, alice_);  // her own devices do not get it back
  const auto frame = boost::json::parse(room_events[0].frame).as_object();
  EXPECT_EQ(field(frame, "ev"), "typing");
  EXPECT_EQ(field(frame, "user"), to_string(alice_));
  EXPECT_TRUE(server_.delivered().empty());  // not per user: one event on the topic
}

}  // namespace
}  // namespace parley::services
