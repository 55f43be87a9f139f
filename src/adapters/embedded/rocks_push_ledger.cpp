#include "adapters/embedded/rocks_push_ledger.hpp"

#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <map>

#include "core/bytes.hpp"

namespace parley::embedded {

namespace {

enum Family : int { open_cf, closed_cf, watermarks_cf };

// Format 1 had no claim (closed_by, closed_at); format 2 appends it. A
// format 1 closed batch reads as claimed by nobody long ago, so the first
// dispatcher to see it takes it over.
constexpr std::uint8_t record_format = 2;

std::string open_key(UserId user, std::string_view conversation) {
  std::string key = rocks::be64(user.value);
  key.append(conversation);
  return key;
}

std::string closed_key(UserId user, std::string_view conversation, Seq last_seq) {
  std::string key = open_key(user, conversation);
  key.push_back('\0');  // conversation names never hold NUL
  rocks::put_be64(key, last_seq);
  return key;
}

std::string encode(const ports::PushBatch& b) {
  std::string out;
  out.push_back(static_cast<char>(record_format));
  rocks::put_be64(out, b.user.value);
  rocks::put_str(out, b.conversation);
  out.push_back(static_cast<char>(b.group ? 1 : 0));
  rocks::put_be64(out, b.count);
  rocks::put_be64(out, b.first_seq);
  rocks::put_be64(out, b.last_seq);
  rocks::put_be64(out, b.last_message.value);
  rocks::put_be64(out, b.last_sender.value);
  rocks::put_str(out, b.last_preview);
  rocks::put_be64(out, static_cast<std::uint64_t>(b.opened_at));
  out.push_back(static_cast<char>(b.closed ? 1 : 0));
  rocks::put_be64(out, b.done_devices.size());
  for (const auto& d : b.done_devices) rocks::put_str(out, d);
  rocks::put_str(out, b.closed_by);
  rocks::put_be64(out, static_cast<std::uint64_t>(b.closed_at));
  return out;
}

Result<ports::PushBatch> decode(std::string_view in) {
  bytes::Reader r(in);
  ports::PushBatch b;
  std::uint8_t version = 0, group = 0, closed = 0;
  std::uint64_t count = 0, opened = 0, devices = 0, closed_at = 0;
  bool ok = r.u8(version) && (version == 1 || version == record_format) && r.u64_be(b.user.value) &&
            r.str_u32_be(b.conversation) && r.u8(group) && r.u64_be(count) && r.u64_be(b.first_seq) &&
            r.u64_be(b.last_seq) && r.u64_be(b.last_message.value) && r.u64_be(b.last_sender.value) &&
            r.str_u32_be(b.last_preview) && r.u64_be(opened) && r.u8(closed) && r.u64_be(devices) && devices < 100000;
  for (std::uint64_t i = 0; ok && i < devices; ++i) ok = r.str_u32_be(b.done_devices.emplace_back());
  if (ok && version >= 2) ok = r.str_u32_be(b.closed_by) && r.u64_be(closed_at);
  if (!ok || !r.done()) return make_error(ErrorCode::internal, "push ledger: corrupt batch");
  b.group = group != 0;
  b.closed = closed != 0;
  b.count = static_cast<std::uint32_t>(count);
  b.opened_at = static_cast<TimeMs>(opened);
  b.closed_at = static_cast<TimeMs>(closed_at);
  return b;
}

}  // namespace

RocksPushLedger::RocksPushLedger(Private, rocks::Database db, Durability durability)
    : db_(std::move(db)), durability_(durability) {}

Result<std::unique_ptr<RocksPushLedger>> RocksPushLedger::open(const std::string& path, Durability durability) {
  if (path.empty()) return make_error(ErrorCode::bad_request, "push ledger: empty path");
  auto db = rocks::open(path, {"open", "closed", "watermarks"});
  if (!db) return std::move(db).error();
  return std::make_unique<RocksPushLedger>(Private{}, std::move(db).value(), durability);
}

rocksdb::WriteOptions RocksPushLedger::write_options() const {
  rocksdb::WriteOptions wo;
  wo.sync = durability_ == Durability::fsync;
  return wo;
}

Result<std::size_t> RocksPushLedger::add(std::span<const ports::PushCandidate> candidates) {
  std::lock_guard lock(mu_);
  std::map<std::uint64_t, Seq> marks;            // user -> watermark, including this call
  std::map<std::string, ports::PushBatch> open;  // open key -> batch, including this call
  std::size_t added = 0;
  for (const auto& c : candidates) {
    auto [mark, fresh_mark] = marks.try_emplace(c.user.value, 0);
    if (fresh_mark) {
      std::string value;
      const auto s = db_.db->Get(rocksdb::ReadOptions(), cf(watermarks_cf), rocks::be64(c.user.value), &value);
      if (s.ok() && value.size() == 8) {
        mark->second = rocks::get_be64(value);
      } else if (!s.IsNotFound()) {
        return s.ok() ? Result<std::size_t>(make_error(ErrorCode::internal, "push ledger: corrupt watermark"))
                      : Result<std::size_t>(rocks::to_error(s, "push ledger: read watermark"));
      }
    }
    if (c.seq <= mark->second) continue;  // folded in before: a replay
    mark->second = c.seq;

    const std::string key = open_key(c.user, c.conversation);
    auto [batch, fresh_batch] = open.try_emplace(key);
    if (fresh_batch) {
      std::string value;
      const auto s = db_.db->Get(rocksdb::ReadOptions(), cf(open_cf), key, &value);
      if (s.ok()) {
        auto decoded = decode(value);
        if (!decoded) return std::move(decoded).error();
        batch->second = std::move(decoded).value();
      } else if (!s.IsNotFound()) {
        return rocks::to_error(s, "push ledger: read batch");
      }
    }
    ports::PushBatch& b = batch->second;
    if (b.count == 0) {
      b.user = c.user;
      b.conversation = c.conversation;
      b.group = c.group;
      b.first_seq = c.seq;
      b.opened_at = c.at;
    }
    ++b.count;
    b.last_seq = c.seq;
    b.last_message = c.message;
    b.last_sender = c.sender;
    b.last_preview = c.preview;
    ++added;
  }
  if (added == 0) return added;
  rocksdb::WriteBatch wb;
  rocksdb::Status status;
  for (const auto& [key, b] : open) {
    if (status.ok()) status = wb.Put(cf(open_cf), key, encode(b));
  }
  for (const auto& [user, mark] : marks) {
    if (status.ok()) status = wb.Put(cf(watermarks_cf), rocks::be64(user), rocks::be64(mark));
  }
  if (status.ok()) status = db_.db->Write(write_options(), &wb);
  if (!status.ok()) return rocks::to_error(status, "push ledger: add");
  return added;
}

Result<std::vector<ports::PushBatch>> RocksPushLedger::batches() {
  std::vector<ports::PushBatch> out;
  for (int family : {open_cf, closed_cf}) {
    std::unique_ptr<rocksdb::Iterator> it(db_.db->NewIterator(rocksdb::ReadOptions(), cf(family)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      auto b = decode(it->value().ToStringView());
      if (!b) return std::move(b).error();
      out.push_back(std::move(b).value());
    }
    if (!it->status().ok()) return rocks::to_error(it->status(), "push ledger: scan");
  }
  return out;
}

Result<ports::PushBatch> RocksPushLedger::close(UserId user, std::string_view conversation, std::string_view owner,
                                                TimeMs at) {
  std::lock_guard lock(mu_);
  const std::string key = open_key(user, conversation);
  std::string value;
  const auto s = db_.db->Get(rocksdb::ReadOptions(), cf(open_cf), key, &value);
  if (s.IsNotFound()) return make_error(ErrorCode::not_found, "push ledger: no open batch");
  if (!s.ok()) return rocks::to_error(s, "push ledger: read batch");
  auto b = decode(value);
  if (!b) return std::move(b).error();
  b->closed = true;
  b->closed_by = owner;
  b->closed_at = at;
  rocksdb::WriteBatch wb;
  auto status = wb.Delete(cf(open_cf), key);
  if (status.ok()) status = wb.Put(cf(closed_cf), closed_key(user, conversation, b->last_seq), encode(b.value()));
  if (status.ok()) status = db_.db->Write(write_options(), &wb);
  if (!status.ok()) return rocks::to_error(status, "push ledger: close");
  return b;
}

Result<ports::PushBatch> RocksPushLedger::read_closed(const std::string& key) {
  std::string value;
  const auto s = db_.db->Get(rocksdb::ReadOptions(), cf(closed_cf), key, &value);
  if (s.IsNotFound()) return make_error(ErrorCode::not_found, "push ledger: no such closed batch");
  if (!s.ok()) return rocks::to_error(s, "push ledger: read batch");
  return decode(value);
}

Result<ports::PushBatch> RocksPushLedger::take_over(UserId user, std::string_view conversation, Seq last_seq,
                                                    std::string_view new_owner, TimeMs stale_before, TimeMs at) {
  std::lock_guard lock(mu_);
  const std::string key = closed_key(user, conversation, last_seq);
  auto b = read_closed(key);
  if (!b) return std::move(b).error();
  if (b->closed_by != new_owner && b->closed_at >= stale_before) {
    return make_error(ErrorCode::conflict, "push ledger: the batch is held by " + b->closed_by);
  }
  b->closed_by = new_owner;
  b->closed_at = at;
  const auto status = db_.db->Put(write_options(), cf(closed_cf), key, encode(b.value()));
  if (!status.ok()) return rocks::to_error(status, "push ledger: take over");
  return b;
}

Result<void> RocksPushLedger::mark_done(UserId user, std::string_view conversation, Seq last_seq,
                                        std::string_view device) {
  std::lock_guard lock(mu_);
  const std::string key = closed_key(user, conversation, last_seq);
  auto b = read_closed(key);
  if (!b) return std::move(b).error();
  for (const auto& d : b->done_devices) {
    if (d == device) return Ok{};
  }
  b->done_devices.emplace_back(device);
  const auto status = db_.db->Put(write_options(), cf(closed_cf), key, encode(b.value()));
  if (!status.ok()) return rocks::to_error(status, "push ledger: mark done");
  return Ok{};
}

Result<void> RocksPushLedger::finish(UserId user, std::string_view conversation, Seq last_seq) {
  std::lock_guard lock(mu_);
  const auto status = db_.db->Delete(write_options(), cf(closed_cf), closed_key(user, conversation, last_seq));
  if (!status.ok()) return rocks::to_error(status, "push ledger: finish");
  return Ok{};
}

}  // namespace parley::embedded
