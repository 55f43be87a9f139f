// The StateStore contract: routes, presence with a TTL, pub/sub.
//
// Deliveries are awaited on a condition variable rather than assumed to be
// synchronous, so the same tests hold for an engine whose handlers run on
// its own thread (Redis).

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "contracts.hpp"
#include "log_helpers.hpp"

namespace parley::contract {
namespace {

using namespace std::chrono_literals;

// Collects what one subscriber received.
class Inbox {
 public:
  std::function<void(std::string_view)> handler() {
    return [this](std::string_view payload) {
      {
        std::lock_guard lock(mu_);
        received_.emplace_back(payload);
      }
      cv_.notify_all();
    };
  }

  // Waits until `payload` has arrived; false if it does not within patience.
  bool wait_for(const std::string& payload) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kPatience,
                        [&] { return std::find(received_.begin(), received_.end(), payload) != received_.end(); });
  }

  std::vector<std::string> received() {
    std::lock_guard lock(mu_);
    return received_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> received_;
};

UserId user_for(const TempDir& dir, std::uint64_t n) {
  return UserId{(std::hash<std::string>{}(dir.path()) & 0xFFFFFFFFULL) * 1000 + n};
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST_P(StateStoreContract, RoutesAddListRemove) {
  const UserId user = user_for(dir_, 1);
  EXPECT_TRUE(store_->routes(user)->empty());
  ASSERT_TRUE(store_->add_route(user, "server-a").ok());
  ASSERT_TRUE(store_->add_route(user, "server-b").ok());
  ASSERT_TRUE(store_->add_route(UserId{user.value + 1}, "server-c").ok());
  EXPECT_EQ(sorted(*store_->routes(user)), (std::vector<std::string>{"server-a", "server-b"}));

  ASSERT_TRUE(store_->remove_route(user, "server-a").ok());
  EXPECT_EQ(*store_->routes(user), std::vector<std::string>{"server-b"});
  ASSERT_TRUE(store_->remove_route(user, "server-b").ok());
  EXPECT_TRUE(store_->routes(user)->empty());
  // Removing what is not there is fine.
  EXPECT_TRUE(store_->remove_route(user, "server-b").ok());
  EXPECT_EQ(*store_->routes(UserId{user.value + 1}), std::vector<std::string>{"server-c"});
}

TEST_P(StateStoreContract, AddingARouteTwiceListsItOnce) {
  const UserId user = user_for(dir_, 1);
  ASSERT_TRUE(store_->add_route(user, "server-a").ok());
  ASSERT_TRUE(store_->add_route(user, "server-a").ok());
  EXPECT_EQ(*store_->routes(user), std::vector<std::string>{"server-a"});
}

TEST_P(StateStoreContract, PresenceExpiresAfterItsTtl) {
  if (!GetParam().honours_clock) GTEST_SKIP() << "the engine keeps its own time";
  const UserId user = user_for(dir_, 1);
  EXPECT_FALSE(*store_->is_present(user));
  ASSERT_TRUE(store_->touch_presence(user, 30s).ok());
  EXPECT_TRUE(*store_->is_present(user));
  clock_.advance(29s);
  EXPECT_TRUE(*store_->is_present(user));
  ASSERT_TRUE(store_->touch_presence(user, 30s).ok());  // a heartbeat extends it
  clock_.advance(29s);
  EXPECT_TRUE(*store_->is_present(user));
  clock_.advance(1s);
  EXPECT_FALSE(*store_->is_present(user));
  EXPECT_FALSE(*store_->is_present(UserId{user.value + 1}));
}

TEST_P(StateStoreContract, PublishReachesEverySubscriberOnce) {
  const std::string channel = dir_.unique("server");
  Inbox first;
  Inbox second;
  auto sub1 = store_->subscribe(channel, first.handler());
  auto sub2 = store_->subscribe(channel, second.handler());
  ASSERT_TRUE(sub1.ok() && sub2.ok());
  ASSERT_TRUE(store_->publish(channel, "one").ok());
  ASSERT_TRUE(store_->publish(channel, "two").ok());
  ASSERT_TRUE(first.wait_for("two"));
  ASSERT_TRUE(second.wait_for("two"));
  EXPECT_EQ(first.received(), (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(second.received(), (std::vector<std::string>{"one", "two"}));
}

TEST_P(StateStoreContract, PublishDoesNotReachOtherChannels) {
  const std::string mine = dir_.unique("mine");
  const std::string other = dir_.unique("other");
  Inbox inbox;
  auto sub = store_->subscribe(mine, inbox.handler());
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(store_->publish(other, "not for me").ok());
  ASSERT_TRUE(store_->publish(mine, "for me").ok());
  ASSERT_TRUE(inbox.wait_for("for me"));
  EXPECT_EQ(inbox.received(), std::vector<std::string>{"for me"});
}

TEST_P(StateStoreContract, PublishWithNoSubscriberIsDropped) {
  EXPECT_TRUE(store_->publish(dir_.unique("nobody"), "lost").ok());
}

TEST_P(StateStoreContract, DestroyedSubscriptionReceivesNoMore) {
  const std::string channel = dir_.unique("server");
  Inbox leaving;
  Inbox staying;
  auto leaving_sub = store_->subscribe(channel, leaving.handler());
  auto staying_sub = store_->subscribe(channel, staying.handler());
  ASSERT_TRUE(leaving_sub.ok() && staying_sub.ok());
  ASSERT_TRUE(store_->publish(channel, "before").ok());
  ASSERT_TRUE(leaving.wait_for("before"));

  leaving_sub->reset();
  ASSERT_TRUE(store_->publish(channel, "after").ok());
  ASSERT_TRUE(staying.wait_for("after"));
  EXPECT_EQ(leaving.received(), std::vector<std::string>{"before"});
}

// A publish racing with the end of a subscription: once the destructor has
// returned, the handler is not called, not even by a publish already running.
TEST_P(StateStoreContract, NoDeliveryAfterTheSubscriptionIsDestroyed) {
  const std::string channel = dir_.unique("race");
  std::atomic<bool> stop{false};
  std::jthread publisher([&] {
    while (!stop.load()) ASSERT_TRUE(store_->publish(channel, "tick").ok());
  });
  for (int round = 0; round < 200; ++round) {
    std::atomic<bool> ended{false};
    std::atomic<int> late{0};
    std::atomic<int> calls{0};
    auto sub = store_->subscribe(channel, [&](std::string_view) {
      ++calls;
      if (ended.load()) ++late;
    });
    ASSERT_TRUE(sub.ok());
    sub->reset();
    ended.store(true);
    EXPECT_EQ(late.load(), 0) << "round " << round;
  }
  stop.store(true);
}

TEST_P(StateStoreContract, AHandlerMayEndItsOwnSubscription) {
  const std::string channel = dir_.unique("self");
  std::unique_ptr<ports::Subscription> sub;
  std::mutex mu;
  std::condition_variable cv;
  int calls = 0;
  auto made = store_->subscribe(channel, [&](std::string_view) {
    std::lock_guard lock(mu);
    ++calls;
    sub.reset();
    cv.notify_all();
  });
  ASSERT_TRUE(made.ok());
  {
    std::lock_guard lock(mu);
    sub = std::move(made).value();
  }
  ASSERT_TRUE(store_->publish(channel, "first").ok());
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, kPatience, [&] { return calls == 1; }));
    EXPECT_EQ(sub, nullptr);
  }
  ASSERT_TRUE(store_->publish(channel, "second").ok());
  std::lock_guard lock(mu);
  EXPECT_EQ(calls, 1);
}

TEST_P(StateStoreContract, BadInputIsRejected) {
  auto ttl = store_->touch_presence(user_for(dir_, 1), 0ms);
  ASSERT_FALSE(ttl.ok());
  EXPECT_EQ(ttl.error().code, ErrorCode::bad_request);
  auto route = store_->add_route(user_for(dir_, 1), "");
  ASSERT_FALSE(route.ok());
  EXPECT_EQ(route.error().code, ErrorCode::bad_request);
}

}  // namespace
}  // namespace parley::contract
