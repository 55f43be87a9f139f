#include "ports/rooms.hpp"

namespace parley::ports {

std::string_view to_string(RoomKind kind) noexcept { return kind == RoomKind::group ? "group" : "channel"; }

std::string_view to_string(Role role) noexcept {
  switch (role) {
    case Role::member: return "member";
    case Role::admin: return "admin";
    case Role::owner: return "owner";
  }
  return "member";
}

std::optional<Role> parse_role(std::string_view s) noexcept {
  if (s == "member") return Role::member;
  if (s == "admin") return Role::admin;
  if (s == "owner") return Role::owner;
  return std::nullopt;
}

}  // namespace parley::ports
