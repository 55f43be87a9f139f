// SocialService against the embedded engines: requests, accepts, removals
// and blocks with the protocol's refusals; a blocked requester told nothing
// a pending request would not tell; the listing; and presence following
// friendships as they start and end.

#include "services/social_service.hpp"

#include <gtest/gtest.h>

#include "service_fixture.hpp"

namespace parley::services {
namespace {

using testkit::Engines;
using testkit::field;
using testkit::ServerDevices;

class SocialServiceTest : public ::testing::Test {
 protected:
  SocialServiceTest() {
    alice_ = engines_.user("alice");
    bob_ = engines_.user("bob");
    carol_ = engines_.user("carol");
  }

  template <class T>
  static std::optional<ErrorCode> code(const Result<T>& r) {
    if (r) return std::nullopt;
    return r.error().code;
  }

  bool friends(UserId a, UserId b) { return engines_.social->relation(a, b).value().friends; }

  Engines engines_{"parley-social"};
  PresenceService presence_{engines_.state, *engines_.social, {}};
  SocialService social_{*engines_.directory, *engines_.social, engines_.state, presence_};
  UserId alice_, bob_, carol_;
};

TEST_F(SocialServiceTest, ARequestAcceptedMakesFriendsAndAskingBackDoesToo) {
  EXPECT_EQ(social_.request(alice_, bob_).value(), false);  // pending
  EXPECT_FALSE(friends(alice_, bob_));
  ASSERT_TRUE(social_.accept(bob_, alice_).ok());
  EXPECT_TRUE(friends(alice_, bob_));
  EXPECT_TRUE(friends(bob_, alice_));

  // carol asks alice, and alice asking carol back is an acceptance.
  EXPECT_EQ(social_.request(carol_, alice_).value(), false);
  EXPECT_EQ(social_.request(alice_, carol_).value(), true);
  EXPECT_TRUE(friends(alice_, carol_));

  EXPECT_EQ(code(social_.request(alice_, bob_)), ErrorCode::conflict);  // friends already
}

TEST_F(SocialServiceTest, OneselfIsABadRequestAndAnUnknownUserIsNotFound) {
  const UserId nobody{987654321};
  EXPECT_EQ(code(social_.request(alice_, alice_)), ErrorCode::bad_request);
  EXPECT_EQ(code(social_.block(alice_, alice_)), ErrorCode::bad_request);
  auto unknown = social_.request(alice_, nobody);
  EXPECT_EQ(code(unknown), ErrorCode::not_found);
  EXPECT_EQ(unknown.error().message, "no user with id 987654321");
  EXPECT_EQ(code(social_.accept(alice_, nobody)), ErrorCode::not_found);
  EXPECT_EQ(code(social_.remove(alice_, nobody)), ErrorCode::not_found);
  EXPECT_EQ(code(social_.block(alice_, nobody)), ErrorCode::not_found);
  EXPECT_EQ(code(social_.unblock(alice_, nobody)), ErrorCode::not_found);
  // Accepting a request nobody made is not_found too.
  EXPECT_EQ(code(social_.accept(alice_, bob_)), ErrorCode::not_found);
  EXPECT_FALSE(friends(alice_, bob_));
}

TEST_F(SocialServiceTest, ARequestToSomeoneWhoBlocksYouLooksPendingAndRecordsNothing) {
  ASSERT_TRUE(social_.block(bob_, alice_).ok());
  auto to_blocker = social_.request(alice_, bob_);
  auto to_stranger = social_.request(alice_, carol_);
  ASSERT_TRUE(to_blocker.ok()) << to_blocker.error().message;
  // The very answer a request still pending gets.
  EXPECT_EQ(to_blocker.value(), to_stranger.value());
  const auto seen_by_bob = engines_.social->relation(bob_, alice_).value();
  EXPECT_FALSE(seen_by_bob.requested_by);
  EXPECT_TRUE(social_.list(bob_)->requests.empty());
  EXPECT_EQ(code(social_.accept(bob_, alice_)), ErrorCode::not_found);

  // The blocker is told why instead.
  auto from_blocker = social_.request(bob_, alice_);
  EXPECT_EQ(code(from_blocker), ErrorCode::forbidden);
  EXPECT_NE(from_blocker.error().message.find("unblock"), std::string::npos) << from_blocker.error().message;
}

TEST_F(SocialServiceTest, RemovingEndsAFriendshipOrDropsARequest) {
  engines_.befriend(alice_, bob_);
  ASSERT_TRUE(social_.remove(bob_, alice_).ok());
  EXPECT_FALSE(friends(alice_, bob_));
  EXPECT_EQ(code(social_.remove(bob_, alice_)), ErrorCode::not_found);  // nothing left to remove

  ASSERT_FALSE(social_.request(alice_, carol_).value());
  ASSERT_TRUE(social_.remove(carol_, alice_).ok());  // declined
  EXPECT_TRUE(social_.list(carol_)->requests.empty());
  EXPECT_EQ(code(social_.accept(carol_, alice_)), ErrorCode::not_found);
}

TEST_F(SocialServiceTest, ABlockEndsTheFriendshipAndUnblockingBringsNothingBack) {
  engines_.befriend(alice_, bob_);
  ASSERT_TRUE(social_.block(alice_, bob_).ok());
  EXPECT_FALSE(friends(alice_, bob_));
  EXPECT_EQ(code(social_.block(alice_, bob_)), ErrorCode::conflict);  // blocks already
  ASSERT_TRUE(social_.unblock(alice_, bob_).ok());
  EXPECT_FALSE(friends(alice_, bob_));
  EXPECT_FALSE(engines_.social->relation(alice_, bob_)->blocked_either_way());
  EXPECT_EQ(code(social_.unblock(alice_, bob_)), ErrorCode::not_found);
  // Asking again starts over from a request.
  EXPECT_EQ(social_.request(bob_, alice_).value(), false);
}

TEST_F(SocialServiceTest, TheListingNamesFriendsWithWhatTheyWereLastToldAndRequestsToTheCaller) {
  engines_.befriend(alice_, bob_);
  ASSERT_FALSE(social_.request(carol_, alice_).value());
  ASSERT_FALSE(social_.request(alice_, engines_.user("dave")).value());  // alice's own request: not listed
  // bob is online and announced so.
  ASSERT_TRUE(presence_.apply_touch(bob_, "bob-phone").ok());
  ASSERT_TRUE(presence_.run_due(now_ms() + 60'000).ok());

  auto listing = social_.list(alice_);
  ASSERT_TRUE(listing.ok()) << listing.error().message;
  ASSERT_EQ(listing->friends.size(), 1U);
  EXPECT_EQ(listing->friends[0].id, bob_);
  EXPECT_EQ(listing->friends[0].username, "bob");
  EXPECT_EQ(listing->friends[0].presence.status, ports::PresenceStatus::online);
  ASSERT_EQ(listing->requests.size(), 1U);
  EXPECT_EQ(listing->requests[0].id, carol_);
  EXPECT_EQ(listing->requests[0].username, "carol");

  // A friend never announced reads as offline, never seen.
  auto bobs = social_.list(bob_);
  ASSERT_EQ(bobs->friends.size(), 1U);
  EXPECT_EQ(bobs->friends[0].username, "alice");
  EXPECT_EQ(bobs->friends[0].presence, ports::PresenceState{});
}

TEST_F(SocialServiceTest, PresenceFollowsFriendshipsAsTheyStartAndEnd) {
  ServerDevices server(engines_.state, "s1");
  for (UserId u : {alice_, bob_, carol_}) {
    server.connect(u);
    ASSERT_TRUE(presence_.apply_touch(u, to_string(u) + "-phone").ok());
  }
  ASSERT_TRUE(presence_.run_due(now_ms() + 60'000).ok());  // everyone announced online, to nobody
  ASSERT_TRUE(server.delivered().empty());

  // Accepting tells each side where the other stands, at once.
  ASSERT_FALSE(social_.request(alice_, bob_).value());
  ASSERT_TRUE(social_.accept(bob_, alice_).ok());
  ASSERT_EQ(server.frames_for(alice_).size(), 1U);
  EXPECT_EQ(field(server.frames_for(alice_)[0], "user"), to_string(bob_));
  EXPECT_EQ(field(server.frames_for(alice_)[0], "status"), "online");
  ASSERT_EQ(server.frames_for(bob_).size(), 1U);
  EXPECT_EQ(field(server.frames_for(bob_)[0], "user"), to_string(alice_));
  EXPECT_TRUE(server.frames_for(carol_).empty());
  EXPECT_EQ(engines_.state.watchers(alice_).value(), std::vector<UserId>{bob_});

  // A request that makes friends (asking back) does the same.
  ASSERT_FALSE(social_.request(carol_, alice_).value());
  ASSERT_TRUE(social_.request(alice_, carol_).value());
  ASSERT_EQ(server.frames_for(carol_).size(), 1U);
  EXPECT_EQ(field(server.frames_for(carol_)[0], "user"), to_string(alice_));

  // Removing and blocking end it: neither side watches the other.
  ASSERT_TRUE(social_.remove(alice_, bob_).ok());
  EXPECT_EQ(engines_.state.watchers(alice_).value(), std::vector<UserId>{carol_});
  EXPECT_TRUE(engines_.state.watchers(bob_)->empty());
  ASSERT_TRUE(social_.block(carol_, alice_).ok());
  EXPECT_TRUE(engines_.state.watchers(alice_)->empty());
  EXPECT_TRUE(engines_.state.watchers(carol_)->empty());
}

}  // namespace
}  // namespace parley::services
