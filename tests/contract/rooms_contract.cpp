// The Rooms contract: groups and channels, members, roles, limits.

#include <atomic>
#include <random>
#include <set>
#include <thread>

#include "contracts.hpp"

namespace parley::contract {
namespace {

using ports::Access;
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

// A room id no other test draws (the services draw theirs the same way).
ports::RoomRef fresh_ref(RoomKind kind) {
  static std::mt19937_64 rng{std::random_device{}()};
  return {kind, (rng() >> 1) | 1};
}

TEST_P(RoomsContract, CreatedRoomHasItsOwnerAndMembers) {
  const auto u = fresh_users(3);
  auto room = port_->create_room(fresh_ref(RoomKind::group), "friends", u[0], PostPolicy::everyone, Access::invite_only,
                                 {u[1], u[2], u[1], u[0]});
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

TEST_P(RoomsContract, TheCallersIdIsKeptAndATakenOneIsAConflictAcrossRestarts) {
  const auto u = fresh_users(1);
  const auto ref = fresh_ref(RoomKind::group);
  auto room = port_->create_room(ref, "g", u[0], PostPolicy::everyone, Access::invite_only, {});
  ASSERT_TRUE(room.ok()) << room.error().message;
  EXPECT_EQ(room->ref, ref);
  auto again = port_->create_room(ref, "other", u[0], PostPolicy::everyone, Access::invite_only, {});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::conflict);
  restart();
  again = port_->create_room(ref, "other", u[0], PostPolicy::everyone, Access::invite_only, {});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::conflict);
  EXPECT_EQ(port_->find_room(ref)->name, "g");  // the first room is untouched
  EXPECT_EQ(*port_->member_count(ref), 1U);
}

TEST_P(RoomsContract, AChannelsAccessSurvivesARestart) {
  const auto u = fresh_users(1);
  auto open = port_->create_room(fresh_ref(RoomKind::channel), "open", u[0], PostPolicy::everyone, Access::open, {});
  auto closed =
      port_->create_room(fresh_ref(RoomKind::channel), "closed", u[0], PostPolicy::admins, Access::invite_only, {});
  ASSERT_TRUE(open.ok() && closed.ok());
  EXPECT_EQ(closed->access, Access::invite_only);
  restart();
  EXPECT_EQ(port_->find_room(open->ref)->access, Access::open);
  auto found = port_->find_room(closed->ref);
  ASSERT_TRUE(found.ok()) << found.error().message;
  EXPECT_EQ(found->access, Access::invite_only);
  EXPECT_EQ(found->post_policy, PostPolicy::admins);
  EXPECT_EQ(found->name, "closed");
}

TEST_P(RoomsContract, MembershipSurvivesARestart) {
  const auto u = fresh_users(2);
  auto room = port_->create_room(fresh_ref(RoomKind::channel), "news", u[0], PostPolicy::admins, Access::open, {});
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
  auto room =
      port_->create_room(fresh_ref(RoomKind::group), "full", u[0], PostPolicy::everyone, Access::invite_only, {});
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
  auto room =
      port_->create_room(fresh_ref(RoomKind::group), "g", u[0], PostPolicy::everyone, Access::invite_only, {u[1]});
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
