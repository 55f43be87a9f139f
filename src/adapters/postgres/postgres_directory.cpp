#include "adapters/postgres/postgres_directory.hpp"

#include "adapters/postgres/postgres_schema.hpp"
#include "core/clock.hpp"

namespace parley::postgres {

namespace {

// A row of id, username, password_hash, created_at, disabled, deleted.
ports::UserRecord user_row(const PGresult* res, int row) {
  ports::UserRecord u{UserId{static_cast<std::uint64_t>(int64(res, row, 0))}, text(res, row, 1), text(res, row, 2),
                      int64(res, row, 3)};
  u.disabled = boolean(res, row, 4);
  u.deleted = boolean(res, row, 5);
  return u;
}

// A row of user_id, device, created_at, last_used_at, token_hash.
ports::SessionRecord session_row(const PGresult* res, int row) {
  return ports::SessionRecord{UserId{static_cast<std::uint64_t>(int64(res, row, 0))}, text(res, row, 1),
                              int64(res, row, 2), int64(res, row, 3), text(res, row, 4)};
}

std::vector<Statement> statements() {
  return {
      {"dir_create_user", "INSERT INTO users (username, password_hash, created_at) VALUES ($1, $2, $3) RETURNING id"},
      // Deleted users are no user to lookups (they keep their row and name).
      {"dir_user_by_name",
       "SELECT id, username, password_hash, created_at, disabled, deleted FROM users "
       "WHERE username = $1 AND NOT deleted"},
      {"dir_user_by_id",
       "SELECT id, username, password_hash, created_at, disabled, deleted FROM users WHERE id = $1 AND NOT deleted"},
      {"dir_set_password", "UPDATE users SET password_hash = $2 WHERE id = $1 AND NOT deleted RETURNING id"},
      {"dir_set_disabled", "UPDATE users SET disabled = $2 WHERE id = $1 AND NOT deleted RETURNING id"},
      {"dir_delete_user", "UPDATE users SET deleted = true, password_hash = '' WHERE id = $1 RETURNING id"},
      {"dir_deleted_users", "SELECT id FROM users WHERE deleted ORDER BY id"},
      {"dir_list_users",
       "SELECT id, username, password_hash, created_at, disabled, deleted FROM users "
       "WHERE starts_with(username, $1) AND username COLLATE \"C\" > $2 ORDER BY username COLLATE \"C\" LIMIT $3"},
      {"dir_put_session",
       "INSERT INTO sessions (token_hash, user_id, device, created_at, last_used_at) VALUES ($1, $2, $3, $4, $5) "
       "ON CONFLICT (token_hash) DO UPDATE SET user_id = EXCLUDED.user_id, device = EXCLUDED.device, "
       "created_at = EXCLUDED.created_at, last_used_at = EXCLUDED.last_used_at"},
      {"dir_session",
       "SELECT user_id, device, created_at, last_used_at, token_hash FROM sessions WHERE token_hash = $1"},
      {"dir_touch_session",
       "UPDATE sessions SET last_used_at = GREATEST(last_used_at, $2) WHERE token_hash = $1 RETURNING token_hash"},
      {"dir_delete_session", "DELETE FROM sessions WHERE token_hash = $1 RETURNING token_hash"},
      {"dir_user_sessions",
       "SELECT user_id, device, created_at, last_used_at, token_hash FROM sessions WHERE user_id = $1 "
       "ORDER BY device COLLATE \"C\", created_at, token_hash COLLATE \"C\""},
  };
}

}  // namespace

PostgresDirectory::PostgresDirectory(std::unique_ptr<PgPool> pool) : pool_(std::move(pool)) {}

Result<std::unique_ptr<PostgresDirectory>> PostgresDirectory::open(PgPoolOptions options) {
  auto pool = PgPool::open(std::move(options), schema_migrations(), statements());
  if (!pool) return std::move(pool).error();
  return std::make_unique<PostgresDirectory>(std::move(pool).value());
}

Result<ports::UserRecord> PostgresDirectory::create_user(std::string_view username, std::string_view password_hash) {
  const TimeMs created = now_ms();
  auto r = pool_->run("dir_create_user", {std::string(username), std::string(password_hash), std::to_string(created)});
  if (!r) {
    if (r.error().code == ErrorCode::conflict) {
      return make_error(ErrorCode::conflict, "username " + std::string(username) + " is taken");
    }
    return std::move(r).error();
  }
  return ports::UserRecord{UserId{static_cast<std::uint64_t>(int64(r->get(), 0, 0))}, std::string(username),
                           std::string(password_hash), created};
}

Result<ports::UserRecord> PostgresDirectory::one_user(Result<ResultPtr> r, std::string_view what) {
  if (!r) return std::move(r).error();
  const PGresult* res = r->get();
  if (PQntuples(res) == 0) return make_error(ErrorCode::not_found, "no user " + std::string(what));
  return user_row(res, 0);
}

Result<ports::UserRecord> PostgresDirectory::find_user_by_name(std::string_view username) {
  return one_user(pool_->run("dir_user_by_name", {std::string(username)}), username);
}

Result<ports::UserRecord> PostgresDirectory::find_user(UserId id) {
  // Ids beyond bigint cannot exist here.
  if (id.value > static_cast<std::uint64_t>(INT64_MAX)) return make_error(ErrorCode::not_found, "no such user");
  return one_user(pool_->run("dir_user_by_id", {std::to_string(id.value)}), std::to_string(id.value));
}

Result<void> PostgresDirectory::put_session(std::string_view token_hash, const ports::SessionRecord& session) {
  auto r = pool_->run("dir_put_session", {std::string(token_hash), std::to_string(session.user.value), session.device,
                                          std::to_string(session.created_at), std::to_string(session.last_used_at)});
  if (!r) return std::move(r).error();
  return Ok{};
}

Result<ports::SessionRecord> PostgresDirectory::find_session(std::string_view token_hash) {
  auto r = pool_->run("dir_session", {std::string(token_hash)});
  if (!r) return std::move(r).error();
  const PGresult* res = r->get();
  if (PQntuples(res) == 0) return make_error(ErrorCode::not_found, "no such session");
  return session_row(res, 0);
}

Result<void> PostgresDirectory::set_password(UserId id, std::string_view password_hash) {
  if (id.value > static_cast<std::uint64_t>(INT64_MAX)) return make_error(ErrorCode::not_found, "no such user");
  auto r = pool_->run("dir_set_password", {std::to_string(id.value), std::string(password_hash)});
  if (!r) return std::move(r).error();
  if (PQntuples(r->get()) == 0) return make_error(ErrorCode::not_found, "no such user");
  return Ok{};
}

Result<void> PostgresDirectory::set_disabled(UserId id, bool disabled) {
  if (id.value > static_cast<std::uint64_t>(INT64_MAX)) return make_error(ErrorCode::not_found, "no such user");
  auto r = pool_->run("dir_set_disabled", {std::to_string(id.value), disabled ? "t" : "f"});
  if (!r) return std::move(r).error();
  if (PQntuples(r->get()) == 0) return make_error(ErrorCode::not_found, "no such user");
  return Ok{};
}

Result<void> PostgresDirectory::delete_user(UserId id) {
  if (id.value > static_cast<std::uint64_t>(INT64_MAX)) return make_error(ErrorCode::not_found, "no such user");
  auto r = pool_->run("dir_delete_user", {std::to_string(id.value)});
  if (!r) return std::move(r).error();
  if (PQntuples(r->get()) == 0) return make_error(ErrorCode::not_found, "no such user");
  return Ok{};
}

Result<std::vector<UserId>> PostgresDirectory::deleted_users() {
  auto r = pool_->run("dir_deleted_users", {});
  if (!r) return std::move(r).error();
  const PGresult* res = r->get();
  std::vector<UserId> out;
  out.reserve(static_cast<std::size_t>(PQntuples(res)));
  for (int row = 0; row < PQntuples(res); ++row) out.push_back(UserId{static_cast<std::uint64_t>(int64(res, row, 0))});
  return out;
}

Result<std::vector<ports::UserRecord>> PostgresDirectory::list_users(std::string_view prefix, std::string_view after,
                                                                     int limit) {
  std::vector<ports::UserRecord> out;
  if (limit <= 0) return out;
  auto r = pool_->run("dir_list_users", {std::string(prefix), std::string(after), std::to_string(limit)});
  if (!r) return std::move(r).error();
  const PGresult* res = r->get();
  out.reserve(static_cast<std::size_t>(PQntuples(res)));
  for (int row = 0; row < PQntuples(res); ++row) out.push_back(user_row(res, row));
  return out;
}

Result<void> PostgresDirectory::touch_session(std::string_view token_hash, TimeMs when) {
  auto r = pool_->run("dir_touch_session", {std::string(token_hash), std::to_string(when)});
  if (!r) return std::move(r).error();
  if (PQntuples(r->get()) == 0) return make_error(ErrorCode::not_found, "no such session");
  return Ok{};
}

Result<void> PostgresDirectory::delete_session(std::string_view token_hash) {
  auto r = pool_->run("dir_delete_session", {std::string(token_hash)});
  if (!r) return std::move(r).error();
  if (PQntuples(r->get()) == 0) return make_error(ErrorCode::not_found, "no such session");
  return Ok{};
}

Result<std::vector<ports::SessionRecord>> PostgresDirectory::list_sessions(UserId user) {
  if (user.value > static_cast<std::uint64_t>(INT64_MAX)) return std::vector<ports::SessionRecord>{};
  auto r = pool_->run("dir_user_sessions", {std::to_string(user.value)});
  if (!r) return std::move(r).error();
  const PGresult* res = r->get();
  std::vector<ports::SessionRecord> out;
  out.reserve(static_cast<std::size_t>(PQntuples(res)));
  for (int row = 0; row < PQntuples(res); ++row) out.push_back(session_row(res, row));
  return out;
}

}  // namespace parley::postgres
