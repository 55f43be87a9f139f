#include "core/clock.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace parley {
namespace {

using std::chrono::milliseconds;
using std::chrono::system_clock;

TEST(Clock, UnixMsCountsMillisecondsSinceTheEpoch) {
  EXPECT_EQ(unix_ms(system_clock::time_point{}), 0);
  EXPECT_EQ(unix_ms(system_clock::time_point(milliseconds(1796026502123))), 1796026502123);
  // Below a millisecond is dropped, not rounded.
  EXPECT_EQ(unix_ms(system_clock::time_point(milliseconds(5)) + std::chrono::microseconds(999)), 5);
}

TEST(Clock, NowIsTheSystemClocksNow) {
  const TimeMs before = unix_ms(system_clock::now());
  const TimeMs now = now_ms();
  const TimeMs after = unix_ms(system_clock::now());
  EXPECT_LE(before, now);
  EXPECT_LE(now, after);
  const std::int64_t seconds = unix_seconds();
  EXPECT_LE(before / 1000, seconds);
  EXPECT_LE(seconds, unix_ms(system_clock::now()) / 1000);
}

}  // namespace
}  // namespace parley
