// UserBudgets: one budget per user shared by the user's connections, paid
// by what each request costs, refilled at the rate, split across the
// servers holding the user's devices; a room allowance of its own.

#include "gateway/user_budgets.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace parley::gateway {
namespace {

using Clock = UserBudget::Clock;
using std::chrono::milliseconds;

boost::json::object fields(const char* text) { return boost::json::parse(text).as_object(); }

TEST(UserBudgets, ARequestCostsWhatItMakesTheServerDo) {
  EXPECT_EQ(request_cost("ping", fields(R"({"op":"ping","id":1})")), 1);
  EXPECT_EQ(request_cost("send", fields(R"({"to":{"user":"7"}})")), 2);
  EXPECT_EQ(request_cost("send", fields(R"({"to":{"group":"3"}})")), 10);
  EXPECT_EQ(request_cost("send", fields(R"({"to":{"channel":"3"}})")), 10);
  EXPECT_EQ(request_cost("sync", fields("{}")), 1);
  EXPECT_EQ(request_cost("history", fields("{}")), 5);
  EXPECT_EQ(request_cost("search", fields("{}")), 5);
}

TEST(UserBudgets, TheConnectionsOfOneUserShareOneBudgetAndOtherUsersHaveTheirOwn) {
  UserBudgets budgets({.rate = 10, .burst = 20, .rooms_per_hour = 5});
  auto first = budgets.of(UserId{1});
  auto second = budgets.of(UserId{1});
  EXPECT_EQ(first, second);
  const auto now = Clock::now();
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(first->try_take(2, now)) << i;  // 20 units
  EXPECT_FALSE(second->try_take(2, now));                                  // the same bucket, empty
  EXPECT_TRUE(budgets.of(UserId{2})->try_take(2, now));                    // another user's is full
  // Refilled at 10 units a second.
  EXPECT_FALSE(first->try_take(2, now + milliseconds(100)));
  EXPECT_TRUE(first->try_take(2, now + milliseconds(300)));
}

TEST(UserBudgets, AFanOutSendCostsMoreThanAPing) {
  UserBudgets budgets({.rate = 1, .burst = 12, .rooms_per_hour = 5});
  auto budget = budgets.of(UserId{1});
  const auto now = Clock::now();
  EXPECT_TRUE(budget->try_take(10, now));   // a group send
  EXPECT_FALSE(budget->try_take(10, now));  // not a second one
  EXPECT_TRUE(budget->try_take(1, now));    // but pings
  EXPECT_TRUE(budget->try_take(1, now));
  EXPECT_FALSE(budget->try_take(1, now));
}

TEST(UserBudgets, ABudgetIsSharedByTheServersHoldingTheUsersDevices) {
  UserBudgets budgets({.rate = 100, .burst = 40, .rooms_per_hour = 4});
  auto budget = budgets.of(UserId{1});
  const auto now = Clock::now();
  budget->set_servers(4, now);  // 10 units here, the burst's quarter (never below one fan-out send)
  int taken = 0;
  while (budget->try_take(1, now)) ++taken;
  EXPECT_EQ(taken, 10);
  EXPECT_TRUE(budget->try_take(1, now + milliseconds(40)));  // 25 a second here
  EXPECT_EQ(budget->try_create_room(now), true);             // one room of the hour's four
  EXPECT_FALSE(budget->try_create_room(now));
}

TEST(UserBudgets, RoomsCreatedAnHourHaveTheirOwnAllowance) {
  UserBudgets budgets({.rate = 1000, .burst = 1000, .rooms_per_hour = 3});
  auto budget = budgets.of(UserId{1});
  const auto now = Clock::now();
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(budget->try_create_room(now)) << i;
  EXPECT_FALSE(budget->try_create_room(now));
  EXPECT_FALSE(budget->try_create_room(now + std::chrono::minutes(10)));
  EXPECT_TRUE(budget->try_create_room(now + std::chrono::minutes(21)));  // one back every 20 minutes
}

TEST(UserBudgets, ZeroMeansNoLimit) {
  UserBudgets budgets({.rate = 0, .burst = 1, .rooms_per_hour = 0});
  auto budget = budgets.of(UserId{1});
  const auto now = Clock::now();
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(budget->try_take(10, now) && budget->try_create_room(now));
}

TEST(UserBudgets, ReconnectingDoesNotRefillTheBudget) {
  UserBudgets budgets({.rate = 0.001, .burst = 10, .rooms_per_hour = 5});
  {
    auto budget = budgets.of(UserId{1});
    ASSERT_TRUE(budget->try_take(10, Clock::now()));
  }  // the last connection closed
  // Many other users come and go meanwhile (the table prunes settled ones).
  for (std::uint64_t u = 2; u < 2000; ++u) (void)budgets.of(UserId{u});
  EXPECT_FALSE(budgets.of(UserId{1})->try_take(10, Clock::now()));
}

}  // namespace
}  // namespace parley::gateway
