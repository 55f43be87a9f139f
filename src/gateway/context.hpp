#pragma once
// What every connection of one gateway shares. Owned by the Server; sessions
// hold a reference for their life, which ends before the Server's.

#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "core/metrics.hpp"
#include "services/admin_service.hpp"
#include "services/auth.hpp"
#include "services/chat_service.hpp"
#include "services/cluster.hpp"
#include "services/conversation_service.hpp"
#include "services/presence_service.hpp"
#include "services/push_dispatcher.hpp"
#include "services/readiness.hpp"
#include "services/rooms_service.hpp"
#include "services/search_service.hpp"
#include "services/session_service.hpp"
#include "services/social_service.hpp"

namespace parley::gateway {

class SessionRegistry;
class PendingSends;
class ChannelHub;

struct GatewayOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  int threads = 0;  // 0: one per core
  // Threads for service calls that block (directory, rooms, search, the
  // state store's round trips on the scale-out engines), off the I/O threads.
  // Each request waits on at most one such call, which takes about a
  // millisecond against the engines: 4 keep thousands of requests a second
  // moving without a thread per core.
  int blocking_threads = 4;
  std::size_t max_frame = 64 * 1024;  // bytes; a larger frame closes with 1009
  std::size_t max_body = 16 * 1024;   // bytes of a message body
  std::size_t max_http_body = 64 * 1024;
  double rate_limit = 100;  // requests per second per connection
  double rate_burst = 200;
  // Per-user budgets across the user's connections and servers
  // (UserBudgets): units a second, units at once, rooms created an hour.
  double user_rate_limit = 200;
  double user_rate_burst = 400;
  double rooms_per_hour = 50;
  std::size_t max_write_queue = 4096;  // frames queued for one slow connection before it is closed
  // Bytes of frames queued for one connection: past half, its requests
  // wait for its writes; an event past all of it closes the connection.
  std::size_t max_queued_bytes = 8U << 20;
  std::chrono::milliseconds send_timeout{10000};
  // Load shedding (PendingSends): while the oldest of at least 256 waiting
  // sends has waited longer than this, new sends are refused with
  // `unavailable`. 0: never.
  std::chrono::milliseconds shed_after{2000};
  std::chrono::milliseconds drain_timeout{5000};
  // Connection limits (ConnectionLimits, docs/OPERATIONS.md "Limits").
  // Open connections in all, HTTP and WebSocket; 0: the descriptor limit
  // less a reserve (ConnectionLimits::default_max_connections). Beyond it a
  // new connection is answered 503 and closed at once.
  std::size_t max_connections = 0;
  // Open connections from one source address; beyond it, 429 and closed.
  std::size_t max_connections_per_address = 256;
  // WebSocket connections of one user on this server, and distinct devices
  // of one user connected to it at once; beyond either, the upgrade is
  // refused with 429 rate_limited.
  std::size_t max_connections_per_user = 64;
  std::size_t max_devices_per_user = 32;
  std::chrono::milliseconds idle_timeout{
      90000};  // a WebSocket that sends nothing (not even pings) for this long is closed
  // The server registry (docs/CLUSTER.md): where clients reach this server
  // (HOST:PORT; empty: the listen address with the bound port), and how
  // often it says it is alive and how loaded; it counts as dead after
  // three heartbeats missed.
  std::string advertise;
  std::chrono::milliseconds server_heartbeat{2000};
  // The admin API's bearer token (--admin-token-file's content); empty:
  // the admin API is off.
  std::string admin_token;
  // Whether the listener serves TLS only (HTTPS and WSS; the Server is given
  // a TlsContext): the server list then names wss:// URLs.
  bool tls = false;
  // Web origins ("https://chat.example.com", lowercase) whose pages may call
  // the HTTP API and open WebSockets (cors.hpp); empty: none but the server's own.
  std::vector<std::string> cors_origins;
};

// The services the gateway calls, built by main(): the gateway reaches the
// engines only through them.
struct Services {
  services::ChatService& chat;
  services::Auth& auth;
  services::RoomsService& rooms;
  services::ConversationService& conversations;
  services::SocialService& social;
  services::PresenceService& presence;
  services::SessionService& sessions;  // GET and DELETE /v1/sessions…, the password, push_register
  services::SearchService& search;
  services::PushDispatcher& push;        // badge-clearing pushes on reads
  services::AdminService& admin;         // the admin API (/v1/admin/*), on with GatewayOptions::admin_token
  services::Cluster& cluster;            // the server registry, routes, this server's channels
  const services::Readiness& readiness;  // GET /v1/readyz
  Metrics& metrics;                      // GET /metrics and what the gateway counts there
};

class BoundedPool;
class ConnectionLimits;
class UserBudgets;

// The services and the gateway's own runtime: the sessions it holds, the
// sends waiting for their answer, the channels it follows, its pools and
// limits.
struct Context {
  GatewayOptions options;
  Services& services;
  SessionRegistry& registry;
  PendingSends& pending;
  ChannelHub& channels;
  boost::asio::thread_pool& blocking;  // runs service calls that block
  BoundedPool& hashing;                // password hashing (logins, sign-ups)
  ConnectionLimits& limits;            // open connections, per address and per user
  UserBudgets& budgets;                // per-user request budgets
  // What the gateway counts (GET /metrics), resolved once by the Server:
  // the series of each WebSocket op (by find_op's index), of WebSocket
  // requests whose op is not known (bad frames, unknown ops, refusals by
  // the connection's rate limit), and of each HTTP route (by http_route's
  // index).
  std::vector<RequestOutcomes*> op_outcomes{};
  RequestOutcomes* unknown_op = nullptr;
  std::vector<RequestOutcomes*> route_outcomes{};
};

}  // namespace parley::gateway
