#include "adapters/cassandra/cql_session.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "adapters/cassandra/cql_connection.hpp"
#include "adapters/cassandra/murmur3.hpp"
#include "core/bytes.hpp"
#include "core/log.hpp"

namespace parley::cassandra {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

Error unavailable(const std::string& why) { return make_error(ErrorCode::unavailable, "cassandra: " + why); }

// An error the server reported, as a port error: the ones that say the
// cluster could not serve the statement now are `unavailable` (a caller may
// retry later); the rest are bugs in the statement.
Error server_error(const ServerError& e) {
  switch (e.code) {
    case error_code::unavailable:
    case error_code::overloaded:
    case error_code::is_bootstrapping:
    case error_code::write_timeout:
    case error_code::read_timeout:
    case error_code::read_failure:
    case error_code::write_failure: return make_error(ErrorCode::unavailable, "cassandra: " + e.message);
    default: return make_error(ErrorCode::internal, "cassandra error " + std::to_string(e.code) + ": " + e.message);
  }
}

// Errors after which the coordinator did not run the statement: any
// statement may go to the next node.
bool not_executed(std::int32_t code) {
  return code == error_code::unavailable || code == error_code::overloaded || code == error_code::is_bootstrapping;
}

// Errors after which the statement may or may not have been applied: only
// an idempotent statement may be sent again.
bool maybe_executed(std::int32_t code) {
  return code == error_code::write_timeout || code == error_code::read_timeout || code == error_code::server_error ||
         code == error_code::read_failure || code == error_code::write_failure;
}

// "host:port" split; the port defaults to 9042.
std::pair<std::string, std::uint16_t> split_address(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) return {address, 9042};
  return {address.substr(0, colon), static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1)))};
}

// A set<text> value: [int n] then n [bytes].
// Stops at the first element that is short or null, keeping those before it.
std::vector<std::string> decode_text_set(const CqlValue& v) {
  std::vector<std::string> out;
  if (!v) return out;
  bytes::Reader r(*v);
  std::int32_t count = 0;
  if (!r.i32_be(count)) return out;
  for (std::int32_t i = 0; i < count; ++i) {
    std::int32_t length = 0;
    std::string_view element;
    if (!r.i32_be(length) || length < 0 || !r.bytes(static_cast<std::size_t>(length), element)) break;
    out.emplace_back(element);
  }
  return out;
}

// An inet value (4 or 16 bytes) as an address.
std::optional<asio::ip::address> decode_inet(const CqlValue& v) {
  if (!v) return std::nullopt;
  if (v->size() == 4) {
    asio::ip::address_v4::bytes_type b{};
    std::copy(v->begin(), v->end(), b.begin());
    return asio::ip::address(asio::ip::address_v4(b));
  }
  if (v->size() == 16) {
    asio::ip::address_v6::bytes_type b{};
    std::copy(v->begin(), v->end(), b.begin());
    return asio::ip::address(asio::ip::address_v6(b));
  }
  return std::nullopt;
}

std::optional<std::int64_t> token_of(const Statement& s) {
  if (!s.prepared) return std::nullopt;
  auto key = routing_key(s.prepared->meta.partition_key_indexes, s.values);
  if (!key) return std::nullopt;
  return murmur3_token(*key);
}

// One request on its way: completed once, on the I/O thread.
struct Call {
  std::promise<Result<Response>> promise;
  bool done = false;
  std::size_t node = 0;  // where it went; read only after completion

  void finish(Result<Response> r) {
    if (done) return;
    done = true;
    promise.set_value(std::move(r));
  }
};

struct Sent {
  std::shared_ptr<Call> call;
  std::future<Result<Response>> future;
};

struct Node {
  std::string name;  // "address:port"
  tcp::endpoint endpoint;
  std::vector<std::shared_ptr<CqlConnection>> pool;
  // Requests parked until a connection of this node is ready (true) or
  // connecting failed (false).
  std::vector<std::function<void(bool)>> waiting;
  Clock::time_point retry_at{};
  bool was_up = false;
  std::string last_error;  // why the last connection attempt failed
};

struct Peer {
  tcp::endpoint endpoint;
  std::vector<std::int64_t> tokens;
};

