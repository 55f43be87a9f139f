#include "core/codec.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace parley {
namespace {

namespace json = boost::json;

json::object obj(std::string_view text) { return json::parse(text).as_object(); }

constexpr UserId kSelf{5};

TEST(Codec, ReadsAValidSend) {
  auto send =
      codec::read_send(obj(R"({"op":"send","id":1,"to":{"user":"42"},"client_msg_id":"c1","body":"hi"})"), 100, kSelf);
  ASSERT_TRUE(send.ok()) << send.error().message;
  EXPECT_EQ(send->to, (Recipient{Recipient::Kind::user, 42}));
  EXPECT_EQ(send->client_msg_id, "c1");
  EXPECT_EQ(send->body, "hi");
}

TEST(Codec, RefusesMalformedSends) {
  const char* bad[] = {
      R"({"client_msg_id":"c","body":"b"})",                                 // no to
      R"({"to":"42","client_msg_id":"c","body":"b"})",                       // to not an object
      R"({"to":{"user":42},"client_msg_id":"c","body":"b"})",                // id as a number
      R"({"to":{"user":"42","group":"1"},"client_msg_id":"c","body":"b"})",  // two recipients
      R"({"to":{"team":"42"},"client_msg_id":"c","body":"b"})",              // unknown kind
      R"({"to":{"user":"0"},"client_msg_id":"c","body":"b"})",               // zero id
      R"({"to":{"user":"42"},"client_msg_id":"","body":"b"})",               // empty client id
      R"({"to":{"user":"42"},"client_msg_id":7,"body":"b"})",                // client id not a string
      R"({"to":{"user":"42"},"client_msg_id":"c","body":5})",                // body not a string
      R"({"to":{"user":"42"},"client_msg_id":"c"})",                         // no body
  };
  for (const char* text : bad) {
    auto send = codec::read_send(obj(text), 100, kSelf);
    ASSERT_FALSE(send.ok()) << text;
    EXPECT_EQ(send.error().code, ErrorCode::bad_request) << text;
    EXPECT_FALSE(send.error().message.empty());
  }
  auto long_id = codec::read_send(
      obj(R"({"to":{"user":"42"},"client_msg_id":")" + std::string(65, 'x') + R"(","body":"b"})"), 100, kSelf);
  EXPECT_EQ(long_id.error().code, ErrorCode::bad_request);
}

TEST(Codec, BodyOverTheLimitIsTooLarge) {
  auto send = codec::read_send(obj(R"({"to":{"user":"42"},"client_msg_id":"c","body":"12345"})"), 4, kSelf);
  ASSERT_FALSE(send.ok());
  EXPECT_EQ(send.error().code, ErrorCode::too_large);
}

TEST(Codec, FromMustBeTheSender) {
  auto other = codec::read_send(obj(R"({"to":{"user":"42"},"client_msg_id":"c","body":"b","from":"6"})"), 100, kSelf);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, ErrorCode::forbidden);
  auto self = codec::read_send(obj(R"({"to":{"user":"42"},"client_msg_id":"c","body":"b","from":"5"})"), 100, kSelf);
  EXPECT_TRUE(self.ok());
}

TEST(Codec, SyncLimitsAndDefaults) {
  auto plain = codec::read_sync(obj(R"({})"));
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->after.has_value());
  EXPECT_EQ(plain->limit, 100);
  auto paged = codec::read_sync(obj(R"({"after":0,"limit":500})"));
  ASSERT_TRUE(paged.ok());
  EXPECT_EQ(paged->after, 0U);
  for (const char* bad :
       {R"({"limit":0})", R"({"limit":501})", R"({"after":-1})", R"({"after":"3"})", R"({"limit":1.5})"}) {
    auto r = codec::read_sync(obj(bad));
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::bad_request);
  }
}

TEST(Codec, HistoryAndAck) {
  auto h = codec::read_history(obj(R"({"conversation":"d:1:2","before":"99","limit":200})"));
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->before, MessageId{99});
  EXPECT_FALSE(codec::read_history(obj(R"({"conversation":"d:1:2","limit":201})")).ok());
  EXPECT_FALSE(codec::read_history(obj(R"({"limit":2})")).ok());
  EXPECT_FALSE(codec::read_ack(obj(R"({})")).ok());
  EXPECT_EQ(codec::read_ack(obj(R"({"seq":7})"))->seq, 7U);
}

TEST(Codec, WritesMessagesWithIdsAsStrings) {
  const Message m{MessageId{123}, "d:1:2", UserId{1}, Recipient{Recipient::Kind::user, 2}, "hé", 1700000000000, "c9"};
  const auto frame = json::parse(codec::event_message(InboxEntry{4, m})).as_object();
  EXPECT_EQ(frame.at("ev"), "message");
  EXPECT_EQ(frame.at("seq"), 4);
  const auto& msg = frame.at("message").as_object();
  EXPECT_EQ(msg.at("message_id"), "123");
  EXPECT_EQ(msg.at("from"), "1");
  EXPECT_EQ(msg.at("to").as_object().at("user"), "2");
  EXPECT_EQ(msg.at("body"), "hé");
  EXPECT_EQ(msg.at("sent_at"), 1700000000000);
  EXPECT_EQ(msg.at("client_msg_id"), "c9");
  EXPECT_EQ(msg.at("conversation"), "d:1:2");
}

TEST(Codec, RepliesEchoTheIdAsSent) {
  const auto ok = json::parse(codec::reply_ok(json::value("abc"))).as_object();
  EXPECT_EQ(ok.at("re"), "abc");
  EXPECT_EQ(ok.at("ok"), true);
  const auto err = json::parse(codec::reply_error(json::value(17), make_error(ErrorCode::forbidden, "no"))).as_object();
  EXPECT_EQ(err.at("re"), 17);
  EXPECT_EQ(err.at("ok"), false);
  EXPECT_EQ(err.at("error").at("code"), "forbidden");
  EXPECT_EQ(err.at("error").at("message"), "no");
}

}  // namespace
}  // namespace parley
