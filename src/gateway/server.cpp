#include "gateway/server.hpp"

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "core/log.hpp"
#include "core/thread_name.hpp"
#include "gateway/blocking.hpp"
#include "gateway/connection.hpp"
#include "gateway/http_api.hpp"
#include "gateway/http_session.hpp"
#include "gateway/request.hpp"
#include "services/records.hpp"

namespace parley::gateway {

namespace asio = boost::asio;
using asio::awaitable;
using asio::ip::tcp;

namespace {

int thread_count(int configured) {
  if (configured > 0) return configured;
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

// One io_context per I/O thread, each run by that one thread only.
std::vector<std::unique_ptr<asio::io_context>> make_contexts(int n) {
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  contexts.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) contexts.push_back(std::make_unique<asio::io_context>(1));
  return contexts;
}

void log_exception(const std::exception_ptr& e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    log::error("gateway", std::string("connection task failed: ") + ex.what());
  }
}

// Counts events that are logged at most once a second: the first at once,
// then one line a second with how many happened meanwhile.
class ThrottledLog {
 public:
  // Counts one event; true when a line is due now (`take()` then says how
  // many events it covers, and the count starts again).
  bool due() {
    ++unreported_;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::seconds(1)) return false;
    last_ = now;
    return true;
  }
  std::uint64_t take() { return std::exchange(unreported_, 0); }

 private:
  std::chrono::steady_clock::time_point last_{};
  std::uint64_t unreported_ = 0;
};

std::string fixed_response(std::string_view status, std::string_view code, std::string_view message) {
  const std::string body = R"({"code":")" + std::string(code) + R"(","message":")" + std::string(message) + "\"}";
  return "HTTP/1.1 " + std::string(status) +
         "\r\nServer: parley\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\n"
         "Content-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

// Answers a connection refused at accept (docs/OPERATIONS.md, "Limits")
// with a fixed HTTP response and closes it at once, waiting for nothing: a
// refusal must cost less than a connection, or a flood of them would hold
// the descriptors the limit keeps free. What of the request has arrived is
// read first (closing with unread data resets the connection, and the
// client may lose the answer); what does not fit the send buffer is lost.
template <class Socket>
void refuse(Socket& socket, ConnectionLimits::Refusal why) {
  static const std::string server_full = fixed_response("503 Service Unavailable", "unavailable",
                                                        "the server is at its connection limit; try again later");
  static const std::string address_full =
      fixed_response("429 Too Many Requests", "rate_limited", "too many connections from this address");
  boost::system::error_code ec;
  socket.non_blocking(true, ec);
  std::array<char, 4096> sink{};
  for (int i = 0; i < 4 && !ec; ++i) socket.read_some(asio::buffer(sink), ec);
  ec.clear();
  const std::string& answer = why == ConnectionLimits::Refusal::server_full ? server_full : address_full;
  socket.write_some(asio::buffer(answer), ec);
  socket.shutdown(Socket::shutdown_both, ec);
  socket.close(ec);
}

