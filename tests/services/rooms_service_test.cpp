// RoomsService, the one authorizer, against the embedded engines: the rules
// at the top of its header (owners and admins, leaving, the group limit,
// private channels, blocks and the friends rule) and authorize_send's
// answers for 1:1, group and channel sends.

#include "services/rooms_service.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "service_fixture.hpp"

namespace parley::services {
namespace {

using ports::Access;
using ports::PostPolicy;
using ports::Role;
using ports::RoomKind;
using ports::RoomRef;
using testkit::Engines;

class RoomsServiceTest : public ::testing::Test {
 protected:
  RoomsServiceTest() {
    alice_ = engines_.user("alice");
    bob_ = engines_.user("bob");
    carol_ = engines_.user("carol");
    dave_ = engines_.user("dave");
    engines_.befriend(alice_, bob_);
    engines_.befriend(alice_, carol_);
    engines_.befriend(bob_, carol_);
  }

  // A service with `options` over the same engines.
  RoomsService service(RoomsService::Options options) {
    return RoomsService(*engines_.rooms, *engines_.directory, *engines_.social, options);
  }

  std::optional<Role> role(RoomRef room, UserId user) { return engines_.rooms->role_of(room, user).value(); }

  // The code of a failed call (ErrorCode::ok, i.e. none, if it succeeded).
  template <class T>
  static std::optional<ErrorCode> code(const Result<T>& r) {
    if (r) return std::nullopt;
    return r.error().code;
  }

  // What authorize_send answers: the inbox users, or the refusal's code.
  struct Verdict {
    std::vector<UserId> users;
    std::optional<ErrorCode> refused;
    std::string message;
  };
  Verdict verdict(UserId from, Recipient to) {
    RoomsService::SendLookups lookups;
    auto r = rooms_.authorize_send(from, to, lookups);
    EXPECT_TRUE(r.ok()) << "an engine failed: " << r.error().message;
    if (!r) return {};
    if (auto* refusal = std::get_if<RoomsService::Refusal>(&r.value())) {
      return {{}, refusal->error.code, refusal->error.message};
    }
    auto users = std::get<std::vector<UserId>>(r.value());
    std::sort(users.begin(), users.end());
    return {users, std::nullopt, ""};
  }

