#pragma once
// PostgresSocialGraph: the SocialGraph port on PostgreSQL (libpq).
//
// Table social_pairs (postgres_schema.cpp): one row per pair of users, keyed
// by (lo, hi), the two ids in unsigned order, holding the friendship, each
// side's pending request and each side's block. Both views of a pair are
// one row, so they cannot disagree. Every change is one transaction that
// first takes the pair's row lock with an upsert (INSERT … ON CONFLICT DO
// UPDATE … RETURNING: it inserts the row or locks the one there, and
// PostgreSQL retries it if a concurrent transaction deletes that row), then
// decides from what it read and writes the row back, or deletes it when
// nothing is left between the two. So however requests from both sides and
// from any number of servers interleave, each operation sees the pair as the
// previous one left it. A failed operation rolls back, leaving no empty row.
//
// A user's friends and incoming requests are read from both halves of the
// key (the primary key for lo, an index on (hi, lo) for hi).

#include <memory>

#include "adapters/postgres/pg_pool.hpp"
#include "ports/social_graph.hpp"

namespace parley::postgres {

class PostgresSocialGraph final : public ports::SocialGraph {
 public:
  [[nodiscard]] static Result<std::unique_ptr<PostgresSocialGraph>> open(PgPoolOptions options);

  // Use open(); public only for make_unique.
  explicit PostgresSocialGraph(std::unique_ptr<PgPool> pool);

  [[nodiscard]] Result<ports::RequestOutcome> request_friend(UserId from, UserId to) override;
  [[nodiscard]] Result<void> accept_friend(UserId self, UserId requester) override;
  [[nodiscard]] Result<ports::RemoveOutcome> remove_friend(UserId self, UserId other) override;
  [[nodiscard]] Result<bool> block(UserId self, UserId other) override;
  [[nodiscard]] Result<void> unblock(UserId self, UserId other) override;
  [[nodiscard]] Result<void> forget(UserId user) override;
  [[nodiscard]] Result<ports::Relation> relation(UserId self, UserId other) override;
  // One statement for all the pairs.
  [[nodiscard]] Result<std::vector<ports::Relation>> relations(
      std::span<const std::pair<UserId, UserId>> pairs) override;
  [[nodiscard]] Result<std::vector<UserId>> friends(UserId user) override;
  [[nodiscard]] Result<std::vector<UserId>> requests_to(UserId user) override;

 private:
  [[nodiscard]] Result<std::vector<UserId>> ids(const std::string& statement, UserId user);

  std::unique_ptr<PgPool> pool_;
};

}  // namespace parley::postgres
