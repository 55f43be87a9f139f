#include "adapters/embedded/rocks_directory.hpp"

#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <memory>
#include <tuple>
#include <utility>

#include "core/bytes.hpp"
#include "core/clock.hpp"

namespace parley::embedded {

namespace {

enum Family : int { users_cf, usernames_cf, sessions_cf, meta_cf, user_sessions_cf };

constexpr std::string_view next_user_id_key = "next_user_id";
constexpr std::string_view user_sessions_key = "user_sessions";
// Users: format 1, then format 2 with a disabled flag, then format 3 with
// a deleted flag too (all are read).
constexpr std::uint8_t record_format = 3;
// Meta rows "deleted" id: the deleted users, for deleted_users().
constexpr std::string_view deleted_prefix = "deleted";
// Sessions since they slide: format 1 and last_used_at. (Their version
// byte once followed the users' format; it no longer does.)
constexpr std::uint8_t session_format = 2;

rocksdb::WriteOptions synced() {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return wo;
}

std::string encode(const ports::UserRecord& u) {
  std::string out;
  out.push_back(static_cast<char>(record_format));
  rocks::put_be64(out, u.id.value);
  rocks::put_be64(out, static_cast<std::uint64_t>(u.created_at));
  rocks::put_str(out, u.username);
  rocks::put_str(out, u.password_hash);
  out.push_back(u.disabled ? '\1' : '\0');
  out.push_back(u.deleted ? '\1' : '\0');
  return out;
}

std::string deleted_key(UserId id) {
  std::string key(deleted_prefix);
  rocks::put_be64(key, id.value);
  return key;
}

Result<ports::UserRecord> decode_user(std::string_view in) {
  bytes::Reader r(in);
  ports::UserRecord u;
  std::uint8_t version = 0;
  std::uint64_t created = 0;
  std::uint8_t disabled = 0;
  std::uint8_t deleted = 0;
  if (!(r.u8(version) && version >= 1 && version <= record_format && r.u64_be(u.id.value) && r.u64_be(created) &&
        r.str_u32_be(u.username) && r.str_u32_be(u.password_hash) &&
        (version == 1 || (r.u8(disabled) && disabled <= 1)) && (version <= 2 || (r.u8(deleted) && deleted <= 1)) &&
        r.done())) {
    return make_error(ErrorCode::internal, "directory: corrupt user row");
  }
  u.disabled = disabled == 1;
  u.deleted = deleted == 1;
  u.created_at = static_cast<TimeMs>(created);
  return u;
}

std::string encode(const ports::SessionRecord& s) {
  std::string out;
  out.push_back(static_cast<char>(session_format));
  rocks::put_be64(out, s.user.value);
  rocks::put_be64(out, static_cast<std::uint64_t>(s.created_at));
  rocks::put_str(out, s.device);
  rocks::put_be64(out, static_cast<std::uint64_t>(s.last_used_at));
  return out;
}

// Reads both formats; a format 1 row (written before sessions slid) was
// last used, as far as anyone knows, when it was created.
Result<ports::SessionRecord> decode_session(std::string_view token_hash, std::string_view in) {
  bytes::Reader r(in);
  ports::SessionRecord s;
  std::uint8_t version = 0;
  std::uint64_t created = 0;
  std::uint64_t used = 0;
  bool good = r.u8(version) && (version == 1 || version == session_format) && r.u64_be(s.user.value) &&
              r.u64_be(created) && r.str_u32_be(s.device);
  if (good && version == session_format) good = r.u64_be(used);
  if (!(good && r.done())) return make_error(ErrorCode::internal, "directory: corrupt session row");
  s.created_at = static_cast<TimeMs>(created);
  s.last_used_at = version == session_format ? static_cast<TimeMs>(used) : s.created_at;
  s.token_hash = std::string(token_hash);
  return s;
}

std::string user_session_key(UserId user, std::string_view token_hash) {
  std::string key = rocks::be64(user.value);
  key.append(token_hash);
  return key;
}

// A directory made before user_sessions existed: index every session once.
Result<void> index_sessions(rocks::Database& db) {
  std::string done;
  auto status = db.db->Get(rocksdb::ReadOptions(), db.cf(static_cast<std::size_t>(meta_cf)),
                           std::string(user_sessions_key), &done);
  if (status.ok()) return Ok{};
  if (!status.IsNotFound()) return rocks::to_error(status, "directory: read the session index's state");
  rocksdb::WriteBatch wb;
  std::unique_ptr<rocksdb::Iterator> it(
      db.db->NewIterator(rocksdb::ReadOptions(), db.cf(static_cast<std::size_t>(sessions_cf))));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto session = decode_session(it->key().ToStringView(), it->value().ToStringView());
    if (!session) return std::move(session).error();
    status = wb.Put(db.cf(static_cast<std::size_t>(user_sessions_cf)),
                    user_session_key(session->user, session->token_hash), "");
    if (!status.ok()) return rocks::to_error(status, "directory: index the sessions");
  }
  if (!it->status().ok()) return rocks::to_error(it->status(), "directory: index the sessions");
  status = wb.Put(db.cf(static_cast<std::size_t>(meta_cf)), std::string(user_sessions_key), "1");
  if (status.ok()) status = db.db->Write(synced(), &wb);
  if (!status.ok()) return rocks::to_error(status, "directory: index the sessions");
  return Ok{};
}

}  // namespace

