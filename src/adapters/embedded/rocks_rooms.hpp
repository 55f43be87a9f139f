#pragma once
// RocksRooms: the embedded Rooms, one RocksDB database:
//
//   rooms     kind (1 byte) + id (BE64)             → room record
//   members   kind + id + user (BE64)               → role (1 byte)
//   by_user   user (BE64) + kind + id               → role
//   counts    kind + id                             → member count (BE64)
//   meta      (unused since room ids are drawn at random; it held the
//             sequential ids' "next_room_id")
//
// A room record ends with its access byte (0 open, 1 invite only); records
// written before there were private channels lack it and read as open.
// Writes are synced (membership changes are rare and must survive a power
// loss). One mutex serialises writers so that the member limit, the count
// and the check that a new id is free stay exact; readers do not take it.

#include <memory>
#include <mutex>
#include <string>

#include "adapters/embedded/rocks_common.hpp"
#include "ports/rooms.hpp"

namespace parley::embedded {

class RocksRooms final : public ports::Rooms {
  struct Private {
    explicit Private() = default;
  };

 public:
  [[nodiscard]] static Result<std::unique_ptr<RocksRooms>> open(const std::string& path);
  // Use open(); public only for std::make_unique.
  RocksRooms(Private, rocks::Database db);

  [[nodiscard]] Result<ports::RoomRecord> create_room(ports::RoomRef ref, std::string_view name, UserId owner,
                                                      ports::PostPolicy post_policy, ports::Access access,
                                                      const std::vector<UserId>& members) override;
  [[nodiscard]] Result<ports::RoomRecord> find_room(ports::RoomRef room) override;
  [[nodiscard]] Result<std::optional<ports::Role>> role_of(ports::RoomRef room, UserId user) override;
  [[nodiscard]] Result<void> put_member(ports::RoomRef room, UserId user, ports::Role role,
                                        std::size_t max_members) override;
  [[nodiscard]] Result<void> remove_member(ports::RoomRef room, UserId user) override;
  [[nodiscard]] Result<std::vector<ports::Member>> members(ports::RoomRef room) override;
  [[nodiscard]] Result<std::size_t> member_count(ports::RoomRef room) override;
  [[nodiscard]] Result<std::vector<ports::Membership>> rooms_of(UserId user) override;

  // A consistent copy of this database in the folder `to`, which must not
  // exist yet, taken while it serves (rocks::Database::checkpoint; a backup,
  // adapters/embedded/embedded_backup.hpp).
  [[nodiscard]] Result<void> checkpoint(const std::string& to) const { return db_.checkpoint(to); }

 private:
  [[nodiscard]] rocksdb::ColumnFamilyHandle* cf(int i) const { return db_.cf(static_cast<std::size_t>(i)); }

  rocks::Database db_;
  std::mutex write_mu_;  // serialises every write
};

}  // namespace parley::embedded
