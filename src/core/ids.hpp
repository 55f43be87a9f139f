#pragma once
// Strong id types. Every id that crosses the protocol is a 64-bit value shown
// to clients as a JSON string; seqs and times are plain numbers.

#include <compare>
#include <cstdint>
#include <functional>
#include <string>

namespace parley {

template <class Tag>
struct Id {
  std::uint64_t value = 0;

  constexpr Id() = default;
  constexpr explicit Id(std::uint64_t v) : value(v) {}
  [[nodiscard]] constexpr bool valid() const noexcept { return value != 0; }
  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 reads the defaulted <=>'s own 0
  friend constexpr auto operator<=>(Id, Id) = default;
};

struct UserTag {};
struct MessageTag {};
struct GroupTag {};
struct ChannelTag {};

using UserId = Id<UserTag>;
using MessageId = Id<MessageTag>;
using GroupId = Id<GroupTag>;
using ChannelId = Id<ChannelTag>;

// A device id is chosen by the client (1-64 of [A-Za-z0-9_.-]).
using DeviceId = std::string;

// A position in one user's inbox: 1, 2, 3, ... with no gaps.
using Seq = std::uint64_t;

// Milliseconds since the Unix epoch.
using TimeMs = std::int64_t;

template <class Tag>
[[nodiscard]] std::string to_string(Id<Tag> id) {
  return std::to_string(id.value);
}

}  // namespace parley

template <class Tag>
struct std::hash<parley::Id<Tag>> {
  std::size_t operator()(parley::Id<Tag> id) const noexcept { return std::hash<std::uint64_t>{}(id.value); }
};
