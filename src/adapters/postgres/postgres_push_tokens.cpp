#include "adapters/postgres/postgres_push_tokens.hpp"

#include "adapters/postgres/postgres_schema.hpp"

namespace parley::postgres {

namespace {

std::vector<Statement> statements() {
  return {
      {"push_take", "DELETE FROM push_tokens WHERE token = $3 AND NOT (user_id = $1 AND device = $2)"},
      {"push_put",
       "INSERT INTO push_tokens (user_id, device, platform, token, updated_at) VALUES ($1, $2, $4, $3, $5) "
       "ON CONFLICT (user_id, device) DO UPDATE SET platform = EXCLUDED.platform, token = EXCLUDED.token, "
       "updated_at = EXCLUDED.updated_at"},
      {"push_list",
       "SELECT device, platform, token, updated_at FROM push_tokens WHERE user_id = $1 ORDER BY device COLLATE \"C\""},
      {"push_remove_if", "DELETE FROM push_tokens WHERE user_id = $1 AND device = $2 AND token = $3"},
      {"push_remove", "DELETE FROM push_tokens WHERE user_id = $1 AND device = $2"},
  };
}

}  // namespace

PostgresPushTokens::PostgresPushTokens(std::unique_ptr<PgPool> pool) : pool_(std::move(pool)) {}

Result<std::unique_ptr<PostgresPushTokens>> PostgresPushTokens::open(PgPoolOptions options) {
  auto pool = PgPool::open(std::move(options), schema_migrations(), statements());
  if (!pool) return std::move(pool).error();
  return std::make_unique<PostgresPushTokens>(std::move(pool).value());
}

Result<void> PostgresPushTokens::put(const ports::DeviceToken& token) {
  if (!token.user.valid() || token.device.empty() || token.token.empty()) {
    return make_error(ErrorCode::bad_request, "a push token needs a user, a device and a token");
  }
  const Params params{id_param(token.user.value), token.device, token.token,
                      token.platform == ports::PushPlatform::apns ? "0" : "1", std::to_string(token.updated_at)};
  // A concurrent put of the same token by another device can commit between
  // our DELETE and INSERT (the unique constraint then says conflict): the
  // retry takes the token from it, as the later registration should.
  Result<void> last = Ok{};
  for (int attempt = 0; attempt < 5; ++attempt) {
    last = pool_->with<void>([&](PGconn* conn) -> Result<void> {
      if (auto begun = exec(conn, "BEGIN", "begin"); !begun) return std::move(begun).error();
      auto taken = exec_prepared(conn, "push_take", {params[0], params[1], params[2]});
      auto stored = taken ? exec_prepared(conn, "push_put", params) : std::move(taken);
      if (!stored) {
        (void)exec(conn, "ROLLBACK", "rollback");
        return std::move(stored).error();
      }
      if (auto committed = exec(conn, "COMMIT", "commit"); !committed) return std::move(committed).error();
      return Ok{};
    });
    if (last || last.error().code != ErrorCode::conflict) return last;
  }
  return last;
}

Result<std::vector<ports::DeviceToken>> PostgresPushTokens::list(UserId user) {
  auto r = pool_->run("push_list", {id_param(user.value)});
  if (!r) return std::move(r).error();
  std::vector<ports::DeviceToken> out;
  const int n = PQntuples(r->get());
  out.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    out.push_back({user, text(r->get(), i, 0),
                   int64(r->get(), i, 1) == 0 ? ports::PushPlatform::apns : ports::PushPlatform::fcm,
                   text(r->get(), i, 2), int64(r->get(), i, 3)});
  }
  return out;
}

Result<void> PostgresPushTokens::remove_if_current(UserId user, std::string_view device, std::string_view token) {
  auto r = pool_->run("push_remove_if", {id_param(user.value), std::string(device), std::string(token)});
  if (!r) return std::move(r).error();
  return Ok{};
}

Result<void> PostgresPushTokens::remove_device(UserId user, std::string_view device) {
  auto r = pool_->run("push_remove", {id_param(user.value), std::string(device)});
  if (!r) return std::move(r).error();
  return Ok{};
}

}  // namespace parley::postgres
