#include "core/snowflake.hpp"

#include <gtest/gtest.h>

#include <set>

namespace parley {
namespace {

constexpr TimeMs kT0 = 1767225600000;  // 2026-01-01

struct FakeClock {
  TimeMs now = kT0;
  Snowflake::Clock fn() {
    return [this] { return now; };
  }
};

TEST(Snowflake, PacksTimeNodeAndSequence) {
  FakeClock clock;
  Snowflake ids(513, clock.fn());
  const MessageId id = ids.next();
  EXPECT_EQ(Snowflake::time_of(id), kT0);
  EXPECT_EQ(Snowflake::node_of(id), 513U);
  EXPECT_EQ(Snowflake::sequence_of(id), 0U);
  EXPECT_EQ(Snowflake::compose(kT0, 513, 0), id);
}

TEST(Snowflake, CountsWithinOneMillisecondAndBorrowsTheNextWhenFull) {
  FakeClock clock;
  Snowflake ids(1, clock.fn());
  MessageId last = ids.next();
  for (std::uint32_t i = 1; i <= Snowflake::kMaxSequence; ++i) {
    const MessageId id = ids.next();
    EXPECT_EQ(Snowflake::sequence_of(id), i);
    EXPECT_GT(id, last);
    last = id;
  }
  const MessageId borrowed = ids.next();  // the 4097th id in one millisecond
  EXPECT_GT(borrowed, last);
  EXPECT_EQ(Snowflake::time_of(borrowed), kT0 + 1);
  EXPECT_EQ(Snowflake::sequence_of(borrowed), 0U);
}

TEST(Snowflake, NeverGoesBackwardsWhenTheClockStepsBack) {
  FakeClock clock;
  Snowflake ids(7, clock.fn());
  std::set<std::uint64_t> seen;
  MessageId last = ids.next();
  seen.insert(last.value);
  clock.now -= 5000;  // NTP steps the clock back five seconds
  for (int i = 0; i < 10000; ++i) {
    if (i == 5000) clock.now += 2000;  // still behind
    const MessageId id = ids.next();
    EXPECT_GT(id, last);
    EXPECT_TRUE(seen.insert(id.value).second) << "repeated id";
    last = id;
  }
  clock.now = kT0 + 60000;  // the clock is ahead again: ids follow it
  EXPECT_EQ(Snowflake::time_of(ids.next()), kT0 + 60000);
}

TEST(Snowflake, NextAfterExceedsAFloorFromAnyNode) {
  FakeClock clock;
  for (std::uint32_t floor_node : {0U, 7U, 900U}) {
    for (std::uint32_t floor_seq : {0U, 5U, Snowflake::kMaxSequence}) {
      Snowflake ids(7, clock.fn());
      const MessageId floor = Snowflake::compose(kT0 + 10, floor_node, floor_seq);  // written by a clock ahead of ours
      const MessageId id = ids.next_after(floor);
      EXPECT_GT(id, floor) << floor_node << "/" << floor_seq;
      EXPECT_GT(ids.next(), id);
    }
  }
}

TEST(Snowflake, NextAfterAnOldFloorIsPlainNext) {
  FakeClock clock;
  Snowflake ids(3, clock.fn());
  const MessageId id = ids.next_after(Snowflake::compose(kT0 - 1000, 3, 9));
  EXPECT_EQ(Snowflake::time_of(id), kT0);
}

TEST(Snowflake, RejectsANodeIdOutOfRange) { EXPECT_THROW(Snowflake(1024), std::invalid_argument); }

}  // namespace
}  // namespace parley
