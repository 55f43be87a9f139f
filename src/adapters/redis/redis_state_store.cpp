#include "adapters/redis/redis_state_store.hpp"

#include <algorithm>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>

#include "core/local_subscribers.hpp"
#include "core/log.hpp"

namespace parley::redis {

namespace {

// Shared by the presence scripts: a user's live status from their device
// entries and away flag (0 offline, 1 online, 2 away), and Redis's clock.
constexpr std::string_view kLuaPrelude = R"lua(
local function status(devices, away)
  if redis.call('ZCARD', devices) == 0 then return 0 end
  if redis.call('EXISTS', away) == 1 then return 2 end
  return 1
end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
)lua";

// KEYS: devices, devact, away, devexp. ARGV: device, ttl ms, now, user.
constexpr std::string_view kTouchDevice = R"lua(
local before = status(KEYS[1], KEYS[3])
local expiry = now_ms() + tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], expiry, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[4], expiry, ARGV[4] .. '|' .. ARGV[1])
return {before, status(KEYS[1], KEYS[3])}
)lua";

// KEYS: devices, devact, away, devexp, lastseen. ARGV: device, now, user.
constexpr std::string_view kRemoveDevice = R"lua(
local before = status(KEYS[1], KEYS[3])
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[4], ARGV[3] .. '|' .. ARGV[1])
  if redis.call('ZCARD', KEYS[1]) == 0 then
    redis.call('SET', KEYS[5], ARGV[2])
    redis.call('DEL', KEYS[3], KEYS[2])
  end
end
return {before, status(KEYS[1], KEYS[3])}
)lua";

// KEYS: devices, away. ARGV: "1" to set the flag, "0" to clear it.
constexpr std::string_view kSetAway = R"lua(
local before = status(KEYS[1], KEYS[2])
if before ~= 0 then
  if ARGV[1] == '1' then redis.call('SET', KEYS[2], '1') else redis.call('DEL', KEYS[2]) end
end
return {before, status(KEYS[1], KEYS[2])}
)lua";

// KEYS: devexp. ARGV: max, key prefix. Keys of each user are built here
// from the prefix (one Redis server, not a cluster).
constexpr std::string_view kExpireDevices = R"lua(
local items = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms(), 'LIMIT', 0, tonumber(ARGV[1]))
local offline = {}
for _, item in ipairs(items) do
  redis.call('ZREM', KEYS[1], item)
  local sep = string.find(item, '|', 1, true)
  local user = string.sub(item, 1, sep - 1)
  local device = string.sub(item, sep + 1)
  local devices = ARGV[2] .. 'devices:' .. user
  if redis.call('ZREM', devices, device) == 1 then
    local devact = ARGV[2] .. 'devact:' .. user
    local last = redis.call('HGET', devact, device)
    redis.call('HDEL', devact, device)
    local lastseen = ARGV[2] .. 'lastseen:' .. user
    local seen = redis.call('GET', lastseen)
    if last and (not seen or tonumber(last) > tonumber(seen)) then redis.call('SET', lastseen, last) end
    if redis.call('ZCARD', devices) == 0 then
      redis.call('DEL', ARGV[2] .. 'away:' .. user, devact)
      table.insert(offline, user)
    end
  end
end
return offline
)lua";

// KEYS: devices, away, devact, lastseen. Returns {status, last_seen}.
constexpr std::string_view kPresence = R"lua(
local st = status(KEYS[1], KEYS[2])
local seen = 0
if st ~= 0 then
  for _, v in ipairs(redis.call('HVALS', KEYS[3])) do
    local n = tonumber(v)
    if n > seen then seen = n end
  end
else
  seen = tonumber(redis.call('GET', KEYS[4]) or '0')
end
return {st, seen}
)lua";

