// Live events through the embedded state store: an event for a user reaches
// every server holding one of the user's devices and no other; a batch goes
// to each server as one envelope, each user's frames in order; channel
// events go to the channel's topic; membership changes skip the server
// that made them.

#include "services/live_events.hpp"

#include <gtest/gtest.h>

#include "service_fixture.hpp"

namespace parley::services {
namespace {

using testkit::ServerDevices;

class LiveEventsTest : public ::testing::Test {
 protected:
  // The frames a server got for `user`, raw, in order.
  static std::vector<std::string> frames(ServerDevices& server, UserId user) {
    std::vector<std::string> out;
    for (const auto& d : server.delivered()) {
      if (d.user == user) out.push_back(d.frame);
    }
    return out;
  }

  embedded::MemoryStateStore state_;
  ServerDevices one_{state_, "one"};
  ServerDevices two_{state_, "two"};
  ServerDevices three_{state_, "three"};
  const UserId alice_{1}, bob_{2}, carol_{3};
};

TEST_F(LiveEventsTest, AUsersEventReachesEveryServerHoldingTheirDevicesAndNoOther) {
  one_.connect(alice_);
  two_.connect(alice_);
  three_.connect(bob_);
  send_to_user(state_, alice_, R"({"ev":"x"})");
  EXPECT_EQ(frames(one_, alice_), std::vector<std::string>{R"({"ev":"x"})"});
  EXPECT_EQ(frames(two_, alice_), std::vector<std::string>{R"({"ev":"x"})"});
  EXPECT_EQ(three_.envelopes(), 0U);

  // A user with no device online: nothing is published anywhere.
  send_to_user(state_, carol_, R"({"ev":"y"})");
  EXPECT_EQ(one_.envelopes() + two_.envelopes() + three_.envelopes(), 2U);
  // Once the device has gone, neither does its server hear of the user.
  two_.disconnect(alice_);
  send_to_user(state_, alice_, R"({"ev":"z"})");
  EXPECT_EQ(frames(one_, alice_).size(), 2U);
  EXPECT_EQ(frames(two_, alice_).size(), 1U);
}

TEST_F(LiveEventsTest, ABatchIsOneEnvelopePerServerWithEachUsersFramesInOrder) {
  one_.connect(alice_);
  one_.connect(bob_);
  two_.connect(bob_);
  three_.connect(carol_);
  send_to_users(state_,
                {{alice_, "a1"}, {bob_, "b1"}, {alice_, "a2"}, {carol_, "c1"}, {bob_, "b2"}, {UserId{99}, "n"}});
  EXPECT_EQ(one_.envelopes(), 1U);
  EXPECT_EQ(two_.envelopes(), 1U);
  EXPECT_EQ(three_.envelopes(), 1U);
  EXPECT_EQ(frames(one_, alice_), (std::vector<std::string>{"a1", "a2"}));
  EXPECT_EQ(frames(one_, bob_), (std::vector<std::string>{"b1", "b2"}));
  EXPECT_EQ(frames(two_, bob_), (std::vector<std::string>{"b1", "b2"}));
  EXPECT_EQ(frames(three_, carol_), (std::vector<std::string>{"c1"}));
  EXPECT_TRUE(frames(one_, carol_).empty());

  // Nothing to send publishes nothing.
  send_to_users(state_, {});
  EXPECT_EQ(one_.envelopes() + two_.envelopes() + three_.envelopes(), 3U);
}

TEST_F(LiveEventsTest, AChannelEventGoesToTheChannelsTopicNamingWhoseDevicesSkipIt) {
  const ChannelId news{77};
  one_.follow(news);
  two_.follow(ChannelId{78});
  send_to_channel(state_, news, alice_, R"({"ev":"typing"})");
  const auto got = one_.room_events();
  ASSERT_EQ(got.size(), 1U);
  EXPECT_EQ(got[0].channel, news);
  EXPECT_EQ(got[0].except, alice_);
  EXPECT_EQ(got[0].frame, R"({"ev":"typing"})");
  EXPECT_TRUE(two_.room_events().empty());
  EXPECT_EQ(one_.envelopes(), 0U);  // not on the server's own channel
}

TEST_F(LiveEventsTest, AMembershipChangeReachesTheUsersOtherServers) {
  one_.connect(alice_);
  two_.connect(alice_);
  three_.connect(bob_);
  notify_membership_changed(state_, alice_, "one");
  EXPECT_TRUE(one_.membership_changes().empty());  // the server that made the change knows
  EXPECT_EQ(two_.membership_changes(), std::vector<UserId>{alice_});
  EXPECT_TRUE(three_.membership_changes().empty());
}

}  // namespace
}  // namespace parley::services
