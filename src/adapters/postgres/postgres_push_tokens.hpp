#pragma once
// PostgresPushTokens: the PushTokens port on PostgreSQL (libpq).
//
// Table push_tokens (postgres_schema.cpp): primary key (user, device) and a
// unique token, so a token moves to the (user, device) that registered it
// last. put() is one transaction (take the token from its previous holder,
// then upsert), retried when a concurrent put of the same token wins the
// unique constraint first.

#include <memory>

#include "adapters/postgres/pg_pool.hpp"
#include "ports/push_tokens.hpp"

namespace parley::postgres {

class PostgresPushTokens final : public ports::PushTokens {
 public:
  [[nodiscard]] static Result<std::unique_ptr<PostgresPushTokens>> open(PgPoolOptions options);

  // Use open(); public only for make_unique.
  explicit PostgresPushTokens(std::unique_ptr<PgPool> pool);

  [[nodiscard]] Result<void> put(const ports::DeviceToken& token) override;
  [[nodiscard]] Result<std::vector<ports::DeviceToken>> list(UserId user) override;
  [[nodiscard]] Result<void> remove_if_current(UserId user, std::string_view device, std::string_view token) override;
  [[nodiscard]] Result<void> remove_device(UserId user, std::string_view device) override;

 private:
  std::unique_ptr<PgPool> pool_;
};

}  // namespace parley::postgres