// A TLS client context that trusts the CA certificates in `ca_file` (PEM)
// only, TLS 1.2 or later.
Result<std::shared_ptr<asio::ssl::context>> tls_context(const std::string& ca_file) {
  auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  context->load_verify_file(ca_file, ec);
  if (ec) return make_error(ErrorCode::bad_request, "cassandra: cannot load the CA certificates in " + ca_file);
  context->set_verify_mode(asio::ssl::verify_peer, ec);
  return context;
}

}  // namespace

struct CqlSession::Impl {
  explicit Impl(CqlOptions options_) : options(std::move(options_)), work(asio::make_work_guard(io)) {}

  CqlOptions options;
  std::shared_ptr<asio::ssl::context> tls;  // every connection's, when options.ca_file is set
  std::uint16_t port = 9042;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  std::thread thread;
  std::atomic<std::size_t> round_robin{0};

  // I/O thread only.
  std::vector<std::unique_ptr<Node>> nodes;
  std::vector<std::pair<std::int64_t, std::size_t>> ring;  // (token, node), sorted by token

  // A copy of the node names and ring size for nodes()/ring_size().
  mutable std::mutex info_mu;
  std::vector<std::string> node_names;
  std::size_t ring_tokens = 0;

  // Guards `prepared`: query text → its statement.
  std::mutex prepared_mu;
  std::map<std::string, std::shared_ptr<const PreparedStatement>, std::less<>> prepared;

  // --- I/O thread ---------------------------------------------------------

