#include "adapters/embedded/rocks_rooms.hpp"

#include <rocksdb/write_batch.h>

#include <algorithm>
#include <set>

#include "core/bytes.hpp"
#include "core/clock.hpp"

namespace parley::embedded {

namespace {

enum Family : int { rooms_cf = 0, members_cf = 1, by_user_cf = 2, counts_cf = 3, meta_cf = 4 };

rocksdb::WriteOptions synced() {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return wo;
}

std::string room_key(ports::RoomRef room) {
  std::string k;
  k.push_back(static_cast<char>(room.kind));
  rocks::put_be64(k, room.id);
  return k;
}

std::string member_key(ports::RoomRef room, UserId user) {
  std::string k = room_key(room);
  rocks::put_be64(k, user.value);
  return k;
}

std::string by_user_key(UserId user, ports::RoomRef room) {
  std::string k;
  rocks::put_be64(k, user.value);
  k += room_key(room);
  return k;
}

std::string encode(const ports::RoomRecord& r) {
  std::string v;
  rocks::put_str(v, r.name);
  rocks::put_be64(v, r.owner.value);
  v.push_back(static_cast<char>(r.post_policy));
  rocks::put_be64(v, static_cast<std::uint64_t>(r.created_at));
  v.push_back(static_cast<char>(r.access));
  return v;
}

std::optional<ports::RoomRecord> decode(ports::RoomRef ref, std::string_view v) {
  bytes::Reader r(v);
  ports::RoomRecord out;
  out.ref = ref;
  std::uint8_t policy = 0;
  std::uint64_t created = 0;
  if (!(r.str_u32_be(out.name) && r.u64_be(out.owner.value) && r.u8(policy) && r.u64_be(created)) || policy > 1) {
    return std::nullopt;
  }
  // Records written before private channels end here: open.
  std::uint8_t access = 0;
  if (!r.done() && !(r.u8(access) && r.done() && access <= 1)) return std::nullopt;
  out.post_policy = static_cast<ports::PostPolicy>(policy);
  out.access = static_cast<ports::Access>(access);
  out.created_at = static_cast<TimeMs>(created);
  return out;
}

std::optional<ports::Role> decode_role(std::string_view v) {
  if (v.size() != 1 || static_cast<std::uint8_t>(v[0]) > 2) return std::nullopt;
  return static_cast<ports::Role>(v[0]);
}

std::string role_value(ports::Role role) { return std::string(1, static_cast<char>(role)); }

}  // namespace

RocksRooms::RocksRooms(Private, rocks::Database db) : db_(std::move(db)) {}

Result<std::unique_ptr<RocksRooms>> RocksRooms::open(const std::string& path) {
  auto db = rocks::open(path, {"rooms", "members", "by_user", "counts", "meta"});
  if (!db) return std::move(db).error();
  return std::make_unique<RocksRooms>(Private{}, std::move(db).value());
}

Result<ports::RoomRecord> RocksRooms::create_room(ports::RoomRef ref, std::string_view name, UserId owner,
                                                  ports::PostPolicy post_policy, ports::Access access,
                                                  const std::vector<UserId>& members) {
  if (ref.id == 0) return make_error(ErrorCode::bad_request, "a room id is never 0");
  std::set<UserId> others(members.begin(), members.end());
  others.erase(owner);

  std::lock_guard lock(write_mu_);
  const std::string key = room_key(ref);
  std::string existing;
  auto status = db_.db->Get(rocksdb::ReadOptions(), cf(rooms_cf), key, &existing);
  if (status.ok()) return make_error(ErrorCode::conflict, "a room has this id already");
  if (!status.IsNotFound()) return rocks::to_error(status, "create_room");

  ports::RoomRecord record{ref, std::string(name), owner, post_policy, access, now_ms()};
  rocksdb::WriteBatch wb;
  status = wb.Put(cf(rooms_cf), key, encode(record));
  auto add = [&](UserId user, ports::Role role) {
    if (status.ok()) status = wb.Put(cf(members_cf), member_key(record.ref, user), role_value(role));
    if (status.ok()) status = wb.Put(cf(by_user_cf), by_user_key(user, record.ref), role_value(role));
  };
  add(owner, ports::Role::owner);
  for (UserId user : others) add(user, ports::Role::member);
  if (status.ok()) status = wb.Put(cf(counts_cf), key, rocks::be64(others.size() + 1));
  if (status.ok()) status = db_.db->Write(synced(), &wb);
  if (!status.ok()) return rocks::to_error(status, "create_room");
  return record;
}

Result<ports::RoomRecord> RocksRooms::find_room(ports::RoomRef room) {
  std::string value;
  const auto status = db_.db->Get(rocksdb::ReadOptions(), cf(rooms_cf), room_key(room), &value);
  if (status.IsNotFound()) return make_error(ErrorCode::not_found, "no such room");
  if (!status.ok()) return rocks::to_error(status, "find_room");
  auto record = decode(room, value);
  if (!record) return make_error(ErrorCode::internal, "rooms: corrupt room record");
  return std::move(*record);
}

Result<std::optional<ports::Role>> RocksRooms::role_of(ports::RoomRef room, UserId user) {
  std::string value;
  const auto status = db_.db->Get(rocksdb::ReadOptions(), cf(members_cf), member_key(room, user), &value);
  if (status.IsNotFound()) return std::optional<ports::Role>{};
  if (!status.ok()) return rocks::to_error(status, "role_of");
  auto role = decode_role(value);
  if (!role) return make_error(ErrorCode::internal, "rooms: corrupt role");
  return std::optional<ports::Role>{*role};
}

Result<void> RocksRooms::put_member(ports::RoomRef room, UserId user, ports::Role role, std::size_t max_members) {
  std::lock_guard lock(write_mu_);
  const std::string key = room_key(room);
  std::string value;
  auto status = db_.db->Get(rocksdb::ReadOptions(), cf(rooms_cf), key, &value);
  if (status.IsNotFound()) return make_error(ErrorCode::not_found, "no such room");
  if (!status.ok()) return rocks::to_error(status, "put_member");

  auto existing = role_of(room, user);
  if (!existing) return std::move(existing).error();
  auto count = member_count(room);
  if (!count) return std::move(count).error();
  const bool joining = !existing.value().has_value();
  if (joining && max_members != 0 && count.value() >= max_members) {
    return make_error(ErrorCode::conflict, "the room is full (" + std::to_string(max_members) + " members)");
  }
  rocksdb::WriteBatch wb;
  status = wb.Put(cf(members_cf), member_key(room, user), role_value(role));
  if (status.ok()) status = wb.Put(cf(by_user_cf), by_user_key(user, room), role_value(role));
  if (status.ok() && joining) status = wb.Put(cf(counts_cf), key, rocks::be64(count.value() + 1));
  if (status.ok()) status = db_.db->Write(synced(), &wb);
  if (!status.ok()) return rocks::to_error(status, "put_member");
  return Ok{};
}

Result<void> RocksRooms::remove_member(ports::RoomRef room, UserId user) {
  std::lock_guard lock(write_mu_);
  auto existing = role_of(room, user);
  if (!existing) return std::move(existing).error();
  if (!existing.value()) return Ok{};
  auto count = member_count(room);
  if (!count) return std::move(count).error();
  rocksdb::WriteBatch wb;
  auto status = wb.Delete(cf(members_cf), member_key(room, user));
  if (status.ok()) status = wb.Delete(cf(by_user_cf), by_user_key(user, room));
  if (status.ok())
    status = wb.Put(cf(counts_cf), room_key(room), rocks::be64(count.value() > 0 ? count.value() - 1 : 0));
  if (status.ok()) status = db_.db->Write(synced(), &wb);
  if (!status.ok()) return rocks::to_error(status, "remove_member");
  return Ok{};
}

Result<std::vector<ports::Member>> RocksRooms::members(ports::RoomRef room) {
  const std::string prefix = room_key(room);
  std::vector<ports::Member> out;
  std::unique_ptr<rocksdb::Iterator> it(db_.db->NewIterator(rocksdb::ReadOptions(), cf(members_cf)));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const auto key = it->key().ToStringView();
    auto role = decode_role(it->value().ToStringView());
    if (key.size() != prefix.size() + 8 || !role) return make_error(ErrorCode::internal, "rooms: corrupt member row");
    out.push_back({UserId{rocks::get_be64(key.substr(prefix.size()))}, *role});
  }
  if (!it->status().ok()) return rocks::to_error(it->status(), "members");
  return out;
}

