#include "core/codec.hpp"
#include "core/codec_ops.hpp"

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

// The inbox owner frames a group message from its JSON made once: the
// frame must be the one made whole.
TEST(Codec, AMessageEventFromTheMessagesJsonIsTheSameFrame) {
  const Message m{MessageId{123}, "g:9", UserId{1}, Recipient{Recipient::Kind::group, 9}, "a \"quote\"\n", 17, "c"};
  const std::string json = codec::message_json(m);
  for (Seq seq : {Seq{1}, Seq{42}, Seq{18446744073709551615ULL}}) {
    EXPECT_EQ(codec::event_message(seq, json), codec::event_message(InboxEntry{seq, m}));
  }
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

// A tombstone (its sender was deleted): no body, "deleted": true, the rest
// as it was; a message that is none has no "deleted" at all. The frames
// written directly say the same.
TEST(Codec, ATombstoneHasNoBodyAndSaysItIsDeleted) {
  Message m{MessageId{123}, "d:1:2", UserId{1}, Recipient{Recipient::Kind::user, 2}, "gone", 1700000000000, "c9"};
  EXPECT_FALSE(codec::to_json(m).contains("deleted"));
  make_tombstone(m);
  const auto msg = codec::to_json(m);
  EXPECT_FALSE(msg.contains("body"));
  EXPECT_EQ(msg.at("deleted"), true);
  EXPECT_EQ(msg.at("message_id"), "123");
  EXPECT_EQ(msg.at("from"), "1");
  EXPECT_EQ(msg.at("sent_at"), 1700000000000);
  EXPECT_EQ(msg.at("client_msg_id"), "c9");
  EXPECT_EQ(json::parse(codec::message_json(m)).as_object(), msg);
  const std::vector<InboxEntry> entries{InboxEntry{7, m}};
  const auto page = json::parse(codec::reply_sync_page(json::value(1), entries, false)).as_object();
  EXPECT_EQ(page.at("entries").as_array().at(0).as_object().at("message").as_object(), msg);
}

// The frames written directly (deliveries, sync pages) must say exactly
// what the json::object encoding says, for any text a client may send.
TEST(Codec, DirectFramesMatchTheObjectEncoding) {
  const std::vector<Message> messages{
      {MessageId{1}, "d:1:2", UserId{1}, Recipient{Recipient::Kind::user, 2}, "plain", 1, "c1"},
      {MessageId{~0ULL >> 1}, "g:9", UserId{3}, Recipient{Recipient::Kind::group, 9},
       "quote \" backslash \\ newline \n tab \t nul-ish \x01 \x1f del \x7f é 😀", 1700000000000, ""},
      {MessageId{5}, "c:7", UserId{4}, Recipient{Recipient::Kind::channel, 7}, "", 0, "\"</script>"},
  };
  std::vector<InboxEntry> entries;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const Message& m = messages[i];
    entries.push_back(InboxEntry{i + 1, m});
    const auto event = json::parse(codec::event_message(entries.back())).as_object();
    EXPECT_EQ(event.at("ev"), "message");
    EXPECT_EQ(event.at("seq"), i + 1);
    EXPECT_EQ(event.at("message").as_object(), codec::to_json(m));
    const auto channel = json::parse(codec::event_channel_message(m)).as_object();
    EXPECT_EQ(channel.at("message").as_object(), codec::to_json(m));
    EXPECT_FALSE(channel.contains("seq"));
  }
  for (const json::value& id : {json::value("r-1"), json::value(42), json::value(nullptr)}) {
    const auto page = json::parse(codec::reply_sync_page(id, entries, true)).as_object();
    json::array expected;
    for (const auto& e : entries) expected.push_back(codec::to_json(e));
    EXPECT_EQ(page.at("re"), id);
    EXPECT_EQ(page.at("ok"), true);
    EXPECT_EQ(page.at("entries").as_array(), expected);
    EXPECT_EQ(page.at("more"), true);
  }
  const auto empty = json::parse(codec::reply_sync_page(json::value(1), {}, false)).as_object();
  EXPECT_TRUE(empty.at("entries").as_array().empty());
  EXPECT_EQ(empty.at("more"), false);
}

