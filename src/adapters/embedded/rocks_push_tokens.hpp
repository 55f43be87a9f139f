#pragma once
// RocksPushTokens: the embedded PushTokens, one RocksDB database of its own:
//
//   tokens    user (BE64) · device  → platform, token, updated_at
//   by_token  platform · token      → user (BE64) · device
//
// by_token is what lets a token move to a new (user, device) without
// staying with the old one. Writes are synced: they are rare, and a device
// told "registered" must keep its token across a power loss.

#include <memory>
#include <mutex>
#include <string>

#include "adapters/embedded/rocks_common.hpp"
#include "ports/push_tokens.hpp"

namespace parley::embedded {

class RocksPushTokens final : public ports::PushTokens {
  struct Private {
    explicit Private() = default;
  };

 public:
  [[nodiscard]] static Result<std::unique_ptr<RocksPushTokens>> open(const std::string& path);

  // Use open(); public only for std::make_unique.
  RocksPushTokens(Private, rocks::Database db);

  [[nodiscard]] Result<void> put(const ports::DeviceToken& token) override;
  [[nodiscard]] Result<std::vector<ports::DeviceToken>> list(UserId user) override;
  [[nodiscard]] Result<void> remove_if_current(UserId user, std::string_view device, std::string_view token) override;
  [[nodiscard]] Result<void> remove_device(UserId user, std::string_view device) override;

  // A consistent copy of this database in the folder `to`, which must not
  // exist yet, taken while it serves (rocks::Database::checkpoint; a backup,
  // adapters/embedded/embedded_backup.hpp).
  [[nodiscard]] Result<void> checkpoint(const std::string& to) const { return db_.checkpoint(to); }

 private:
  [[nodiscard]] rocksdb::ColumnFamilyHandle* cf(int i) const { return db_.cf(static_cast<std::size_t>(i)); }
  // The device's current row; nullopt if it has none.
  [[nodiscard]] Result<std::optional<ports::DeviceToken>> current(UserId user, std::string_view device);

  rocks::Database db_;
  // Makes each read-modify-write of the two tables one step.
  std::mutex mu_;
};

}  // namespace parley::embedded