  Engines engines_{"parley-rooms-service"};
  RoomsService rooms_ = service({});
  UserId alice_, bob_, carol_, dave_;
};

TEST_F(RoomsServiceTest, TheCreatorOwnsAGroupAndTheOthersAreMembers) {
  auto group = rooms_.create_group(alice_, "friends", {bob_, carol_, bob_});
  ASSERT_TRUE(group.ok()) << group.error().message;
  EXPECT_EQ(group->ref.kind, RoomKind::group);
  EXPECT_EQ(group->owner, alice_);
  EXPECT_EQ(group->name, "friends");
  EXPECT_EQ(role(group->ref, alice_), Role::owner);
  EXPECT_EQ(role(group->ref, bob_), Role::member);
  EXPECT_EQ(role(group->ref, carol_), Role::member);
  EXPECT_EQ(role(group->ref, dave_), std::nullopt);
  EXPECT_EQ(rooms_.members(conversation_of(group->ref)).value(), (std::vector<UserId>{alice_, bob_, carol_}));

  auto channel = rooms_.create_channel(bob_, "news", PostPolicy::everyone, Access::open);
  ASSERT_TRUE(channel.ok()) << channel.error().message;
  EXPECT_EQ(channel->ref.kind, RoomKind::channel);
  EXPECT_EQ(role(channel->ref, bob_), Role::owner);
}

TEST_F(RoomsServiceTest, ABadNameIsABadRequest) {
  EXPECT_EQ(code(rooms_.create_group(alice_, "", {bob_})), ErrorCode::bad_request);
  EXPECT_EQ(code(rooms_.create_group(alice_, std::string(201, 'x'), {bob_})), ErrorCode::bad_request);
  EXPECT_EQ(code(rooms_.create_channel(alice_, "line\nbreak", PostPolicy::everyone, Access::open)),
            ErrorCode::bad_request);
}

TEST_F(RoomsServiceTest, RoomIdsAreNotASequence) {
  std::set<std::uint64_t> ids;
  std::uint64_t previous = 0;
  int consecutive = 0;
  for (int i = 0; i < 20; ++i) {
    auto channel = rooms_.create_channel(alice_, "c", PostPolicy::everyone, Access::open);
    ASSERT_TRUE(channel.ok());
    const std::uint64_t id = channel->ref.id;
    EXPECT_NE(id, 0U);
    EXPECT_LT(id, std::uint64_t{1} << 63);  // fits a signed 64-bit column
    if (id == previous + 1) ++consecutive;
    previous = id;
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 20U);
  EXPECT_EQ(consecutive, 0);  // nobody guesses the next room from the last one
}

TEST_F(RoomsServiceTest, OwnersAndAdminsAddAndRemoveAndMembersDoNot) {
  const UserId erin = engines_.user("erin");
  engines_.befriend(alice_, erin);
  engines_.befriend(bob_, erin);
  engines_.befriend(carol_, erin);
  const RoomRef g = rooms_.create_group(alice_, "g", {bob_}).value().ref;

  // A plain member adds nobody and removes nobody.
  EXPECT_EQ(code(rooms_.add(bob_, g, carol_)), ErrorCode::forbidden);
  EXPECT_EQ(role(g, carol_), std::nullopt);
  ASSERT_TRUE(rooms_.add(alice_, g, carol_).ok());
  EXPECT_EQ(role(g, carol_), Role::member);
  EXPECT_EQ(code(rooms_.remove(bob_, g, carol_)), ErrorCode::forbidden);
  EXPECT_EQ(role(g, carol_), Role::member);

  // Made admin by the owner, bob adds and removes members.
  ASSERT_TRUE(rooms_.set_role(alice_, g, bob_, Role::admin).ok());
  ASSERT_TRUE(rooms_.add(bob_, g, erin).ok());
  EXPECT_EQ(role(g, erin), Role::member);
  ASSERT_TRUE(rooms_.remove(bob_, g, erin).ok());
  EXPECT_EQ(role(g, erin), std::nullopt);
  // Adding a member again keeps their role.
  ASSERT_TRUE(rooms_.add(alice_, g, bob_).ok());
  EXPECT_EQ(role(g, bob_), Role::admin);

  // An admin removes neither another admin nor the owner; the owner removes an admin.
  ASSERT_TRUE(rooms_.set_role(alice_, g, carol_, Role::admin).ok());
  EXPECT_EQ(code(rooms_.remove(bob_, g, carol_)), ErrorCode::forbidden);
  EXPECT_EQ(code(rooms_.remove(bob_, g, alice_)), ErrorCode::forbidden);
  EXPECT_EQ(role(g, alice_), Role::owner);
  ASSERT_TRUE(rooms_.remove(alice_, g, carol_).ok());
  EXPECT_EQ(role(g, carol_), std::nullopt);
  // Removing someone who is not there says so.
  EXPECT_EQ(code(rooms_.remove(alice_, g, dave_)), ErrorCode::not_found);
}

TEST_F(RoomsServiceTest, OnlyTheOwnerSetsRolesAndHandingOverOwnershipLeavesTheOldOwnerAdmin) {
  const RoomRef g = rooms_.create_group(alice_, "g", {bob_, carol_}).value().ref;
  ASSERT_TRUE(rooms_.set_role(alice_, g, bob_, Role::admin).ok());
  EXPECT_EQ(code(rooms_.set_role(bob_, g, carol_, Role::admin)), ErrorCode::forbidden);  // an admin does not
  EXPECT_EQ(role(g, carol_), Role::member);
  EXPECT_EQ(code(rooms_.set_role(alice_, g, dave_, Role::admin)), ErrorCode::not_found);  // not a member
  EXPECT_EQ(code(rooms_.set_role(alice_, g, alice_, Role::member)), ErrorCode::conflict);

  ASSERT_TRUE(rooms_.set_role(alice_, g, carol_, Role::owner).ok());
  EXPECT_EQ(role(g, carol_), Role::owner);
  EXPECT_EQ(role(g, alice_), Role::admin);
  // The new owner's word counts now, the old owner's no longer.
  EXPECT_EQ(code(rooms_.set_role(alice_, g, bob_, Role::member)), ErrorCode::forbidden);
  ASSERT_TRUE(rooms_.set_role(carol_, g, bob_, Role::member).ok());
  EXPECT_EQ(role(g, bob_), Role::member);
}

TEST_F(RoomsServiceTest, AnyoneLeavesButTheOwner) {
  const RoomRef g = rooms_.create_group(alice_, "g", {bob_}).value().ref;
  auto owner_leaves = rooms_.remove(alice_, g, alice_);
  EXPECT_EQ(code(owner_leaves), ErrorCode::conflict);
  EXPECT_EQ(role(g, alice_), Role::owner);

  ASSERT_TRUE(rooms_.remove(bob_, g, bob_).ok());
  EXPECT_EQ(role(g, bob_), std::nullopt);
  EXPECT_EQ(code(rooms_.check_member(conversation_of(g), bob_)), ErrorCode::forbidden);
  // Having left, bob is a stranger: he cannot come back by himself.
  EXPECT_EQ(code(rooms_.add(bob_, g, bob_)), ErrorCode::forbidden);
}

TEST_F(RoomsServiceTest, AGroupHoldsAtMostItsLimitCreatorIncluded) {
  auto small = service({.max_group_members = 3, .add_friends_only = true});
  const UserId erin = engines_.user("erin");
  engines_.befriend(alice_, erin);

  auto too_big = small.create_group(alice_, "g", {bob_, carol_, erin});
  EXPECT_EQ(code(too_big), ErrorCode::conflict);
  auto full = small.create_group(alice_, "g", {bob_, carol_});
  ASSERT_TRUE(full.ok()) << full.error().message;
  auto one_more = small.add(alice_, full->ref, erin);
  EXPECT_EQ(code(one_more), ErrorCode::conflict);
  EXPECT_NE(one_more.error().message.find("at most 3"), std::string::npos) << one_more.error().message;
  EXPECT_EQ(role(full->ref, erin), std::nullopt);
  // Room again once someone leaves.
  ASSERT_TRUE(small.remove(bob_, full->ref, bob_).ok());
  EXPECT_TRUE(small.add(alice_, full->ref, erin).ok());

  // A channel has no such limit.
  const RoomRef channel = small.create_channel(alice_, "c", PostPolicy::everyone, Access::open).value().ref;
  for (UserId u : {bob_, carol_, erin, dave_}) EXPECT_TRUE(small.add(u, channel, u).ok());
  EXPECT_EQ(engines_.rooms->member_count(channel).value(), 5U);
}

TEST_F(RoomsServiceTest, AnyoneJoinsAnOpenChannelAndAPrivateOneLooksLikeNoChannelToStrangers) {
  const RoomRef open = rooms_.create_channel(alice_, "open", PostPolicy::everyone, Access::open).value().ref;
  ASSERT_TRUE(rooms_.add(dave_, open, dave_).ok());  // dave is nobody's friend: joining needs none
  EXPECT_EQ(role(open, dave_), Role::member);

  const RoomRef secret = rooms_.create_channel(alice_, "secret", PostPolicy::everyone, Access::invite_only).value().ref;
  auto joined = rooms_.add(dave_, secret, dave_);
  const RoomRef missing{RoomKind::channel, secret.id ^ 0x5a5a5a5aULL};
  auto joined_missing = rooms_.add(dave_, missing, dave_);
  ASSERT_FALSE(joined.ok());
  ASSERT_FALSE(joined_missing.ok());
  EXPECT_EQ(joined.error().code, ErrorCode::forbidden);
  // The same answer, word for word, as for a channel that does not exist.
  EXPECT_EQ(joined.error().code, joined_missing.error().code);
  EXPECT_EQ(joined.error().message, joined_missing.error().message);
  EXPECT_EQ(role(secret, dave_), std::nullopt);

  // Its owner (or an admin) adds people; then they are in.
  ASSERT_TRUE(rooms_.add(alice_, secret, bob_).ok());
  EXPECT_EQ(role(secret, bob_), Role::member);
  EXPECT_EQ(code(rooms_.add(bob_, secret, carol_)), ErrorCode::forbidden);  // a member does not
}

TEST_F(RoomsServiceTest, ToAStrangerAnExistingGroupAndAMissingOneLookTheSame) {
  const RoomRef g = rooms_.create_group(alice_, "g", {bob_}).value().ref;
  const RoomRef missing{RoomKind::group, g.id ^ 0x5a5a5a5aULL};
  for (const RoomRef room : {g, missing}) {
    auto member = rooms_.check_member(conversation_of(room), dave_);
    ASSERT_FALSE(member.ok());
    EXPECT_EQ(member.error().code, ErrorCode::forbidden);
    EXPECT_EQ(member.error().message, "not a member of this conversation");
    EXPECT_EQ(code(rooms_.add(dave_, room, dave_)), ErrorCode::forbidden);
    EXPECT_EQ(code(rooms_.remove(dave_, room, bob_)), ErrorCode::forbidden);
    EXPECT_EQ(verdict(dave_, Recipient{Recipient::Kind::group, room.id}).refused, ErrorCode::forbidden);
  }
  EXPECT_TRUE(rooms_.check_member(conversation_of(g), bob_).ok());
}

TEST_F(RoomsServiceTest, WithTheFriendsRuleOnlyFriendsAreAdded) {
  const RoomRef g = rooms_.create_group(alice_, "g", {bob_}).value().ref;
  auto stranger = rooms_.add(alice_, g, dave_);
  EXPECT_EQ(code(stranger), ErrorCode::forbidden);
  EXPECT_NE(stranger.error().message.find("friend"), std::string::npos) << stranger.error().message;
  EXPECT_EQ(code(rooms_.create_group(alice_, "h", {dave_})), ErrorCode::forbidden);
  // Once dave accepts alice, she adds him.
  engines_.befriend(alice_, dave_);
  EXPECT_TRUE(rooms_.add(alice_, g, dave_).ok());
  EXPECT_EQ(role(g, dave_), Role::member);

  // Without the rule, a stranger is added too.
  auto open = service({.max_group_members = 100, .add_friends_only = false});
  const UserId erin = engines_.user("erin");
  EXPECT_TRUE(open.add(alice_, g, erin).ok());
  EXPECT_TRUE(open.create_group(bob_, "h", {erin}).ok());
}

TEST_F(RoomsServiceTest, ABlockEitherWayStopsAddsWithOrWithoutTheFriendsRule) {
  for (const bool friends_only : {true, false}) {
    SCOPED_TRACE(friends_only ? "friends only" : "anyone");
    auto rooms = service({.max_group_members = 100, .add_friends_only = friends_only});
    const UserId blocker = engines_.user(friends_only ? "blocker1" : "blocker2");
    const UserId blocked = engines_.user(friends_only ? "blocked1" : "blocked2");
    engines_.befriend(alice_, blocker);
    engines_.befriend(alice_, blocked);
    ASSERT_TRUE(engines_.social->block(blocker, alice_).value());  // they were friends
    ASSERT_TRUE(engines_.social->block(alice_, blocked).value());

    const RoomRef g = rooms.create_group(alice_, "g", {bob_}).value().ref;
    const RoomRef c = rooms.create_channel(alice_, "c", PostPolicy::everyone, Access::invite_only).value().ref;
    for (UserId other : {blocker, blocked}) {
      EXPECT_EQ(code(rooms.add(alice_, g, other)), ErrorCode::forbidden);
      EXPECT_EQ(code(rooms.add(alice_, c, other)), ErrorCode::forbidden);
      EXPECT_EQ(code(rooms.create_group(alice_, "h", {other})), ErrorCode::forbidden);
      EXPECT_EQ(role(g, other), std::nullopt);
      EXPECT_EQ(role(c, other), std::nullopt);
    }
  }
}

TEST_F(RoomsServiceTest, ADirectSendGoesToBothUnlessTheUserIsUnknownOrABlockStandsEitherWay) {
  EXPECT_EQ(verdict(alice_, Recipient{Recipient::Kind::user, bob_.value}).users, (std::vector<UserId>{alice_, bob_}));
  // Strangers may write to each other: only a block stops a 1:1 message.
  EXPECT_EQ(verdict(alice_, Recipient{Recipient::Kind::user, dave_.value}).users, (std::vector<UserId>{alice_, dave_}));
  // A note to self: one inbox entry.
  EXPECT_EQ(verdict(alice_, Recipient{Recipient::Kind::user, alice_.value}).users, (std::vector<UserId>{alice_}));

  const auto unknown = verdict(alice_, Recipient{Recipient::Kind::user, 987654321});
  EXPECT_EQ(unknown.refused, ErrorCode::not_found);
  EXPECT_EQ(unknown.message, "no user with id 987654321");

  ASSERT_TRUE(engines_.social->block(bob_, alice_).ok());
  const auto blocked_by = verdict(alice_, Recipient{Recipient::Kind::user, bob_.value});
  const auto blocking = verdict(bob_, Recipient{Recipient::Kind::user, alice_.value});
  EXPECT_EQ(blocked_by.refused, ErrorCode::forbidden);
  EXPECT_EQ(blocking.refused, ErrorCode::forbidden);
  // Which side blocks is not said.
  EXPECT_EQ(blocked_by.message, blocking.message);
}

TEST_F(RoomsServiceTest, RelationsReadAheadDecideLikeOnesReadOneByOne) {
  ASSERT_TRUE(engines_.social->block(carol_, alice_).ok());
  const std::vector<std::pair<UserId, UserId>> pairs = {{alice_, bob_}, {alice_, carol_}};
  RoomsService::SendLookups lookups;
  ASSERT_TRUE(rooms_.read_relations(pairs, lookups).ok());
  auto to_bob = rooms_.authorize_send(alice_, Recipient{Recipient::Kind::user, bob_.value}, lookups);
  auto to_carol = rooms_.authorize_send(alice_, Recipient{Recipient::Kind::user, carol_.value}, lookups);
  ASSERT_TRUE(to_bob.ok());
  ASSERT_TRUE(to_carol.ok());
  EXPECT_TRUE(std::holds_alternative<std::vector<UserId>>(to_bob.value()));
  ASSERT_TRUE(std::holds_alternative<RoomsService::Refusal>(to_carol.value()));
  EXPECT_EQ(std::get<RoomsService::Refusal>(to_carol.value()).error.code, ErrorCode::forbidden);
}

TEST_F(RoomsServiceTest, AGroupSendGoesToEveryMemberAndNonMembersAreRefused) {
  const RoomRef g = rooms_.create_group(alice_, "g", {bob_, carol_}).value().ref;
  const Recipient to{Recipient::Kind::group, g.id};
  EXPECT_EQ(verdict(bob_, to).users, (std::vector<UserId>{alice_, bob_, carol_}));
  const auto stranger = verdict(dave_, to);
  EXPECT_EQ(stranger.refused, ErrorCode::forbidden);
  EXPECT_TRUE(stranger.users.empty());
  // A member who left is a stranger again, and no longer an inbox of the group.
  ASSERT_TRUE(rooms_.remove(carol_, g, carol_).ok());
  EXPECT_EQ(verdict(carol_, to).refused, ErrorCode::forbidden);
  EXPECT_EQ(verdict(alice_, to).users, (std::vector<UserId>{alice_, bob_}));
}

TEST_F(RoomsServiceTest, AChannelPostHasNoInboxEntriesAndAnAdminsOnlyChannelRefusesMembers) {
  const RoomRef everyone = rooms_.create_channel(alice_, "talk", PostPolicy::everyone, Access::open).value().ref;
  const RoomRef admins = rooms_.create_channel(alice_, "news", PostPolicy::admins, Access::open).value().ref;
  for (const RoomRef c : {everyone, admins}) ASSERT_TRUE(rooms_.add(bob_, c, bob_).ok());
  ASSERT_TRUE(rooms_.add(carol_, admins, carol_).ok());
  ASSERT_TRUE(rooms_.set_role(alice_, admins, carol_, Role::admin).ok());

  const auto member_talks = verdict(bob_, Recipient{Recipient::Kind::channel, everyone.id});
  EXPECT_FALSE(member_talks.refused.has_value());
  EXPECT_TRUE(member_talks.users.empty());  // fanned out on read

  const auto member_posts_news = verdict(bob_, Recipient{Recipient::Kind::channel, admins.id});
  EXPECT_EQ(member_posts_news.refused, ErrorCode::forbidden);
  EXPECT_EQ(member_posts_news.message, "only the owner and admins post in this channel");
  EXPECT_FALSE(verdict(carol_, Recipient{Recipient::Kind::channel, admins.id}).refused.has_value());
  EXPECT_FALSE(verdict(alice_, Recipient{Recipient::Kind::channel, admins.id}).refused.has_value());

  EXPECT_EQ(verdict(dave_, Recipient{Recipient::Kind::channel, everyone.id}).refused, ErrorCode::forbidden);
}

TEST_F(RoomsServiceTest, MembersOfADirectConversationAreItsTwoUsers) {
  EXPECT_EQ(rooms_.members(direct_conversation(bob_, alice_)).value(), (std::vector<UserId>{alice_, bob_}));
  EXPECT_TRUE(rooms_.check_member(direct_conversation(alice_, bob_), bob_).ok());
  EXPECT_EQ(code(rooms_.check_member(direct_conversation(alice_, bob_), carol_)), ErrorCode::forbidden);
}

TEST_F(RoomsServiceTest, WithoutBlocksDropsThoseOnEitherSideOfABlockAndKeepsTheUser) {
  ASSERT_TRUE(engines_.social->block(alice_, bob_).ok());
  ASSERT_TRUE(engines_.social->block(carol_, alice_).ok());
  auto told = rooms_.without_blocks(alice_, {alice_, bob_, carol_, dave_});
  ASSERT_TRUE(told.ok());
  EXPECT_EQ(told.value(), (std::vector<UserId>{alice_, dave_}));
  EXPECT_EQ(rooms_.without_blocks(dave_, {alice_, bob_, dave_}).value(), (std::vector<UserId>{alice_, bob_, dave_}));
}

}  // namespace
}  // namespace parley::services
