#pragma once
// PostgresRooms: the Rooms port on PostgreSQL (libpq).
//
// Tables rooms and room_members (postgres_schema.cpp). Room ids are the
// caller's (the primary key refuses one taken by a room of either kind);
// rooms made before migration 8 took theirs from the identity column.
// Adding a member locks the room's row
// (SELECT … FOR UPDATE) for the count-and-insert, so the member limit holds
// however many servers add members at once.

#include <memory>

#include "adapters/postgres/pg_pool.hpp"
#include "ports/rooms.hpp"

namespace parley::postgres {

class PostgresRooms final : public ports::Rooms {
 public:
  [[nodiscard]] static Result<std::unique_ptr<PostgresRooms>> open(PgPoolOptions options);

  // Use open(); public only for make_unique.
  explicit PostgresRooms(std::unique_ptr<PgPool> pool);

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

 private:
  std::unique_ptr<PgPool> pool_;
};

}  // namespace parley::postgres
