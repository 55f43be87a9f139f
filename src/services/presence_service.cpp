#include "services/presence_service.hpp"

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <future>
#include <vector>

#include "core/codec_ops.hpp"
#include "core/log.hpp"
#include "core/thread_name.hpp"
#include "services/records.hpp"

namespace parley::services {

namespace {

// Most device entries one sweep drops; the rest wait for the next tick.
constexpr std::size_t kExpireBatch = 10000;

}  // namespace

PresenceService::PresenceService(ports::StateStore& state, ports::SocialGraph& social, Options options, WallClock clock)
    : state_(state), social_(social), options_(options), clock_(std::move(clock)) {}

PresenceService::~PresenceService() { stop(); }

std::string_view PresenceService::to_string(ports::PresenceStatus status) noexcept {
  switch (status) {
    case ports::PresenceStatus::online: return "online";
    case ports::PresenceStatus::away: return "away";
    case ports::PresenceStatus::offline: break;
  }
  return "offline";
}

std::string PresenceService::event_frame(UserId user, const ports::PresenceState& state) {
  return codec::event_presence(user, to_string(state.status), state.last_seen);
}

std::chrono::milliseconds PresenceService::tick_interval() const noexcept {
  if (options_.tick > std::chrono::milliseconds(0)) return options_.tick;
  // Fine enough that expiry and announcements land within a quarter of
  // their window, coarse enough to cost nothing when idle.
  const auto quarter = std::min(options_.ttl, options_.debounce) / 4;
  return std::clamp(quarter, std::chrono::milliseconds(10), std::chrono::milliseconds(500));
}

PresenceService::Stats PresenceService::stats() {
  std::lock_guard lock(stats_mu_);
  return stats_;
}

// --- the presence thread -----------------------------------------------------

void PresenceService::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] {
    name_this_thread("presence");
    run();
  });
}

void PresenceService::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PresenceService::enqueue(std::function<void()> job, bool wake) {
  {
    std::lock_guard lock(mu_);
    jobs_.push_back(std::move(job));
  }
  if (wake) cv_.notify_one();
}

void PresenceService::run() {
  auto next_tick = std::chrono::steady_clock::now() + tick_interval();
  for (;;) {
    std::deque<std::function<void()>> jobs;
    bool stopping = false;
    {
      std::unique_lock lock(mu_);
      cv_.wait_until(lock, next_tick, [&] { return stopping_ || !jobs_.empty(); });
      jobs.swap(jobs_);
      stopping = stopping_;
    }
    for (auto& job : jobs) job();
    if (stopping) return;
    if (std::chrono::steady_clock::now() >= next_tick) {
      auto r = run_due(clock_());
      available_.store(r.ok(), std::memory_order_relaxed);
      if (!r) log::warn("presence", "sweep failed: " + r.error().message);
      next_tick = std::chrono::steady_clock::now() + tick_interval();
    }
  }
}

void PresenceService::connected(UserId user, std::string device) { touch(user, std::move(device), true); }

void PresenceService::heartbeat(UserId user, std::string device) { touch(user, std::move(device), false); }

void PresenceService::touch(UserId user, std::string device, bool wake) {
  enqueue(
      [this, user, device = std::move(device)] {
        auto r = apply_touch(user, device);
        available_.store(r.ok(), std::memory_order_relaxed);
        if (!r) log::warn("presence", "heartbeat failed: " + r.error().message);
      },
      wake);
}

void PresenceService::disconnected(UserId user, std::string device) {
  enqueue([this, user, device = std::move(device)] {
    if (auto r = apply_remove(user, device); !r) log::warn("presence", "disconnect failed: " + r.error().message);
  });
}

Result<void> PresenceService::set_status(UserId user, ports::PresenceStatus status) {
  if (status == ports::PresenceStatus::offline) {
    return make_error(ErrorCode::bad_request, "status must be online or away");
  }
  auto done = std::make_shared<std::promise<Result<void>>>();
  auto result = done->get_future();
  enqueue([this, user, status, done] { done->set_value(apply_status(user, status)); });
  {
    std::lock_guard lock(mu_);
    // Without the thread (stopped, or never started) apply it here.
    if (!thread_.joinable()) {
      std::deque<std::function<void()>> jobs;
      jobs.swap(jobs_);
      for (auto& job : jobs) job();
    }
  }
  return result.get();
}

// --- the synchronous core ----------------------------------------------------

Result<void> PresenceService::apply_touch(UserId user, const std::string& device) {
  auto t = state_.touch_device(user, device, options_.ttl, clock_());
  if (!t) return std::move(t).error();
  return on_transition(user, t.value());
}