  std::size_t add_node(const tcp::endpoint& endpoint) {
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      if (nodes[i]->endpoint == endpoint) return i;
    }
    auto node = std::make_unique<Node>();
    node->endpoint = endpoint;
    node->name = endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
    node->pool.resize(static_cast<std::size_t>(std::max(1, options.connections_per_node)));
    nodes.push_back(std::move(node));
    publish_info();
    return nodes.size() - 1;
  }

  void publish_info() {
    std::lock_guard lock(info_mu);
    node_names.clear();
    for (const auto& n : nodes) node_names.push_back(n->name);
    ring_tokens = ring.size();
  }

  std::shared_ptr<CqlConnection> ready_connection(const Node& n) const {
    std::shared_ptr<CqlConnection> best;
    for (const auto& c : n.pool) {
      if (c && c->ready() && (!best || c->in_flight() < best->in_flight())) best = c;
    }
    return best;
  }

  static bool connecting(const Node& n) {
    return std::any_of(n.pool.begin(), n.pool.end(), [](const auto& c) { return c && !c->ready() && !c->closed(); });
  }

  // Opens every connection of the pool that is missing or closed.
  void connect(std::size_t index) {
    Node& n = *nodes[index];
    for (auto& slot : n.pool) {
      if (slot && !slot->closed()) continue;
      slot = std::make_shared<CqlConnection>(io, n.endpoint, options.connect_timeout, options.credentials, tls);
      slot->start([this, index](const Result<void>& r) { on_connection(index, r); });
    }
  }

  void on_connection(std::size_t index, const Result<void>& r) {
    Node& n = *nodes[index];
    if (r) {
      if (!n.was_up) log::info("cassandra", "connected to " + n.name);
      n.was_up = true;
    } else {
      if (ready_connection(n) || connecting(n)) return;  // another connection may still make it
      if (n.was_up) log::warn("cassandra", "node " + n.name + " is down: " + r.error().message);
      n.was_up = false;
      n.last_error = r.error().message;
      n.retry_at = Clock::now() + options.reconnect_delay;
    }
    auto waiting = std::exchange(n.waiting, {});
    for (auto& w : waiting) w(r.ok());
  }

  void send_to(std::size_t index, Opcode opcode, std::string body, const std::shared_ptr<Call>& call) {
    Node& n = *nodes[index];
    call->node = index;
    if (auto c = ready_connection(n)) {
      c->send(opcode, body, [call](Result<Response> r) { call->finish(std::move(r)); });
      return;
    }
    if (!connecting(n)) {
      if (Clock::now() < n.retry_at) {
        return call->finish(unavailable("node " + n.name + " is down (" + n.last_error + ")"));
      }
      connect(index);
    }
    n.waiting.push_back([this, index, opcode, body = std::move(body), call](bool up) mutable {
      if (!up) return call->finish(make_error(ErrorCode::unavailable, nodes[index]->last_error));
      auto c = ready_connection(*nodes[index]);
      if (!c) return call->finish(unavailable("no connection to " + nodes[index]->name));
      c->send(opcode, body, [call](Result<Response> r) { call->finish(std::move(r)); });
    });
  }

  // The node for attempt `attempt` of a statement: the token's owner (or
  // the round-robin start) first, then the next nodes in order.
  std::size_t target(std::optional<std::int64_t> token, std::size_t base, int attempt) const {
    std::size_t first = base;
    if (token && !ring.empty()) {
      auto it = std::lower_bound(ring.begin(), ring.end(), std::make_pair(*token, std::size_t{0}));
      if (it == ring.end()) it = ring.begin();
      first = it->second;
    }
    return (first + static_cast<std::size_t>(attempt)) % nodes.size();
  }

  // --- caller threads -------------------------------------------------------

  Sent start(Opcode opcode, std::string body, std::optional<std::int64_t> token, std::size_t base, int attempt,
             std::optional<std::size_t> pinned) {
    auto call = std::make_shared<Call>();
    auto future = call->promise.get_future();
    asio::post(io, [this, opcode, body = std::move(body), token, base, attempt, pinned, call]() mutable {
      if (nodes.empty()) return call->finish(unavailable("no nodes"));
      const std::size_t node = pinned ? *pinned % nodes.size() : target(token, base, attempt);
      send_to(node, opcode, std::move(body), call);
    });
    return {std::move(call), std::move(future)};
  }

  Result<Response> wait(Sent& sent, std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) const {
    if (timeout.count() <= 0) timeout = options.request_timeout;
    if (sent.future.wait_for(timeout) != std::future_status::ready) {
      return unavailable("request timed out after " + std::to_string(timeout.count()) + " ms");
    }
    return sent.future.get();
  }

  // The query text of a prepared id (for re-preparing after UNPREPARED).
  std::optional<std::string> cql_of(std::string_view id) {
    std::lock_guard lock(prepared_mu);
    for (const auto& [cql, p] : prepared) {
      if (p->meta.id == id) return cql;
    }
    return std::nullopt;
  }

  // Runs one request to completion: the retry, re-prepare and timeout
  // policy of the class comment. Returns the response, which is never a
  // server error (those become Errors).
  Result<Response> run(Opcode opcode, const std::string& body, std::optional<std::int64_t> token, bool idempotent,
                       std::chrono::milliseconds timeout, std::optional<Sent> already = std::nullopt) {
    const std::size_t base = round_robin.fetch_add(1, std::memory_order_relaxed);
    int reprepares = 0;
    for (int attempt = 0;;) {
      Sent sent = already ? std::move(*already) : start(opcode, body, token, base, attempt, std::nullopt);
      already.reset();
      auto r = wait(sent, timeout);
      const bool last = attempt + 1 >= options.max_attempts;
      if (!r) {
        if (!idempotent || last) return std::move(r).error();
        ++attempt;
        continue;
      }
      if (r->kind != Response::Kind::error) return r;
      const ServerError& e = r->error;
      if (e.code == error_code::unprepared && reprepares < 3) {
        // The statement did not run: prepare it on that node and send it
        // again there (the id does not change).
        ++reprepares;
        auto cql = cql_of(e.unprepared_id);
        if (!cql) return make_error(ErrorCode::internal, "cassandra: UNPREPARED for an unknown statement id");
        Sent again = start(Opcode::prepare, prepare_body(*cql), std::nullopt, 0, 0, sent.call->node);
        auto p = wait(again, timeout);
        if (!p || p->kind == Response::Kind::error) {
          if (last) return p ? server_error(p->error) : std::move(p).error();
          ++attempt;
        }
        continue;
      }
      if (!last && (not_executed(e.code) || (idempotent && maybe_executed(e.code)))) {
        ++attempt;
        continue;
      }
      return server_error(e);
    }
  }

  // The node each token goes to first (the round-robin start where there
  // is no token), read on the I/O thread.
  std::vector<std::size_t> owners(const std::vector<std::optional<std::int64_t>>& tokens) {
    std::promise<std::vector<std::size_t>> done;
    auto future = done.get_future();
    const std::size_t base = round_robin.fetch_add(1, std::memory_order_relaxed);
    asio::post(io, [this, &tokens, &done, base] {
      std::vector<std::size_t> out;
      out.reserve(tokens.size());
      for (const auto& t : tokens) out.push_back(nodes.empty() ? 0 : target(t, base, 0));
      done.set_value(std::move(out));
    });
    return future.get();
  }

  std::vector<Peer> read_peers(std::size_t node, Result<void>& status) {
    std::vector<Peer> out;
    QueryParameters p;
    p.consistency = Consistency::one;
    Sent sent = start(Opcode::query, query_body("SELECT peer, rpc_address, tokens FROM system.peers", p), std::nullopt,
                      0, 0, node);
    auto r = wait(sent);
    if (!r || r->kind != Response::Kind::rows) {
      status = r ? (r->kind == Response::Kind::error ? server_error(r->error)
                                                     : make_error(ErrorCode::internal, "cassandra: bad peers"))
                 : std::move(r).error();
      return out;
    }
    for (const auto& row : r->rows.rows) {
      if (row.size() < 3) continue;
      auto address = decode_inet(row[1]);
      if (!address || address->is_unspecified()) address = decode_inet(row[0]);
      if (!address) continue;
      Peer peer{tcp::endpoint(*address, port), {}};
      for (const auto& t : decode_text_set(row[2])) peer.tokens.push_back(std::stoll(t));
      out.push_back(std::move(peer));
    }
    return out;
  }

  // Reads system.local and system.peers (at open) and connects to the nodes
  // they name.
  Result<void> discover() {
    // system.local of one node that answers: its tokens are that node's.
    std::size_t node = 0;
    std::size_t node_count = 0;
    {
      std::promise<std::size_t> count;
      asio::post(io, [this, &count] { count.set_value(nodes.size()); });
      node_count = count.get_future().get();
    }
    Result<Response> local = unavailable("no node answered");
    for (std::size_t tries = 0; tries < node_count; ++tries, node = (node + 1) % node_count) {
      QueryParameters p;
      p.consistency = Consistency::one;
      Sent sent = start(Opcode::query, query_body("SELECT tokens FROM system.local", p), std::nullopt, 0, 0, node);
      local = wait(sent);
      if (local && local->kind == Response::Kind::rows && !local->rows.rows.empty()) break;
    }
    if (!local) return std::move(local).error();
    if (local->kind == Response::Kind::error) return server_error(local->error);
    if (local->kind != Response::Kind::rows || local->rows.rows.empty() || local->rows.rows[0].empty()) {
      return make_error(ErrorCode::internal, "cassandra: system.local has no row");
    }
    std::vector<std::int64_t> local_tokens;
    for (const auto& t : decode_text_set(local->rows.rows[0][0])) local_tokens.push_back(std::stoll(t));
    Result<void> status;
    auto peers = read_peers(node, status);
    if (!status) return status;

    std::promise<void> applied;
    asio::post(io, [&, node] {
      std::vector<std::pair<std::int64_t, std::size_t>> next;
      next.reserve(local_tokens.size());
      for (const auto t : local_tokens) next.emplace_back(t, node);
      for (const auto& peer : peers) {
        const std::size_t index = add_node(peer.endpoint);
        for (const auto t : peer.tokens) next.emplace_back(t, index);
        if (!ready_connection(*nodes[index]) && !connecting(*nodes[index])) connect(index);
      }
      std::sort(next.begin(), next.end());
      ring = std::move(next);
      publish_info();
      applied.set_value();
    });
    applied.get_future().get();
    return Ok{};
  }

  void shut_down() {
    std::promise<void> closed;
    asio::post(io, [this, &closed] {
      for (auto& n : nodes) {
        for (auto& w : std::exchange(n->waiting, {})) w(false);
        for (auto& c : n->pool) {
          if (c) c->close("session closed");
        }
      }
      closed.set_value();
    });
    closed.get_future().wait();
    work.reset();
    io.stop();
    if (thread.joinable()) thread.join();
  }
};

