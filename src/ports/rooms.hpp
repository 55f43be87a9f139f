#pragma once
// Rooms: groups and channels, their members and roles (the Directory role of
// DESIGN.md, split by concern: accounts in directory.hpp, rooms here).
//
// A group (at most a configured number of members, 100 by default) is served
// by fan-out on write: one inbox entry per member. A channel (any size) is
// served by fan-out on read: one copy in the channel's history. The store
// does not decide which: the services do, by kind.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/ids.hpp"
#include "core/result.hpp"

namespace parley::ports {

enum class RoomKind { group, channel };
enum class Role { member = 0, admin = 1, owner = 2 };
// Who may post in a channel.
enum class PostPolicy { everyone, admins };
// Who may join a channel by its id: anyone (open), or nobody but those an
// owner or admin adds (invite_only: a private channel). Groups are always
// invite_only.
enum class Access { open, invite_only };

[[nodiscard]] std::string_view to_string(RoomKind kind) noexcept;
[[nodiscard]] std::string_view to_string(Role role) noexcept;
[[nodiscard]] std::optional<Role> parse_role(std::string_view s) noexcept;

struct RoomRef {
  RoomKind kind = RoomKind::group;
  std::uint64_t id = 0;
  friend bool operator==(const RoomRef&, const RoomRef&) = default;
};

struct RoomRecord {
  RoomRef ref;
  std::string name;
  UserId owner;
  PostPolicy post_policy = PostPolicy::everyone;
  Access access = Access::open;
  TimeMs created_at = 0;
};

struct Member {
  UserId user;
  Role role = Role::member;
};

struct Membership {
  RoomRef room;
  Role role = Role::member;
};

class Rooms {
 public:
  virtual ~Rooms() = default;

  // Creates the room `ref` with `owner` as its owner and `members` as
  // members (`members` may repeat or contain the owner). The caller chooses
  // the id (RoomsService draws it at random, so that no room id can be
  // guessed from another); ErrorCode::conflict if a room of that kind has
  // it already, or ever had it (ids are never reused). An id may also be
  // refused for a room of the other kind (conflict): callers draw another.
  [[nodiscard]] virtual Result<RoomRecord> create_room(RoomRef ref, std::string_view name, UserId owner,
                                                       PostPolicy post_policy, Access access,
                                                       const std::vector<UserId>& members) = 0;
  // ErrorCode::not_found if there is no such room.
  [[nodiscard]] virtual Result<RoomRecord> find_room(RoomRef room) = 0;

  // The user's role, or nullopt if not a member (or no such room).
  [[nodiscard]] virtual Result<std::optional<Role>> role_of(RoomRef room, UserId user) = 0;
  // Adds a member, or changes the role of one. Adding when the room already
  // has `max_members` members is ErrorCode::conflict; 0 means no limit.
  [[nodiscard]] virtual Result<void> put_member(RoomRef room, UserId user, Role role, std::size_t max_members) = 0;
  // Removing someone who is not a member is not an error.
  [[nodiscard]] virtual Result<void> remove_member(RoomRef room, UserId user) = 0;

  // Every member, in user id order. For channels this can be large: the
  // services use it for groups and for small bounded lookups only.
  [[nodiscard]] virtual Result<std::vector<Member>> members(RoomRef room) = 0;
  [[nodiscard]] virtual Result<std::size_t> member_count(RoomRef room) = 0;
  // Every room the user belongs to.
  [[nodiscard]] virtual Result<std::vector<Membership>> rooms_of(UserId user) = 0;
};

}  // namespace parley::ports