Result<void> PresenceService::apply_remove(UserId user, const std::string& device) {
  auto t = state_.remove_device(user, device, clock_());
  if (!t) return std::move(t).error();
  return on_transition(user, t.value());
}

Result<void> PresenceService::apply_status(UserId user, ports::PresenceStatus status) {
  auto t = state_.set_away(user, status == ports::PresenceStatus::away);
  if (!t) return std::move(t).error();
  return on_transition(user, t.value());
}

Result<void> PresenceService::on_transition(UserId user, ports::PresenceTransition t) {
  if (!t.changed()) return Ok{};
  std::uint64_t watcher_updates = 0;
  const bool came_online = t.before == ports::PresenceStatus::offline;
  const bool went_offline = t.after == ports::PresenceStatus::offline;
  if (came_online || went_offline) {
    // The one step that costs O(friends): joining or leaving the watcher
    // sets of every friend, as one bulk store call each way.
    auto friends = social_.friends(user);
    if (!friends) return std::move(friends).error();
    auto updated =
        came_online ? state_.add_watcher(user, friends.value()) : state_.remove_watcher(user, friends.value());
    if (!updated) return updated;
    watcher_updates = friends->size();
  }
  due_.try_emplace(user, clock_() + options_.debounce.count());
  std::lock_guard lock(stats_mu_);
  ++stats_.transitions;
  stats_.watcher_updates += watcher_updates;
  return Ok{};
}

Result<void> PresenceService::run_due(TimeMs now) {
  auto expired = state_.expire_devices(kExpireBatch);
  if (!expired) return std::move(expired).error();
  for (UserId user : expired.value()) {
    // The store reports only users who went offline; what they were before
    // does not matter to on_transition beyond "not offline".
    if (auto r = on_transition(user, {ports::PresenceStatus::online, ports::PresenceStatus::offline}); !r) return r;
  }
  std::vector<UserId> due;
  for (const auto& [user, when] : due_) {
    if (when <= now) due.push_back(user);
  }
  for (UserId user : due) {
    if (auto r = announce(user, now); !r) return r;  // stays due: retried next tick
    due_.erase(user);
  }
  return Ok{};
}

Result<void> PresenceService::announce(UserId user, TimeMs now) {
  auto change = state_.announce(user, now);
  if (!change) return std::move(change).error();
  if (!change.value()) return Ok{};  // reverted within the window: nothing to tell
  auto watchers = state_.watchers(user);
  if (!watchers) return std::move(watchers).error();
  const std::string frame = event_frame(user, *change.value());
  std::uint64_t told = 0;
  for (UserId watcher : watchers.value()) {
    auto rel = social_.relation(user, watcher);
    if (!rel) return std::move(rel).error();
    if (!rel->friends) {
      // A friendship ended after this watcher registered: drop the entry.
      if (auto dropped = state_.remove_watcher(watcher, {user}); !dropped) return dropped;
      continue;
    }
    if (auto sent = deliver(watcher, frame); !sent) return sent;
    ++told;
  }
  std::lock_guard lock(stats_mu_);
  ++stats_.announcements;
  stats_.watchers_checked += watchers->size();
  stats_.events += told;
  return Ok{};
}

Result<void> PresenceService::deliver(UserId to, const std::string& frame) {
  auto servers = state_.routes(to);
  if (!servers) return std::move(servers).error();
  if (servers->empty()) return Ok{};
  const std::string envelope = records::encode(records::Deliver{to, frame});
  for (const auto& server : servers.value()) {
    if (auto published = state_.publish(records::server_channel(server), envelope); !published) return published;
  }
  return Ok{};
}

// --- friendship changes ------------------------------------------------------

Result<void> PresenceService::friendship_started(UserId a, UserId b) {
  const std::pair<UserId, UserId> sides[] = {{a, b}, {b, a}};
  for (const auto& [self, other] : sides) {
    auto live = state_.presence(self);
    if (!live) return std::move(live).error();
    if (live->status == ports::PresenceStatus::offline) continue;
    // self is online: self watches other from now on, and hears where
    // other stands if other is not offline (what other's friends were last
    // told; a change not announced yet reaches self when it is, since self
    // is a watcher now).
    if (auto added = state_.add_watcher(self, {other}); !added) return added;
    auto told = state_.announced({other});
    if (!told) return std::move(told).error();
    if (told->front().status == ports::PresenceStatus::offline) continue;
    if (auto sent = deliver(self, event_frame(other, told->front())); !sent) return sent;
  }
  return Ok{};
}

Result<void> PresenceService::friendship_ended(UserId a, UserId b) {
  if (auto r = state_.remove_watcher(a, {b}); !r) return r;
  return state_.remove_watcher(b, {a});
}

}  // namespace parley::services
