#include "services/records.hpp"

#include "core/bytes.hpp"

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
  auto back = records::decode_inbox(records::encode(records::InboxCommand{{UserId{2}, UserId{9}}, kMessage}));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->users, (std::vector<UserId>{UserId{2}, UserId{9}}));
  EXPECT_EQ(back->message, kMessage);
}

// An inbox record for one user, as servers before multi-user records wrote
// it, is still read: an upgraded server consumes what the old one logged.
TEST(Records, AnInboxRecordOfTheOlderOneUserFormIsRead) {
  std::string old;
  bytes::Writer w(old);
  w.u8(1);
  w.u64_le(2);
  bytes::write_message(w, kMessage);
  auto back = records::decode_inbox(old);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->users, std::vector<UserId>{UserId{2}});
  EXPECT_EQ(back->message, kMessage);
}

// A decision names the changelog offset it was meant for, and stands only
// there: one that landed elsewhere was fenced off (another sequencer had
// appended in between), and decode_decisions leaves it out. One of the
// older form, with no offset, stands wherever it is.
TEST(Records, ADecisionStandsOnlyAtTheOffsetItWasMeantFor) {
  const records::Sequenced meant{kMessage, {UserId{1}, UserId{2}}, 41};
  const auto back = records::decode_sequenced(records::encode(meant));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->message, kMessage);
  EXPECT_EQ(back->members, meant.members);
  EXPECT_EQ(back->offset, std::optional<std::uint64_t>(41));

  const records::Sequenced older{kMessage, {UserId{1}}, std::nullopt};
  const std::vector<ports::LogRecord> batch{
      {"sequenced", 3, 40, "d:1:2", records::encode(older)},  // stands: no offset named
      {"sequenced", 3, 41, "d:1:2", records::encode(meant)},  // stands: where it was meant to be
      {"sequenced", 3, 42, "d:1:2", records::encode(meant)},  // fenced off
  };
  EXPECT_TRUE(records::stands(*back, batch[1]));
  EXPECT_FALSE(records::stands(*back, batch[2]));
  std::vector<std::size_t> record_of;
  const auto decisions = records::decode_decisions(batch, "test", &record_of);
  ASSERT_EQ(decisions.size(), 2U);
  EXPECT_EQ(record_of, (std::vector<std::size_t>{0, 1}));
  EXPECT_FALSE(decisions[0].offset.has_value());
  EXPECT_EQ(decisions[1].members, meant.members);
}

TEST(Records, AnInboxRecordForNobodyIsRefused) {
  EXPECT_FALSE(records::decode_inbox(records::encode(records::InboxCommand{{}, kMessage})).has_value());
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

TEST(Records, DeliveriesRoundTripInOrder) {
  const records::Deliveries many{{{UserId{5}, "first"}, {UserId{6}, "second"}, {UserId{5}, "third"}}};
  auto back = records::decode_envelope(records::encode(many));
  ASSERT_TRUE(back.has_value());
  const auto& items = std::get<records::Deliveries>(*back).items;
  ASSERT_EQ(items.size(), 3U);
  EXPECT_EQ(items[0].user, UserId{5});
  EXPECT_EQ(items[0].frame, "first");
  EXPECT_EQ(items[1].user, UserId{6});
  EXPECT_EQ(items[2].frame, "third");
  const std::string bytes = records::encode(many);
  for (std::size_t n = 0; n < bytes.size(); ++n) EXPECT_FALSE(records::decode_envelope(bytes.substr(0, n))) << n;
}

TEST(Records, SendDonesRoundTripInOrder) {
  const records::SendDones many{
      {{3, Result<Message>(kMessage)}, {4, Result<Message>(make_error(ErrorCode::forbidden, "blocked"))}}};
  const std::string bytes = records::encode(many);
  auto back = records::decode_envelope(bytes);
  ASSERT_TRUE(back.has_value());
  const auto& items = std::get<records::SendDones>(*back).items;
  ASSERT_EQ(items.size(), 2U);
  EXPECT_EQ(items[0].ticket, 3U);
  EXPECT_EQ(items[0].result.value(), kMessage);
  EXPECT_EQ(items[1].ticket, 4U);
  EXPECT_EQ(items[1].result.error().code, ErrorCode::forbidden);
  for (std::size_t n = 0; n < bytes.size(); ++n) EXPECT_FALSE(records::decode_envelope(bytes.substr(0, n))) << n;
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
  const std::string full = records::encode(records::InboxCommand{{UserId{2}}, kMessage});
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
