// BoundedPool: at most max_jobs places taken at once; a place left is free
// again.

#include <gtest/gtest.h>

#include "gateway/blocking.hpp"

namespace parley::gateway {
namespace {

TEST(BoundedPool, RefusesPastItsBoundAndTakesWorkAgainOnceAPlaceIsLeft) {
  BoundedPool pool(1, 2);
  EXPECT_TRUE(pool.try_enter());
  EXPECT_TRUE(pool.try_enter());
  EXPECT_FALSE(pool.try_enter());
  EXPECT_FALSE(pool.try_enter());  // a refusal takes no place
  pool.leave();
  EXPECT_TRUE(pool.try_enter());
  EXPECT_FALSE(pool.try_enter());
  pool.leave();
  pool.leave();
  pool.join();
}

}  // namespace
}  // namespace parley::gateway