CqlSession::CqlSession(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

CqlSession::~CqlSession() { impl_->shut_down(); }

Result<std::unique_ptr<CqlSession>> CqlSession::open(CqlOptions options) {
  if (options.contact_points.empty()) return make_error(ErrorCode::bad_request, "cassandra: no contact points");
  options.max_attempts = std::max(1, options.max_attempts);
  auto impl = std::make_shared<Impl>(std::move(options));
  if (!impl->options.ca_file.empty()) {
    auto tls = tls_context(impl->options.ca_file);
    if (!tls) return std::move(tls).error();
    impl->tls = std::move(tls).value();
  }
  std::vector<tcp::endpoint> endpoints;
  try {
    tcp::resolver resolver(impl->io);
    for (const auto& address : impl->options.contact_points) {
      const auto [host, port] = split_address(address);
      impl->port = port;
      for (const auto& entry : resolver.resolve(host, std::to_string(port))) endpoints.push_back(entry.endpoint());
    }
  } catch (const std::exception& e) {
    return make_error(ErrorCode::bad_request, std::string("cassandra: bad contact point: ") + e.what());
  }
  if (endpoints.empty()) return make_error(ErrorCode::bad_request, "cassandra: no contact point resolves");
  for (const auto& e : endpoints) impl->add_node(e);
  impl->thread = std::thread([raw = impl.get()] { raw->io.run(); });
  std::unique_ptr<CqlSession> session(new CqlSession(impl));  // NOLINT: private constructor
  if (auto r = impl->discover(); !r) return std::move(r).error();
  return session;
}

Result<Rows> CqlSession::query(const std::string& cql, std::vector<CqlValue> values, const ExecuteOptions& options) {
  QueryParameters p;
  p.consistency = options.consistency.value_or(impl_->options.consistency);
  p.values = std::move(values);
  p.page_size = options.page_size;
  p.paging_state = options.paging_state;
  auto r = impl_->run(Opcode::query, query_body(cql, p), std::nullopt, options.idempotent, options.timeout);
  if (!r) return std::move(r).error();
  return std::move(r->rows);
}

Result<std::shared_ptr<const PreparedStatement>> CqlSession::prepare(const std::string& cql) {
  {
    std::lock_guard lock(impl_->prepared_mu);
    if (auto it = impl_->prepared.find(cql); it != impl_->prepared.end()) return it->second;
  }
  auto r = impl_->run(Opcode::prepare, prepare_body(cql), std::nullopt, true, std::chrono::milliseconds(0));
  if (!r) return std::move(r).error();
  if (r->kind != Response::Kind::prepared) return make_error(ErrorCode::internal, "cassandra: PREPARE gave no id");
  auto statement = std::make_shared<const PreparedStatement>(PreparedStatement{cql, std::move(r->prepared)});
  std::lock_guard lock(impl_->prepared_mu);
  return impl_->prepared.emplace(cql, std::move(statement)).first->second;
}

namespace {

QueryParameters parameters(const Statement& s, const ExecuteOptions& options, Consistency fallback) {
  QueryParameters p;
  p.consistency = options.consistency.value_or(fallback);
  p.values = s.values;
  p.page_size = options.page_size;
  p.paging_state = options.paging_state;
  return p;
}

}  // namespace

Result<Rows> CqlSession::execute(const Statement& statement, const ExecuteOptions& options) {
  if (!statement.prepared) return make_error(ErrorCode::internal, "cassandra: execute without a statement");
  const auto body =
      execute_body(statement.prepared->meta.id, parameters(statement, options, impl_->options.consistency));
  auto r = impl_->run(Opcode::execute, body, token_of(statement), options.idempotent, options.timeout);
  if (!r) return std::move(r).error();
  return std::move(r->rows);
}

Result<void> CqlSession::execute_all(const std::vector<Statement>& statements, const ExecuteOptions& options) {
  // First attempts all at once; each then finishes under the usual policy.
  std::vector<std::string> bodies;
  std::vector<Sent> sent;
  bodies.reserve(statements.size());
  sent.reserve(statements.size());
  for (const auto& s : statements) {
    if (!s.prepared) return make_error(ErrorCode::internal, "cassandra: execute without a statement");
    bodies.push_back(execute_body(s.prepared->meta.id, parameters(s, options, impl_->options.consistency)));
    const std::size_t base = impl_->round_robin.fetch_add(1, std::memory_order_relaxed);
    sent.push_back(impl_->start(Opcode::execute, bodies.back(), token_of(s), base, 0, std::nullopt));
  }
  Result<void> outcome;
  for (std::size_t i = 0; i < statements.size(); ++i) {
    auto r = impl_->run(Opcode::execute, bodies[i], token_of(statements[i]), options.idempotent, options.timeout,
                        std::move(sent[i]));
    if (!r && outcome) outcome = std::move(r).error();
  }
  return outcome;
}

Result<std::vector<Rows>> CqlSession::execute_each(const std::vector<Statement>& statements,
                                                   const ExecuteOptions& options, std::size_t window) {
  std::vector<Rows> out;
  out.reserve(statements.size());
  window = std::max<std::size_t>(window, 1);
  for (std::size_t first = 0; first < statements.size(); first += window) {
    const std::size_t last = std::min(statements.size(), first + window);
    std::vector<std::string> bodies;
    std::vector<Sent> sent;
    bodies.reserve(last - first);
    sent.reserve(last - first);
    for (std::size_t i = first; i < last; ++i) {
      const Statement& s = statements[i];
      if (!s.prepared) return make_error(ErrorCode::internal, "cassandra: execute without a statement");
      bodies.push_back(execute_body(s.prepared->meta.id, parameters(s, options, impl_->options.consistency)));
      const std::size_t base = impl_->round_robin.fetch_add(1, std::memory_order_relaxed);
      sent.push_back(impl_->start(Opcode::execute, bodies.back(), token_of(s), base, 0, std::nullopt));
    }
    // Wait for the whole window even after a failure: nothing may still
    // refer to `bodies` once this returns.
    std::optional<Error> failure;
    for (std::size_t i = first; i < last; ++i) {
      auto r = impl_->run(Opcode::execute, bodies[i - first], token_of(statements[i]), options.idempotent,
                          options.timeout, std::move(sent[i - first]));
      if (!r) {
        if (!failure) failure = std::move(r).error();
        continue;
      }
      out.push_back(std::move(r->rows));
    }
    if (failure) return *failure;
  }
  return out;
}

namespace {

Result<std::string> batch_request(BatchType type, const std::vector<Statement>& statements, Consistency consistency) {
  std::vector<BatchStatement> items;
  items.reserve(statements.size());
  for (const auto& s : statements) {
    if (!s.prepared) return make_error(ErrorCode::internal, "cassandra: batch without a statement");
    items.push_back({s.prepared->meta.id, s.values});
  }
  return batch_body(type, items, consistency);
}

}  // namespace

Result<void> CqlSession::batch(BatchType type, const std::vector<Statement>& statements,
                               const ExecuteOptions& options) {
  return batch_all(type, {statements}, options);
}

Result<void> CqlSession::batch_all(BatchType type, const std::vector<std::vector<Statement>>& batches,
                                   const ExecuteOptions& options) {
  const Consistency consistency = options.consistency.value_or(impl_->options.consistency);
  std::vector<std::string> bodies;
  std::vector<std::optional<std::int64_t>> tokens;
  std::vector<Sent> sent;
  for (const auto& statements : batches) {
    if (statements.empty()) continue;
    auto body = batch_request(type, statements, consistency);
    if (!body) return std::move(body).error();
    bodies.push_back(std::move(body).value());
    tokens.push_back(token_of(statements.front()));
    const std::size_t base = impl_->round_robin.fetch_add(1, std::memory_order_relaxed);
    sent.push_back(impl_->start(Opcode::batch, bodies.back(), tokens.back(), base, 0, std::nullopt));
  }
  Result<void> outcome;
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    auto r = impl_->run(Opcode::batch, bodies[i], tokens[i], options.idempotent, options.timeout, std::move(sent[i]));
    if (!r && outcome) outcome = std::move(r).error();
  }
  return outcome;
}

