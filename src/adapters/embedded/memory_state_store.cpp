#include "adapters/embedded/memory_state_store.hpp"

#include <algorithm>
#include <utility>

namespace parley::embedded {

// A subscription: its place in the store's LocalSubscribers.
class MemoryStateStore::Sub final : public ports::Subscription {
 public:
  explicit Sub(std::unique_ptr<LocalSubscribers::Subscriber> subscriber) : subscriber_(std::move(subscriber)) {}

 private:
  std::unique_ptr<LocalSubscribers::Subscriber> subscriber_;
};

MemoryStateStore::MemoryStateStore(Clock clock)
    : clock_(std::move(clock)), subscribers_(std::make_shared<LocalSubscribers>()) {}

MemoryStateStore::~MemoryStateStore() = default;

Result<void> MemoryStateStore::add_route(UserId user, std::string_view server) {
  if (server.empty()) return make_error(ErrorCode::bad_request, "add_route: empty server");
  Shard& s = shard(user);
  std::lock_guard lock(s.mu);
  s.routes[user.value].emplace(server);
  return Ok{};
}

Result<void> MemoryStateStore::remove_route(UserId user, std::string_view server) {
  Shard& s = shard(user);
  std::lock_guard lock(s.mu);
  auto it = s.routes.find(user.value);
  if (it == s.routes.end()) return Ok{};
  if (auto found = it->second.find(server); found != it->second.end()) it->second.erase(found);
  if (it->second.empty()) s.routes.erase(it);
  return Ok{};
}

Result<std::vector<std::string>> MemoryStateStore::routes(UserId user) {
  Shard& s = shard(user);
  std::lock_guard lock(s.mu);
  auto it = s.routes.find(user.value);
  if (it == s.routes.end()) return std::vector<std::string>{};
  return std::vector<std::string>(it->second.begin(), it->second.end());
}

Result<void> MemoryStateStore::register_server(const ports::ServerInfo& server, std::chrono::milliseconds ttl) {
  if (server.id.empty()) return make_error(ErrorCode::bad_request, "register_server: empty id");
  if (ttl <= std::chrono::milliseconds(0)) return make_error(ErrorCode::bad_request, "register_server: ttl <= 0");
  const auto expiry = clock_() + ttl;
  std::lock_guard lock(servers_mu_);
  servers_.insert_or_assign(server.id, Registered{server, expiry});
  return Ok{};
}

Result<bool> MemoryStateStore::heartbeat_server(const ports::ServerInfo& server, std::chrono::milliseconds ttl) {
  if (server.id.empty()) return make_error(ErrorCode::bad_request, "heartbeat_server: empty id");
  if (ttl <= std::chrono::milliseconds(0)) return make_error(ErrorCode::bad_request, "heartbeat_server: ttl <= 0");
  const auto expiry = clock_() + ttl;
  std::lock_guard lock(servers_mu_);
  auto it = servers_.find(server.id);
  if (it == servers_.end()) return false;
  it->second = Registered{server, expiry};
  return true;
}

Result<void> MemoryStateStore::remove_server(std::string_view server) {
  {
    std::lock_guard lock(servers_mu_);
    if (auto it = servers_.find(server); it != servers_.end()) servers_.erase(it);
  }
  drop_routes_of(server);
  return Ok{};
}

Result<std::vector<ports::ServerInfo>> MemoryStateStore::servers() {
  const auto now = clock_();
  std::vector<ports::ServerInfo> out;
  std::lock_guard lock(servers_mu_);
  for (const auto& [id, entry] : servers_) {
    if (entry.expiry > now) out.push_back(entry.info);
  }
  return out;
}

Result<std::vector<std::string>> MemoryStateStore::expire_servers() {
  const auto now = clock_();
  std::vector<std::string> dead;
  {
    std::lock_guard lock(servers_mu_);
    for (auto it = servers_.begin(); it != servers_.end();) {
      if (it->second.expiry <= now) {
        dead.push_back(it->first);
        it = servers_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const auto& server : dead) drop_routes_of(server);
  return dead;
}

void MemoryStateStore::drop_routes_of(std::string_view server) {
  for (Shard& s : shards_) {
    std::lock_guard lock(s.mu);
    for (auto it = s.routes.begin(); it != s.routes.end();) {
      if (auto found = it->second.find(server); found != it->second.end()) it->second.erase(found);
      it = it->second.empty() ? s.routes.erase(it) : std::next(it);
    }
  }
}

ports::PresenceStatus MemoryStateStore::live_status(const Shard& s, std::uint64_t user) {
  auto it = s.devices.find(user);
  if (it == s.devices.end()) return ports::PresenceStatus::offline;
  return it->second.away ? ports::PresenceStatus::away : ports::PresenceStatus::online;
}

Result<ports::PresenceTransition> MemoryStateStore::touch_device(UserId user, std::string_view device,
                                                                 std::chrono::milliseconds ttl, TimeMs now) {
  if (ttl <= std::chrono::milliseconds(0)) return make_error(ErrorCode::bad_request, "touch_device: ttl <= 0");
  if (device.empty()) return make_error(ErrorCode::bad_request, "touch_device: empty device");
  const auto expiry = clock_() + ttl;
  Shard& s = shard(user);
  std::lock_guard lock(s.mu);
  ports::PresenceTransition t{live_status(s, user.value), {}};
  Devices& devices = s.devices[user.value];
  auto [it, inserted] = devices.entries.try_emplace(std::string(device));
  if (!inserted) s.expiries.erase({it->second.expiry, user.value, it->first});
  it->second = Device{expiry, now};
  s.expiries.emplace(expiry, user.value, it->first);
  t.after = live_status(s, user.value);
  return t;
}

Result<ports::PresenceTransition> MemoryStateStore::remove_device(UserId user, std::string_view device, TimeMs now) {
  Shard& s = shard(user);
  std::lock_guard lock(s.mu);
  ports::PresenceTransition t{live_status(s, user.value), {}};
  if (auto it = s.devices.find(user.value); it != s.devices.end()) {
    if (auto d = it->second.entries.find(std::string(device)); d != it->second.entries.end()) {
      s.expiries.erase({d->second.expiry, user.value, d->first});
      it->second.entries.erase(d);
      if (it->second.entries.empty()) {
        s.devices.erase(it);
        s.last_seen[user.value] = now;
      }
    }
  }
  t.after = live_status(s, user.value);
  return t;
}

Result<ports::PresenceTransition> MemoryStateStore::set_away(UserId user, bool away) {
  Shard& s = shard(user);
  std::lock_guard lock(s.mu);
  ports::PresenceTransition t{live_status(s, user.value), {}};
  if (auto it = s.devices.find(user.value); it != s.devices.end()) it->second.away = away;
  t.after = live_status(s, user.value);
  return t;
}

Result<std::vector<UserId>> MemoryStateStore::expire_devices(std::size_t max) {
  const auto now = clock_();
  std::vector<UserId> offline;
  std::size_t dropped = 0;
  for (Shard& s : shards_) {
    std::lock_guard lock(s.mu);
    while (dropped < max && !s.expiries.empty() && std::get<0>(*s.expiries.begin()) <= now) {
      auto node = s.expiries.extract(s.expiries.begin());
      const auto& [expiry, user, device] = node.value();
      ++dropped;
      auto it = s.devices.find(user);
      if (it == s.devices.end()) continue;
      auto d = it->second.entries.find(device);
      if (d == it->second.entries.end()) continue;
      const TimeMs last_active = d->second.last_active;
      it->second.entries.erase(d);
      TimeMs& seen = s.last_seen[user];
      seen = std::max(seen, last_active);
      if (it->second.entries.empty()) {
        s.devices.erase(it);
        offline.push_back(UserId{user});
      }
    }
  }
  return offline;
}

Result<ports::PresenceState> MemoryStateStore::presence(UserId user) {
  Shard& s = shard(user);
  std::lock_guard lock(s.mu);
  ports::PresenceState state{live_status(s, user.value), 0};
  if (auto it = s.devices.find(user.value); it != s.devices.end()) {
    for (const auto& [device, d] : it->second.entries) state.last_seen = std::max(state.last_seen, d.last_active);
  } else if (auto seen = s.last_seen.find(user.value); seen != s.last_seen.end()) {
    state.last_seen = seen->second;
  }
  return state;
}

Result<std::optional<ports::PresenceState>> MemoryStateStore::announce(UserId user, TimeMs now) {
  Shard& s = shard(user);
  std::lock_guard lock(s.mu);
  const ports::PresenceStatus live = live_status(s, user.value);
  auto it = s.announced.find(user.value);
  const ports::PresenceStatus told = it == s.announced.end() ? ports::PresenceStatus::offline : it->second.status;
  if (live == told) return std::optional<ports::PresenceState>{};
  ports::PresenceState state{live, now};
  if (live == ports::PresenceStatus::offline) {
    auto seen = s.last_seen.find(user.value);
    state.last_seen = seen == s.last_seen.end() ? now : seen->second;
  }
  s.announced[user.value] = state;
  return std::optional<ports::PresenceState>{state};
}

Result<std::vector<ports::PresenceState>> MemoryStateStore::announced(const std::vector<UserId>& users) {
  std::vector<ports::PresenceState> out;
  out.reserve(users.size());
  for (UserId user : users) {
    Shard& s = shard(user);
    std::lock_guard lock(s.mu);
    auto it = s.announced.find(user.value);
    out.push_back(it == s.announced.end() ? ports::PresenceState{} : it->second);
  }
  return out;
}

Result<void> MemoryStateStore::add_watcher(UserId watcher, const std::vector<UserId>& targets) {
  // Grouped by shard so that each shard's lock is taken once, not once per
  // target: a user with thousands of friends takes 16 locks.
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    Shard& s = shards_[i];
    std::lock_guard lock(s.mu);
    for (UserId t : targets) {
      if (t.value % shards_.size() == i) s.watchers[t.value].insert(watcher.value);
    }
  }
  return Ok{};
}

Result<void> MemoryStateStore::remove_watcher(UserId watcher, const std::vector<UserId>& targets) {
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    Shard& s = shards_[i];
    std::lock_guard lock(s.mu);
    for (UserId t : targets) {
      if (t.value % shards_.size() != i) continue;
      auto it = s.watchers.find(t.value);
      if (it == s.watchers.end()) continue;
      it->second.erase(watcher.value);
      if (it->second.empty()) s.watchers.erase(it);
    }
  }
  return Ok{};
}

Result<std::vector<UserId>> MemoryStateStore::watchers(UserId user) {
  Shard& s = shard(user);
  std::lock_guard lock(s.mu);
  std::vector<UserId> out;
  if (auto it = s.watchers.find(user.value); it != s.watchers.end()) {
    out.reserve(it->second.size());
    for (std::uint64_t w : it->second) out.push_back(UserId{w});
  }
  return out;
}

Result<void> MemoryStateStore::publish(std::string_view channel, std::string payload) {
  subscribers_->deliver(std::string(channel), payload);
  return Ok{};
}

Result<std::unique_ptr<ports::Subscription>> MemoryStateStore::subscribe(
    std::string_view channel, std::function<void(std::string_view payload)> handler) {
  if (!handler) return make_error(ErrorCode::bad_request, "subscribe: no handler");
  bool first = false;
  return std::unique_ptr<ports::Subscription>(
      std::make_unique<Sub>(subscribers_->add(std::string(channel), std::move(handler), first)));
}

}  // namespace parley::embedded
