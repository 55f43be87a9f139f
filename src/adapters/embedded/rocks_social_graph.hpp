#pragma once
// RocksSocialGraph: the embedded SocialGraph, one RocksDB database with one
// column family:
//
//   edges   self (BE64) · other (BE64)  →  one byte of flags, self's view
//
// A pair is stored twice, once from each side, and both rows change in one
// synced write batch, so the two views never disagree. A user's friends and
// incoming requests are a prefix scan of their own rows. Rows with no flag
// left are deleted.

#include <memory>
#include <mutex>
#include <string>

#include "adapters/embedded/rocks_common.hpp"
#include "ports/social_graph.hpp"

namespace parley::embedded {

class RocksSocialGraph final : public ports::SocialGraph {
  struct Private {
    explicit Private() = default;
  };

 public:
  // Opens or creates the graph at `path`.
  [[nodiscard]] static Result<std::unique_ptr<RocksSocialGraph>> open(const std::string& path);

  // Use open(); public only for std::make_unique.
  RocksSocialGraph(Private, rocks::Database db);

  [[nodiscard]] Result<ports::RequestOutcome> request_friend(UserId from, UserId to) override;
  [[nodiscard]] Result<void> accept_friend(UserId self, UserId requester) override;
  [[nodiscard]] Result<ports::RemoveOutcome> remove_friend(UserId self, UserId other) override;
  [[nodiscard]] Result<bool> block(UserId self, UserId other) override;
  [[nodiscard]] Result<void> unblock(UserId self, UserId other) override;
  [[nodiscard]] Result<void> forget(UserId user) override;
  [[nodiscard]] Result<ports::Relation> relation(UserId self, UserId other) override;
  [[nodiscard]] Result<std::vector<UserId>> friends(UserId user) override;
  [[nodiscard]] Result<std::vector<UserId>> requests_to(UserId user) override;

  // A consistent copy of this database in the folder `to`, which must not
  // exist yet, taken while it serves (rocks::Database::checkpoint; a backup,
  // adapters/embedded/embedded_backup.hpp).
  [[nodiscard]] Result<void> checkpoint(const std::string& to) const { return db_.checkpoint(to); }

 private:
  [[nodiscard]] Result<std::uint8_t> flags(UserId self, UserId other);
  // Writes both rows of the pair (self's flags; other's are their mirror).
  [[nodiscard]] Result<void> write(UserId self, UserId other, std::uint8_t self_flags);
  [[nodiscard]] Result<std::vector<UserId>> scan(UserId user, std::uint8_t flag);

  rocks::Database db_;
  // Makes each operation's read-check-write one step; reads take no lock.
  std::mutex write_mu_;
};

}  // namespace parley::embedded