Result<void> CqlSession::write_each(const std::vector<std::vector<Statement>>& groups, const ExecuteOptions& options,
                                    std::size_t window) {
  const Consistency consistency = options.consistency.value_or(impl_->options.consistency);
  std::vector<const std::vector<Statement>*> todo;
  todo.reserve(groups.size());
  for (const auto& g : groups) {
    if (!g.empty()) todo.push_back(&g);
  }
  window = std::max<std::size_t>(window, 1);
  std::optional<Error> failure;
  for (std::size_t first = 0; first < todo.size(); first += window) {
    const std::size_t last = std::min(todo.size(), first + window);
    struct Request {
      Opcode opcode;
      std::string body;
      std::optional<std::int64_t> token;
    };
    std::vector<Request> requests;
    std::vector<Sent> sent;
    requests.reserve(last - first);
    sent.reserve(last - first);
    for (std::size_t i = first; i < last; ++i) {
      const auto& g = *todo[i];
      if (g.size() == 1) {
        if (!g.front().prepared) return make_error(ErrorCode::internal, "cassandra: execute without a statement");
        requests.push_back({Opcode::execute,
                            execute_body(g.front().prepared->meta.id, parameters(g.front(), options, consistency)),
                            token_of(g.front())});
      } else {
        auto body = batch_request(BatchType::unlogged, g, consistency);
        if (!body) return std::move(body).error();
        requests.push_back({Opcode::batch, std::move(body).value(), token_of(g.front())});
      }
    }
    for (const auto& r : requests) {
      const std::size_t base = impl_->round_robin.fetch_add(1, std::memory_order_relaxed);
      sent.push_back(impl_->start(r.opcode, r.body, r.token, base, 0, std::nullopt));
    }
    // Wait for the whole window even after a failure: nothing may still
    // refer to `requests` once this returns.
    for (std::size_t i = 0; i < requests.size(); ++i) {
      auto r = impl_->run(requests[i].opcode, requests[i].body, requests[i].token, options.idempotent, options.timeout,
                          std::move(sent[i]));
      if (!r && !failure) failure = std::move(r).error();
    }
    if (failure) return *failure;
  }
  return Ok{};
}