// KEYS: devices, away, announced, lastseen. ARGV: now.
// Returns {} when friends already know, else {status, last_seen}.
constexpr std::string_view kAnnounce = R"lua(
local live = status(KEYS[1], KEYS[2])
local told = tonumber(redis.call('HGET', KEYS[3], 'status') or '0')
if live == told then return {} end
local seen = ARGV[1]
if live == 0 then seen = redis.call('GET', KEYS[4]) or ARGV[1] end
redis.call('HSET', KEYS[3], 'status', live, 'last_seen', seen)
return {live, tonumber(seen)}
)lua";

// The server registry: `servers` is a sorted set of server ids scored by
// when their heartbeat runs out; `server:{id}` holds the endpoint and load;
// `srvroutes:{id}` the users it holds routes for, so that its routes can be
// dropped with it.
// KEYS: servers, server. ARGV: id, ttl ms, endpoint, load, "1" to refresh
// only a registered server. Returns 0 when it refreshed nothing.
constexpr std::string_view kHeartbeatServer = R"lua(
if ARGV[5] == '1' and not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now_ms() + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', KEYS[2], 'endpoint', ARGV[3], 'load', ARGV[4])
return 1
)lua";

// Drops one server and its routes. ARGV: key prefix, server id.
constexpr std::string_view kDropServer = R"lua(
local function drop(prefix, id)
  redis.call('ZREM', prefix .. 'servers', id)
  redis.call('DEL', prefix .. 'server:' .. id)
  local held = prefix .. 'srvroutes:' .. id
  for _, user in ipairs(redis.call('SMEMBERS', held)) do
    redis.call('SREM', prefix .. 'route:' .. user, id)
  end
  redis.call('DEL', held)
end
)lua";

// KEYS: servers, server, srvroutes. ARGV: prefix, id.
constexpr std::string_view kRemoveServer = R"lua(
drop(ARGV[1], ARGV[2])
return 1
)lua";

// KEYS: servers. ARGV: prefix. Returns the ids whose heartbeat ran out.
constexpr std::string_view kExpireServers = R"lua(
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms())
for _, id in ipairs(dead) do drop(ARGV[1], id) end
return dead
)lua";

// KEYS: servers. ARGV: prefix. Returns {id, endpoint, load, ...} of the
// live servers.
constexpr std::string_view kServers = R"lua(
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now_ms(), '+inf')) do
  local h = redis.call('HMGET', ARGV[1] .. 'server:' .. id, 'endpoint', 'load')
  table.insert(out, id)
  table.insert(out, h[1] or '')
  table.insert(out, h[2] or '0')
end
return out
)lua";

std::vector<std::string> eval(std::string_view body, std::vector<std::string> keys, std::vector<std::string> args) {
  std::vector<std::string> cmd{"EVAL", std::string(kLuaPrelude) + std::string(body), std::to_string(keys.size())};
  for (auto& k : keys) cmd.push_back(std::move(k));
  for (auto& a : args) cmd.push_back(std::move(a));
  return cmd;
}

ports::PresenceStatus to_status(long long n) {
  switch (n) {
    case 1: return ports::PresenceStatus::online;
    case 2: return ports::PresenceStatus::away;
    default: return ports::PresenceStatus::offline;
  }
}

Error bad_reply(std::string_view what) {
  return make_error(ErrorCode::internal, "redis: unexpected reply to " + std::string(what));
}

// The replies of a pipelined batch, failing on the first error reply.
Result<void> all_ok(const Result<std::vector<RedisReply>>& replies) {
  if (!replies) return replies.error();
  for (const auto& r : *replies) {
    if (r.is_error()) return make_error(ErrorCode::internal, "redis: " + r.str);
  }
  return Ok{};
}

std::string random_origin() {
  std::random_device rd;
  std::uniform_int_distribution<std::uint64_t> dist;
  const std::uint64_t a = dist(rd);
  return "o" + std::to_string(a);
}

}  // namespace

