#include "adapters/postgres/pg_pool.hpp"

#include "core/log.hpp"

namespace parley::postgres {

namespace {

// What PostgreSQL reports past client_min_messages (warnings) goes to the
// server's log, in its format, not to libpq's default: raw lines on stderr.
void on_notice(void* /*arg*/, const char* message) {
  std::string_view text(message);
  while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  log::warn("postgres", text);
}

// Any key=value or URL conninfo with a connect timeout added, so that a
// server that does not answer fails the lease instead of hanging it.
std::vector<std::pair<std::string, std::string>> connect_params(const PgPoolOptions& o) {
  return {{"dbname", o.conninfo},
          {"connect_timeout", std::to_string(o.connect_timeout.count())},
          {"application_name", "parley"}};
}

// A connection with the pool's settings, not yet set up.
Result<ConnPtr> connect_raw(const PgPoolOptions& o) {
  const auto params = connect_params(o);
  std::vector<const char*> keys;
  std::vector<const char*> values;
  for (const auto& [k, v] : params) {
    keys.push_back(k.c_str());
    values.push_back(v.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  // expand_dbname=1: the conninfo in "dbname" may be a full URL or
  // key=value string; the other keys add to it.
  ConnPtr conn(PQconnectdbParams(keys.data(), values.data(), 1));
  if (!conn || PQstatus(conn.get()) != CONNECTION_OK) {
    std::string why = conn ? PQerrorMessage(conn.get()) : "out of memory";
    while (!why.empty() && why.back() == '\n') why.pop_back();
    return make_error(ErrorCode::unavailable, "postgres: cannot connect: " + why);
  }
  PQsetNoticeProcessor(conn.get(), on_notice, nullptr);
  return conn;
}

}  // namespace

PgPool::PgPool(PgPoolOptions options, std::vector<Statement> statements)
    : options_(std::move(options)), statements_(std::move(statements)) {}

Result<ConnPtr> PgPool::connect() {
  auto connected = connect_raw(options_);
  if (!connected) return connected;
  ConnPtr conn = std::move(connected).value();
  // NOTICEs (such as a search query's word that the text parser drops)
  // are noise: only warnings and worse reach on_notice().
  auto set = exec(conn.get(),
                  "SET search_path TO " + quote_identifier(options_.schema) + "; SET client_min_messages TO warning",
                  "session settings");
  if (!set) return std::move(set).error();
  for (const auto& s : statements_) {
    ResultPtr prepared(PQprepare(conn.get(), s.name.c_str(), s.sql.c_str(), 0, nullptr));
    if (!prepared || PQresultStatus(prepared.get()) != PGRES_COMMAND_OK) {
      return to_error(conn.get(), prepared.get(), "prepare " + s.name);
    }
  }
  return conn;
}

Result<void> PgPool::probe() {
  std::lock_guard lock(probe_mu_);
  if (!probe_conn_ || PQstatus(probe_conn_.get()) != CONNECTION_OK) {
    probe_conn_.reset();
    auto connected = connect_raw(options_);
    if (!connected) return std::move(connected).error();
    probe_conn_ = std::move(connected).value();
  }
  if (auto r = exec(probe_conn_.get(), "SELECT 1", "probe"); !r) {
    probe_conn_.reset();
    return std::move(r).error();
  }
  return Ok{};
}

Result<std::unique_ptr<PgPool>> PgPool::open(PgPoolOptions options, const std::vector<Migration>& migrations,
                                             std::vector<Statement> statements) {
  auto pool = std::make_unique<PgPool>(std::move(options), std::move(statements));
  const std::string schema = quote_identifier(pool->options_.schema);

  // Migrations run on a connection of their own, before any statement is
  // prepared (the statements need the tables).
  auto connected = connect_raw(pool->options_);
  if (!connected) return std::move(connected).error();
  ConnPtr conn = std::move(connected).value();
  PGconn* c = conn.get();
  // Quiet NOTICEs such as "schema already exists, skipping".
  if (auto r = exec(c, "SET client_min_messages TO warning", "settings"); !r) return std::move(r).error();
  if (auto r = exec(c, "CREATE SCHEMA IF NOT EXISTS " + schema, "create schema"); !r) {
    // Two servers creating one schema at once: the loser sees a conflict.
    if (r.error().code != ErrorCode::conflict) return std::move(r).error();
  }
  if (auto r = exec(c, "SET search_path TO " + schema, "set search_path"); !r) return std::move(r).error();
  for (const auto& m : migrations) {
    if (auto r = exec(c, "BEGIN", "begin"); !r) return std::move(r).error();
    // One migrator per schema at a time; the lock ends with the transaction.
    auto locked = exec(c, "SELECT pg_advisory_xact_lock(hashtext(current_schema()))", "migration lock");
    if (!locked) return std::move(locked).error();
    auto table = exec(c,
                      "CREATE TABLE IF NOT EXISTS schema_migrations ("
                      "version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
                      "schema_migrations");
    if (!table) return std::move(table).error();
    auto applied =
        exec(c, "SELECT 1 FROM schema_migrations WHERE version = " + std::to_string(m.version), "read migrations");
    if (!applied) return std::move(applied).error();
    if (PQntuples(applied->get()) == 0) {
      auto run = exec(c, m.sql, "migration " + std::to_string(m.version));
      if (!run) {
        (void)exec(c, "ROLLBACK", "rollback");
        return std::move(run).error();
      }
      auto recorded = exec(c, "INSERT INTO schema_migrations (version) VALUES (" + std::to_string(m.version) + ")",
                           "record migration");
      if (!recorded) return std::move(recorded).error();
    }
    if (auto r = exec(c, "COMMIT", "commit"); !r) return std::move(r).error();
  }
  return pool;
}

Result<ConnPtr> PgPool::lease() {
  {
    std::unique_lock lock(mu_);
    const bool got =
        freed_.wait_for(lock, options_.acquire_timeout, [&] { return !idle_.empty() || open_ < options_.size; });
    if (!got) return make_error(ErrorCode::unavailable, "postgres: no free connection");
    if (!idle_.empty()) {
      ConnPtr conn = std::move(idle_.back());
      idle_.pop_back();
      return conn;
    }
    ++open_;  // a slot for the connection made below, outside the lock
  }
  auto conn = connect();
  if (!conn) {
    std::lock_guard lock(mu_);
    --open_;
    freed_.notify_one();
  }
  return conn;
}

void PgPool::give_back(ConnPtr conn) {
  std::lock_guard lock(mu_);
  if (PQstatus(conn.get()) == CONNECTION_OK && PQtransactionStatus(conn.get()) == PQTRANS_IDLE) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;  // broken or left mid-transaction: dropped; the next lease connects anew
  }
  freed_.notify_one();
}

Result<ResultPtr> PgPool::run(const std::string& statement, const Params& params) {
  auto conn = lease();
  if (!conn) return std::move(conn).error();
  auto result = exec_prepared(conn->get(), statement, params);
  give_back(std::move(conn).value());
  return result;
}

}  // namespace parley::postgres
