#pragma once
// The wall clock as Parley stores it: milliseconds since the Unix epoch
// (TimeMs), the one place that turns a std::chrono::system_clock reading
// into that number. Services that need a clock take a std::function<TimeMs()>
// defaulting to now_ms, so tests can inject their own.

#include <chrono>
#include <cstdint>

#include "core/ids.hpp"

namespace parley {

// `t` in milliseconds since the Unix epoch (truncated toward zero).
[[nodiscard]] inline TimeMs unix_ms(std::chrono::system_clock::time_point t) noexcept {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// Now, in milliseconds since the Unix epoch.
[[nodiscard]] inline TimeMs now_ms() noexcept { return unix_ms(std::chrono::system_clock::now()); }

// Now, in whole seconds since the Unix epoch (JWT's "iat" and "exp").
[[nodiscard]] inline std::int64_t unix_seconds() noexcept {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace parley
