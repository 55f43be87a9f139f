#pragma once
// RocksDirectory: the embedded Directory, one RocksDB database:
//
//   users      id (BE64)   → user record
//   usernames  username    → id (BE64)
//   sessions   token hash  → session record
//   user_sessions  user id (BE64) + token hash → "" (a user's sessions)
//   meta       "next_user_id" → the next id to hand out (BE64)
//              "user_sessions" → "1" once user_sessions indexes every session
//
// Every write is synced but a session's touch: directory writes are rare and
// a user who was told "created" (or "logged out") must be so after a power
// loss. User ids start at 1 and are never handed out twice, across restarts
// too.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "adapters/embedded/rocks_common.hpp"
#include "ports/directory.hpp"

namespace parley::embedded {

class RocksDirectory final : public ports::Directory {
  struct Private {
    explicit Private() = default;
  };

 public:
  // Opens or creates the directory at `path`.
  [[nodiscard]] static Result<std::unique_ptr<RocksDirectory>> open(const std::string& path);

  // Use open(); public only for std::make_unique.
  RocksDirectory(Private, rocks::Database db, std::uint64_t next_user_id);

  // bad_request for an empty username; conflict if it is taken.
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
  [[nodiscard]] Result<void> touch_session(std::string_view token_hash, TimeMs when) override;
  [[nodiscard]] Result<void> delete_session(std::string_view token_hash) override;
  [[nodiscard]] Result<std::vector<ports::SessionRecord>> list_sessions(UserId user) override;

  // A consistent copy of this database in the folder `to`, which must not
  // exist yet, taken while it serves (rocks::Database::checkpoint; a backup,
  // adapters/embedded/embedded_backup.hpp).
  [[nodiscard]] Result<void> checkpoint(const std::string& to) const { return db_.checkpoint(to); }

 private:
  [[nodiscard]] rocksdb::ColumnFamilyHandle* cf(int i) const { return db_.cf(static_cast<std::size_t>(i)); }
  // The user's record, deleted or not.
  [[nodiscard]] Result<ports::UserRecord> read_user(UserId id);

  rocks::Database db_;

  // Guards next_user_id_ and makes "is the name free? then take it" one step,
  // so that of two concurrent creates of one name exactly one wins.
  std::mutex create_mu_;
  std::uint64_t next_user_id_;
  // Makes each read-modify-write of a session (touch, delete, a password's
  // change) one step, so that a touch racing a delete cannot write the
  // session back.
  std::mutex sessions_mu_;
};

}  // namespace parley::embedded
