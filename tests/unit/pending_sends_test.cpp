// PendingSends: the oldest waiter found in order, and load shedding that
// refuses new sends only while many wait and the oldest has waited long.

#include "gateway/pending_sends.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace parley::gateway {
namespace {

using Clock = PendingSends::Clock;
using std::chrono::milliseconds;

// Waits for time itself to pass (what these tests are about), not for an
// event of another thread.
void let_pass(milliseconds d) {
  const auto until = Clock::now() + d;
  while (Clock::now() < until) {
  }
}

TEST(PendingSends, RefusesOnlyWhileManyWaitAndTheOldestIsLate) {
  PendingSends pending({.after = milliseconds(5), .min_pending = 3});
  const auto first = pending.add({}, 1);
  const auto second = pending.add({}, 2);
  ASSERT_TRUE(first && second);
  let_pass(milliseconds(10));
  // Two waiting, one late: below min_pending, a lone stuck send sheds nothing.
  const auto third = pending.add({}, 3);
  ASSERT_TRUE(third);
  // Three waiting and the oldest is late: refused, and nothing registered.
  EXPECT_FALSE(pending.add({}, 4));
  EXPECT_EQ(pending.size(), 3U);
  // The late ones answered: the oldest left is in time again.
  pending.complete(*first, make_error(ErrorCode::unavailable, "x"));
  pending.complete(*second, make_error(ErrorCode::unavailable, "x"));
  const auto fourth = pending.add({}, 5);
  ASSERT_TRUE(fourth);
  EXPECT_EQ(pending.size(), 2U);
}

TEST(PendingSends, NeverRefusesWhenSheddingIsOff) {
  PendingSends pending({.after = milliseconds(0), .min_pending = 1});
  ASSERT_TRUE(pending.add({}, 1));
  let_pass(milliseconds(2));
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(pending.add({}, i));
}

TEST(PendingSends, ExpiresTheLateOnesOnly) {
  PendingSends pending;
  const auto old1 = pending.add({}, 1);
  const auto old2 = pending.add({}, 2);
  pending.complete(*old1, make_error(ErrorCode::unavailable, "answered before it expired"));
  let_pass(milliseconds(20));
  const auto young = pending.add({}, 3);
  ASSERT_TRUE(old2 && young);
  pending.expire(milliseconds(10));
  EXPECT_EQ(pending.size(), 1U);  // old2 expired; young waits on
  pending.complete(*young, make_error(ErrorCode::unavailable, "x"));
  EXPECT_EQ(pending.size(), 0U);
}

}  // namespace
}  // namespace parley::gateway
