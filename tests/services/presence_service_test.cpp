// PresenceService over the embedded state store and social graph, on clocks
// the test moves: friends online hear a change once it has stood for the
// debounce window, a reverted change says nothing, a burst says its last
// state once, strangers and former friends hear nothing, a silent device
// goes offline when its TTL runs out, and connection events keep their
// order on the presence thread.

#include "services/presence_service.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "service_fixture.hpp"

namespace parley::services {
namespace {

using ports::PresenceStatus;
using std::chrono::milliseconds;
using testkit::Engines;
using testkit::field;
using testkit::ServerDevices;

class PresenceServiceTest : public ::testing::Test {
 protected:
  PresenceServiceTest() {
    alice_ = engines_.user("alice");
    bob_ = engines_.user("bob");
    carol_ = engines_.user("carol");
    engines_.befriend(alice_, bob_);
    for (UserId u : {alice_, bob_, carol_}) server_.connect(u);
  }

  // What `user`'s devices were told of `about`, as (status, last_seen).
  std::vector<std::pair<std::string, std::int64_t>> heard(UserId user, UserId about) {
    std::vector<std::pair<std::string, std::int64_t>> out;
    for (const auto& frame : server_.frames_for(user)) {
      EXPECT_EQ(field(frame, "ev"), "presence");
      if (field(frame, "user") == to_string(about)) {
        out.emplace_back(field(frame, "status"), frame.at("last_seen").as_int64());
      }
    }
    return out;
  }

  // Moves both clocks (the store's TTLs and the service's wall clock).
  void advance(milliseconds d) {
    steady_ += d;
    wall_ += d.count();
  }

  // Applies what is due now.
  void tick() { ASSERT_TRUE(presence_.run_due(wall_).ok()); }