// The reply to a send is written directly too: the same bytes as the
// generic reply with its fields.
TEST(Codec, TheReplyToASendIsTheGenericReplyWithItsFields) {
  const Message m{MessageId{~0ULL >> 1}, "g:\"9\"", UserId{3}, Recipient{Recipient::Kind::group, 9}, "b",
                  1700000000000,         "c"};
  for (const json::value& id : {json::value("r-\"1"), json::value(42), json::value(-7), json::value(~0ULL)}) {
    json::object fields;
    fields["message_id"] = to_string(m.id);
    fields["conversation"] = m.conversation;
    fields["sent_at"] = m.sent_at;
    EXPECT_EQ(codec::reply_sent(id, m), codec::reply_ok(id, fields));
  }
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

// Issue 13, item 7: `1e999` came back as `Infinity` (not JSON) and 2^64 as
// 1.8446744073709552E19; only ids that come back as sent are accepted.
TEST(Codec, OnlyIdsThatEchoAsSentAreEchoable) {
  for (const char* text : {R"("abc")", R"("")", "0", "17", "-1", "-9223372036854775808", "18446744073709551615"}) {
    const json::value id = json::parse(text);
    EXPECT_TRUE(codec::echoable_id(id)) << text;
    const std::string reply = codec::reply_ok(id);
    EXPECT_EQ(reply, std::string(R"({"re":)") + text + R"(,"ok":true})");
  }
  // -0 is the one integer spelled otherwise on the way back: the same number.
  EXPECT_TRUE(codec::echoable_id(json::parse("-0")));
  EXPECT_EQ(codec::reply_ok(json::parse("-0")), R"({"re":0,"ok":true})");
  for (const char* text : {"1e999", "-1e999", "18446744073709551616", "-9223372036854775809", "1.5", "1.0", "1E2",
                           "true", "null", "[1]", R"({"a":1})"}) {
    EXPECT_FALSE(codec::echoable_id(json::parse(text))) << text;
  }
}

// codec::read_frame is what the WebSocket session runs on every text frame.
TEST(Codec, ReadsAFrameAsARequest) {
  auto frame = codec::read_frame(R"({"op":"sync","id":"s1","limit":2})");
  ASSERT_TRUE(std::holds_alternative<codec::RequestFrame>(frame));
  const auto& request = std::get<codec::RequestFrame>(frame);
  EXPECT_EQ(request.id, "s1");
  EXPECT_EQ(request.op, "sync");
  EXPECT_EQ(request.fields.at("limit"), 2);
}

TEST(Codec, RefusesFramesThatAreNoRequest) {
  // Without an id that can be echoed: an error event.
  for (const char* text :
       {"{", "[1]", R"({"op":"ping"})", R"({"op":"ping","id":null})", R"({"op":"ping","id":1.5})", "\"\xff\""}) {
    auto frame = codec::read_frame(text);
    ASSERT_TRUE(std::holds_alternative<codec::BadFrame>(frame)) << text;
    const auto& bad = std::get<codec::BadFrame>(frame);
    EXPECT_EQ(bad.error.code, ErrorCode::bad_request);
    EXPECT_TRUE(bad.id.is_null()) << text;
    EXPECT_EQ(json::parse(bad.answer()).at("ev"), "error") << text;
  }
  // With one but no op: a reply to it.
  auto frame = codec::read_frame(R"({"id":7,"op":3})");
  ASSERT_TRUE(std::holds_alternative<codec::BadFrame>(frame));
  const auto answer = json::parse(std::get<codec::BadFrame>(frame).answer());
  EXPECT_EQ(answer.at("re"), 7);
  EXPECT_EQ(answer.at("error").at("code"), "bad_request");
}

TEST(Codec, ReadsHttpBodies) {
  auto body = codec::read_body(R"({"username":"alice","password":"correct horse"})", {"username", "password"});
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(body->at("username"), "alice");
  for (const char* text : {"", "[]", R"({"username":"alice"})", R"({"username":"alice","password":5})"}) {
    auto refused = codec::read_body(text, {"username", "password"});
    ASSERT_FALSE(refused.ok()) << text;
    EXPECT_EQ(refused.error().code, ErrorCode::bad_request);
  }
}

}  // namespace
}  // namespace parley
