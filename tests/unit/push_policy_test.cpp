// The push policies: batching windows, the per-pair rate limit, priority,
// alert text with and without previews, payload shapes.

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "adapters/push/apns_client.hpp"
#include "adapters/push/fcm_client.hpp"
#include "services/push_policy.hpp"

namespace parley::services {
namespace {

ports::PushBatch batch(std::uint32_t count, bool group = false) {
  ports::PushBatch b;
  b.user = UserId{2};
  b.conversation = "d:1:2";
  b.group = group;
  b.count = count;
  b.first_seq = 10;
  b.last_seq = 10 + count - 1;
  b.last_message = MessageId{777};
  b.last_sender = UserId{1};
  b.last_preview = "hello there, this is a long message";
  b.opened_at = 1000;
  return b;
}

TEST(PushPolicy, ABatchIsDueOneWindowAfterItsFirstEntry) {
  PushPolicy policy({.batch_window = std::chrono::milliseconds(500), .pair_interval = std::chrono::milliseconds(0)});
  EXPECT_EQ(policy.due_at(batch(1)), 1500);
}

TEST(PushPolicy, APairPushesAtMostOncePerInterval) {
  PushPolicy policy({.batch_window = std::chrono::milliseconds(100), .pair_interval = std::chrono::milliseconds(5000)});
  policy.record_push(UserId{1}, UserId{2}, 900);
  EXPECT_EQ(policy.due_at(batch(1)), 5900);  // held back, still folding entries in
  auto other = batch(1);
  other.last_sender = UserId{3};
  EXPECT_EQ(policy.due_at(other), 1100);  // another sender is not limited
  policy.prune(6000);
  EXPECT_EQ(policy.due_at(batch(1)), 1100);
}

TEST(PushPolicy, PriorityIsHighForDirectAndLowForGroups) {
  PushPolicy policy({});
  EXPECT_TRUE(policy.alert(batch(1), "alice").high_priority);
  EXPECT_FALSE(policy.alert(batch(1, true), "alice").high_priority);
}

TEST(PushPolicy, AlertTextShowsSenderAndPreviewOrIsGeneric) {
  PushPolicy on({.previews = true, .preview_chars = 5});
  auto one = on.alert(batch(1), "alice");
  EXPECT_EQ(one.title, "alice");
  EXPECT_EQ(one.body, "hello\u2026");
  auto many = on.alert(batch(3), "alice");
  EXPECT_EQ(many.body, "3 new messages: hello\u2026");
  EXPECT_EQ(many.count, 3U);
  EXPECT_EQ(many.seq, 12U);
  EXPECT_EQ(many.conversation, "d:1:2");

  PushPolicy off({.previews = false});
  EXPECT_EQ(off.alert(batch(1), "alice").title, "Parley");
  EXPECT_EQ(off.alert(batch(1), "alice").body, "New message");
  EXPECT_EQ(off.alert(batch(4), "alice").body, "4 new messages");
}

TEST(PushPolicy, PreviewNeverCutsACharacter) {
  EXPECT_EQ(PushPolicy::preview("h\xc3\xa9llo", 2), "h\xc3\xa9\u2026");
  EXPECT_EQ(PushPolicy::preview("short", 10), "short");
  EXPECT_EQ(PushPolicy::preview("\xe2\x82", 10), "\u2026");  // a truncated character is dropped
}

TEST(PushPolicy, PushIdsAreStableUuids) {
  const auto a = PushPolicy::push_id(UserId{2}, "d:1:2", 12, "alert");
  EXPECT_EQ(a, PushPolicy::push_id(UserId{2}, "d:1:2", 12, "alert"));
  EXPECT_NE(a, PushPolicy::push_id(UserId{2}, "d:1:2", 13, "alert"));
  ASSERT_EQ(a.size(), 36U);
  EXPECT_EQ(a[8], '-');
  EXPECT_EQ(a[14], '4');
}

TEST(PushPolicy, SilentPushClearsTheBadge) {
  const auto w = PushPolicy::clear_badge(UserId{2}, 1);
  EXPECT_EQ(w.kind, ports::WakeUp::Kind::background);
  const auto apns = boost::json::parse(push::ApnsClient::payload(w)).as_object();
  EXPECT_EQ(apns.at("aps").at("content-available").as_int64(), 1);
  EXPECT_EQ(apns.at("aps").at("badge").as_int64(), 0);
}

TEST(PushPayloads, FcmDataValuesAreStrings) {
  PushPolicy policy({});
  const auto body = boost::json::parse(push::FcmClient::message_body("tok", policy.alert(batch(2), "alice")));
  const auto& message = body.at("message").as_object();
  EXPECT_EQ(message.at("token").as_string(), "tok");
  for (const auto& [k, v] : message.at("data").as_object()) EXPECT_TRUE(v.is_string()) << k;
  EXPECT_EQ(message.at("data").at("seq").as_string(), "11");
  EXPECT_EQ(message.at("android").at("collapse_key").as_string(), "d:1:2");
  EXPECT_EQ(message.at("android").at("priority").as_string(), "HIGH");
}

}  // namespace
}  // namespace parley::services
