#include "adapters/embedded/rocks_push_tokens.hpp"

#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include "core/bytes.hpp"

namespace parley::embedded {

namespace {

enum Family : int { tokens_cf, by_token_cf };

constexpr std::uint8_t record_format = 1;

rocksdb::WriteOptions synced() {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return wo;
}

std::string device_key(UserId user, std::string_view device) {
  std::string key = rocks::be64(user.value);
  key.append(device);
  return key;
}

std::string token_key(ports::PushPlatform platform, std::string_view token) {
  std::string key(1, platform == ports::PushPlatform::apns ? 'a' : 'f');
  key.append(token);
  return key;
}

std::string encode(const ports::DeviceToken& t) {
  std::string out;
  out.push_back(static_cast<char>(record_format));
  out.push_back(static_cast<char>(t.platform));
  rocks::put_be64(out, static_cast<std::uint64_t>(t.updated_at));
  rocks::put_str(out, t.token);
  return out;
}

Result<ports::DeviceToken> decode(std::string_view key, std::string_view value) {
  bytes::Reader r(value);
  ports::DeviceToken t;
  std::uint8_t version = 0;
  std::uint8_t platform = 0;
  std::uint64_t updated = 0;
  if (key.size() < 8 || !(r.u8(version) && version == record_format && r.u8(platform) && platform <= 1 &&
                          r.u64_be(updated) && r.str_u32_be(t.token) && r.done())) {
    return make_error(ErrorCode::internal, "push tokens: corrupt row");
  }
  t.user = UserId{rocks::get_be64(key)};
  t.device = std::string(key.substr(8));
  t.platform = static_cast<ports::PushPlatform>(platform);
  t.updated_at = static_cast<TimeMs>(updated);
  return t;
}

}  // namespace

RocksPushTokens::RocksPushTokens(Private, rocks::Database db) : db_(std::move(db)) {}

Result<std::unique_ptr<RocksPushTokens>> RocksPushTokens::open(const std::string& path) {
  if (path.empty()) return make_error(ErrorCode::bad_request, "push tokens: empty path");
  auto db = rocks::open(path, {"tokens", "by_token"});
  if (!db) return std::move(db).error();
  return std::make_unique<RocksPushTokens>(Private{}, std::move(db).value());
}

Result<std::optional<ports::DeviceToken>> RocksPushTokens::current(UserId user, std::string_view device) {
  const std::string key = device_key(user, device);
  std::string value;
  const auto status = db_.db->Get(rocksdb::ReadOptions(), cf(tokens_cf), key, &value);
  if (status.IsNotFound()) return std::optional<ports::DeviceToken>{};
  if (!status.ok()) return rocks::to_error(status, "push tokens: read");
  auto t = decode(key, value);
  if (!t) return std::move(t).error();
  return std::optional<ports::DeviceToken>(std::move(t).value());
}

Result<void> RocksPushTokens::put(const ports::DeviceToken& token) {
  if (!token.user.valid() || token.device.empty() || token.token.empty()) {
    return make_error(ErrorCode::bad_request, "push tokens: user, device and token are required");
  }
  std::lock_guard lock(mu_);
  rocksdb::WriteBatch wb;
  rocksdb::Status status;
  // The device's old token no longer points here.
  auto old = current(token.user, token.device);
  if (!old) return std::move(old).error();
  if (old.value()) status = wb.Delete(cf(by_token_cf), token_key(old.value()->platform, old.value()->token));
  // Whoever held this token before loses it: one device, one owner.
  const std::string tkey = token_key(token.platform, token.token);
  std::string holder;
  const auto found = db_.db->Get(rocksdb::ReadOptions(), cf(by_token_cf), tkey, &holder);
  if (found.ok()) {
    if (holder != device_key(token.user, token.device) && status.ok()) status = wb.Delete(cf(tokens_cf), holder);
  } else if (!found.IsNotFound()) {
    return rocks::to_error(found, "push tokens: read");
  }
  if (status.ok()) status = wb.Put(cf(tokens_cf), device_key(token.user, token.device), encode(token));
  if (status.ok()) status = wb.Put(cf(by_token_cf), tkey, device_key(token.user, token.device));
  if (status.ok()) status = db_.db->Write(synced(), &wb);
  if (!status.ok()) return rocks::to_error(status, "push tokens: put");
  return Ok{};
}

Result<std::vector<ports::DeviceToken>> RocksPushTokens::list(UserId user) {
  const std::string prefix = rocks::be64(user.value);
  std::unique_ptr<rocksdb::Iterator> it(db_.db->NewIterator(rocksdb::ReadOptions(), cf(tokens_cf)));
  std::vector<ports::DeviceToken> out;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    auto t = decode(it->key().ToStringView(), it->value().ToStringView());
    if (!t) return std::move(t).error();
    out.push_back(std::move(t).value());
  }
  if (!it->status().ok()) return rocks::to_error(it->status(), "push tokens: list");
  return out;
}

Result<void> RocksPushTokens::remove_if_current(UserId user, std::string_view device, std::string_view token) {
  std::lock_guard lock(mu_);
  auto old = current(user, device);
  if (!old) return std::move(old).error();
  if (!old.value() || old.value()->token != token) return Ok{};
  rocksdb::WriteBatch wb;
  auto status = wb.Delete(cf(tokens_cf), device_key(user, device));
  if (status.ok()) status = wb.Delete(cf(by_token_cf), token_key(old.value()->platform, old.value()->token));
  if (status.ok()) status = db_.db->Write(synced(), &wb);
  if (!status.ok()) return rocks::to_error(status, "push tokens: remove");
  return Ok{};
}

Result<void> RocksPushTokens::remove_device(UserId user, std::string_view device) {
  std::string token;
  {
    std::lock_guard lock(mu_);
    auto old = current(user, device);
    if (!old) return std::move(old).error();
    if (!old.value()) return Ok{};
    token = old.value()->token;
  }
  return remove_if_current(user, device, token);
}

}  // namespace parley::embedded