// Accepts connections and deals them out to the I/O threads, under the
// server-wide and per-address limits.
//
// A failed accept is retried after a pause that starts at 10 ms and doubles
// with each failure in a row up to 1 s (a success resets it): past the
// descriptor limit every accept fails at once while the pending connection
// stays queued, and retrying at once would spin a core. Failures and
// refusals are each logged at most once a second, with how many there were.
//
// `tls` (null: plain): each connection is handshaken with the context
// current when it was accepted (TlsContext::reload swaps it).
awaitable<void> accept_loop(tcp::acceptor& acceptor, ConnectionLimits& limits, Context& ctx,
                            std::function<asio::io_context&()> next_context, TlsContext* tls) {
  constexpr std::chrono::milliseconds kFirstBackoff{10};
  constexpr std::chrono::milliseconds kMaxBackoff{1000};
  asio::steady_timer pause(acceptor.get_executor());
  auto backoff = kFirstBackoff;
  ThrottledLog failures;
  ThrottledLog refusals;
  std::uint64_t refused_server = 0;
  std::uint64_t refused_address = 0;
  for (;;) {
    asio::io_context& ioc = next_context();
    auto [ec, socket] = co_await acceptor.async_accept(ioc, asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      if (failures.due()) {
        log::warn("gateway", "accept failed: " + ec.message() + " (" + std::to_string(failures.take()) +
                                 " failures since the last report); retrying in " + std::to_string(backoff.count()) +
                                 " ms, backing off up to " + std::to_string(kMaxBackoff.count()) + " ms");
      }
      pause.expires_after(backoff);
      backoff = std::min(backoff * 2, kMaxBackoff);
      auto [waited] = co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      if (waited == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      continue;
    }
    backoff = kFirstBackoff;
    boost::system::error_code rec;
    const auto remote = socket.remote_endpoint(rec);
    if (rec) continue;  // already gone; the socket closes here
    auto admission = limits.admit_connection(remote.address());
    if (!admission.slot) {
      ctx.services.metrics.connections_refused(metric_label(admission.refusal)).Increment();
      ++(admission.refusal == ConnectionLimits::Refusal::server_full ? refused_server : refused_address);
      refuse(socket, admission.refusal);
      if (refusals.due()) {
        refusals.take();
        log::warn("gateway", "refused " + std::to_string(refused_server + refused_address) +
                                 " connections since the last report: " + std::to_string(refused_server) +
                                 " at the server's limit (" + std::to_string(limits.options().max_connections) +
                                 " open connections), " + std::to_string(refused_address) +
                                 " over the limit per address (" + std::to_string(limits.options().per_address) + ")");
        refused_server = refused_address = 0;
      }
      continue;
    }
    ctx.services.metrics.connections_accepted().Increment();
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    if (tls != nullptr) {
      asio::co_spawn(ioc, serve_https(std::move(socket), ctx, std::move(admission.slot), tls->current()),
                     log_exception);
    } else {
      asio::co_spawn(ioc, serve_http(std::move(socket), ctx, std::move(admission.slot)), log_exception);
    }
  }
}

awaitable<void> sweep_loop(asio::steady_timer& timer, PendingSends& pending, std::chrono::milliseconds timeout) {
  for (;;) {
    timer.expires_after(std::chrono::milliseconds(250));
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    pending.expire(timeout);
  }
}

}  // namespace

Server::Server(GatewayOptions options, Services services, std::shared_ptr<TlsContext> tls)
    : options_(std::move(options)),
      tls_(std::move(tls)),
      services_(services),
      limits_({.max_connections = options_.max_connections,
               .per_address = options_.max_connections_per_address,
               .per_user = options_.max_connections_per_user,
               .devices_per_user = options_.max_devices_per_user}),
      budgets_({.rate = options_.user_rate_limit,
                .burst = options_.user_rate_burst,
                .rooms_per_hour = options_.rooms_per_hour}),
      blocking_(static_cast<std::size_t>(std::max(1, options_.blocking_threads))),
      housekeeping_(1),
      contexts_(make_contexts(thread_count(options_.threads))),
      registry_(services_.cluster, blocking_, &services_.metrics.deliveries()),
      pending_({.after = options_.shed_after}, {.outcomes = &services_.metrics.requests("websocket", "send"),
                                                .acknowledged = &services_.metrics.sends_acknowledged()}),
      channels_(services_.cluster, services_.rooms, registry_, [this](std::string_view p) { on_envelope(p); }),
      ctx_{.options = options_,
           .services = services_,
           .registry = registry_,
           .pending = pending_,
           .channels = channels_,
           .blocking = blocking_,
           .hashing = hashing_,
           .limits = limits_,
           .budgets = budgets_},
      acceptor_(*contexts_.front()) {
  options_.tls = ctx_.options.tls = tls_ != nullptr;
  for (const auto op : op_names()) ctx_.op_outcomes.push_back(&services_.metrics.requests("websocket", op));
  ctx_.unknown_op = &services_.metrics.requests("websocket", "unknown");
  for (const auto route : http_route_names()) ctx_.route_outcomes.push_back(&services_.metrics.requests("http", route));
  registry_.on_user_here([this](UserId user, bool here) { here ? channels_.follow(user) : channels_.unfollow(user); });
  for (auto& ioc : contexts_) guards_.push_back(asio::make_work_guard(*ioc));
}

