#pragma once
// PgPool: a small pool of PostgreSQL connections used from the calling
// thread.
//
// The ports are synchronous and are called from the gateway's blocking pool
// and the pipeline threads, never from I/O threads, so a statement simply
// runs on the caller's thread over a leased connection. Every connection
// works in the pool's schema (search_path) and has the registered statements
// prepared. A connection found broken is replaced on its next lease, so the
// pool recovers by itself after PostgreSQL restarts; while it is down,
// leases fail with ErrorCode::unavailable. A lease waits at most
// `acquire_timeout` for a free connection.
//
// At open, the schema is created if missing and the migrations not yet
// recorded in its schema_migrations table are applied, each in its own
// transaction, under an advisory lock so that servers starting together
// apply each once.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "adapters/postgres/pg_handles.hpp"

namespace parley::postgres {

struct PgPoolOptions {
  std::string conninfo;  // a libpq URL or key=value string
  std::string schema = "parley";
  std::size_t size = 4;
  std::chrono::milliseconds acquire_timeout{5000};
  std::chrono::seconds connect_timeout{5};
};

struct Migration {
  int version = 0;
  std::string sql;
};

struct Statement {
  std::string name;
  std::string sql;
};

class PgPool {
 public:
  // Connects one connection, applies `migrations`, and prepares
  // `statements` on every connection it makes.
  [[nodiscard]] static Result<std::unique_ptr<PgPool>> open(PgPoolOptions options,
                                                            const std::vector<Migration>& migrations,
                                                            std::vector<Statement> statements);

  // Use open(); public only for make_unique.
  PgPool(PgPoolOptions options, std::vector<Statement> statements);
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  // Runs `work` with a connection of the pool. If the connection turns out
  // broken afterwards, it is dropped (and a fresh one made next time).
  template <class T>
  [[nodiscard]] Result<T> with(const std::function<Result<T>(PGconn*)>& work) {
    auto conn = lease();
    if (!conn) return std::move(conn).error();
    Result<T> result = work(conn->get());
    give_back(std::move(conn).value());
    return result;
  }

  // A prepared statement on a leased connection.
  [[nodiscard]] Result<ResultPtr> run(const std::string& statement, const Params& params);

  // Readiness: SELECT 1 on a connection of its own (made again after a
  // failure), so that a pool busy with work does not read as PostgreSQL
  // being down. Unavailable when PostgreSQL cannot be reached.
  [[nodiscard]] Result<void> probe();

 private:
  [[nodiscard]] Result<ConnPtr> connect();
  [[nodiscard]] Result<ConnPtr> lease();
  void give_back(ConnPtr conn);

  PgPoolOptions options_;
  std::vector<Statement> statements_;
  std::mutex mu_;  // guards idle_ and open_
  std::condition_variable freed_;
  std::vector<ConnPtr> idle_;
  std::size_t open_ = 0;  // connections made and not dropped, leased or idle
  std::mutex probe_mu_;   // guards probe_conn_
  ConnPtr probe_conn_;    // probe()'s own connection
};

}  // namespace parley::postgres
