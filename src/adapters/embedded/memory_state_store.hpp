#pragma once
// MemoryStateStore: the embedded StateStore, plain maps in this process.
//
// Routes and presence are sharded by user id, one mutex per shard. Pub/sub is
// synchronous: publish() calls each subscriber's handler on the publishing
// thread, with no store lock held (handlers may publish or subscribe in
// turn). Once a Subscription's destructor has returned, its handler is never
// called again, even by a publish that was already running.
//
// Nothing here survives the process; per the port, nothing here has to.

#include <array>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/local_subscribers.hpp"
#include "ports/state_store.hpp"

namespace parley::embedded {

class MemoryStateStore final : public ports::StateStore {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  // `clock` decides when presence expires; tests inject a fake one.
  explicit MemoryStateStore(Clock clock = [] { return std::chrono::steady_clock::now(); });
  ~MemoryStateStore() override;

  MemoryStateStore(const MemoryStateStore&) = delete;
  MemoryStateStore& operator=(const MemoryStateStore&) = delete;

  [[nodiscard]] Result<void> add_route(UserId user, std::string_view server) override;
  [[nodiscard]] Result<void> remove_route(UserId user, std::string_view server) override;
  [[nodiscard]] Result<std::vector<std::string>> routes(UserId user) override;

  [[nodiscard]] Result<void> register_server(const ports::ServerInfo& server, std::chrono::milliseconds ttl) override;
  [[nodiscard]] Result<bool> heartbeat_server(const ports::ServerInfo& server, std::chrono::milliseconds ttl) override;
  [[nodiscard]] Result<void> remove_server(std::string_view server) override;
  [[nodiscard]] Result<std::vector<ports::ServerInfo>> servers() override;
  [[nodiscard]] Result<std::vector<std::string>> expire_servers() override;

  // bad_request for a ttl <= 0.

  // bad_request for a ttl <= 0 or an empty device.
  [[nodiscard]] Result<ports::PresenceTransition> touch_device(UserId user, std::string_view device,
                                                               std::chrono::milliseconds ttl, TimeMs now) override;
  [[nodiscard]] Result<ports::PresenceTransition> remove_device(UserId user, std::string_view device,
                                                                TimeMs now) override;
  [[nodiscard]] Result<ports::PresenceTransition> set_away(UserId user, bool away) override;
  [[nodiscard]] Result<std::vector<UserId>> expire_devices(std::size_t max) override;
  [[nodiscard]] Result<ports::PresenceState> presence(UserId user) override;
  [[nodiscard]] Result<std::optional<ports::PresenceState>> announce(UserId user, TimeMs now) override;
  [[nodiscard]] Result<std::vector<ports::PresenceState>> announced(const std::vector<UserId>& users) override;
  [[nodiscard]] Result<void> add_watcher(UserId watcher, const std::vector<UserId>& targets) override;
  [[nodiscard]] Result<void> remove_watcher(UserId watcher, const std::vector<UserId>& targets) override;
  [[nodiscard]] Result<std::vector<UserId>> watchers(UserId user) override;

  [[nodiscard]] Result<void> publish(std::string_view channel, std::string payload) override;
  [[nodiscard]] Result<std::unique_ptr<ports::Subscription>> subscribe(
      std::string_view channel, std::function<void(std::string_view payload)> handler) override;

 private:
  class Sub;

  struct Device {
    std::chrono::steady_clock::time_point expiry;
    TimeMs last_active = 0;
  };
  struct Devices {
    std::unordered_map<std::string, Device> entries;  // never empty while in Shard::devices
    bool away = false;
  };

  struct Shard {
    std::mutex mu;  // guards every member below
    std::unordered_map<std::uint64_t, std::set<std::string, std::less<>>> routes;
    // Device presence: the live entries of each present user, and every
    // entry by expiry so that expire_devices pops only what ran out.
    std::unordered_map<std::uint64_t, Devices> devices;
    std::set<std::tuple<std::chrono::steady_clock::time_point, std::uint64_t, std::string>> expiries;
    std::unordered_map<std::uint64_t, TimeMs> last_seen;                // when each user last went offline
    std::unordered_map<std::uint64_t, ports::PresenceState> announced;  // absent: offline, never seen
    std::unordered_map<std::uint64_t, std::unordered_set<std::uint64_t>> watchers;
  };

  struct Registered {
    ports::ServerInfo info;
    std::chrono::steady_clock::time_point expiry;
  };

  // Drops every route to `server` (a scan of all shards: servers go rarely).
  void drop_routes_of(std::string_view server);

  [[nodiscard]] Shard& shard(UserId user) noexcept { return shards_[user.value % shards_.size()]; }
  // The live status of a user; the caller holds the shard's lock.
  [[nodiscard]] static ports::PresenceStatus live_status(const Shard& s, std::uint64_t user);

  const Clock clock_;
  std::array<Shard, 16> shards_;
  std::mutex servers_mu_;  // guards servers_
  std::map<std::string, Registered, std::less<>> servers_;

  // Shared with the subscriptions (weakly), so that a subscription that
  // outlives the store is still safe to destroy.
  std::shared_ptr<LocalSubscribers> subscribers_;
};

}  // namespace parley::embedded
