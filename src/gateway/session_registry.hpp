#pragma once
// Which WebSocket sessions this server holds for each user, and the routes
// (user -> this server) in the state store (services::Cluster) that let other servers' inbox
// owners reach them.

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/ids.hpp"
#include "core/metrics.hpp"
#include "services/cluster.hpp"

namespace parley::gateway {

class Connection;
class ThreadHandOff;

class SessionRegistry {
 public:
  // `deliveries` counts the frames handed to connections (GET /metrics);
  // null: not counted.
  SessionRegistry(services::Cluster& cluster, boost::asio::thread_pool& blocking,
                  prometheus::Counter* deliveries = nullptr);

  void add(UserId user, const std::shared_ptr<Connection>& session);
  void remove(UserId user, const Connection* session);

  // Resumes once every route change posted so far has run (they run in
  // order on one strand). A session awaits it after add() and before its
  // WebSocket handshake answers, so that its user's route is in place then:
  // whatever is placed for the user after the client sees the connection
  // open finds this server.
  [[nodiscard]] boost::asio::awaitable<void> routes_settled();

  // Hands `frame` to every session of `user` on this server. Thread-safe;
  // does not wait for the writes.
  void deliver(UserId user, const std::shared_ptr<const std::string>& frame);
  // deliver() for many (user, frame) pairs, in order: one lock, and one
  // hand-off to each I/O thread holding some of the connections.
  void deliver_all(const std::vector<std::pair<UserId, std::shared_ptr<const std::string>>>& items);
  // One frame to the sessions of every one of `users` but `except` (a
  // channel's event): one lock, one hand-off to each I/O thread.
  void deliver_all(std::span<const UserId> users, const std::shared_ptr<const std::string>& frame,
                   UserId except = UserId{});

  // `hook(user, here)` runs, in order, after a user's first device connects
  // to this server (here = true) and after the last one leaves (false).
  void on_user_here(std::function<void(UserId, bool)> hook);
  // Runs `fn` in order with the route updates and the hook.
  void run_in_order(std::function<void()> fn);
  // The executor that runs them in order.
  [[nodiscard]] boost::asio::strand<boost::asio::thread_pool::executor_type> ordered() const { return routes_strand_; }

  // Adds the route of every user with a session here again (after the
  // server registry retired this server and its routes: a long stall). Run
  // it on ordered(), in order with the other route changes.
  void restore_routes();

  // The sessions of one user on this server.
  [[nodiscard]] std::vector<std::shared_ptr<Connection>> of(UserId user);
  // Every session, for shutdown.
  [[nodiscard]] std::vector<std::shared_ptr<Connection>> all();
  // Connections registered now (for the server registry's load).
  [[nodiscard]] std::size_t connection_count() const noexcept;

 private:
  // Route changes run in order on one strand, and each re-reads the local
  // session count when it runs, so a quick disconnect-reconnect cannot leave
  // a user without a route.
  void sync_route(UserId user);
  // Adds the frame for each live session of `user` to `events`; how many.
  // Requires mutex_.
  std::size_t add_locked(ThreadHandOff& events, UserId user, const std::shared_ptr<const std::string>& frame);
  // Counts the deliveries and hands each I/O thread its share.
  void post(ThreadHandOff&& events, std::size_t handed);

  services::Cluster& cluster_;
  prometheus::Counter* deliveries_;
  boost::asio::strand<boost::asio::thread_pool::executor_type> routes_strand_;
  std::function<void(UserId, bool)> user_here_hook_;  // set before start, then only read
  std::mutex mutex_;                                  // guards sessions_
  std::unordered_map<UserId, std::vector<std::weak_ptr<Connection>>> sessions_;
  std::atomic<std::size_t> count_{0};  // the weak pointers in sessions_
};

}  // namespace parley::gateway
