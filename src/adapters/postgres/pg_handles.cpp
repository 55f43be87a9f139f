#include "adapters/postgres/pg_handles.hpp"

#include <charconv>

namespace parley::postgres {

Error to_error(PGconn* conn, const PGresult* result, std::string_view what) {
  std::string message = "postgres: " + std::string(what) + ": ";
  const char* detail = result != nullptr ? PQresultErrorMessage(result) : nullptr;
  message += (detail != nullptr && *detail != '\0') ? detail : PQerrorMessage(conn);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  if (PQstatus(conn) != CONNECTION_OK) return make_error(ErrorCode::unavailable, std::move(message));
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string_view sqlstate = state != nullptr ? state : "";
  if (sqlstate == "23505") return make_error(ErrorCode::conflict, std::move(message));  // unique_violation
  // Connection exceptions (08*), shutdown (57P*), too many connections (53300).
  if (sqlstate.starts_with("08") || sqlstate.starts_with("57P") || sqlstate == "53300") {
    return make_error(ErrorCode::unavailable, std::move(message));
  }
  return make_error(ErrorCode::internal, std::move(message));
}

namespace {

Result<ResultPtr> checked(PGconn* conn, ResultPtr result, std::string_view what) {
  const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;
  return to_error(conn, result.get(), what);
}

}  // namespace

Result<ResultPtr> exec(PGconn* conn, const std::string& sql, std::string_view what) {
  return checked(conn, ResultPtr(PQexec(conn, sql.c_str())), what);
}

Result<ResultPtr> exec_prepared(PGconn* conn, const std::string& name, const Params& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  return checked(conn,
                 ResultPtr(PQexecPrepared(conn, name.c_str(), static_cast<int>(values.size()), values.data(), nullptr,
                                          nullptr, 0)),
                 name);
}

std::string id_param(std::uint64_t id) { return std::to_string(static_cast<std::int64_t>(id)); }

std::uint64_t id_column(const PGresult* r, int row, int col) { return static_cast<std::uint64_t>(int64(r, row, col)); }

std::string text(const PGresult* r, int row, int col) {
  return std::string(PQgetvalue(r, row, col), static_cast<std::size_t>(PQgetlength(r, row, col)));
}

std::int64_t int64(const PGresult* r, int row, int col) {
  const char* v = PQgetvalue(r, row, col);
  std::int64_t out = 0;
  std::from_chars(v, v + PQgetlength(r, row, col), out);
  return out;
}

bool boolean(const PGresult* r, int row, int col) {
  return PQgetlength(r, row, col) > 0 && *PQgetvalue(r, row, col) == 't';
}

std::string bytea_param(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\\x";
  out.reserve(2 + 2 * bytes.size());
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xF]);
  }
  return out;
}

std::string hex_column(const PGresult* r, int row, int col) {
  const std::string_view hex(PQgetvalue(r, row, col), static_cast<std::size_t>(PQgetlength(r, row, col)));
  auto nibble = [](char c) -> unsigned {
    if (c >= '0' && c <= '9') return static_cast<unsigned>(c - '0');
    if (c >= 'a' && c <= 'f') return static_cast<unsigned>(c - 'a' + 10);
    return static_cast<unsigned>(c - 'A' + 10);
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>((nibble(hex[i]) << 4) | nibble(hex[i + 1])));
  }
  return out;
}

std::string text_array_param(std::span<const std::string> items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (const char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

std::string quote_identifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace parley::postgres
