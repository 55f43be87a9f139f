#pragma once
// StateStore: fast, shared, short-lived state: presence with a TTL, which
// servers hold a user's devices (routes), and pub/sub between servers.
//
// Nothing here is the only copy of anything that must not be lost: routes and
// presence are rebuilt by connections, and pub/sub carries live events whose
// durable copy is in the message store.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/ids.hpp"
#include "core/result.hpp"

namespace parley::ports {

enum class PresenceStatus { offline, online, away };

// A user's presence: their status and when they were last seen online
// (milliseconds since the epoch; 0: never).
struct PresenceState {
  PresenceStatus status = PresenceStatus::offline;
  TimeMs last_seen = 0;
  friend bool operator==(const PresenceState&, const PresenceState&) = default;
};

struct PresenceTransition {
  PresenceStatus before = PresenceStatus::offline;
  PresenceStatus after = PresenceStatus::offline;
  [[nodiscard]] bool changed() const noexcept { return before != after; }
};

// A live parleyd server as the registry knows it: its id (the name of its
// pub/sub channel), where clients connect to it, and its load (the number of
// connections it holds, as of its last heartbeat).
struct ServerInfo {
  std::string id;
  std::string endpoint;  // host:port of its WebSocket/HTTP listener
  std::uint64_t load = 0;
  friend bool operator==(const ServerInfo&, const ServerInfo&) = default;
};

// Ends a subscription when destroyed.
class Subscription {
 public:
  virtual ~Subscription() = default;
};

class StateStore {
 public:
  virtual ~StateStore() = default;

  // --- routes: user -> the servers holding that user's connected devices ---
  [[nodiscard]] virtual Result<void> add_route(UserId user, std::string_view server) = 0;
  [[nodiscard]] virtual Result<void> remove_route(UserId user, std::string_view server) = 0;
  [[nodiscard]] virtual Result<std::vector<std::string>> routes(UserId user) = 0;
  // routes() of each user, in order: one round trip where the store has
  // them (Redis pipelines the lookups); this default asks one by one.
  [[nodiscard]] virtual Result<std::vector<std::vector<std::string>>> routes_of(std::span<const UserId> users) {
    std::vector<std::vector<std::string>> out;
    out.reserve(users.size());
    for (UserId user : users) {
      auto r = routes(user);
      if (!r) return std::move(r).error();
      out.push_back(std::move(r).value());
    }
    return out;
  }

  // --- server registry ------------------------------------------------------
  // Each server registers itself and its load with a heartbeat; a server
  // whose heartbeat is older than its ttl is dead. A dead server's routes are
  // dropped with it, so that nothing takes its users for online (push) or
  // publishes to it for them.

  // Registers `server` as alive until `ttl` from now, with its endpoint and
  // load (replacing what was there). bad_request for an empty id or a
  // ttl <= 0.
  [[nodiscard]] virtual Result<void> register_server(const ServerInfo& server, std::chrono::milliseconds ttl) = 0;
  // Refreshes a registered `server` (endpoint, load, ttl) and returns true;
  // returns false and registers nothing when it is not registered: it was
  // retired as dead (a stall longer than its ttl) and its routes are gone,
  // so it must add them again before it registers. Same bad_request rules.
  [[nodiscard]] virtual Result<bool> heartbeat_server(const ServerInfo& server, std::chrono::milliseconds ttl) = 0;
  // Unregisters `server` and drops every route it holds: a clean stop, or a
  // restart that begins afresh. Removing an unknown server changes nothing.
  [[nodiscard]] virtual Result<void> remove_server(std::string_view server) = 0;
  // The servers alive now, in id order.
  [[nodiscard]] virtual Result<std::vector<ServerInfo>> servers() = 0;
  // Unregisters the servers whose heartbeat ran out, drops their routes, and
  // returns their ids, each to exactly one caller across all servers.
  [[nodiscard]] virtual Result<std::vector<std::string>> expire_servers() = 0;

  // --- presence: devices, announcements and watchers (docs/PRESENCE.md) -----
  // A user's live status follows their devices (one entry per connection):
  // online while at least one device entry has not expired, away while so
  // and the away flag is set, offline otherwise. Each call below that changes
  // device entries or the flag returns the live status before and after it,
  // atomically, so exactly one caller sees each transition.

  // Marks `device` of `user` present until `ttl` from now (a heartbeat);
  // `now` (wall clock) is remembered as the device's last activity.
  [[nodiscard]] virtual Result<PresenceTransition> touch_device(UserId user, std::string_view device,
                                                                std::chrono::milliseconds ttl, TimeMs now) = 0;
  // Drops `device`; when it was the last one, the user goes offline with
  // last_seen = `now`. Dropping an unknown device changes nothing.
  [[nodiscard]] virtual Result<PresenceTransition> remove_device(UserId user, std::string_view device, TimeMs now) = 0;
  // Sets or clears the away flag of a present user; an offline user stays
  // offline (the flag is cleared whenever the user goes offline).
  [[nodiscard]] virtual Result<PresenceTransition> set_away(UserId user, bool away) = 0;
  // Drops up to `max` device entries whose TTL ran out and returns the users
  // who went offline because of it, each to exactly one caller across all
  // servers; their last_seen is their last device activity.
  [[nodiscard]] virtual Result<std::vector<UserId>> expire_devices(std::size_t max) = 0;
  // The live status of a user.
  [[nodiscard]] virtual Result<PresenceState> presence(UserId user) = 0;
  // presence() of each of `users`, in order, at once (an engine that can
  // asks for all of them in one round trip).
  [[nodiscard]] virtual Result<std::vector<PresenceState>> presence_of(std::span<const UserId> users) {
    std::vector<PresenceState> out;
    out.reserve(users.size());
    for (UserId u : users) {
      auto p = presence(u);
      if (!p) return std::move(p).error();
      out.push_back(*p);
    }
    return out;
  }

  // What the user's friends were last told. If the live status differs from
  // the announced one, the announced one becomes the live one (with
  // last_seen = `now` unless the user is offline) and is returned; otherwise
  // nothing. Atomic: of two concurrent callers at most one gets the change.
  [[nodiscard]] virtual Result<std::optional<PresenceState>> announce(UserId user, TimeMs now) = 0;
  // The announced state of each user, in order (offline, last_seen 0 for a
  // user never announced).
  [[nodiscard]] virtual Result<std::vector<PresenceState>> announced(const std::vector<UserId>& users) = 0;

  // watchers(user): the users to tell when `user`'s status changes. Kept as
  // the online friends of `user`, so that a change costs O(online friends).
  // Adds `watcher` to the watchers of each of `targets` / removes it.
  [[nodiscard]] virtual Result<void> add_watcher(UserId watcher, const std::vector<UserId>& targets) = 0;
  [[nodiscard]] virtual Result<void> remove_watcher(UserId watcher, const std::vector<UserId>& targets) = 0;
  [[nodiscard]] virtual Result<std::vector<UserId>> watchers(UserId user) = 0;

  // --- pub/sub between servers ---------------------------------------------
  // Delivers `payload` to every current subscriber of `channel`, at most
  // once each; a message published with no subscriber is dropped.
  [[nodiscard]] virtual Result<void> publish(std::string_view channel, std::string payload) = 0;
  // Calls `handler` for each message on `channel` until the returned
  // subscription is destroyed. The handler runs on a store thread and must
  // not block.
  [[nodiscard]] virtual Result<std::unique_ptr<Subscription>> subscribe(
      std::string_view channel, std::function<void(std::string_view payload)> handler) = 0;
};

}  // namespace parley::ports
