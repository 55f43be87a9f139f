// The Rooms contract: groups and channels, members, roles, limits.

#include <atomic>
#include <random>
#include <set>
#include <thread>

#include "contracts.hpp"

namespace parley::contract {
namespace {

using ports::PostPolicy;
using ports::Role;
using ports::RoomKind;

// User ids unique to this test, so engines shared between tests keep apart.
std::vector<UserId> fresh_users(std::size_t n) {
  static std::mt19937_64 rng{std::random_device{}()};
  const std::uint64_t base = (rng() >> 20) + 1;
  std::vector<UserId> out;
  for (std::size_t i = 0; i < n; ++i) out.emplace_back(base + i);
  return out;
}

TEST_P(RoomsContract, CreatedRoomHasItsOwnerAndMembers) {
  const auto u = fresh_users(3);
  auto room = port_->create_room(RoomKind::group, "friends", u[0], PostPolicy::everyone, {u[1], u[2], u[1], u[0]});
  ASSERT_TRUE(room.ok()) << room.error().message;
  EXPECT_EQ(room->ref.kind, RoomKind::group);
  EXPECT_NE(room->ref.id, 0U);

  auto found = port_->find_room(room->ref);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->name, "friends");
  EXPECT_EQ(found->owner, u[0]);

  EXPECT_EQ(*port_->member_count(room->ref), 3U);  // repeats and the owner counted once
  auto members = port_->members(room->ref);
  ASSERT_TRUE(members.ok());
  ASSERT_EQ(members->size(), 3U);
  EXPECT_EQ(*port_->role_of(room->ref, u[0]).value(), Role::owner);
  EXPECT_EQ(*port_->role_of(room->ref, u[1]).value(), Role::member);
  EXPECT_FALSE(port_->role_of(room->ref, fresh_users(1)[0]).value().has_value());
}

TEST_P(RoomsContract, IdsAreNeverReusedAcrossRestarts) {
  const auto u = fresh_users(1);
  std::set<std::uint64_t> ids;
  for (int i = 0; i < 3; ++i)
    ids.insert(port_->create_room(RoomKind::group, "g", u[0], PostPolicy::everyone, {})->ref.id);
  restart();
  ids.insert(port_->create_room(RoomKind::channel, "c", u[0], PostPolicy::admins, {})->ref.id);
  EXPECT_EQ(ids.size(), 4U);
}

TEST_P(RoomsContract, MembershipSurvivesARestart) {
  const auto u = fresh_users(2);
  auto room = port_->create_room(RoomKind::channel, "news", u[0], PostPolicy::admins, {});
  ASSERT_TRUE(port_->put_member(room->ref, u[1], Role::admin, 0).ok());
  restart();
  EXPECT_EQ(port_->find_room(room->ref)->post_policy, PostPolicy::admins);
  EXPECT_EQ(*port_->role_of(room->ref, u[1]).value(), Role::admin);
  auto of = port_->rooms_of(u[1]);
  ASSERT_TRUE(of.ok());
  ASSERT_EQ(of->size(), 1U);
  EXPECT_EQ(of->front().room, room->ref);
  EXPECT_EQ(of->front().role, Role::admin);
}

TEST_P(RoomsContract, TheMemberLimitHoldsUnderConcurrentAdds) {
  const auto u = fresh_users(40);
  auto room = port_->create_room(RoomKind::group, "full", u[0], PostPolicy::everyone, {});
  std::atomic<int> added{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (std::size_t i = 1 + static_cast<std::size_t>(t); i < u.size(); i += 4) {
        auto r = port_->put_member(room->ref, u[i], Role::member, 10);
        if (r) {
          ++added;
        } else {
          EXPECT_EQ(r.error().code, ErrorCode::conflict);
          ++refused;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(added.load(), 9);  // 10 members, the owner included
  EXPECT_EQ(refused.load(), 30);
  EXPECT_EQ(*port_->member_count(room->ref), 10U);
  EXPECT_EQ(port_->members(room->ref)->size(), 10U);
  // Changing a member's role is not an add: allowed when full.
  EXPECT_TRUE(port_->put_member(room->ref, u[0], Role::owner, 10).ok());
}

TEST_P(RoomsContract, RemovingAMember) {
  const auto u = fresh_users(3);
  auto room = port_->create_room(RoomKind::group, "g", u[0], PostPolicy::everyone, {u[1]});
  ASSERT_TRUE(port_->remove_member(room->ref, u[1]).ok());
  ASSERT_TRUE(port_->remove_member(room->ref, u[2]).ok());  // not a member: no error
  EXPECT_FALSE(port_->role_of(room->ref, u[1]).value().has_value());
  EXPECT_EQ(*port_->member_count(room->ref), 1U);
  EXPECT_TRUE(port_->rooms_of(u[1])->empty());
  EXPECT_EQ(port_->rooms_of(u[0])->size(), 1U);
}

TEST_P(RoomsContract, UnknownRoomsAreNotFound) {
  const auto u = fresh_users(1);
  const ports::RoomRef missing{RoomKind::group, 0xFFFFFFFFFFFULL};
  EXPECT_EQ(port_->find_room(missing).error().code, ErrorCode::not_found);
  EXPECT_EQ(port_->put_member(missing, u[0], Role::member, 0).error().code, ErrorCode::not_found);
  EXPECT_FALSE(port_->role_of(missing, u[0]).value().has_value());
  EXPECT_EQ(*port_->member_count(missing), 0U);
}

}  // namespace
}  // namespace parley::contract