RocksDirectory::RocksDirectory(Private, rocks::Database db, std::uint64_t next_user_id)
    : db_(std::move(db)), next_user_id_(next_user_id) {}

Result<std::unique_ptr<RocksDirectory>> RocksDirectory::open(const std::string& path) {
  if (path.empty()) return make_error(ErrorCode::bad_request, "directory: empty path");
  auto db = rocks::open(path, {"users", "usernames", "sessions", "meta", "user_sessions"});
  if (!db) return std::move(db).error();
  if (auto indexed = index_sessions(*db); !indexed) return std::move(indexed).error();
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
  auto user = read_user(id);
  if (user && user->deleted) return make_error(ErrorCode::not_found, "no such user");
  return user;
}

Result<ports::UserRecord> RocksDirectory::read_user(UserId id) {
  std::string value;
  const auto status = db_.db->Get(rocksdb::ReadOptions(), cf(users_cf), rocks::be64(id.value), &value);
  if (status.IsNotFound()) return make_error(ErrorCode::not_found, "no such user");
  if (!status.ok()) return rocks::to_error(status, "find_user");
  return decode_user(value);
}

Result<void> RocksDirectory::delete_user(UserId id) {
  std::lock_guard lock(create_mu_);
  auto user = read_user(id);
  if (!user) return std::move(user).error();
  if (user->deleted) return Ok{};
  user->deleted = true;
  user->password_hash.clear();
  rocksdb::WriteBatch wb;
  auto status = wb.Put(cf(users_cf), rocks::be64(id.value), encode(*user));
  if (status.ok()) status = wb.Put(cf(meta_cf), deleted_key(id), "");
  if (status.ok()) status = db_.db->Write(synced(), &wb);
  if (!status.ok()) return rocks::to_error(status, "delete_user");
  return Ok{};
}

Result<std::vector<UserId>> RocksDirectory::deleted_users() {
  std::vector<UserId> out;
  std::unique_ptr<rocksdb::Iterator> it(db_.db->NewIterator(rocksdb::ReadOptions(), cf(meta_cf)));
  for (it->Seek(deleted_prefix); it->Valid() && it->key().starts_with(deleted_prefix); it->Next()) {
    const std::string_view key(it->key().data(), it->key().size());
    if (key.size() != deleted_prefix.size() + 8) return make_error(ErrorCode::internal, "directory: corrupt row");
    out.push_back(UserId{rocks::get_be64(key.substr(deleted_prefix.size()))});
  }
  if (!it->status().ok()) return rocks::to_error(it->status(), "deleted_users");
  return out;
}

Result<void> RocksDirectory::set_password(UserId id, std::string_view password_hash) {
  std::lock_guard lock(create_mu_);
  auto user = find_user(id);
  if (!user) return std::move(user).error();
  user->password_hash = std::string(password_hash);
  const auto status = db_.db->Put(synced(), cf(users_cf), rocks::be64(id.value), encode(*user));
  if (!status.ok()) return rocks::to_error(status, "set_password");
  return Ok{};
}

Result<void> RocksDirectory::set_disabled(UserId id, bool disabled) {
  std::lock_guard lock(create_mu_);
  auto user = find_user(id);
  if (!user) return std::move(user).error();
  user->disabled = disabled;
  const auto status = db_.db->Put(synced(), cf(users_cf), rocks::be64(id.value), encode(*user));
  if (!status.ok()) return rocks::to_error(status, "set_disabled");
  return Ok{};
}

