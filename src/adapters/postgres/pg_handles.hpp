#pragma once
// Owning handles for libpq objects and the helpers the PostgreSQL adapter
// shares: running a prepared statement with text parameters, reading
// columns, and mapping failures to the ports' error codes.

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace parley::postgres {

struct PgDeleter {
  void operator()(PGconn* c) const noexcept { PQfinish(c); }
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using ConnPtr = std::unique_ptr<PGconn, PgDeleter>;
using ResultPtr = std::unique_ptr<PGresult, PgDeleter>;

// A statement's parameters, as text (NULL for nullopt).
using Params = std::vector<std::optional<std::string>>;

// The ports' error for a failed statement: a unique violation is conflict,
// a lost connection unavailable, anything else internal.
[[nodiscard]] Error to_error(PGconn* conn, const PGresult* result, std::string_view what);

// Runs SQL with no parameters (migrations, SET); the error as above.
[[nodiscard]] Result<ResultPtr> exec(PGconn* conn, const std::string& sql, std::string_view what);

// Runs the prepared statement `name`; the result when it succeeded
// (PGRES_COMMAND_OK or PGRES_TUPLES_OK).
[[nodiscard]] Result<ResultPtr> exec_prepared(PGconn* conn, const std::string& name, const Params& params);

// Ids are unsigned 64-bit; bigint is signed: an id is stored as the bigint
// with the same bits, so every id fits and comes back unchanged.
[[nodiscard]] std::string id_param(std::uint64_t id);
[[nodiscard]] std::uint64_t id_column(const PGresult* r, int row, int col);

[[nodiscard]] std::string text(const PGresult* r, int row, int col);
[[nodiscard]] std::int64_t int64(const PGresult* r, int row, int col);
// A boolean column ('t' or 'f' in text format).
[[nodiscard]] bool boolean(const PGresult* r, int row, int col);

// Bytes of any value (a NUL, bytes that are not UTF-8) as a bytea parameter
// ('\x' and hex), and a bytea column selected as encode(column, 'hex').
[[nodiscard]] std::string bytea_param(std::string_view bytes);
[[nodiscard]] std::string hex_column(const PGresult* r, int row, int col);

// A text[] parameter: every element quoted, so any text is safe in it.
[[nodiscard]] std::string text_array_param(std::span<const std::string> items);

// A quoted SQL identifier (a schema name).
[[nodiscard]] std::string quote_identifier(std::string_view name);

// Runs `work` inside a transaction on `conn`: committed when it succeeds,
// rolled back otherwise (a connection left mid-transaction by a failed
// ROLLBACK is dropped by the pool).
template <class T, class Work>
[[nodiscard]] Result<T> in_transaction(PGconn* conn, Work&& work) {
  if (auto begun = exec(conn, "BEGIN", "begin"); !begun) return std::move(begun).error();
  Result<T> result = work();
  if (!result) {
    (void)exec(conn, "ROLLBACK", "rollback");
    return result;
  }
  if (auto committed = exec(conn, "COMMIT", "commit"); !committed) return std::move(committed).error();
  return result;
}

}  // namespace parley::postgres
