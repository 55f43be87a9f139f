#pragma once
// The gateway server: one io_context per I/O thread (a connection stays on
// the thread that accepted it), an acceptor that deals new connections out
// round-robin, a blocking pool for service calls, and the subscription through
// which this server receives live events and send results.

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <memory>
#include <thread>
#include <vector>

#include "gateway/blocking.hpp"
#include "gateway/channel_hub.hpp"
#include "gateway/connection_limits.hpp"
#include "gateway/context.hpp"
#include "gateway/pending_sends.hpp"
#include "gateway/session_registry.hpp"
#include "gateway/tls_context.hpp"
#include "gateway/user_budgets.hpp"
#include "services/records.hpp"

namespace parley::gateway {

class Server {
 public:
  // `tls`: serve HTTPS and WSS only, with its certificate (null: plain HTTP
  // and WS); options.tls is set to match.
  Server(GatewayOptions options, Services services, std::shared_ptr<TlsContext> tls = nullptr);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Subscribes, binds and starts the threads. Throws std::runtime_error when
  // the address cannot be bound (a start-up failure).
  void start();
  // The bound port (useful with port 0).
  [[nodiscard]] std::uint16_t port() const;
  // Stops accepting, waits (up to the drain timeout) for sends in flight to
  // be answered, closes every connection with 1001 and stops the threads.
  void stop();
  // Which sessions this server holds, and their routes (tests hold the
  // route changes back through its run_in_order()).
  [[nodiscard]] SessionRegistry& registry() { return registry_; }

 private:
  boost::asio::io_context& next_context();
  // This server as the registry lists it now.
  [[nodiscard]] ports::ServerInfo self() const;
  boost::asio::awaitable<void> heartbeat_loop();
  void on_envelope(std::string_view payload);
  // Closes this server's connections of the sessions that ended.
  void close_ended_sessions(const records::SessionsEnded& ended);

  GatewayOptions options_;
  std::shared_ptr<TlsContext> tls_;  // null: plain
  Services services_;
  // Before everything that may hold a connection (the I/O contexts' and the
  // pools' pending handlers): each connection gives its slots back here
  // when it is destroyed.
  ConnectionLimits limits_;
  UserBudgets budgets_;
  boost::asio::thread_pool blocking_;
  // The registry heartbeat's own thread, so that a queue of slow calls
  // on blocking_ cannot make this server look dead.
  boost::asio::thread_pool housekeeping_;
  // Password hashing for logins and sign-ups: two threads, at most 256 jobs
  // (more are answered 503), so that a login flood holds up nothing else.
  BoundedPool hashing_{2, 256};
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
  std::atomic<std::size_t> next_{0};
  SessionRegistry registry_;
  PendingSends pending_;
  ChannelHub channels_;
  Context ctx_;
  // On the first I/O thread, with the timers of the server's own loops.
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer sweep_timer_{*contexts_.front()};
  boost::asio::steady_timer heartbeat_timer_{*contexts_.front()};
  std::string endpoint_;  // HOST:PORT advertised in the registry
  std::unique_ptr<ports::Subscription> inbox_subscription_;
  bool stopped_ = false;
};

}  // namespace parley::gateway