// What the store's subscriptions share, and outlive the store with: the
// local handlers, and the client (guarded by the handlers' table's lock;
// cleared when the store goes) that a channel's last unsubscription tells.
struct RedisStateStore::PubSub {
  std::shared_ptr<LocalSubscribers> table = std::make_shared<LocalSubscribers>();
  RedisClient* client = nullptr;
  std::string prefix;
};

// A subscription: its place in the store's LocalSubscribers.
class RedisStateStore::Sub final : public ports::Subscription {
 public:
  explicit Sub(std::unique_ptr<LocalSubscribers::Subscriber> subscriber) : subscriber_(std::move(subscriber)) {}

 private:
  std::unique_ptr<LocalSubscribers::Subscriber> subscriber_;
};

RedisStateStore::RedisStateStore(RedisStateStoreOptions options)
    : prefix_(std::move(options.prefix)), origin_(random_origin()), pubsub_(std::make_shared<PubSub>()) {
  pubsub_->prefix = prefix_;
  client_ = std::make_unique<RedisClient>(
      std::move(options.redis),
      [this](std::string_view channel, std::string_view payload) { on_message(channel, payload); },
      [this] {
        std::vector<std::vector<std::string>> again;
        std::lock_guard lock(routes_mu_);
        for (const auto& [user, servers] : local_routes_) {
          for (const auto& server : servers) {
            again.push_back({"SADD", key("route", UserId{user}), server});
            again.push_back({"SADD", prefix_ + "srvroutes:" + server, std::to_string(user)});
          }
        }
        return again;
      });
  pubsub_->table->locked([this] { pubsub_->client = client_.get(); });
}

RedisStateStore::~RedisStateStore() {
  pubsub_->table->locked([this] { pubsub_->client = nullptr; });
  client_.reset();
}

Result<std::unique_ptr<RedisStateStore>> RedisStateStore::open(RedisStateStoreOptions options) {
  const std::string where = options.redis.host + ":" + std::to_string(options.redis.port);
  auto store = std::make_unique<RedisStateStore>(std::move(options));
  // The connection comes up in the background; wait for it (bounded).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    auto pong = store->client_->call({"PING"});
    if (pong) break;
    // Refused credentials or a failed TLS handshake, or NOAUTH (a password
    // is needed): Redis answered, and waiting will not change its answer.
    if (pong.error().code == ErrorCode::unauthorized || pong.error().message.starts_with("redis: NOAUTH")) {
      return make_error(ErrorCode::unavailable, pong.error().message + " (redis at " + where + ")");
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return make_error(ErrorCode::unavailable, "redis at " + where + " does not answer: " + pong.error().message);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // connecting; no event to wait on from here
  }
  return store;
}

Result<void> RedisStateStore::probe() {
  auto pong = client_->call({"PING"});
  if (!pong) return std::move(pong).error();
  return Ok{};
}

std::string RedisStateStore::key(std::string_view kind, UserId user) const {
  std::string k = prefix_;
  k += kind;
  k += ':';
  k += std::to_string(user.value);
  return k;
}

Result<void> RedisStateStore::add_route(UserId user, std::string_view server) {
  if (server.empty()) return make_error(ErrorCode::bad_request, "add_route: empty server");
  {
    std::lock_guard lock(routes_mu_);
    local_routes_[user.value].emplace(server);
  }
  return all_ok(
      client_->call_many({{"SADD", key("route", user), std::string(server)},
                          {"SADD", prefix_ + "srvroutes:" + std::string(server), std::to_string(user.value)}}));
}

Result<void> RedisStateStore::remove_route(UserId user, std::string_view server) {
  {
    std::lock_guard lock(routes_mu_);
    if (auto it = local_routes_.find(user.value); it != local_routes_.end()) {
      if (auto s = it->second.find(server); s != it->second.end()) it->second.erase(s);
      if (it->second.empty()) local_routes_.erase(it);
    }
  }
  return all_ok(
      client_->call_many({{"SREM", key("route", user), std::string(server)},
                          {"SREM", prefix_ + "srvroutes:" + std::string(server), std::to_string(user.value)}}));
}

