#pragma once
// PostgresDirectory: the Directory port on PostgreSQL (libpq).
//
// Tables (in the pool's schema, created at open by the shared migrations of
// postgres_schema.cpp):
//   users(id bigint identity, username text unique, password_hash, created_at)
//   sessions(token_hash text primary key, user_id, device, created_at,
//            last_used_at), indexed by (user_id, device, created_at)
// Ids come from an identity column: unique and never reused, across
// restarts and across servers. A taken username is a unique violation,
// reported as ErrorCode::conflict, so concurrent creates of one name have
// exactly one winner. Every statement is prepared once per connection.

#include <memory>

#include "adapters/postgres/pg_pool.hpp"
#include "ports/directory.hpp"

namespace parley::postgres {

class PostgresDirectory final : public ports::Directory {
 public:
  [[nodiscard]] static Result<std::unique_ptr<PostgresDirectory>> open(PgPoolOptions options);

  // Use open(); public only for make_unique.
  explicit PostgresDirectory(std::unique_ptr<PgPool> pool);

  [[nodiscard]] Result<ports::UserRecord> create_user(std::string_view username,
                                                      std::string_view password_hash) override;
  [[nodiscard]] Result<ports::UserRecord> find_user_by_name(std::string_view username) override;
  [[nodiscard]] Result<ports::UserRecord> find_user(UserId id) override;
  [[nodiscard]] Result<void> set_password(UserId id, std::string_view password_hash) override;
  [[nodiscard]] Result<void> set_disabled(UserId id, bool disabled) override;
  [[nodiscard]] Result<void> delete_user(UserId id) override;
  [[nodiscard]] Result<std::vector<UserId>> deleted_users() override;
  [[nodiscard]] Result<std::vector<ports::UserRecord>> list_users(std::string_view prefix, std::string_view after,
                                                                  int limit) override;
  [[nodiscard]] Result<void> put_session(std::string_view token_hash, const ports::SessionRecord& session) override;
  [[nodiscard]] Result<ports::SessionRecord> find_session(std::string_view token_hash) override;
  // One UPDATE of a row that is there: a deleted session stays deleted.
  [[nodiscard]] Result<void> touch_session(std::string_view token_hash, TimeMs when) override;
  [[nodiscard]] Result<void> delete_session(std::string_view token_hash) override;
  [[nodiscard]] Result<std::vector<ports::SessionRecord>> list_sessions(UserId user) override;

  // Readiness: whether PostgreSQL answers (PgPool::probe).
  [[nodiscard]] Result<void> probe() { return pool_->probe(); }

 private:
  [[nodiscard]] Result<ports::UserRecord> one_user(Result<ResultPtr> result, std::string_view what);

  std::unique_ptr<PgPool> pool_;
};

}  // namespace parley::postgres
