#include "adapters/embedded/memory_state_store.hpp"

#include <algorithm>
#include <utility>

namespace parley::embedded {

// One subscriber. `call_mu` is held while the handler runs and while the
// subscription is being ended, which is what makes "never called after the
// destructor returns" hold against a publish already under way. It is
// recursive so that a handler may end its own subscription.
struct MemoryStateStore::Handler {
  explicit Handler(std::function<void(std::string_view)> f) : fn(std::move(f)) {}

  std::function<void(std::string_view)> fn;
  std::recursive_mutex call_mu;  // guards active and serialises calls to fn
  bool active = true;
};

struct MemoryStateStore::PubSub {
  // Guards channels (the handler lists, not the calls: publish copies a list
  // and calls the handlers after releasing this lock).
  std::mutex mu;
  std::unordered_map<std::string, std::vector<std::shared_ptr<Handler>>> channels;

  void remove(const std::string& channel, const Handler* handler) {
    std::lock_guard lock(mu);
    auto it = channels.find(channel);
    if (it == channels.end()) return;
    std::erase_if(it->second, [&](const auto& h) { return h.get() == handler; });
    if (it->second.empty()) channels.erase(it);
  }
};

class MemoryStateStore::Sub final : public ports::Subscription {
 public:
  Sub(std::weak_ptr<PubSub> pubsub, std::string channel, std::shared_ptr<Handler> handler)
      : pubsub_(std::move(pubsub)), channel_(std::move(channel)), handler_(std::move(handler)) {}

  ~Sub() override {
    if (auto pubsub = pubsub_.lock()) pubsub->remove(channel_, handler_.get());
    // Waits for a call in progress on another thread; later publishes that
    // copied the list before the removal see active == false.
    std::lock_guard lock(handler_->call_mu);
    handler_->active = false;
  }

  Sub(const Sub&) = delete;
  Sub& operator=(const Sub&) = delete;

 private:
  std::weak_ptr<PubSub> pubsub_;
  std::string channel_;
  std::shared_ptr<Handler> handler_;
};

MemoryStateStore::MemoryStateStore(Clock clock) : clock_(std::move(clock)), pubsub_(std::make_shared<PubSub>()) {}

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

Result<void> MemoryStateStore::touch_presence(UserId user, std::chrono::milliseconds ttl) {
  if (ttl <= std::chrono::milliseconds(0)) return make_error(ErrorCode::bad_request, "touch_presence: ttl <= 0");
  const auto now = clock_();
  Shard& s = shard(user);
  std::lock_guard lock(s.mu);
  s.presence[user.value] = now + ttl;
  // Every so often drop the users who went away without a word, so the map
  // holds about the users present, not every user ever seen.
  if (++s.touches % 1024 == 0) {
    std::erase_if(s.presence, [&](const auto& kv) { return kv.second <= now; });
  }
  return Ok{};
}

Result<bool> MemoryStateStore::is_present(UserId user) {
  const auto now = clock_();
  Shard& s = shard(user);
  std::lock_guard lock(s.mu);
  auto it = s.presence.find(user.value);
  if (it == s.presence.end()) return false;
  if (it->second <= now) {
    s.presence.erase(it);
    return false;
  }
  return true;
}

Result<void> MemoryStateStore::publish(std::string_view channel, std::string payload) {
  std::vector<std::shared_ptr<Handler>> targets;
  {
    std::lock_guard lock(pubsub_->mu);
    auto it = pubsub_->channels.find(std::string(channel));
    if (it == pubsub_->channels.end()) return Ok{};
    targets = it->second;
  }
  for (const auto& h : targets) {
    std::lock_guard lock(h->call_mu);
    if (h->active) h->fn(payload);
  }
  return Ok{};
}

Result<std::unique_ptr<ports::Subscription>> MemoryStateStore::subscribe(
    std::string_view channel, std::function<void(std::string_view payload)> handler) {
  if (!handler) return make_error(ErrorCode::bad_request, "subscribe: no handler");
  auto h = std::make_shared<Handler>(std::move(handler));
  {
    std::lock_guard lock(pubsub_->mu);
    pubsub_->channels[std::string(channel)].push_back(h);
  }
  return std::unique_ptr<ports::Subscription>(std::make_unique<Sub>(pubsub_, std::string(channel), std::move(h)));
}

}  // namespace parley::embedded
