#include "adapters/postgres/postgres_rooms.hpp"

#include "adapters/postgres/postgres_schema.hpp"
#include "core/clock.hpp"

namespace parley::postgres {

namespace {

std::string kind_param(ports::RoomKind kind) { return kind == ports::RoomKind::group ? "0" : "1"; }
ports::RoomKind kind_of(std::int64_t n) { return n == 0 ? ports::RoomKind::group : ports::RoomKind::channel; }
std::string role_param(ports::Role role) { return std::to_string(static_cast<int>(role)); }
ports::Role role_of_column(std::int64_t n) {
  return n >= 2 ? ports::Role::owner : n == 1 ? ports::Role::admin : ports::Role::member;
}

std::vector<Statement> statements() {
  return {
      {"rooms_create",
       "INSERT INTO rooms (id, kind, name, owner, post_policy, access, created_at) OVERRIDING SYSTEM VALUE "
       "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING RETURNING id"},
      {"rooms_add_members",
       "INSERT INTO room_members (room_id, user_id, role) SELECT $1, u, 0 FROM unnest($2::bigint[]) AS u "
       "ON CONFLICT DO NOTHING"},
      {"rooms_upsert_member",
       "INSERT INTO room_members (room_id, user_id, role) VALUES ($1, $2, $3) "
       "ON CONFLICT (room_id, user_id) DO UPDATE SET role = EXCLUDED.role"},
      {"rooms_find", "SELECT name, owner, post_policy, created_at, access FROM rooms WHERE id = $1 AND kind = $2"},
      {"rooms_lock", "SELECT 1 FROM rooms WHERE id = $1 AND kind = $2 FOR UPDATE"},
      {"rooms_role",
       "SELECT m.role FROM room_members m JOIN rooms r ON r.id = m.room_id "
       "WHERE m.room_id = $1 AND r.kind = $2 AND m.user_id = $3"},
      {"rooms_count",
       "SELECT count(*) FROM room_members m JOIN rooms r ON r.id = m.room_id WHERE m.room_id = $1 AND r.kind = $2"},
      {"rooms_remove",
       "DELETE FROM room_members WHERE room_id = $1 AND user_id = $3 "
       "AND EXISTS (SELECT 1 FROM rooms WHERE id = $1 AND kind = $2)"},
      {"rooms_members",
       "SELECT m.user_id, m.role FROM room_members m JOIN rooms r ON r.id = m.room_id "
       "WHERE m.room_id = $1 AND r.kind = $2 ORDER BY m.user_id"},
      {"rooms_of",
       "SELECT r.kind, r.id, m.role FROM room_members m JOIN rooms r ON r.id = m.room_id "
       "WHERE m.user_id = $1 ORDER BY r.id"},
  };
}

}  // namespace

PostgresRooms::PostgresRooms(std::unique_ptr<PgPool> pool) : pool_(std::move(pool)) {}

Result<std::unique_ptr<PostgresRooms>> PostgresRooms::open(PgPoolOptions options) {
  auto pool = PgPool::open(std::move(options), schema_migrations(), statements());
  if (!pool) return std::move(pool).error();
  return std::make_unique<PostgresRooms>(std::move(pool).value());
}

Result<ports::RoomRecord> PostgresRooms::create_room(ports::RoomRef ref, std::string_view name, UserId owner,
                                                     ports::PostPolicy post_policy, ports::Access access,
                                                     const std::vector<UserId>& members) {
  if (ref.id == 0) return make_error(ErrorCode::bad_request, "a room id is never 0");
  const TimeMs created = now_ms();
  std::string array = "{";
  for (std::size_t i = 0; i < members.size(); ++i) {
    if (i > 0) array += ',';
    array += id_param(members[i].value);
  }
  array += '}';
  return pool_->with<ports::RoomRecord>([&](PGconn* conn) {
    return in_transaction<ports::RoomRecord>(conn, [&]() -> Result<ports::RoomRecord> {
      const std::string id = id_param(ref.id);
      auto made = exec_prepared(conn, "rooms_create",
                                {id, kind_param(ref.kind), std::string(name), id_param(owner.value),
                                 post_policy == ports::PostPolicy::admins ? "1" : "0",
                                 access == ports::Access::invite_only ? "1" : "0", std::to_string(created)});
      if (!made) return std::move(made).error();
      if (PQntuples(made->get()) == 0) return make_error(ErrorCode::conflict, "a room has this id already");
      auto with_owner = exec_prepared(conn, "rooms_upsert_member", {id, id_param(owner.value), "2"});
      if (!with_owner) return std::move(with_owner).error();
      auto with_members = exec_prepared(conn, "rooms_add_members", {id, array});
      if (!with_members) return std::move(with_members).error();
      return ports::RoomRecord{ref, std::string(name), owner, post_policy, access, created};
    });
  });
}

Result<ports::RoomRecord> PostgresRooms::find_room(ports::RoomRef room) {
  auto r = pool_->run("rooms_find", {id_param(room.id), kind_param(room.kind)});
  if (!r) return std::move(r).error();
  const PGresult* res = r->get();
  if (PQntuples(res) == 0) return make_error(ErrorCode::not_found, "no such room");
  return ports::RoomRecord{room,
                           text(res, 0, 0),
                           UserId{id_column(res, 0, 1)},
                           int64(res, 0, 2) == 1 ? ports::PostPolicy::admins : ports::PostPolicy::everyone,
                           int64(res, 0, 4) == 1 ? ports::Access::invite_only : ports::Access::open,
                           int64(res, 0, 3)};
}

Result<std::optional<ports::Role>> PostgresRooms::role_of(ports::RoomRef room, UserId user) {
  auto r = pool_->run("rooms_role", {id_param(room.id), kind_param(room.kind), id_param(user.value)});
  if (!r) return std::move(r).error();
  if (PQntuples(r->get()) == 0) return std::optional<ports::Role>{};
  return std::optional<ports::Role>{role_of_column(int64(r->get(), 0, 0))};
}

Result<void> PostgresRooms::put_member(ports::RoomRef room, UserId user, ports::Role role, std::size_t max_members) {
  const std::string room_id = id_param(room.id);
  const std::string user_id = id_param(user.value);
  return pool_->with<void>([&](PGconn* conn) {
    return in_transaction<void>(conn, [&]() -> Result<void> {
      // The room's row lock serialises adds to one room across servers.
      auto locked = exec_prepared(conn, "rooms_lock", {room_id, kind_param(room.kind)});
      if (!locked) return std::move(locked).error();
      if (PQntuples(locked->get()) == 0) return make_error(ErrorCode::not_found, "no such room");
      if (max_members > 0) {
        auto existing = exec_prepared(conn, "rooms_role", {room_id, kind_param(room.kind), user_id});
        if (!existing) return std::move(existing).error();
        if (PQntuples(existing->get()) == 0) {
          auto count = exec_prepared(conn, "rooms_count", {room_id, kind_param(room.kind)});
          if (!count) return std::move(count).error();
          if (static_cast<std::size_t>(int64(count->get(), 0, 0)) >= max_members) {
            return make_error(ErrorCode::conflict, "the room has " + std::to_string(max_members) + " members");
          }
        }
      }
      auto put = exec_prepared(conn, "rooms_upsert_member", {room_id, user_id, role_param(role)});
      if (!put) return std::move(put).error();
      return Ok{};
    });
  });
}

Result<void> PostgresRooms::remove_member(ports::RoomRef room, UserId user) {
  auto r = pool_->run("rooms_remove", {id_param(room.id), kind_param(room.kind), id_param(user.value)});
  if (!r) return std::move(r).error();
  return Ok{};
}

Result<std::vector<ports::Member>> PostgresRooms::members(ports::RoomRef room) {
  auto r = pool_->run("rooms_members", {id_param(room.id), kind_param(room.kind)});
  if (!r) return std::move(r).error();
  std::vector<ports::Member> out;
  const int n = PQntuples(r->get());
  out.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    out.push_back({UserId{id_column(r->get(), i, 0)}, role_of_column(int64(r->get(), i, 1))});
  }
  return out;
}

Result<std::size_t> PostgresRooms::member_count(ports::RoomRef room) {
  auto r = pool_->run("rooms_count", {id_param(room.id), kind_param(room.kind)});
  if (!r) return std::move(r).error();
  return static_cast<std::size_t>(int64(r->get(), 0, 0));
}

Result<std::vector<ports::Membership>> PostgresRooms::rooms_of(UserId user) {
  auto r = pool_->run("rooms_of", {id_param(user.value)});
  if (!r) return std::move(r).error();
  std::vector<ports::Membership> out;
  const int n = PQntuples(r->get());
  out.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    out.push_back({{kind_of(int64(r->get(), i, 0)), static_cast<std::uint64_t>(int64(r->get(), i, 1))},
                   role_of_column(int64(r->get(), i, 2))});
  }
  return out;
}

}  // namespace parley::postgres
