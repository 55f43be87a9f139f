#pragma once
// RocksRooms: the embedded Rooms, one RocksDB database:
//
//   rooms     kind (1 byte) + id (BE64)             → room record
//   members   kind + id + user (BE64)               → role (1 byte)
//   by_user   user (BE64) + kind + id               → role
//   counts    kind + id                             → member count (BE64)
//   meta      "next_room_id"                        → next id (BE64)
//
// Writes are synced (membership changes are rare and must survive a power
// loss). One mutex serialises writers so that the member limit and the count
// stay exact; readers do not take it.

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
  [[nodiscard]] static Result<std::unique_ptr<RocksRooms>> open(std::string path);
  // Use open(); public only for std::make_unique.
  RocksRooms(Private, rocks::Database db, std::uint64_t next_room_id);

  [[nodiscard]] Result<ports::RoomRecord> create_room(ports::RoomKind kind, std::string_view name, UserId owner,
                                                      ports::PostPolicy post_policy,
                                                      const std::vector<UserId>& members) override;
  [[nodiscard]] Result<ports::RoomRecord> find_room(ports::RoomRef room) override;
  [[nodiscard]] Result<std::optional<ports::Role>> role_of(ports::RoomRef room, UserId user) override;
  [[nodiscard]] Result<void> put_member(ports::RoomRef room, UserId user, ports::Role role,
                                        std::size_t max_members) override;
  [[nodiscard]] Result<void> remove_member(ports::RoomRef room, UserId user) override;
  [[nodiscard]] Result<std::vector<ports::Member>> members(ports::RoomRef room) override;
  [[nodiscard]] Result<std::size_t> member_count(ports::RoomRef room) override;
  [[nodiscard]] Result<std::vector<ports::Membership>> rooms_of(UserId user) override;

 private:
  [[nodiscard]] rocksdb::ColumnFamilyHandle* cf(int i) const { return db_.cf(static_cast<std::size_t>(i)); }

  rocks::Database db_;
  std::mutex write_mu_;  // serialises every write; guards next_room_id_
  std::uint64_t next_room_id_;
};

}  // namespace parley::embedded