Result<void> CqlSession::write_by_node(const std::vector<std::vector<Statement>>& groups, const ExecuteOptions& options,
                                       std::size_t max_bytes, std::size_t max_partitions) {
  std::vector<const std::vector<Statement>*> todo;
  std::vector<std::optional<std::int64_t>> tokens;
  for (const auto& g : groups) {
    if (g.empty()) continue;
    todo.push_back(&g);
    tokens.push_back(token_of(g.front()));
  }
  if (todo.empty()) return Ok{};
  max_partitions = std::max<std::size_t>(max_partitions, 1);
  const auto owner = impl_->owners(tokens);
  std::map<std::size_t, std::vector<std::size_t>> by_node;  // node -> indexes into todo
  for (std::size_t i = 0; i < todo.size(); ++i) by_node[owner[i]].push_back(i);
  // Groups of one partition: the same token (a group without one is a
  // partition of its own).
  auto same_partition = [&tokens](std::size_t a, std::size_t b) { return tokens[a] && tokens[a] == tokens[b]; };
  std::vector<std::vector<Statement>> batches;
  for (auto& [node, indexes] : by_node) {
    // The groups of one partition next to each other (in their order), so
    // that they share a batch and make one mutation.
    std::stable_sort(indexes.begin(), indexes.end(),
                     [&tokens](std::size_t a, std::size_t b) { return tokens[a].value_or(0) < tokens[b].value_or(0); });
    // At most kBatchesPerNode batches side by side: a node applies as many
    // at once (its concurrent_writes), so more would only wait there, and
    // cost a request each.
    std::size_t node_partitions = 0;
    for (std::size_t k = 0; k < indexes.size(); ++k) {
      if (k == 0 || !same_partition(indexes[k], indexes[k - 1])) ++node_partitions;
    }
    const std::size_t per_batch = std::max(max_partitions, (node_partitions + kBatchesPerNode - 1) / kBatchesPerNode);
    std::size_t bytes = 0;
    std::size_t partitions = 0;
    for (std::size_t k = 0; k < indexes.size(); ++k) {
      const std::size_t i = indexes[k];
      std::size_t n = 0;
      for (const auto& st : *todo[i]) {
        for (const auto& v : st.values) n += v ? v->size() : 0;
      }
      const bool new_partition = k == 0 || !same_partition(i, indexes[k - 1]);
      if (k == 0 || bytes + n > max_bytes || (new_partition && partitions == per_batch)) {
        batches.emplace_back();
        bytes = 0;
        partitions = 0;
      }
      bytes += n;
      if (new_partition || partitions == 0) ++partitions;
      batches.back().insert(batches.back().end(), todo[i]->begin(), todo[i]->end());
    }
  }
  // Every batch at once: a node applies the mutations of one batch one
  // after another, each waiting for its commit log sync, but those of
  // batches side by side share syncs.
  return write_each(batches, options, batches.size());
}

std::vector<std::string> CqlSession::nodes() const {
  std::lock_guard lock(impl_->info_mu);
  return impl_->node_names;
}

std::size_t CqlSession::ring_size() const {
  std::lock_guard lock(impl_->info_mu);
  return impl_->ring_tokens;
}

}  // namespace parley::cassandra
