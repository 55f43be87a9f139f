#pragma once
// PostgresPushLedger: the PushLedger port on PostgreSQL (libpq).
//
// Tables push_watermarks, push_open and push_closed (postgres_schema.cpp).
// add() is one transaction: it locks the watermark row of each user it
// names (upserted, in id order, so two adds never wait on each other in a
// cycle), skips the candidates at or below the watermark, folds the rest
// into the open batches with one upsert per (user, conversation), and raises
// the watermarks. Two servers adding for one user (a pipeline partition
// moving between them) therefore fold each entry once. close() is one
// statement that moves the open row into push_closed, so an entry folded in
// concurrently is either in the batch it returns or opens the next one, and
// records its claim (closed_by, closed_at) in that same statement;
// take_over() is one conditional UPDATE of the claim (a compare-and-set
// under the row lock); mark_done() appends a device in one UPDATE. A crash loses nothing
// committed: add's write is the transaction's commit.

#include <memory>

#include "adapters/postgres/pg_pool.hpp"
#include "ports/push_ledger.hpp"

namespace parley::postgres {

class PostgresPushLedger final : public ports::PushLedger {
 public:
  [[nodiscard]] static Result<std::unique_ptr<PostgresPushLedger>> open(PgPoolOptions options);

  // Use open(); public only for make_unique.
  explicit PostgresPushLedger(std::unique_ptr<PgPool> pool);

  [[nodiscard]] Result<std::size_t> add(std::span<const ports::PushCandidate> candidates) override;
  [[nodiscard]] Result<std::vector<ports::PushBatch>> batches() override;
  [[nodiscard]] Result<ports::PushBatch> close(UserId user, std::string_view conversation, std::string_view owner,
                                               TimeMs at) override;
  [[nodiscard]] Result<ports::PushBatch> take_over(UserId user, std::string_view conversation, Seq last_seq,
                                                   std::string_view new_owner, TimeMs stale_before, TimeMs at) override;
  [[nodiscard]] Result<void> mark_done(UserId user, std::string_view conversation, Seq last_seq,
                                       std::string_view device) override;
  [[nodiscard]] Result<void> finish(UserId user, std::string_view conversation, Seq last_seq) override;

 private:
  std::unique_ptr<PgPool> pool_;
};

}  // namespace parley::postgres
