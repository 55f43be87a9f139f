#include "adapters/embedded/rocks_directory.hpp"

#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <chrono>
#include <utility>

namespace parley::embedded {

namespace {

enum Family : int { users_cf, usernames_cf, sessions_cf, meta_cf };

constexpr std::string_view next_user_id_key = "next_user_id";
constexpr std::uint8_t record_format = 1;

rocksdb::WriteOptions synced() {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return wo;
}

TimeMs now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string encode(const ports::UserRecord& u) {
  std::string out;
  out.push_back(static_cast<char>(record_format));
  rocks::put_be64(out, u.id.value);
  rocks::put_be64(out, static_cast<std::uint64_t>(u.created_at));
  rocks::put_str(out, u.username);
  rocks::put_str(out, u.password_hash);
  return out;
}

Result<ports::UserRecord> decode_user(std::string_view in) {
  rocks::Reader r(in);
  ports::UserRecord u;
  std::uint8_t version = 0;
  std::uint64_t created = 0;
  if (!(r.u8(version) && version == record_format && r.u64(u.id.value) && r.u64(created) && r.str(u.username) &&
        r.str(u.password_hash) && r.done())) {
    return make_error(ErrorCode::internal, "directory: corrupt user row");
  }
  u.created_at = static_cast<TimeMs>(created);
  return u;
}

std::string encode(const ports::SessionRecord& s) {
  std::string out;
  out.push_back(static_cast<char>(record_format));
  rocks::put_be64(out, s.user.value);
  rocks::put_be64(out, static_cast<std::uint64_t>(s.created_at));
  rocks::put_str(out, s.device);
  return out;
}

Result<ports::SessionRecord> decode_session(std::string_view in) {
  rocks::Reader r(in);
  ports::SessionRecord s;
  std::uint8_t version = 0;
  std::uint64_t created = 0;
  if (!(r.u8(version) && version == record_format && r.u64(s.user.value) && r.u64(created) && r.str(s.device) &&
        r.done())) {
    return make_error(ErrorCode::internal, "directory: corrupt session row");
  }
  s.created_at = static_cast<TimeMs>(created);
  return s;
}

}  // namespace

RocksDirectory::RocksDirectory(Private, rocks::Database db, std::uint64_t next_user_id)
    : db_(std::move(db)), next_user_id_(next_user_id) {}

Result<std::unique_ptr<RocksDirectory>> RocksDirectory::open(std::string path) {
  if (path.empty()) return make_error(ErrorCode::bad_request, "directory: empty path");
  auto db = rocks::open(path, {"users", "usernames", "sessions", "meta"});
  if (!db) return std::move(db).error();
  std::string value;
  const auto status = db->db->Get(rocksdb::ReadOptions(), db->cf(meta_cf), std::string(next_user_id_key), &value);
  std::uint64_t next = 1;
  if (status.ok()) {
    if (value.size() != 8) return make_error(ErrorCode::internal, "directory: corrupt user id counter");
    next = rocks::get_be64(value);
  } else if (!status.IsNotFound()) {
    return rocks::to_error(status, "directory: read user id counter");
  }
  return std::make_unique<RocksDirectory>(Private{}, std::move(db).value(), next);
}

Result<ports::UserRecord> RocksDirectory::create_user(std::string_view username, std::string_view password_hash) {
  if (username.empty()) return make_error(ErrorCode::bad_request, "create_user: empty username");
  std::lock_guard lock(create_mu_);
  std::string existing;
  const auto found = db_.db->Get(rocksdb::ReadOptions(), cf(usernames_cf), username, &existing);
  if (found.ok()) return make_error(ErrorCode::conflict, "username is taken");
  if (!found.IsNotFound()) return rocks::to_error(found, "create_user");

  ports::UserRecord user{UserId{next_user_id_}, std::string(username), std::string(password_hash), now_ms()};
  rocksdb::WriteBatch wb;
  auto status = wb.Put(cf(users_cf), rocks::be64(user.id.value), encode(user));
  if (status.ok()) status = wb.Put(cf(usernames_cf), username, rocks::be64(user.id.value));
  if (status.ok()) status = wb.Put(cf(meta_cf), next_user_id_key, rocks::be64(next_user_id_ + 1));
  if (status.ok()) status = db_.db->Write(synced(), &wb);
  if (!status.ok()) return rocks::to_error(status, "create_user");
  ++next_user_id_;
  return user;
}

Result<ports::UserRecord> RocksDirectory::find_user_by_name(std::string_view username) {
  std::string id;
  const auto status = db_.db->Get(rocksdb::ReadOptions(), cf(usernames_cf), username, &id);
  if (status.IsNotFound()) return make_error(ErrorCode::not_found, "no such user");
  if (!status.ok()) return rocks::to_error(status, "find_user_by_name");
  if (id.size() != 8) return make_error(ErrorCode::internal, "directory: corrupt username row");
  return find_user(UserId{rocks::get_be64(id)});
}

Result<ports::UserRecord> RocksDirectory::find_user(UserId id) {
  std::string value;
  const auto status = db_.db->Get(rocksdb::ReadOptions(), cf(users_cf), rocks::be64(id.value), &value);
  if (status.IsNotFound()) return make_error(ErrorCode::not_found, "no such user");
  if (!status.ok()) return rocks::to_error(status, "find_user");
  return decode_user(value);
}

Result<void> RocksDirectory::put_session(std::string_view token_hash, const ports::SessionRecord& session) {
  if (token_hash.empty()) return make_error(ErrorCode::bad_request, "put_session: empty token hash");
  const auto status = db_.db->Put(synced(), cf(sessions_cf), token_hash, encode(session));
  if (!status.ok()) return rocks::to_error(status, "put_session");
  return Ok{};
}

Result<ports::SessionRecord> RocksDirectory::find_session(std::string_view token_hash) {
  std::string value;
  const auto status = db_.db->Get(rocksdb::ReadOptions(), cf(sessions_cf), token_hash, &value);
  if (status.IsNotFound()) return make_error(ErrorCode::not_found, "no such session");
  if (!status.ok()) return rocks::to_error(status, "find_session");
  return decode_session(value);
}

}  // namespace parley::embedded
