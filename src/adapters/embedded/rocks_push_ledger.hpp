#pragma once
// RocksPushLedger: the embedded PushLedger, one RocksDB database of its own:
//
//   open        user (BE64) · conversation                 → batch
//   closed      user (BE64) · conversation · 0 · last_seq   → batch (with done devices and its claim)
//   watermarks  user (BE64)                                → highest seq folded in (BE64)
//
// add() writes the batches and the watermarks in one WriteBatch, so a crash
// keeps both or neither; close() moves a batch and records its claim in one
// WriteBatch. Values carry a format byte (2; format 1, without the claim,
// still reads). Writes follow the server's durability policy.

#include <memory>
#include <mutex>
#include <string>

#include "adapters/embedded/durability.hpp"
#include "adapters/embedded/rocks_common.hpp"
#include "ports/push_ledger.hpp"

namespace parley::embedded {

class RocksPushLedger final : public ports::PushLedger {
  struct Private {
    explicit Private() = default;
  };

 public:
  [[nodiscard]] static Result<std::unique_ptr<RocksPushLedger>> open(const std::string& path, Durability durability);

  // Use open(); public only for std::make_unique.
  RocksPushLedger(Private, rocks::Database db, Durability durability);

  [[nodiscard]] Result<std::size_t> add(std::span<const ports::PushCandidate> candidates) override;
  [[nodiscard]] Result<std::vector<ports::PushBatch>> batches() override;
  [[nodiscard]] Result<ports::PushBatch> close(UserId user, std::string_view conversation, std::string_view owner,
                                               TimeMs at) override;
  [[nodiscard]] Result<ports::PushBatch> take_over(UserId user, std::string_view conversation, Seq last_seq,
                                                   std::string_view new_owner, TimeMs stale_before, TimeMs at) override;
  [[nodiscard]] Result<void> mark_done(UserId user, std::string_view conversation, Seq last_seq,
                                       std::string_view device) override;
  [[nodiscard]] Result<void> finish(UserId user, std::string_view conversation, Seq last_seq) override;

  // A consistent copy of this database in the folder `to`, which must not
  // exist yet, taken while it serves (rocks::Database::checkpoint; a backup,
  // adapters/embedded/embedded_backup.hpp).
  [[nodiscard]] Result<void> checkpoint(const std::string& to) const { return db_.checkpoint(to); }

 private:
  [[nodiscard]] rocksdb::ColumnFamilyHandle* cf(int i) const { return db_.cf(static_cast<std::size_t>(i)); }
  [[nodiscard]] rocksdb::WriteOptions write_options() const;
  // The closed batch stored under `key`; not_found when there is none.
  [[nodiscard]] Result<ports::PushBatch> read_closed(const std::string& key);

  rocks::Database db_;
  Durability durability_;
  // Makes add(), close(), take_over() and mark_done() each one
  // read-modify-write: an entry is either in the batch close() takes or in
  // the next one, and of two take-overs the second sees the first's claim.
  std::mutex mu_;
};

}  // namespace parley::embedded