Result<std::size_t> RocksRooms::member_count(ports::RoomRef room) {
  std::string value;
  const auto status = db_.db->Get(rocksdb::ReadOptions(), cf(counts_cf), room_key(room), &value);
  if (status.IsNotFound()) return std::size_t{0};
  if (!status.ok()) return rocks::to_error(status, "member_count");
  if (value.size() != 8) return make_error(ErrorCode::internal, "rooms: corrupt member count");
  return static_cast<std::size_t>(rocks::get_be64(value));
}

Result<std::vector<ports::Membership>> RocksRooms::rooms_of(UserId user) {
  const std::string prefix = rocks::be64(user.value);
  std::vector<ports::Membership> out;
  std::unique_ptr<rocksdb::Iterator> it(db_.db->NewIterator(rocksdb::ReadOptions(), cf(by_user_cf)));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const auto key = it->key().ToStringView();
    auto role = decode_role(it->value().ToStringView());
    if (key.size() != 17 || static_cast<std::uint8_t>(key[8]) > 1 || !role) {
      return make_error(ErrorCode::internal, "rooms: corrupt membership row");
    }
    out.push_back({{static_cast<ports::RoomKind>(key[8]), rocks::get_be64(key.substr(9))}, *role});
  }
  if (!it->status().ok()) return rocks::to_error(it->status(), "rooms_of");
  return out;
}

}  // namespace parley::embedded