Server::~Server() { stop(); }

asio::io_context& Server::next_context() { return *contexts_[next_.fetch_add(1) % contexts_.size()]; }

void Server::on_envelope(std::string_view payload) {
  auto envelope = records::decode_envelope(payload);
  if (!envelope) {
    log::warn("gateway", "dropping an undecodable envelope");
    return;
  }
  if (auto* deliver = std::get_if<records::Deliver>(&*envelope)) {
    registry_.deliver(deliver->user, std::make_shared<const std::string>(std::move(deliver->frame)));
  } else if (auto* deliveries = std::get_if<records::Deliveries>(&*envelope)) {
    std::vector<std::pair<UserId, std::shared_ptr<const std::string>>> items;
    items.reserve(deliveries->items.size());
    for (auto& d : deliveries->items)
      items.emplace_back(d.user, std::make_shared<const std::string>(std::move(d.frame)));
    registry_.deliver_all(items);
  } else if (auto* done = std::get_if<records::SendDone>(&*envelope)) {
    pending_.complete(done->ticket, done->result);
  } else if (auto* dones = std::get_if<records::SendDones>(&*envelope)) {
    std::vector<std::pair<std::uint64_t, Result<Message>>> results;
    results.reserve(dones->items.size());
    for (auto& d : dones->items) results.emplace_back(d.ticket, std::move(d.result));
    pending_.complete_all(results);
  } else if (auto* event = std::get_if<records::RoomEvent>(&*envelope)) {
    channels_.deliver(*event);
  } else if (auto* changed = std::get_if<records::MembershipChanged>(&*envelope)) {
    const UserId user = changed->user;
    registry_.run_in_order([this, user] { channels_.reload(user); });
  } else if (auto* ended = std::get_if<records::SessionsEnded>(&*envelope)) {
    close_ended_sessions(*ended);
  }
}

void Server::close_ended_sessions(const records::SessionsEnded& ended) {
  using Which = records::SessionsEnded::Which;
  for (const auto& connection : registry_.of(ended.user)) {
    const ports::SessionRecord& session = connection->session();
    const bool match = (ended.which == Which::session && session.token_hash == ended.key) ||
                       (ended.which == Which::device && session.device == ended.key) ||
                       (ended.which == Which::all_but_session && session.token_hash != ended.key);
    if (match) connection->close_session_ended(ended.reason);
  }
}

ports::ServerInfo Server::self() const {
  return {.id = services_.cluster.server_id(), .endpoint = endpoint_, .load = registry_.connection_count()};
}

// Tells the registry every heartbeat that this server is alive and how many
// connections it holds, and retires the servers that stopped saying so
// (with their routes: docs/CLUSTER.md).
awaitable<void> Server::heartbeat_loop() {
  const auto ttl = options_.server_heartbeat * 3;
  for (;;) {
    heartbeat_timer_.expires_after(options_.server_heartbeat);
    auto [ec] = co_await heartbeat_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    // Named jobs: GCC 12 mishandles a lambda with captures written inside
    // a co_await expression.
    const ports::ServerInfo info = self();
    auto beat = [this, info, ttl] { return services_.cluster.heartbeat(info, ttl); };
    auto registered = co_await run_blocking(housekeeping_, std::move(beat));
    if (!registered) {
      log::warn("gateway", "server registry: " + registered.error().message);
      continue;
    }
    if (!*registered) {
      // Retired as dead while it stalled, its routes dropped: add them
      // back, in order with the routes' other changes, and only then be
      // listed again.
      log::warn("gateway", "this server was retired as dead (a stall longer than " + std::to_string(ttl.count()) +
                               " ms): adding its routes again");
      auto restore = [this] {
        registry_.restore_routes();
        return true;
      };
      (void)co_await run_on(registry_.ordered(), std::move(restore));
      auto again = [this, info, ttl] { return services_.cluster.register_self(info, ttl); };
      if (auto listed = co_await run_blocking(housekeeping_, std::move(again)); !listed) {
        log::warn("gateway", "server registry: " + listed.error().message);
        continue;
      }
    }
    auto expire = [this] { return services_.cluster.retire_dead(); };
    auto dead = co_await run_blocking(housekeeping_, std::move(expire));
    if (!dead) {
      log::warn("gateway", "server registry: " + dead.error().message);
      continue;
    }
    for (const auto& id : *dead)
      log::warn("gateway", "server " + id + " missed its heartbeats: retired with its routes");
  }
}

