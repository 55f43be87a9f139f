#include "gateway/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <stdexcept>

#include "core/log.hpp"
#include "core/thread_name.hpp"
#include "gateway/blocking.hpp"
#include "gateway/connection.hpp"
#include "gateway/http_session.hpp"
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

void log_exception(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    log::error("gateway", std::string("connection task failed: ") + ex.what());
  }
}

// Whether an accept failed for want of a resource (descriptors, memory)
// that only time can give back: retrying at once would spin.
bool out_of_resources(const boost::system::error_code& ec) {
  // Accept reports the system's errno values.
  const int v = ec.value();
  return v == EMFILE || v == ENFILE || v == ENOBUFS || v == ENOMEM;
}

awaitable<void> accept_loop(tcp::acceptor& acceptor, Server& server, Context& ctx,
                            std::function<asio::io_context&()> next_context) {
  // Past the descriptor limit every accept fails at once while the
  // pending connection stays queued: back off, and say so at most once a
  // second (with how many failed meanwhile), never once per failure.
  constexpr auto kBackoff = std::chrono::milliseconds(50);
  asio::steady_timer pause(acceptor.get_executor());
  std::chrono::steady_clock::time_point last_report{};
  std::uint64_t unreported = 0;
  for (;;) {
    asio::io_context& ioc = next_context();
    auto [ec, socket] = co_await acceptor.async_accept(ioc, asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      ++unreported;
      if (const auto now = std::chrono::steady_clock::now(); now - last_report >= std::chrono::seconds(1)) {
        log::warn("gateway", "accept failed: " + ec.message() + " (" + std::to_string(unreported) +
                                 " failures since the last report)" + (out_of_resources(ec) ? "; backing off" : ""));
        last_report = now;
        unreported = 0;
      }
      if (out_of_resources(ec)) {
        pause.expires_after(kBackoff);
        auto [waited] = co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
        if (waited == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      }
      continue;
    }
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    asio::co_spawn(ioc, serve_http(std::move(socket), ctx), log_exception);
  }
  (void)server;
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

Server::Server(GatewayOptions options, Services services)
    : options_(std::move(options)),
      blocking_(4),
      housekeeping_(1),
      registry_(services.state, services.chat.server_id(), blocking_),
      pending_({.after = options_.shed_after}),
      channels_(services.state, services.room_store, registry_, [this](std::string_view p) { on_envelope(p); }),
      ctx_{options_,           services.chat,       services.auth,     services.rooms,    services.conversations,
           services.directory, services.room_store, services.state,    registry_,         pending_,
           channels_,          blocking_,           services.social,   services.presence, services.push_tokens,
           services.push,      services.search,     services.readiness},
      acceptor_(blocking_) {
  ctx_.hashing = &hashing_;
  registry_.on_user_here([this](UserId user, bool here) { here ? channels_.follow(user) : channels_.unfollow(user); });
  const int n = thread_count(options_.threads);
  for (int i = 0; i < n; ++i) {
    contexts_.push_back(std::make_unique<asio::io_context>(1));
    guards_.push_back(asio::make_work_guard(*contexts_.back()));
  }
  acceptor_ = tcp::acceptor(*contexts_.front());
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
  } else if (auto* done = std::get_if<records::SendDone>(&*envelope)) {
    pending_.complete(done->ticket, done->result);
  } else if (auto* event = std::get_if<records::RoomEvent>(&*envelope)) {
    channels_.deliver(*event);
  } else if (auto* changed = std::get_if<records::MembershipChanged>(&*envelope)) {
    const UserId user = changed->user;
    registry_.run_in_order([this, user] { channels_.reload(user); });
  }
}

ports::ServerInfo Server::self() const {
  return {.id = ctx_.chat.server_id(), .endpoint = endpoint_, .load = registry_.connection_count()};
}

// Tells the registry every heartbeat that this server is alive and how many
// connections it holds, and retires the servers that stopped saying so
// (with their routes: docs/CLUSTER.md).
awaitable<void> Server::heartbeat_loop() {
  const auto ttl = options_.server_heartbeat * 3;
  for (;;) {
    heartbeat_timer_->expires_after(options_.server_heartbeat);
    auto [ec] = co_await heartbeat_timer_->async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    // A named job: GCC 12 mishandles a lambda with captures written inside
    // a co_await expression.
    auto job = [this, info = self(), ttl]() -> Result<std::vector<std::string>> {
      auto registered = ctx_.state.heartbeat_server(info, ttl);
      if (!registered) return registered.error();
      if (!*registered) {
        // Retired as dead while it stalled, its routes dropped: add them
        // back, and only then be listed again.
        log::warn("gateway", "this server was retired as dead (a stall longer than " + std::to_string(ttl.count()) +
                                 " ms): adding its routes again");
        registry_.restore_routes().wait();
        if (auto again = ctx_.state.register_server(info, ttl); !again) return again.error();
      }
      return ctx_.state.expire_servers();
    };
    auto dead = co_await run_blocking(housekeeping_, std::move(job));
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
  if (auto cleared = ctx_.state.remove_server(ctx_.chat.server_id()); !cleared) {
    throw std::runtime_error("cannot reach the server registry: " + cleared.error().message);
  }
  auto sub = ctx_.state.subscribe(records::server_channel(ctx_.chat.server_id()),
                                  [this](std::string_view payload) { on_envelope(payload); });
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
  if (auto registered = ctx_.state.register_server(self(), options_.server_heartbeat * 3); !registered) {
    throw std::runtime_error("cannot register in the server registry: " + registered.error().message);
  }

  asio::co_spawn(*contexts_.front(),
                 accept_loop(acceptor_, *this, ctx_, [this]() -> asio::io_context& { return next_context(); }),
                 log_exception);
  sweep_timer_ = std::make_unique<asio::steady_timer>(*contexts_.front());
  asio::co_spawn(*contexts_.front(), sweep_loop(*sweep_timer_, pending_, options_.send_timeout), log_exception);
  heartbeat_timer_ = std::make_unique<asio::steady_timer>(*contexts_.front());
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
  const auto deadline = std::chrono::steady_clock::now() + options_.drain_timeout;
  while (pending_.size() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (const auto& connection : registry_.all()) connection->close_going_away();
  asio::post(*contexts_.front(), [this] {
    sweep_timer_->cancel();
    heartbeat_timer_->cancel();
  });

  guards_.clear();
  // Connections finish their close handshakes; give them a moment, then stop.
  const auto close_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (registry_.connection_count() > 0 && std::chrono::steady_clock::now() < close_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (auto& ioc : contexts_) ioc->stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  inbox_subscription_.reset();
  housekeeping_.join();
  hashing_.join();
  blocking_.join();
  // Gone from the registry, with any route a connection left behind.
  if (auto left = ctx_.state.remove_server(ctx_.chat.server_id()); !left) {
    log::warn("gateway", "could not leave the server registry: " + left.error().message);
  }
}

}  // namespace parley::gateway