  Engines engines_{"parley-presence"};
  std::chrono::steady_clock::time_point steady_{std::chrono::hours(1000)};
  TimeMs wall_ = 1'800'000'000'000;
  embedded::MemoryStateStore state_{[this] { return steady_; }};
  ServerDevices server_{state_, "s1"};
  PresenceService presence_{
      state_,
      *engines_.social,
      {.ttl = milliseconds(30000), .heartbeat = milliseconds(5000), .debounce = milliseconds(2000)},
      [this] { return wall_; }};
  UserId alice_, bob_, carol_;
};

TEST_F(PresenceServiceTest, AnOnlineFriendHearsOfAChangeOnceItHasStoodForTheDebounce) {
  ASSERT_TRUE(presence_.apply_touch(bob_, "bob-phone").ok());  // bob watches alice from now on
  ASSERT_TRUE(presence_.apply_touch(carol_, "carol-phone").ok());
  const TimeMs came_online = wall_;
  ASSERT_TRUE(presence_.apply_touch(alice_, "alice-phone").ok());
  EXPECT_EQ(state_.presence(alice_)->status, PresenceStatus::online);
  tick();
  EXPECT_TRUE(heard(bob_, alice_).empty()) << "told before the debounce window passed";

  advance(milliseconds(1999));
  tick();
  EXPECT_TRUE(heard(bob_, alice_).empty());
  advance(milliseconds(1));
  tick();
  EXPECT_EQ(heard(bob_, alice_), (std::vector<std::pair<std::string, std::int64_t>>{{"online", came_online + 2000}}));
  // carol is online but no friend of alice: she hears nothing of her.
  EXPECT_TRUE(heard(carol_, alice_).empty());
  // Told once: later ticks repeat nothing.
  advance(milliseconds(5000));
  tick();
  EXPECT_EQ(heard(bob_, alice_).size(), 1U);
}

TEST_F(PresenceServiceTest, AReconnectWithinTheWindowSaysNothingAndABurstSaysItsLastStateOnce) {
  ASSERT_TRUE(presence_.apply_touch(bob_, "bob-phone").ok());
  ASSERT_TRUE(presence_.apply_touch(alice_, "alice-phone").ok());
  advance(milliseconds(2000));
  tick();
  ASSERT_EQ(heard(bob_, alice_).size(), 1U);
  server_.clear();

  // The phone's connection drops and comes back under a new one.
  ASSERT_TRUE(presence_.apply_remove(alice_, "alice-phone").ok());
  advance(milliseconds(500));
  ASSERT_TRUE(presence_.apply_touch(alice_, "alice-phone-2").ok());
  advance(milliseconds(5000));
  tick();
  EXPECT_TRUE(heard(bob_, alice_).empty()) << "a reconnect within the window announced something";

  // Away, back, away again within one window: bob hears "away" once.
  ASSERT_TRUE(presence_.apply_status(alice_, PresenceStatus::away).ok());
  ASSERT_TRUE(presence_.apply_status(alice_, PresenceStatus::online).ok());
  ASSERT_TRUE(presence_.apply_status(alice_, PresenceStatus::away).ok());
  advance(milliseconds(2000));
  tick();
  const auto told = heard(bob_, alice_);
  ASSERT_EQ(told.size(), 1U);
  EXPECT_EQ(told[0].first, "away");
}

TEST_F(PresenceServiceTest, GoingOfflineTellsFriendsWhenTheUserWasLastSeen) {
  ASSERT_TRUE(presence_.apply_touch(bob_, "bob-phone").ok());
  ASSERT_TRUE(presence_.apply_touch(alice_, "alice-phone").ok());
  advance(milliseconds(2000));
  tick();
  server_.clear();

  advance(milliseconds(10000));
  const TimeMs left = wall_;
  ASSERT_TRUE(presence_.apply_remove(alice_, "alice-phone").ok());
  EXPECT_EQ(state_.presence(alice_)->status, PresenceStatus::offline);
  advance(milliseconds(2000));
  tick();
  EXPECT_EQ(heard(bob_, alice_), (std::vector<std::pair<std::string, std::int64_t>>{{"offline", left}}));
}

TEST_F(PresenceServiceTest, ADeviceNotHeardFromWithinTheTtlGoesOffline) {
  ASSERT_TRUE(presence_.apply_touch(bob_, "bob-phone").ok());
  const TimeMs last_heartbeat = wall_;
  ASSERT_TRUE(presence_.apply_touch(alice_, "alice-phone").ok());
  advance(milliseconds(2000));
  tick();
  server_.clear();

  // bob keeps pinging; alice's phone falls silent.
  for (int i = 0; i < 5; ++i) {
    advance(milliseconds(5000));
    ASSERT_TRUE(presence_.apply_touch(bob_, "bob-phone").ok());
    tick();
  }
  advance(milliseconds(2999));  // 29.999 s after her last sign of life
  tick();
  EXPECT_EQ(state_.presence(alice_)->status, PresenceStatus::online);
  advance(milliseconds(1));
  tick();
  EXPECT_EQ(state_.presence(alice_)->status, PresenceStatus::offline);
  EXPECT_EQ(state_.presence(bob_)->status, PresenceStatus::online);
  advance(milliseconds(2000));
  tick();
  // Last seen when her phone last showed life, not when the TTL ran out.
  EXPECT_EQ(heard(bob_, alice_), (std::vector<std::pair<std::string, std::int64_t>>{{"offline", last_heartbeat}}));
}

TEST_F(PresenceServiceTest, AFormerFriendHearsNothingEvenWithAStaleWatcherEntry) {
  ASSERT_TRUE(presence_.apply_touch(bob_, "bob-phone").ok());  // bob watches alice
  ASSERT_TRUE(presence_.apply_touch(alice_, "alice-phone").ok());
  advance(milliseconds(2000));
  tick();
  server_.clear();

  // The friendship ends in the graph without telling presence (a race
  // with the change below): bob's entry in alice's watchers is stale.
  ASSERT_EQ(engines_.social->remove_friend(alice_, bob_).value(), ports::RemoveOutcome::unfriended);
  ASSERT_TRUE(presence_.apply_status(alice_, PresenceStatus::away).ok());
  advance(milliseconds(2000));
  tick();
  EXPECT_TRUE(heard(bob_, alice_).empty());
  // ... and the stale entry is gone.
  EXPECT_EQ(state_.watchers(alice_).value(), std::vector<UserId>{});
}

TEST_F(PresenceServiceTest, AnEndedFriendshipStopsPresenceBothWays) {
  ASSERT_TRUE(presence_.apply_touch(bob_, "bob-phone").ok());
  ASSERT_TRUE(presence_.apply_touch(alice_, "alice-phone").ok());
  advance(milliseconds(2000));
  tick();
  server_.clear();

  ASSERT_TRUE(engines_.social->block(bob_, alice_).ok());
  ASSERT_TRUE(presence_.friendship_ended(alice_, bob_).ok());
  EXPECT_TRUE(state_.watchers(alice_)->empty());
  EXPECT_TRUE(state_.watchers(bob_)->empty());
  ASSERT_TRUE(presence_.apply_status(alice_, PresenceStatus::away).ok());
  ASSERT_TRUE(presence_.apply_status(bob_, PresenceStatus::away).ok());
  advance(milliseconds(2000));
  tick();
  EXPECT_TRUE(heard(bob_, alice_).empty());
  EXPECT_TRUE(heard(alice_, bob_).empty());
}

TEST_F(PresenceServiceTest, ANewFriendshipTellsEachOnlineSideTheOthersStatusAtOnce) {
  for (UserId u : {alice_, carol_}) ASSERT_TRUE(presence_.apply_touch(u, to_string(u) + "-phone").ok());
  ASSERT_TRUE(presence_.apply_status(carol_, PresenceStatus::away).ok());
  advance(milliseconds(2000));
  tick();
  EXPECT_TRUE(heard(alice_, carol_).empty());  // strangers so far
  EXPECT_TRUE(heard(carol_, alice_).empty());

  engines_.befriend(alice_, carol_);
  ASSERT_TRUE(presence_.friendship_started(alice_, carol_).ok());
  EXPECT_EQ(heard(alice_, carol_).size(), 1U);
  EXPECT_EQ(heard(alice_, carol_).at(0).first, "away");
  EXPECT_EQ(heard(carol_, alice_).at(0).first, "online");

  // From now on each hears the other's changes.
  ASSERT_TRUE(presence_.apply_status(carol_, PresenceStatus::online).ok());
  advance(milliseconds(2000));
  tick();
  ASSERT_EQ(heard(alice_, carol_).size(), 2U);
  EXPECT_EQ(heard(alice_, carol_).at(1).first, "online");
}

TEST_F(PresenceServiceTest, AStatusIsOnlineOrAway) {
  auto offline = presence_.set_status(alice_, PresenceStatus::offline);
  ASSERT_FALSE(offline.ok());
  EXPECT_EQ(offline.error().code, ErrorCode::bad_request);
  // Without the presence thread, set_status applies at once.
  ASSERT_TRUE(presence_.apply_touch(alice_, "alice-phone").ok());
  ASSERT_TRUE(presence_.set_status(alice_, PresenceStatus::away).ok());
  EXPECT_EQ(state_.presence(alice_)->status, PresenceStatus::away);
}

TEST_F(PresenceServiceTest, ConnectionEventsApplyInOrderOnThePresenceThread) {
  presence_.start();
  presence_.connected(alice_, "alice-phone");
  presence_.heartbeat(alice_, "alice-phone");
  presence_.disconnected(alice_, "alice-phone");
  presence_.connected(bob_, "bob-phone");
  // set_status waits for its turn in the same queue: everything before it
  // has been applied when it returns.
  ASSERT_TRUE(presence_.set_status(bob_, PresenceStatus::away).ok());
  EXPECT_EQ(state_.presence(alice_)->status, PresenceStatus::offline);  // the heartbeat did not overtake
  EXPECT_EQ(state_.presence(bob_)->status, PresenceStatus::away);
  EXPECT_TRUE(presence_.available());
  presence_.connected(carol_, "carol-phone");
  presence_.stop();  // applies what is queued
  EXPECT_EQ(state_.presence(carol_)->status, PresenceStatus::online);
}

}  // namespace
}  // namespace parley::services