void Server::start() {
  // Whatever this server id held in a previous life (a crash) is stale.
  if (auto cleared = services_.cluster.leave(); !cleared) {
    throw std::runtime_error("cannot reach the server registry: " + cleared.error().message);
  }
  auto sub = services_.cluster.follow_own_channel([this](std::string_view payload) { on_envelope(payload); });
  if (!sub) throw std::runtime_error("cannot subscribe to this server's channel: " + sub.error().message);
  inbox_subscription_ = std::move(sub.value());

  boost::system::error_code ec;
  const auto address = asio::ip::make_address(options_.host, ec);
  if (ec) throw std::runtime_error("bad listen address '" + options_.host + "': " + ec.message());
  const tcp::endpoint endpoint(address, options_.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error("cannot listen on " + options_.host + ":" + std::to_string(options_.port) + ": " +
                             ec.message());
  }

  endpoint_ = options_.advertise;
  if (endpoint_.empty()) {
    // A wildcard listen address is reached on loopback by default.
    const std::string host = address.is_unspecified() ? (address.is_v6() ? "::1" : "127.0.0.1") : address.to_string();
    endpoint_ = (address.is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(port());
  }
  if (auto registered = services_.cluster.register_self(self(), options_.server_heartbeat * 3); !registered) {
    throw std::runtime_error("cannot register in the server registry: " + registered.error().message);
  }

  log::info("gateway", "connection limits: " + std::to_string(limits_.options().max_connections) +
                           " open connections in all, " + std::to_string(limits_.options().per_address) +
                           " per source address, " + std::to_string(limits_.options().per_user) + " WebSockets and " +
                           std::to_string(limits_.options().devices_per_user) + " devices per user");
  asio::co_spawn(*contexts_.front(),
                 accept_loop(
                     acceptor_, limits_, ctx_, [this]() -> asio::io_context& { return next_context(); }, tls_.get()),
                 log_exception);
  asio::co_spawn(*contexts_.front(), sweep_loop(sweep_timer_, pending_, options_.send_timeout), log_exception);
  asio::co_spawn(*contexts_.front(), heartbeat_loop(), log_exception);

  for (std::size_t i = 0; i < contexts_.size(); ++i) {
    threads_.emplace_back([&ioc = contexts_[i], i] {
      name_this_thread("io-" + std::to_string(i));
      ioc->run();
    });
  }
}

std::uint16_t Server::port() const { return acceptor_.local_endpoint().port(); }

void Server::stop() {
  if (stopped_ || threads_.empty()) {
    stopped_ = true;
    return;
  }
  stopped_ = true;
  asio::post(*contexts_.front(), [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  });

  // Let sends already in the log be answered before the connections go.
  (void)pending_.wait_drained(std::chrono::steady_clock::now() + options_.drain_timeout);
  for (const auto& connection : registry_.all()) connection->close_going_away();
  asio::post(*contexts_.front(), [this] {
    sweep_timer_.cancel();
    heartbeat_timer_.cancel();
  });

  guards_.clear();
  // Connections finish their close handshakes, and HTTP requests in flight
  // their answers (and the access log its line); give them a moment, then
  // stop. An idle keep-alive HTTP connection holds this up to the deadline.
  // Every connection, HTTP or WebSocket, holds a slot of limits_ until it
  // is destroyed.
  (void)limits_.wait_none_open(std::chrono::steady_clock::now() + std::chrono::seconds(2));
  for (auto& ioc : contexts_) ioc->stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  inbox_subscription_.reset();
  housekeeping_.join();
  hashing_.join();
  blocking_.join();
  // Gone from the registry, with any route a connection left behind.
  if (auto left = services_.cluster.leave(); !left) {
    log::warn("gateway", "could not leave the server registry: " + left.error().message);
  }
}

}  // namespace parley::gateway
