// The StateStore contract: routes, presence with a TTL, device presence,
// announcements and watchers, pub/sub.
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

// --- device presence, announcements, watchers -------------------------------

using ports::PresenceStatus;

TEST_P(StateStoreContract, DevicePresenceFollowsTheDevices) {
  const UserId user = user_for(dir_, 1);
  EXPECT_EQ(store_->presence(user)->status, PresenceStatus::offline);
  auto first = store_->touch_device(user, "phone", 30s, 1000);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->before, PresenceStatus::offline);
  EXPECT_EQ(first->after, PresenceStatus::online);
  auto second = store_->touch_device(user, "laptop", 30s, 1001);
  EXPECT_FALSE(second->changed());
  EXPECT_EQ(store_->presence(user)->status, PresenceStatus::online);

  auto one_left = store_->remove_device(user, "phone", 1002);
  EXPECT_FALSE(one_left->changed());
  EXPECT_EQ(one_left->after, PresenceStatus::online);
  auto unknown = store_->remove_device(user, "tablet", 1003);  // changes nothing
  EXPECT_FALSE(unknown->changed());
  auto last = store_->remove_device(user, "laptop", 1004);
  EXPECT_EQ(last->before, PresenceStatus::online);
  EXPECT_EQ(last->after, PresenceStatus::offline);
  EXPECT_EQ(*store_->presence(user), (ports::PresenceState{PresenceStatus::offline, 1004}));
  EXPECT_EQ(store_->presence(UserId{user.value + 1})->status, PresenceStatus::offline);
}

// The push step asks for many users at once: each answer is presence()'s.
TEST_P(StateStoreContract, PresenceOfManyUsersIsEachOnesPresenceInOrder) {
  const UserId gone = user_for(dir_, 1);
  const UserId here = user_for(dir_, 2);
  const UserId never = user_for(dir_, 3);
  ASSERT_TRUE(store_->touch_device(gone, "phone", 30s, 1000).ok());
  ASSERT_TRUE(store_->remove_device(gone, "phone", 1500).ok());
  ASSERT_TRUE(store_->touch_device(here, "laptop", 30s, 1600).ok());
  const std::vector<UserId> users{here, never, gone};
  auto all = store_->presence_of(users);
  ASSERT_TRUE(all.ok()) << all.error().message;
  ASSERT_EQ(all->size(), 3U);
  for (std::size_t i = 0; i < users.size(); ++i) EXPECT_EQ((*all)[i], *store_->presence(users[i])) << i;
  EXPECT_EQ((*all)[0].status, PresenceStatus::online);
  EXPECT_EQ((*all)[1], (ports::PresenceState{PresenceStatus::offline, 0}));
  EXPECT_EQ((*all)[2], (ports::PresenceState{PresenceStatus::offline, 1500}));
  EXPECT_TRUE(store_->presence_of({})->empty());
}

TEST_P(StateStoreContract, AwayIsAFlagOfAPresentUser) {
  const UserId user = user_for(dir_, 1);
  auto offline = store_->set_away(user, true);
  EXPECT_FALSE(offline->changed());
  EXPECT_EQ(offline->after, PresenceStatus::offline);

  ASSERT_TRUE(store_->touch_device(user, "phone", 30s, 1000).ok());
  auto away = store_->set_away(user, true);
  EXPECT_EQ(away->before, PresenceStatus::online);
  EXPECT_EQ(away->after, PresenceStatus::away);
  EXPECT_FALSE(store_->touch_device(user, "laptop", 30s, 1001)->changed());  // another device: still away
  EXPECT_EQ(store_->presence(user)->status, PresenceStatus::away);
  auto back = store_->set_away(user, false);
  EXPECT_EQ(back->after, PresenceStatus::online);

  ASSERT_TRUE(store_->set_away(user, true).ok());
  ASSERT_TRUE(store_->remove_device(user, "phone", 1002).ok());
  auto gone = store_->remove_device(user, "laptop", 1003);
  EXPECT_EQ(gone->before, PresenceStatus::away);
  EXPECT_EQ(gone->after, PresenceStatus::offline);
  // Going offline clears the flag: the next connection is online.
  EXPECT_EQ(store_->touch_device(user, "phone", 30s, 1004)->after, PresenceStatus::online);
}

TEST_P(StateStoreContract, DevicesExpireAfterTheirTtl) {
  if (!GetParam().honours_clock) GTEST_SKIP() << "the engine keeps its own time";
  const UserId user = user_for(dir_, 1);
  const UserId other = user_for(dir_, 2);
  ASSERT_TRUE(store_->touch_device(user, "phone", 30s, 1000).ok());
  ASSERT_TRUE(store_->touch_device(user, "laptop", 30s, 1000).ok());
  ASSERT_TRUE(store_->touch_device(other, "phone", 30s, 1000).ok());
  clock_.advance(20s);
  ASSERT_TRUE(store_->touch_device(user, "laptop", 30s, 21000).ok());  // a heartbeat
  EXPECT_TRUE(store_->expire_devices(100)->empty());
  clock_.advance(10s);  // phone and other's device ran out; laptop has 20 s left
  auto expired = store_->expire_devices(100);
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(expired.value(), std::vector<UserId>{other});
  EXPECT_EQ(*store_->presence(other), (ports::PresenceState{PresenceStatus::offline, 1000}));
  EXPECT_EQ(store_->presence(user)->status, PresenceStatus::online);
  clock_.advance(20s);
  EXPECT_EQ(store_->expire_devices(100).value(), std::vector<UserId>{user});
  // last_seen is the last sign of life, not the moment of the sweep.
  EXPECT_EQ(*store_->presence(user), (ports::PresenceState{PresenceStatus::offline, 21000}));
  EXPECT_TRUE(store_->expire_devices(100)->empty());  // each user is reported once
}