Result<std::vector<ports::UserRecord>> RocksDirectory::list_users(std::string_view prefix, std::string_view after,
                                                                  int limit) {
  std::vector<ports::UserRecord> out;
  if (limit <= 0) return out;
  std::unique_ptr<rocksdb::Iterator> it(db_.db->NewIterator(rocksdb::ReadOptions(), cf(usernames_cf)));
  // The first name past `after` that can start with `prefix`.
  std::string from(after);
  from.push_back('\0');
  if (from < prefix) from = std::string(prefix);
  for (it->Seek(from); it->Valid() && static_cast<int>(out.size()) < limit; it->Next()) {
    const std::string_view name(it->key().data(), it->key().size());
    if (!name.starts_with(prefix)) break;
    if (it->value().size() != 8) return make_error(ErrorCode::internal, "directory: corrupt username row");
    auto user = read_user(UserId{rocks::get_be64(std::string_view(it->value().data(), it->value().size()))});
    if (!user) return std::move(user).error();
    out.push_back(std::move(user).value());
  }
  if (!it->status().ok()) return rocks::to_error(it->status(), "list_users");
  return out;
}

Result<void> RocksDirectory::put_session(std::string_view token_hash, const ports::SessionRecord& session) {
  if (token_hash.empty()) return make_error(ErrorCode::bad_request, "put_session: empty token hash");
  std::lock_guard lock(sessions_mu_);
  rocksdb::WriteBatch wb;
  auto status = wb.Put(cf(sessions_cf), token_hash, encode(session));
  if (status.ok()) status = wb.Put(cf(user_sessions_cf), user_session_key(session.user, token_hash), "");
  if (status.ok()) status = db_.db->Write(synced(), &wb);
  if (!status.ok()) return rocks::to_error(status, "put_session");
  return Ok{};
}

Result<ports::SessionRecord> RocksDirectory::find_session(std::string_view token_hash) {
  std::string value;
  const auto status = db_.db->Get(rocksdb::ReadOptions(), cf(sessions_cf), token_hash, &value);
  if (status.IsNotFound()) return make_error(ErrorCode::not_found, "no such session");
  if (!status.ok()) return rocks::to_error(status, "find_session");
  return decode_session(token_hash, value);
}

Result<void> RocksDirectory::touch_session(std::string_view token_hash, TimeMs when) {
  std::lock_guard lock(sessions_mu_);
  auto session = find_session(token_hash);
  if (!session) return std::move(session).error();
  if (when <= session->last_used_at) return Ok{};
  session->last_used_at = when;
  // Not synced: a touch lost to a power cut only makes the session expire
  // a little earlier.
  const auto status = db_.db->Put(rocksdb::WriteOptions(), cf(sessions_cf), token_hash, encode(*session));
  if (!status.ok()) return rocks::to_error(status, "touch_session");
  return Ok{};
}

Result<void> RocksDirectory::delete_session(std::string_view token_hash) {
  std::lock_guard lock(sessions_mu_);
  auto session = find_session(token_hash);
  if (!session) return std::move(session).error();
  rocksdb::WriteBatch wb;
  auto status = wb.Delete(cf(sessions_cf), token_hash);
  if (status.ok()) status = wb.Delete(cf(user_sessions_cf), user_session_key(session->user, token_hash));
  if (status.ok()) status = db_.db->Write(synced(), &wb);
  if (!status.ok()) return rocks::to_error(status, "delete_session");
  return Ok{};
}

Result<std::vector<ports::SessionRecord>> RocksDirectory::list_sessions(UserId user) {
  const std::string prefix = rocks::be64(user.value);
  std::vector<ports::SessionRecord> out;
  std::unique_ptr<rocksdb::Iterator> it(db_.db->NewIterator(rocksdb::ReadOptions(), cf(user_sessions_cf)));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const std::string_view token_hash = it->key().ToStringView().substr(prefix.size());
    auto session = find_session(token_hash);
    if (!session && session.error().code == ErrorCode::not_found) continue;  // deleted meanwhile
    if (!session) return std::move(session).error();
    out.push_back(std::move(session).value());
  }
  if (!it->status().ok()) return rocks::to_error(it->status(), "list_sessions");
  std::sort(out.begin(), out.end(), [](const ports::SessionRecord& a, const ports::SessionRecord& b) {
    return std::tie(a.device, a.created_at, a.token_hash) < std::tie(b.device, b.created_at, b.token_hash);
  });
  return out;
}

}  // namespace parley::embedded
