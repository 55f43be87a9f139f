#pragma once
// CqlSession: what a production driver does for Parley's workload, over
// CqlConnection.
//
// - Nodes: the contact points, then every node that system.local and
//   system.peers name (discovered once, at open: a node added later is not
//   used until the session is opened again; docs/OPERATIONS.md), each
//   with a pool of connections opened in the background and reopened after
//   a failure (no more often than every reconnect_delay).
// - Routing: a prepared statement whose partition key is bound goes first
//   to the node owning the key's Murmur3 token, the other nodes following
//   in ring order; other statements start at the next node round robin.
// - Prepared statements: prepared once per session (cached by query text)
//   and prepared again on a node that answers UNPREPARED, then re-sent.
// - Retries: an idempotent statement that times out, meets a closed or
//   down node, or gets unavailable/overloaded/timeout errors is tried on
//   the next node of its plan, up to max_attempts in all. A statement that
//   is not idempotent is never re-sent after it may have reached a node.
// - Timeouts: each attempt waits request_timeout at most.
//
// All methods are synchronous and thread-safe: they run the request on the
// session's own I/O thread and block the caller until the answer or the
// timeout, so they must not be called from that thread. Failures to reach
// Cassandra are ErrorCode::unavailable; errors the server reports for the
// statement itself (syntax, invalid) are ErrorCode::internal.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "adapters/cassandra/cql_protocol.hpp"
#include "core/result.hpp"

namespace parley::cassandra {

struct CqlOptions {
  std::vector<std::string> contact_points{"127.0.0.1:9042"};  // host:port; the port is used for every node
  Consistency consistency = Consistency::local_quorum;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{5000};
  std::chrono::milliseconds reconnect_delay{500};
  int connections_per_node = 1;
  int max_attempts = 3;
  CqlCredentials credentials;  // for PasswordAuthenticator; empty: none
  // Set: every connection speaks TLS (1.2 or later), each node's
  // certificate checked against these CA certificates (PEM) and the node's
  // IP address. Empty: plain TCP.
  std::string ca_file;
};

// A statement prepared in this session. Immutable once made.
struct PreparedStatement {
  std::string cql;
  Prepared meta;
};

struct Statement {
  std::shared_ptr<const PreparedStatement> prepared;
  std::vector<CqlValue> values;
};

struct ExecuteOptions {
  bool idempotent = false;
  std::int32_t page_size = 0;
  std::string paging_state;
  std::optional<Consistency> consistency;  // else the session's
  std::chrono::milliseconds timeout{0};    // per attempt; 0: the session's request_timeout
};

class CqlSession {
 public:
  // Connects to the contact points, waits for one to answer, discovers the
  // other nodes and the token ring. Fails with unavailable when no contact
  // point answers within the connect timeout.
  [[nodiscard]] static Result<std::unique_ptr<CqlSession>> open(CqlOptions options);
  ~CqlSession();
  CqlSession(const CqlSession&) = delete;
  CqlSession& operator=(const CqlSession&) = delete;

  // A simple (unprepared) statement; for schema changes and rare queries.
  [[nodiscard]] Result<Rows> query(const std::string& cql, std::vector<CqlValue> values = {},
                                   const ExecuteOptions& options = {});

  // Prepares `cql` (or returns the cached statement).
  [[nodiscard]] Result<std::shared_ptr<const PreparedStatement>> prepare(const std::string& cql);

  // Runs a prepared statement: one page of rows for a SELECT (its
  // metadata.paging_state is empty on the last page), nothing otherwise.
  [[nodiscard]] Result<Rows> execute(const Statement& statement, const ExecuteOptions& options = {});

  // Runs statements concurrently (each routed by its own key) and waits for
  // all; the first error if any failed.
  [[nodiscard]] Result<void> execute_all(const std::vector<Statement>& statements, const ExecuteOptions& options = {});

  // Runs statements concurrently (each routed by its own key, at most
  // `window` in flight, so that one caller cannot take every stream of a
  // connection) and returns each one's first page, in order; the first error
  // if any failed.
  [[nodiscard]] Result<std::vector<Rows>> execute_each(const std::vector<Statement>& statements,
                                                       const ExecuteOptions& options = {}, std::size_t window = 128);

  // Runs statements as one BATCH, routed by the first statement's key.
  [[nodiscard]] Result<void> batch(BatchType type, const std::vector<Statement>& statements,
                                   const ExecuteOptions& options = {});

  // Runs several BATCHes concurrently and waits for all; the first error
  // if any failed.
  [[nodiscard]] Result<void> batch_all(BatchType type, const std::vector<std::vector<Statement>>& batches,
                                       const ExecuteOptions& options = {});

  // Runs each group as one request, concurrently (at most `window` in
  // flight), and waits for all: a group of one statement as an EXECUTE, a
  // larger one as an UNLOGGED BATCH routed by its first statement's key.
  // Meant for groups that each hold one partition's rows (applied as one
  // mutation on each replica, with no batchlog); the first error if any
  // failed, after every request has finished.
  [[nodiscard]] Result<void> write_each(const std::vector<std::vector<Statement>>& groups,
                                        const ExecuteOptions& options = {}, std::size_t window = 128);

  // write_each() with fewer requests: the groups whose partition keys
  // belong to the same node (by token) go to that node together, as
  // UNLOGGED BATCHes of up to `max_bytes` of values and `max_partitions`
  // partitions, or more when a node would get more than kBatchesPerNode
  // batches (a group is never split, and the groups of one partition
  // share a batch unless it outgrows `max_bytes`), all at once. The node is
  // a replica of every row it is sent, so no request takes an extra hop,
  // and it applies each partition's rows as one mutation, with no
  // batchlog. It applies the mutations of one batch one after another, each
  // waiting for its commit log sync (`batch` or `group` mode), while
  // batches side by side share syncs: hence the cap on partitions, which
  // keeps a write's latency from growing with its size. No atomicity
  // across groups: for rows that are idempotent and retried together by
  // the caller.
  [[nodiscard]] Result<void> write_by_node(const std::vector<std::vector<Statement>>& groups,
                                           const ExecuteOptions& options = {}, std::size_t max_bytes = 32 * 1024,
                                           std::size_t max_partitions = kPartitionsPerBatch);

  // write_by_node()'s cap on the partitions of one batch, and the most
  // batches it sends a node at once (more partitions than both allow make
  // larger batches). With 16 and 32, and a node's concurrent_writes at 32,
  // a 1:1 message batch's inbox writes took 10-20 ms instead of 40-110 ms
  // (docs/BENCHMARKS.md, eleventh round).
  static constexpr std::size_t kPartitionsPerBatch = 16;
  static constexpr std::size_t kBatchesPerNode = 32;

  // The nodes known, as "address:port", and the number of ring tokens
  // (for operations and tests).
  [[nodiscard]] std::vector<std::string> nodes() const;
  [[nodiscard]] std::size_t ring_size() const;

  struct Impl;

 private:
  explicit CqlSession(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace parley::cassandra
