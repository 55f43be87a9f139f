// ConnectionLimits: each limit refuses the connection past it and nothing
// before, a released slot is a place again, and the counts stay exact when
// slots are taken and given back on many threads at once.

#include "gateway/connection_limits.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace parley::gateway {
namespace {

using Refusal = ConnectionLimits::Refusal;
namespace ip = boost::asio::ip;

TEST(ConnectionLimits, TheServerWideLimitRefusesTheConnectionPastItUntilOneCloses) {
  ConnectionLimits limits({.max_connections = 2, .per_address = 100, .per_user = 100, .devices_per_user = 100});
  auto a = limits.admit_connection(ip::make_address("10.0.0.1"));
  auto b = limits.admit_connection(ip::make_address("10.0.0.2"));
  ASSERT_TRUE(a.slot && b.slot);
  auto c = limits.admit_connection(ip::make_address("10.0.0.3"));
  EXPECT_FALSE(c.slot);
  EXPECT_EQ(c.refusal, Refusal::server_full);
  EXPECT_EQ(limits.open(), 2U);
  a.slot.release();
  EXPECT_EQ(limits.open(), 1U);
  EXPECT_TRUE(limits.admit_connection(ip::make_address("10.0.0.3")).slot);
}

TEST(ConnectionLimits, ThePerAddressLimitCountsEachSourceApartAndV4MappedAsV4) {
  ConnectionLimits limits({.max_connections = 100, .per_address = 2, .per_user = 100, .devices_per_user = 100});
  auto a = limits.admit_connection(ip::make_address("127.0.0.1"));
  auto b = limits.admit_connection(ip::make_address("::ffff:127.0.0.1"));
  ASSERT_TRUE(a.slot && b.slot);
  auto c = limits.admit_connection(ip::make_address("127.0.0.1"));
  EXPECT_FALSE(c.slot);
  EXPECT_EQ(c.refusal, Refusal::address_full);
  EXPECT_EQ(limits.open(), 2U);  // a refusal holds nothing
  EXPECT_TRUE(limits.admit_connection(ip::make_address("127.0.0.2")).slot);
  {
    ConnectionLimits::Slot moved = std::move(a.slot);  // a moved slot is released once
  }
  EXPECT_TRUE(limits.admit_connection(ip::make_address("127.0.0.1")).slot);
}

TEST(ConnectionLimits, PerUserLimitsCountConnectionsAndDistinctDevices) {
  ConnectionLimits limits({.max_connections = 100, .per_address = 100, .per_user = 3, .devices_per_user = 2});
  const UserId alice{1};
  const UserId bob{2};
  auto a1 = limits.admit_user(alice, "phone");
  auto a2 = limits.admit_user(alice, "laptop");
  ASSERT_TRUE(a1.slot && a2.slot);
  auto a3 = limits.admit_user(alice, "tablet");  // a third device
  EXPECT_FALSE(a3.slot);
  EXPECT_EQ(a3.refusal, Refusal::devices_full);
  auto a4 = limits.admit_user(alice, "phone");  // a second connection of a device already here
  ASSERT_TRUE(a4.slot);
  auto a5 = limits.admit_user(alice, "phone");
  EXPECT_FALSE(a5.slot);
  EXPECT_EQ(a5.refusal, Refusal::user_full);
  EXPECT_TRUE(limits.admit_user(bob, "phone").slot);  // another user is not affected
  a2.slot.release();
  EXPECT_TRUE(limits.admit_user(alice, "tablet").slot);
}

TEST(ConnectionLimits, CountsStayExactUnderConcurrentAdmitsAndReleases) {
  constexpr std::size_t kThreads = 8;
  constexpr int kRounds = 20000;
  // Each thread holds at most 17 slots at a time: no limit is ever reached.
  ConnectionLimits limits({.max_connections = 1000, .per_address = 200, .per_user = 200, .devices_per_user = 3});
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&limits, t] {
      std::vector<ConnectionLimits::Slot> held;
      for (int i = 0; i < kRounds; ++i) {
        auto connection = limits.admit_connection(ip::make_address_v4(0x0A000000U + static_cast<unsigned>(i % 7)));
        EXPECT_TRUE(connection.slot);
        held.push_back(std::move(connection.slot));
        auto user = limits.admit_user(UserId{static_cast<std::uint64_t>(1 + (i % 5))},
                                      "d" + std::to_string((static_cast<std::size_t>(i) + t) % 3));
        EXPECT_TRUE(user.slot);
        held.push_back(std::move(user.slot));
        if (held.size() > 16) held.erase(held.begin(), held.begin() + 8);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(limits.open(), 0U);
  // Every count is back to zero: each limit admits exactly its number again.
  std::vector<ConnectionLimits::Slot> again;
  for (int i = 0; i < 200; ++i) again.push_back(limits.admit_connection(ip::make_address("10.0.0.0")).slot);
  for (int i = 0; i < 200; ++i) again.push_back(limits.admit_user(UserId{1}, "d" + std::to_string(i % 3)).slot);
  for (const auto& slot : again) EXPECT_TRUE(slot);
  EXPECT_EQ(limits.admit_connection(ip::make_address("10.0.0.0")).refusal, Refusal::address_full);
  EXPECT_EQ(limits.admit_user(UserId{1}, "d0").refusal, Refusal::user_full);
  EXPECT_EQ(limits.admit_user(UserId{2}, "d3").refusal, Refusal::none);
}

// A stopping server waits for its connections to close: the wait ends when
// the last slot is given back (on another thread), and not before.
TEST(ConnectionLimits, WaitNoneOpenEndsWhenTheLastConnectionCloses) {
  ConnectionLimits limits({.max_connections = 10, .per_address = 10, .per_user = 10, .devices_per_user = 10});
  EXPECT_TRUE(limits.wait_none_open(std::chrono::steady_clock::now()));  // none open: at once
  auto a = limits.admit_connection(ip::make_address("10.0.0.1"));
  auto b = limits.admit_connection(ip::make_address("10.0.0.2"));
  ASSERT_TRUE(a.slot && b.slot);
  // Still open: the wait gives up at its deadline.
  EXPECT_FALSE(limits.wait_none_open(std::chrono::steady_clock::now() + std::chrono::milliseconds(20)));
  std::thread closer([&] {
    a.slot.release();
    b.slot.release();
  });
  EXPECT_TRUE(limits.wait_none_open(std::chrono::steady_clock::now() + std::chrono::seconds(30)));
  EXPECT_EQ(limits.open(), 0U);
  closer.join();
}

TEST(ConnectionLimits, TheDefaultIsBelowTheDescriptorLimit) {
  EXPECT_GE(ConnectionLimits::default_max_connections(), 1U);
}

// Each refusal is counted under its own label of
// parley_connections_refused_total.
TEST(ConnectionLimits, EachRefusalIsCountedUnderItsOwnLabel) {
  EXPECT_EQ(metric_label(Refusal::server_full), Metrics::Refusal::server_full);
  EXPECT_EQ(metric_label(Refusal::address_full), Metrics::Refusal::address_full);
  EXPECT_EQ(metric_label(Refusal::user_full), Metrics::Refusal::user_full);
  EXPECT_EQ(metric_label(Refusal::devices_full), Metrics::Refusal::devices_full);
}

}  // namespace
}  // namespace parley::gateway