TEST_P(StateStoreContract, AnnounceReportsEachChangeOnce) {
  const UserId user = user_for(dir_, 1);
  const UserId stranger = user_for(dir_, 2);
  EXPECT_FALSE(store_->announce(user, 10).value().has_value());  // offline, as friends believe
  ASSERT_TRUE(store_->touch_device(user, "phone", 30s, 10).ok());
  auto online = store_->announce(user, 20);
  ASSERT_TRUE(online.ok() && online->has_value());
  EXPECT_EQ(**online, (ports::PresenceState{PresenceStatus::online, 20}));
  EXPECT_FALSE(store_->announce(user, 21).value().has_value());
  EXPECT_EQ(store_->announced({user, stranger}).value(),
            (std::vector<ports::PresenceState>{{PresenceStatus::online, 20}, {PresenceStatus::offline, 0}}));

  // A flap between two announcements is no change.
  ASSERT_TRUE(store_->remove_device(user, "phone", 30).ok());
  ASSERT_TRUE(store_->touch_device(user, "phone", 30s, 31).ok());
  EXPECT_FALSE(store_->announce(user, 32).value().has_value());

  ASSERT_TRUE(store_->remove_device(user, "phone", 40).ok());
  auto offline = store_->announce(user, 45);
  ASSERT_TRUE(offline.ok() && offline->has_value());
  EXPECT_EQ(**offline, (ports::PresenceState{PresenceStatus::offline, 40}));  // when it went, not when told
  EXPECT_EQ(store_->announced({user}).value().front(), (ports::PresenceState{PresenceStatus::offline, 40}));
}

TEST_P(StateStoreContract, WatchersAreAddedAndRemovedInBulk) {
  const UserId watcher = user_for(dir_, 1);
  const UserId second = user_for(dir_, 2);
  std::vector<UserId> targets;
  for (std::uint64_t n = 100; n < 5100; ++n) targets.push_back(user_for(dir_, n));
  ASSERT_TRUE(store_->add_watcher(watcher, targets).ok());
  ASSERT_TRUE(store_->add_watcher(watcher, {targets[0]}).ok());  // twice: listed once
  ASSERT_TRUE(store_->add_watcher(second, {targets[0]}).ok());
  auto both = store_->watchers(targets[0]);
  ASSERT_TRUE(both.ok());
  std::sort(both->begin(), both->end());
  EXPECT_EQ(both.value(), (std::vector<UserId>{watcher, second}));
  EXPECT_EQ(store_->watchers(targets[4999]).value(), std::vector<UserId>{watcher});
  EXPECT_TRUE(store_->watchers(watcher)->empty());

  ASSERT_TRUE(store_->remove_watcher(watcher, targets).ok());
  EXPECT_EQ(store_->watchers(targets[0]).value(), std::vector<UserId>{second});
  EXPECT_TRUE(store_->watchers(targets[4999])->empty());
  EXPECT_TRUE(store_->remove_watcher(watcher, {targets[1]}).ok());  // not there: fine
}

TEST_P(StateStoreContract, BadDevicePresenceIsRejected) {
  auto ttl = store_->touch_device(user_for(dir_, 1), "phone", 0ms, 1);
  ASSERT_FALSE(ttl.ok());
  EXPECT_EQ(ttl.error().code, ErrorCode::bad_request);
  auto device = store_->touch_device(user_for(dir_, 1), "", 30s, 1);
  ASSERT_FALSE(device.ok());
  EXPECT_EQ(device.error().code, ErrorCode::bad_request);
}

TEST_P(StateStoreContract, BadInputIsRejected) {
  auto route = store_->add_route(user_for(dir_, 1), "");
  ASSERT_FALSE(route.ok());
  EXPECT_EQ(route.error().code, ErrorCode::bad_request);
}

// --- the server registry -------------------------------------------------

