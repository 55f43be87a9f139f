#include "services/records.hpp"

#include <gtest/gtest.h>

namespace parley {
namespace {

const Message kMessage{MessageId{77}, "d:1:2", UserId{1}, Recipient{Recipient::Kind::user, 2}, "body", 1234, "c"};

TEST(Records, SendCommandRoundTrips) {
  const records::SendCommand c{"node-3", 99, UserId{1}, Recipient{Recipient::Kind::group, 8}, "cid", "hello"};
  auto back = records::decode_send(records::encode(c));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->origin, "node-3");
  EXPECT_EQ(back->ticket, 99U);
  EXPECT_EQ(back->to, c.to);
  EXPECT_EQ(back->body, "hello");
}

TEST(Records, InboxCommandRoundTrips) {
  auto back = records::decode_inbox(records::encode(records::InboxCommand{UserId{2}, kMessage}));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->user, UserId{2});
  EXPECT_EQ(back->message, kMessage);
}

TEST(Records, EnvelopesRoundTrip) {
  auto deliver = records::decode_envelope(records::encode(records::Deliver{UserId{5}, "{\"ev\":\"message\"}"}));
  ASSERT_TRUE(deliver.has_value());
  EXPECT_EQ(std::get<records::Deliver>(*deliver).frame, "{\"ev\":\"message\"}");

  auto ok = records::decode_envelope(records::encode(records::SendDone{3, Result<Message>(kMessage)}));
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(std::get<records::SendDone>(*ok).result.value(), kMessage);

  auto failed = records::decode_envelope(
      records::encode(records::SendDone{4, Result<Message>(make_error(ErrorCode::not_found, "no user"))}));
  ASSERT_TRUE(failed.has_value());
  EXPECT_EQ(std::get<records::SendDone>(*failed).result.error().code, ErrorCode::not_found);
}

TEST(Records, ASessionsEndedEnvelopeRoundTripsAndAnUnknownKindIsRefused) {
  const records::SessionsEnded ended{UserId{9}, records::SessionsEnded::Which::device, "phone", "device removed"};
  const std::string bytes = records::encode(ended);
  auto back = records::decode_envelope(bytes);
  ASSERT_TRUE(back.has_value());
  const auto& e = std::get<records::SessionsEnded>(*back);
  EXPECT_EQ(e.user, UserId{9});
  EXPECT_EQ(e.which, records::SessionsEnded::Which::device);
  EXPECT_EQ(e.key, "phone");
  EXPECT_EQ(e.reason, "device removed");
  for (std::size_t n = 0; n < bytes.size(); ++n) EXPECT_FALSE(records::decode_envelope(bytes.substr(0, n))) << n;
  std::string unknown = bytes;
  unknown[9] = 3;  // after the tag and the user id: the kind
  EXPECT_FALSE(records::decode_envelope(unknown).has_value());
}

TEST(Records, TruncatedOrCorruptRecordsAreRefused) {
  const std::string full = records::encode(records::InboxCommand{UserId{2}, kMessage});
  for (std::size_t n = 0; n < full.size(); ++n) {
    EXPECT_FALSE(records::decode_inbox(full.substr(0, n)).has_value()) << n;
  }
  EXPECT_FALSE(records::decode_inbox(full + "x").has_value());
  EXPECT_FALSE(records::decode_envelope("Zjunk").has_value());
}

// Found by fuzz/records.cpp: a SendDone whose ok byte was neither 1 nor 0
// read as a failure, so two byte strings meant one envelope (and it did
// not re-encode to its bytes).
TEST(Records, ASendDoneOkByteIsOneOrZero) {
  std::string bytes =
      records::encode(records::SendDone{18, Result<Message>(make_error(ErrorCode::forbidden, "cannot send"))});
  ASSERT_TRUE(records::decode_envelope(bytes).has_value());
  bytes[9] = 3;  // after the tag and the u64 ticket
  EXPECT_FALSE(records::decode_envelope(bytes).has_value());
}

}  // namespace
}  // namespace parley
