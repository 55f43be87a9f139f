#include "gateway/session_registry.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/log.hpp"
#include "gateway/connection.hpp"

namespace parley::gateway {

SessionRegistry::SessionRegistry(services::Cluster& cluster, boost::asio::thread_pool& blocking,
                                 prometheus::Counter* deliveries)
    : cluster_(cluster), deliveries_(deliveries), routes_strand_(boost::asio::make_strand(blocking.get_executor())) {}

void SessionRegistry::add(UserId user, const std::shared_ptr<Connection>& session) {
  bool first = false;
  {
    std::lock_guard lock(mutex_);
    auto& list = sessions_[user];
    first = list.empty();
    list.push_back(session);
    count_.fetch_add(1, std::memory_order_relaxed);
  }
  if (first) sync_route(user);
}

void SessionRegistry::remove(UserId user, const Connection* session) {
  bool last = false;
  {
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(user);
    if (it == sessions_.end()) return;
    auto& list = it->second;
    const auto dropped = std::erase_if(list, [session](const auto& w) {
      auto s = w.lock();
      return !s || s.get() == session;
    });
    count_.fetch_sub(dropped, std::memory_order_relaxed);
    if (list.empty()) {
      sessions_.erase(it);
      last = true;
    }
  }
  if (last) sync_route(user);
}

boost::asio::awaitable<void> SessionRegistry::routes_settled() {
  // A turn of the strand behind every route change posted so far (add()'s
  // sync_route among them, which sets the route from the sessions it finds
  // then); the caller resumes on its own executor.
  co_await boost::asio::post(routes_strand_, boost::asio::use_awaitable);
}

void SessionRegistry::sync_route(UserId user) {
  boost::asio::post(routes_strand_, [this, user] {
    bool present = false;
    {
      std::lock_guard lock(mutex_);
      present = sessions_.contains(user);
    }
    auto done = cluster_.set_route(user, present);
    if (!done) log::warn("registry", "route update failed: " + done.error().message);
    if (user_here_hook_) user_here_hook_(user, present);
  });
}

void SessionRegistry::restore_routes() {
  std::vector<UserId> users;
  {
    std::lock_guard lock(mutex_);
    users.reserve(sessions_.size());
    for (const auto& [user, list] : sessions_) users.push_back(user);
  }
  for (const UserId user : users) {
    if (auto added = cluster_.set_route(user, true); !added) {
      log::warn("registry", "route restore failed: " + added.error().message);
    }
  }
}

void SessionRegistry::on_user_here(std::function<void(UserId, bool)> hook) { user_here_hook_ = std::move(hook); }

void SessionRegistry::run_in_order(std::function<void()> fn) { boost::asio::post(routes_strand_, std::move(fn)); }

void SessionRegistry::deliver(UserId user, const std::shared_ptr<const std::string>& frame) {
  // Snapshot the targets, then send without holding the lock.
  std::vector<std::shared_ptr<Connection>> targets;
  {
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(user);
    if (it == sessions_.end()) return;
    targets.reserve(it->second.size());
    for (const auto& w : it->second) {
      if (auto s = w.lock()) targets.push_back(std::move(s));
    }
  }
  if (deliveries_ != nullptr && !targets.empty()) deliveries_->Increment(static_cast<double>(targets.size()));
  for (const auto& s : targets) s->send(frame);
}

std::size_t SessionRegistry::add_locked(ThreadHandOff& events, UserId user,
                                        const std::shared_ptr<const std::string>& frame) {
  auto it = sessions_.find(user);
  if (it == sessions_.end()) return 0;
  std::size_t handed = 0;
  for (const auto& w : it->second) {
    if (auto s = w.lock()) {
      events.add(std::move(s), frame);
      ++handed;
    }
  }
  return handed;
}

void SessionRegistry::post(ThreadHandOff&& events, std::size_t handed) {
  if (deliveries_ != nullptr && handed > 0) deliveries_->Increment(static_cast<double>(handed));  // once a batch
  std::move(events).post(/*replies=*/false);
}

void SessionRegistry::deliver_all(const std::vector<std::pair<UserId, std::shared_ptr<const std::string>>>& items) {
  ThreadHandOff events;
  std::size_t handed = 0;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [user, frame] : items) handed += add_locked(events, user, frame);
  }
  post(std::move(events), handed);
}

void SessionRegistry::deliver_all(std::span<const UserId> users, const std::shared_ptr<const std::string>& frame,
                                  UserId except) {
  ThreadHandOff events;
  std::size_t handed = 0;
  {
    std::lock_guard lock(mutex_);
    for (const UserId user : users) {
      if (user != except) handed += add_locked(events, user, frame);
    }
  }
  post(std::move(events), handed);
}

std::vector<std::shared_ptr<Connection>> SessionRegistry::of(UserId user) {
  std::vector<std::shared_ptr<Connection>> out;
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(user);
  if (it == sessions_.end()) return out;
  for (const auto& w : it->second) {
    if (auto s = w.lock()) out.push_back(std::move(s));
  }
  return out;
}

std::vector<std::shared_ptr<Connection>> SessionRegistry::all() {
  std::vector<std::shared_ptr<Connection>> out;
  std::lock_guard lock(mutex_);
  for (const auto& [user, list] : sessions_) {
    for (const auto& w : list) {
      if (auto s = w.lock()) out.push_back(std::move(s));
    }
  }
  return out;
}

std::size_t SessionRegistry::connection_count() const noexcept { return count_.load(std::memory_order_relaxed); }

}  // namespace parley::gateway