Result<std::vector<std::string>> RedisStateStore::routes(UserId user) {
  auto r = client_->call({"SMEMBERS", key("route", user)});
  if (!r) return std::move(r).error();
  std::vector<std::string> out;
  out.reserve(r->elements.size());
  for (auto& e : r->elements) out.push_back(std::move(e.str));
  return out;
}

Result<std::vector<std::vector<std::string>>> RedisStateStore::routes_of(std::span<const UserId> users) {
  std::vector<std::vector<std::string>> commands;
  commands.reserve(users.size());
  for (UserId user : users) commands.push_back({"SMEMBERS", key("route", user)});
  auto replies = client_->call_many(commands);
  if (!replies) return std::move(replies).error();
  std::vector<std::vector<std::string>> out;
  out.reserve(users.size());
  for (auto& reply : replies.value()) {
    if (reply.is_error()) return make_error(ErrorCode::internal, "redis: " + reply.str);
    auto& servers = out.emplace_back();
    servers.reserve(reply.elements.size());
    for (auto& e : reply.elements) servers.push_back(std::move(e.str));
  }
  return out;
}

Result<bool> RedisStateStore::write_server(const ports::ServerInfo& server, std::chrono::milliseconds ttl,
                                           bool refresh_only) {
  if (server.id.empty()) return make_error(ErrorCode::bad_request, "a server registry entry needs an id");
  if (ttl <= std::chrono::milliseconds(0)) return make_error(ErrorCode::bad_request, "a server's ttl must be > 0");
  auto r = client_->call(eval(kHeartbeatServer, {prefix_ + "servers", prefix_ + "server:" + server.id},
                              {server.id, std::to_string(ttl.count()), server.endpoint, std::to_string(server.load),
                               refresh_only ? "1" : "0"}));
  if (!r) return std::move(r).error();
  return r->integer == 1;
}

Result<void> RedisStateStore::register_server(const ports::ServerInfo& server, std::chrono::milliseconds ttl) {
  auto written = write_server(server, ttl, false);
  if (!written) return std::move(written).error();
  return Ok{};
}

Result<bool> RedisStateStore::heartbeat_server(const ports::ServerInfo& server, std::chrono::milliseconds ttl) {
  return write_server(server, ttl, true);
}

Result<void> RedisStateStore::remove_server(std::string_view server) {
  const std::string id(server);
  auto r =
      client_->call(eval(std::string(kDropServer) + std::string(kRemoveServer),
                         {prefix_ + "servers", prefix_ + "server:" + id, prefix_ + "srvroutes:" + id}, {prefix_, id}));
  if (!r) return std::move(r).error();
  return Ok{};
}