TEST_P(StateStoreContract, ServersRegisterRefreshAndLeave) {
  EXPECT_TRUE(store_->servers()->empty());
  // A heartbeat does not register a server that is not registered.
  EXPECT_FALSE(store_->heartbeat_server({"node-2", "127.0.0.1:8002", 7}, 30s).value());
  EXPECT_TRUE(store_->servers()->empty());
  ASSERT_TRUE(store_->register_server({"node-2", "127.0.0.1:8002", 7}, 30s).ok());
  ASSERT_TRUE(store_->register_server({"node-1", "127.0.0.1:8001", 3}, 30s).ok());
  EXPECT_EQ(*store_->servers(),
            (std::vector<ports::ServerInfo>{{"node-1", "127.0.0.1:8001", 3}, {"node-2", "127.0.0.1:8002", 7}}));
  // A heartbeat replaces the load (and the endpoint).
  EXPECT_TRUE(store_->heartbeat_server({"node-2", "127.0.0.1:9002", 0}, 30s).value());
  EXPECT_EQ(store_->servers()->back(), (ports::ServerInfo{"node-2", "127.0.0.1:9002", 0}));

  ASSERT_TRUE(store_->remove_server("node-1").ok());
  EXPECT_EQ(*store_->servers(), (std::vector<ports::ServerInfo>{{"node-2", "127.0.0.1:9002", 0}}));
  EXPECT_TRUE(store_->remove_server("node-1").ok());                                     // unknown: nothing changes
  EXPECT_TRUE(store_->expire_servers()->empty());                                        // node-2 is alive
  EXPECT_FALSE(store_->heartbeat_server({"node-1", "127.0.0.1:8001", 0}, 30s).value());  // it left
}

TEST_P(StateStoreContract, ARemovedServerTakesItsRoutesWithIt) {
  const UserId user = user_for(dir_, 1);
  const UserId other = user_for(dir_, 2);
  ASSERT_TRUE(store_->register_server({"node-a", "127.0.0.1:8001", 1}, 30s).ok());
  ASSERT_TRUE(store_->add_route(user, "node-a").ok());
  ASSERT_TRUE(store_->add_route(user, "node-b").ok());
  ASSERT_TRUE(store_->add_route(other, "node-a").ok());
  ASSERT_TRUE(store_->remove_server("node-a").ok());
  EXPECT_EQ(*store_->routes(user), std::vector<std::string>{"node-b"});
  EXPECT_TRUE(store_->routes(other)->empty());
  // A route removed before its server goes is not brought back.
  ASSERT_TRUE(store_->add_route(other, "node-b").ok());
  ASSERT_TRUE(store_->remove_route(other, "node-b").ok());
  ASSERT_TRUE(store_->remove_server("node-b").ok());
  EXPECT_TRUE(store_->routes(user)->empty());
  EXPECT_TRUE(store_->routes(other)->empty());
}

TEST_P(StateStoreContract, ADeadServerExpiresOnceWithItsRoutes) {
  const UserId user = user_for(dir_, 1);
  ASSERT_TRUE(store_->register_server({"node-live", "127.0.0.1:8001", 1}, 60s).ok());
  ASSERT_TRUE(store_->add_route(user, "node-live").ok());
  ASSERT_TRUE(store_->add_route(user, "node-dead").ok());
  std::vector<std::string> expired;
  if (GetParam().honours_clock) {
    ASSERT_TRUE(store_->register_server({"node-dead", "127.0.0.1:8002", 1}, 30s).ok());
    clock_.advance(29s);
    EXPECT_TRUE(store_->expire_servers()->empty());
    EXPECT_EQ(store_->servers()->size(), 2U);
    clock_.advance(1s);
    expired = store_->expire_servers().value();
  } else {
    // The engine keeps its own time: a 1 ms heartbeat runs out on its own.
    ASSERT_TRUE(store_->register_server({"node-dead", "127.0.0.1:8002", 1}, 1ms).ok());
    const auto deadline = std::chrono::steady_clock::now() + kPatience;
    while (expired.empty() && std::chrono::steady_clock::now() < deadline) expired = store_->expire_servers().value();
  }
  EXPECT_EQ(expired, std::vector<std::string>{"node-dead"});
  EXPECT_EQ(*store_->servers(), (std::vector<ports::ServerInfo>{{"node-live", "127.0.0.1:8001", 1}}));
  EXPECT_EQ(*store_->routes(user), std::vector<std::string>{"node-live"});
  EXPECT_TRUE(store_->expire_servers()->empty());  // reported once
  // A server that was only stalled learns from its next heartbeat that it
  // was retired (so that it adds its routes again before registering).
  EXPECT_FALSE(store_->heartbeat_server({"node-dead", "127.0.0.1:8002", 1}, 30s).value());
  EXPECT_EQ(store_->servers()->size(), 1U);
}

TEST_P(StateStoreContract, BadServerHeartbeatsAreRejected) {
  for (const bool refresh : {false, true}) {
    auto write = [&](const ports::ServerInfo& info, std::chrono::milliseconds ttl) -> Result<void> {
      if (!refresh) return store_->register_server(info, ttl);
      auto r = store_->heartbeat_server(info, ttl);
      if (!r) return r.error();
      return Ok{};
    };
    auto id = write({"", "127.0.0.1:8001", 0}, 30s);
    ASSERT_FALSE(id.ok());
    EXPECT_EQ(id.error().code, ErrorCode::bad_request);
    auto ttl = write({"node-1", "127.0.0.1:8001", 0}, 0ms);
    ASSERT_FALSE(ttl.ok());
    EXPECT_EQ(ttl.error().code, ErrorCode::bad_request);
  }
  EXPECT_TRUE(store_->servers()->empty());
}

}  // namespace
}  // namespace parley::contract
