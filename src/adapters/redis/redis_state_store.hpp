#pragma once
// RedisStateStore: the StateStore port on Redis (one server, RESP2).
//
// Keys (all behind a configurable prefix, so clusters and tests that share a
// Redis stay apart):
//   route:{user}          set of server ids holding the user's devices
//   servers               zset server id -> when its heartbeat runs out (Redis ms)
//   server:{id}           hash {endpoint, load} of a registered server
//   srvroutes:{id}        set of the users a server holds routes for
//   devices:{user}        zset device -> expiry (Redis ms) of each device entry
//   devact:{user}         hash device -> last activity (the caller's wall clock)
//   away:{user}           present while the away flag is set
//   lastseen:{user}       last_seen of an offline user
//   announced:{user}      hash {status, last_seen}: what friends were told
//   watchers:{user}       set of users to tell about {user}'s changes
//   devexp                zset "{user}|{device}" -> expiry, for expire_devices
// The calls that must be atomic (each presence transition seen by exactly
// one caller) are Lua scripts. TTLs run on Redis's clock.
//
// Pub/sub: publish() hands the payload to this process's own subscribers of
// the channel directly, then PUBLISHes it, tagged with this store's origin,
// for other processes; a store drops what it published itself when Redis
// echoes it back. So a single server keeps its own events (a sender's reply,
// live delivery between its own connections) flowing while Redis is down,
// and other servers get them whenever Redis is up. Handlers are called
// either on the publishing thread (local) or on the Redis client's thread,
// never after their Subscription is destroyed.
//
// While Redis is down, every other call fails at once with
// ErrorCode::unavailable (presence and routes degrade; nothing here is the
// only copy of anything), and the client reconnects by itself. When it is
// back, the routes this process holds are written again first (devices
// restore their own presence with their next heartbeat).

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "adapters/redis/redis_client.hpp"
#include "ports/state_store.hpp"

namespace parley::redis {

struct RedisStateStoreOptions {
  RedisOptions redis;
  std::string prefix;  // put before every key and channel name
};

class RedisStateStore final : public ports::StateStore {
 public:
  // Connects and checks that Redis answers (ErrorCode::unavailable if not,
  // at once when it refuses the credentials or wants some: the message
  // then quotes Redis, e.g. "redis: authentication failed: WRONGPASS ...").
  [[nodiscard]] static Result<std::unique_ptr<RedisStateStore>> open(RedisStateStoreOptions options);

  // Use open(); public only for make_unique.
  explicit RedisStateStore(RedisStateStoreOptions options);
  ~RedisStateStore() override;
  RedisStateStore(const RedisStateStore&) = delete;
  RedisStateStore& operator=(const RedisStateStore&) = delete;

  [[nodiscard]] Result<void> add_route(UserId user, std::string_view server) override;
  [[nodiscard]] Result<void> remove_route(UserId user, std::string_view server) override;
  [[nodiscard]] Result<std::vector<std::string>> routes(UserId user) override;
  // One pipelined round trip of SMEMBERS.
  [[nodiscard]] Result<std::vector<std::vector<std::string>>> routes_of(std::span<const UserId> users) override;

  [[nodiscard]] Result<void> register_server(const ports::ServerInfo& server, std::chrono::milliseconds ttl) override;
  [[nodiscard]] Result<bool> heartbeat_server(const ports::ServerInfo& server, std::chrono::milliseconds ttl) override;
  [[nodiscard]] Result<void> remove_server(std::string_view server) override;
  [[nodiscard]] Result<std::vector<ports::ServerInfo>> servers() override;
  [[nodiscard]] Result<std::vector<std::string>> expire_servers() override;

  [[nodiscard]] Result<ports::PresenceTransition> touch_device(UserId user, std::string_view device,
                                                               std::chrono::milliseconds ttl, TimeMs now) override;
  [[nodiscard]] Result<ports::PresenceTransition> remove_device(UserId user, std::string_view device,
                                                                TimeMs now) override;
  [[nodiscard]] Result<ports::PresenceTransition> set_away(UserId user, bool away) override;
  [[nodiscard]] Result<std::vector<UserId>> expire_devices(std::size_t max) override;
  [[nodiscard]] Result<ports::PresenceState> presence(UserId user) override;
  [[nodiscard]] Result<std::vector<ports::PresenceState>> presence_of(std::span<const UserId> users) override;
  [[nodiscard]] Result<std::optional<ports::PresenceState>> announce(UserId user, TimeMs now) override;
  [[nodiscard]] Result<std::vector<ports::PresenceState>> announced(const std::vector<UserId>& users) override;
  [[nodiscard]] Result<void> add_watcher(UserId watcher, const std::vector<UserId>& targets) override;
  [[nodiscard]] Result<void> remove_watcher(UserId watcher, const std::vector<UserId>& targets) override;
  [[nodiscard]] Result<std::vector<UserId>> watchers(UserId user) override;

  [[nodiscard]] Result<void> publish(std::string_view channel, std::string payload) override;

  // Readiness: a PING on the command connection (within the client's call
  // timeout); an error while Redis cannot be reached or refuses the
  // credentials.
  [[nodiscard]] Result<void> probe();
  [[nodiscard]] Result<std::unique_ptr<ports::Subscription>> subscribe(
      std::string_view channel, std::function<void(std::string_view payload)> handler) override;

 private:
  class Sub;
  struct PubSub;

  [[nodiscard]] std::string key(std::string_view kind, UserId user) const;
  // register_server (refresh_only false) and heartbeat_server (true).
  [[nodiscard]] Result<bool> write_server(const ports::ServerInfo& server, std::chrono::milliseconds ttl,
                                          bool refresh_only);
  [[nodiscard]] Result<ports::PresenceTransition> transition(std::vector<std::string> eval);
  // Calls the local handlers of `channel` (its name without the prefix).
  void deliver(const std::string& channel, std::string_view payload);
  // From the client's thread: a message some process published.
  void on_message(std::string_view wire_channel, std::string_view payload);

  std::string prefix_;
  std::string origin_;  // tags what this store publishes
  // The routes this process holds (added and not removed), written again
  // when the connection to Redis comes back: Redis may have restarted
  // empty, and these connections will not announce themselves again.
  std::mutex routes_mu_;  // guards local_routes_
  std::map<std::uint64_t, std::set<std::string, std::less<>>> local_routes_;
  std::shared_ptr<PubSub> pubsub_;
  std::unique_ptr<RedisClient> client_;  // last: stopped first, so no message arrives mid-destruction
};

}  // namespace parley::redis