Result<std::vector<ports::ServerInfo>> RedisStateStore::servers() {
  auto r = client_->call(eval(kServers, {prefix_ + "servers"}, {prefix_}));
  if (!r) return std::move(r).error();
  if (r->elements.size() % 3 != 0) return bad_reply("servers");
  std::vector<ports::ServerInfo> out;
  for (std::size_t i = 0; i < r->elements.size(); i += 3) {
    ports::ServerInfo info{.id = std::move(r->elements[i].str), .endpoint = std::move(r->elements[i + 1].str)};
    try {
      info.load = std::stoull(r->elements[i + 2].str);
    } catch (const std::exception&) {
      return bad_reply("servers (load)");
    }
    out.push_back(std::move(info));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

Result<std::vector<std::string>> RedisStateStore::expire_servers() {
  auto r =
      client_->call(eval(std::string(kDropServer) + std::string(kExpireServers), {prefix_ + "servers"}, {prefix_}));
  if (!r) return std::move(r).error();
  std::vector<std::string> out;
  out.reserve(r->elements.size());
  for (auto& e : r->elements) out.push_back(std::move(e.str));
  return out;
}

Result<ports::PresenceTransition> RedisStateStore::transition(std::vector<std::string> command) {
  auto r = client_->call(std::move(command));
  if (!r) return std::move(r).error();
  if (r->elements.size() != 2) return bad_reply("a presence script");
  return ports::PresenceTransition{to_status(r->elements[0].integer), to_status(r->elements[1].integer)};
}

Result<ports::PresenceTransition> RedisStateStore::touch_device(UserId user, std::string_view device,
                                                                std::chrono::milliseconds ttl, TimeMs now) {
  if (ttl <= std::chrono::milliseconds(0)) return make_error(ErrorCode::bad_request, "touch_device: ttl <= 0");
  if (device.empty()) return make_error(ErrorCode::bad_request, "touch_device: empty device");
  return transition(
      eval(kTouchDevice, {key("devices", user), key("devact", user), key("away", user), prefix_ + "devexp"},
           {std::string(device), std::to_string(ttl.count()), std::to_string(now), std::to_string(user.value)}));
}

Result<ports::PresenceTransition> RedisStateStore::remove_device(UserId user, std::string_view device, TimeMs now) {
  return transition(
      eval(kRemoveDevice,
           {key("devices", user), key("devact", user), key("away", user), prefix_ + "devexp", key("lastseen", user)},
           {std::string(device), std::to_string(now), std::to_string(user.value)}));
}

Result<ports::PresenceTransition> RedisStateStore::set_away(UserId user, bool away) {
  return transition(eval(kSetAway, {key("devices", user), key("away", user)}, {away ? "1" : "0"}));
}

Result<std::vector<UserId>> RedisStateStore::expire_devices(std::size_t max) {
  auto r = client_->call(eval(kExpireDevices, {prefix_ + "devexp"}, {std::to_string(max), prefix_}));
  if (!r) return std::move(r).error();
  std::vector<UserId> out;
  for (const auto& e : r->elements) {
    auto id = e.as_integer();
    if (!id) return bad_reply("expire_devices");
    out.push_back(UserId{static_cast<std::uint64_t>(*id)});
  }
  return out;
}

Result<std::vector<ports::PresenceState>> RedisStateStore::presence_of(std::span<const UserId> users) {
  std::vector<std::vector<std::string>> commands;
  commands.reserve(users.size());
  for (UserId u : users) {
    commands.push_back(eval(kPresence, {key("devices", u), key("away", u), key("devact", u), key("lastseen", u)}, {}));
  }
  auto replies = client_->call_many(commands);  // one pipelined round trip
  if (auto ok = all_ok(replies); !ok) return std::move(ok).error();
  std::vector<ports::PresenceState> out;
  out.reserve(users.size());
  for (const auto& r : *replies) {
    if (r.elements.size() != 2) return bad_reply("presence");
    out.push_back(ports::PresenceState{to_status(r.elements[0].integer), r.elements[1].integer});
  }
  return out;
}

Result<ports::PresenceState> RedisStateStore::presence(UserId user) {
  auto one = presence_of(std::span<const UserId>(&user, 1));
  if (!one) return std::move(one).error();
  return one->front();
}

Result<std::optional<ports::PresenceState>> RedisStateStore::announce(UserId user, TimeMs now) {
  auto r = client_->call(eval(kAnnounce,
                              {key("devices", user), key("away", user), key("announced", user), key("lastseen", user)},
                              {std::to_string(now)}));
  if (!r) return std::move(r).error();
  if (r->elements.empty()) return std::optional<ports::PresenceState>{};
  if (r->elements.size() != 2) return bad_reply("announce");
  return std::optional<ports::PresenceState>{
      ports::PresenceState{to_status(r->elements[0].integer), r->elements[1].integer}};
}

Result<std::vector<ports::PresenceState>> RedisStateStore::announced(const std::vector<UserId>& users) {
  std::vector<std::vector<std::string>> commands;
  commands.reserve(users.size());
  for (UserId u : users) commands.push_back({"HMGET", key("announced", u), "status", "last_seen"});
  auto replies = client_->call_many(commands);
  if (!replies) return std::move(replies).error();
  std::vector<ports::PresenceState> out;
  out.reserve(users.size());
  for (const auto& r : *replies) {
    if (r.is_error() || r.elements.size() != 2) return bad_reply("announced");
    out.push_back(ports::PresenceState{to_status(r.elements[0].as_integer().value_or(0)),
                                       r.elements[1].as_integer().value_or(0)});
  }
  return out;
}

Result<void> RedisStateStore::add_watcher(UserId watcher, const std::vector<UserId>& targets) {
  std::vector<std::vector<std::string>> commands;
  commands.reserve(targets.size());
  const std::string w = std::to_string(watcher.value);
  for (UserId t : targets) commands.push_back({"SADD", key("watchers", t), w});
  return all_ok(client_->call_many(commands));
}

Result<void> RedisStateStore::remove_watcher(UserId watcher, const std::vector<UserId>& targets) {
  std::vector<std::vector<std::string>> commands;
  commands.reserve(targets.size());
  const std::string w = std::to_string(watcher.value);
  for (UserId t : targets) commands.push_back({"SREM", key("watchers", t), w});
  return all_ok(client_->call_many(commands));
}

Result<std::vector<UserId>> RedisStateStore::watchers(UserId user) {
  auto r = client_->call({"SMEMBERS", key("watchers", user)});
  if (!r) return std::move(r).error();
  std::vector<UserId> out;
  out.reserve(r->elements.size());
  for (const auto& e : r->elements) {
    auto id = e.as_integer();
    if (!id) return bad_reply("watchers");
    out.push_back(UserId{static_cast<std::uint64_t>(*id)});
  }
  return out;
}

void RedisStateStore::deliver(const std::string& channel, std::string_view payload) {
  pubsub_->table->deliver(channel, payload);
}

void RedisStateStore::on_message(std::string_view wire_channel, std::string_view payload) {
  if (!wire_channel.starts_with(prefix_)) return;
  const auto newline = payload.find('\n');
  if (newline == std::string_view::npos) return;      // not from a Parley store
  if (payload.substr(0, newline) == origin_) return;  // ours: delivered locally when published
  deliver(std::string(wire_channel.substr(prefix_.size())), payload.substr(newline + 1));
}

Result<void> RedisStateStore::publish(std::string_view channel, std::string payload) {
  const std::string name(channel);
  deliver(name, payload);
  // Not waited for: a live event is best effort (its durable copy is in the
  // store), and a round trip per event bounded the pipeline steps, which
  // publish one per message and per inbox entry (docs/BENCHMARKS.md).
  return client_->send_only({"PUBLISH", prefix_ + name, origin_ + "\n" + payload});
}

Result<std::unique_ptr<ports::Subscription>> RedisStateStore::subscribe(
    std::string_view channel, std::function<void(std::string_view payload)> handler) {
  if (!handler) return make_error(ErrorCode::bad_request, "subscribe: no handler");
  const std::string name(channel);
  bool first = false;
  // The channel's last unsubscription is sent while the table is locked,
  // so it cannot overtake a later SUBSCRIBE.
  auto sub = std::make_unique<Sub>(pubsub_->table->add(name, std::move(handler), first, [pubsub = pubsub_, name] {
    if (pubsub->client != nullptr) pubsub->client->unsubscribe(pubsub->prefix + name);
  }));
  if (first) {
    if (auto subscribed = client_->subscribe(prefix_ + name); !subscribed) return std::move(subscribed).error();
  }
  return std::unique_ptr<ports::Subscription>(std::move(sub));
}

}  // namespace parley::redis
