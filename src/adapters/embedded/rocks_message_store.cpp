#include "adapters/embedded/rocks_message_store.hpp"

#include "core/bytes.hpp"

#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <utility>

namespace parley::embedded {

namespace {

enum Family : int {
  history_cf,
  dedupe_cf,  // not written any more (see open)
  inbox_cf,
  inbox_index_cf,
  inbox_head_cf,  // not written any more (see open)
  cursors_cf,
  conversations_cf,
  read_positions_cf
};

// Encoding version of a stored message; bump it when the layout changes.
// Version 2: a version byte, then the message in core/bytes.hpp's encoding
// (the one the log records use too). Version 3: the same for a tombstone
// (its sender was deleted; its body is empty).
constexpr std::uint8_t message_format = 2;
constexpr std::uint8_t tombstone_format = 3;

std::string encode(const Message& m) {
  std::string out;
  out.reserve(1 + 8 * 6 + 1 + m.conversation.size() + m.body.size() + m.client_msg_id.size());
  bytes::Writer w(out);
  w.u8(m.deleted ? tombstone_format : message_format);
  bytes::write_message(w, m);
  return out;
}

Result<Message> decode(std::string_view in) {
  bytes::Reader r(in);
  Message m;
  std::uint8_t version = 0;
  if (!(r.u8(version) && (version == message_format || version == tombstone_format) && bytes::read_message(r, m) &&
        r.done())) {
    return make_error(ErrorCode::internal, "message store: corrupt message row");
  }
  m.deleted = version == tombstone_format;
  return m;
}

bool is_tombstone(std::string_view row) noexcept {
  return !row.empty() && static_cast<std::uint8_t>(row[0]) == tombstone_format;
}

std::string_view view(const rocksdb::Slice& s) noexcept { return {s.data(), s.size()}; }

std::string history_prefix(std::string_view conversation) {
  std::string key;
  key.reserve(conversation.size() + 1 + 8);
  key.append(conversation);
  key.push_back('\0');
  return key;
}

// The first key past every history row of the conversation: its prefix
// with the closing NUL bumped to \x01.
std::string history_end(std::string_view conversation) {
  std::string end = history_prefix(conversation);
  end.back() = '\x01';
  return end;
}

std::string history_key(std::string_view conversation, MessageId id) {
  std::string key = history_prefix(conversation);
  rocks::put_be64(key, id.value);
  return key;
}

std::string pair_key(std::uint64_t a, std::uint64_t b) {
  std::string key = rocks::be64(a);
  rocks::put_be64(key, b);
  return key;
}

std::string user_conversation_key(UserId user, std::string_view conversation) {
  std::string k = rocks::be64(user.value);
  k.append(conversation);
  return k;
}

std::string cursor_key(UserId user, std::string_view device) {
  std::string key = rocks::be64(user.value);
  key.append(device);
  return key;
}

// A conversation name is a key prefix ending in NUL, so it may not hold one.
bool valid_conversation(std::string_view c) noexcept { return !c.empty() && c.find('\0') == std::string_view::npos; }

Result<void> check_limit(int limit) {
  if (limit <= 0) return make_error(ErrorCode::bad_request, "limit must be positive");
  return Ok{};
}

// Rows are tiny; a page never needs more than this much reserved up front.
constexpr int reserve_cap = 256;

}  // namespace

RocksMessageStore::RocksMessageStore(Private, rocks::Database db, Durability durability)
    : db_(std::move(db)), durability_(durability) {}

Result<std::unique_ptr<RocksMessageStore>> RocksMessageStore::open(const std::string& path, Durability durability) {
  if (path.empty()) return make_error(ErrorCode::bad_request, "message store: empty path");
  // "dedupe" (sender, client_msg_id → message: the sequencer's state decides
  // a retry, never the store) and "inbox_head" (a head is its inbox's last
  // seq) are no longer written; they stay in the list because data
  // directories made before hold them, and RocksDB opens a database only
  // with every family it has.
  auto db = rocks::open(
      path, {"history", "dedupe", "inbox", "inbox_index", "inbox_head", "cursors", "conversations", "read_positions"},
      {{"conversations", rocks::max_u64_merge()}},
      {{"history", rocks::through_nul()},
       {"inbox", rocks::leading_u64()},
       {"inbox_index", rocks::leading_u64()},
       {"conversations", rocks::leading_u64()}},
      // Three inserts for every inbox entry, no filter: an inbox is read a
      // page at a time and a user's conversations as a list, and the index
      // is read for entries that are there (the push step's seq, a replay's
      // check, erase_sent) far more than for ones that are not.
      {"inbox", "inbox_index", "conversations"});
  if (!db) return std::move(db).error();
  return std::make_unique<RocksMessageStore>(Private{}, std::move(db).value(), durability);
}

Result<MessageId> RocksMessageStore::last_message_id(std::string_view conversation) {
  auto newest = history(conversation, MessageId{}, 1);
  if (!newest) return std::move(newest).error();
  return newest->empty() ? MessageId{} : newest->front().id;
}

Result<void> RocksMessageStore::put_messages(std::span<const Message> messages) {
  return put_history(messages, /*read_first=*/true, "put_messages");
}

Result<void> RocksMessageStore::put_new_messages(std::span<const Message> messages) {
  // No read first: nothing is stored under a new id (the Get would miss,
  // at about 1 % of the server's CPU).
  return put_history(messages, /*read_first=*/false, "put_new_messages");
}

Result<void> RocksMessageStore::put_history(std::span<const Message> messages, bool read_first, const char* what) {
  rocksdb::WriteBatch wb;
  std::string stored;
  for (const auto& m : messages) {
    if (!valid_conversation(m.conversation) || !m.id.valid()) {
      return make_error(ErrorCode::bad_request, std::string(what) + ": a message needs an id and a conversation");
    }
    const std::string key = history_key(m.conversation, m.id);
    const std::string value = encode(m);
    if (read_first) {
      // Stored already, as it is (the store writer writes every message the
      // sequencer stored a moment before): a read of the memtable instead
      // of a write and a WAL sync. A tombstone stays one: a replay of a
      // deleted user's message does not bring its body back.
      const auto found = db_.db->Get(rocksdb::ReadOptions(), cf(history_cf), key, &stored);
      if (found.ok() && (stored == value || is_tombstone(stored))) continue;
    }
    const auto status = wb.Put(cf(history_cf), key, value);
    if (!status.ok()) return rocks::to_error(status, what);
  }
  if (wb.Count() == 0) return Ok{};
  const auto status = write(wb);
  if (!status.ok()) return rocks::to_error(status, what);
  return Ok{};
}

Result<std::vector<Message>> RocksMessageStore::history(std::string_view conversation, MessageId before, int limit) {
  if (auto ok = check_limit(limit); !ok) return std::move(ok).error();
  if (!valid_conversation(conversation)) return make_error(ErrorCode::bad_request, "history: bad conversation");
  const std::string lower = history_prefix(conversation);
  // Ids below `before`, or the whole conversation: everything under the
  // prefix with NUL bumped to \x01.
  std::string upper;
  if (before.valid()) {
    upper = history_key(conversation, before);
  } else {
    upper = history_end(conversation);
  }
  const rocksdb::Slice lower_slice(lower);
  const rocksdb::Slice upper_slice(upper);
  auto it = history_rows(lower_slice, upper_slice);
  std::vector<Message> out;
  out.reserve(static_cast<std::size_t>(std::min(limit, reserve_cap)));
  for (it->SeekToLast(); it->Valid() && static_cast<int>(out.size()) < limit; it->Prev()) {
    auto m = decode(view(it->value()));
    if (!m) return std::move(m).error();
    out.push_back(std::move(m).value());
  }
  if (!it->status().ok()) return rocks::to_error(it->status(), "history");
  return out;
}

Result<Seq> RocksMessageStore::inbox_head(UserId user) {
  // The head is the seq of the user's last entry: put_inbox writes entries
  // gaplessly, each batch whole, so there is no head row to keep in step.
  std::unique_ptr<rocksdb::Iterator> it(db_.db->NewIterator(rocksdb::ReadOptions(), cf(inbox_cf)));
  it->SeekForPrev(pair_key(user.value, std::numeric_limits<std::uint64_t>::max()));
  if (!it->status().ok()) return rocks::to_error(it->status(), "inbox_head");
  if (!it->Valid()) return Seq{0};
  const rocksdb::Slice key = it->key();
  if (key.size() != 16 || rocks::get_be64(std::string_view(key.data(), 8)) != user.value) return Seq{0};
  return rocks::get_be64(std::string_view(key.data() + 8, 8));
}

Result<std::optional<Seq>> RocksMessageStore::inbox_seq_of(UserId user, MessageId message) {
  std::string value;
  const auto status =
      db_.db->Get(rocksdb::ReadOptions(), cf(inbox_index_cf), pair_key(user.value, message.value), &value);
  if (status.IsNotFound()) return std::optional<Seq>{};
  if (!status.ok()) return rocks::to_error(status, "inbox_seq_of");
  if (value.size() != 8) return make_error(ErrorCode::internal, "inbox_seq_of: corrupt row");
  return std::optional<Seq>(rocks::get_be64(value));
}

Result<void> RocksMessageStore::put_inbox(std::span<const InboxWrite> writes) {
  // One atomic batch: each entry, its index row, and the newest id of its
  // conversation for the user as a max-merge (no read, and a replayed older
  // entry cannot move it back). There is no head row to move: the head is
  // the last entry (inbox_head).
  rocksdb::WriteBatch wb;
  // (user, conversation) → newest id in this batch: one merge operand each.
  std::map<std::pair<std::uint64_t, std::string_view>, std::uint64_t> newest;
  // A group message's entries come one after another: encoded once.
  const Message* encoded_from = nullptr;
  std::string encoded;
  for (const auto& w : writes) {
    if (w.entry.seq == 0 || !w.user.valid()) {
      return make_error(ErrorCode::bad_request, "put_inbox: an entry needs a user and a seq >= 1");
    }
    if (encoded_from == nullptr || !(*encoded_from == w.entry.message)) {
      encoded = encode(w.entry.message);
      encoded_from = &w.entry.message;
    }
    auto status = wb.Put(cf(inbox_cf), pair_key(w.user.value, w.entry.seq), encoded);
    if (status.ok()) {
      status = wb.Put(cf(inbox_index_cf), pair_key(w.user.value, w.entry.message.id.value), rocks::be64(w.entry.seq));
    }
    if (!status.ok()) return rocks::to_error(status, "put_inbox");
    auto& id = newest[{w.user.value, w.entry.message.conversation}];
    id = std::max(id, w.entry.message.id.value);
  }
  for (const auto& [key, id] : newest) {
    const auto status =
        wb.Merge(cf(conversations_cf), user_conversation_key(UserId{key.first}, key.second), rocks::be64(id));
    if (!status.ok()) return rocks::to_error(status, "put_inbox");
  }
  const auto status = write(wb);
  if (!status.ok()) return rocks::to_error(status, "put_inbox");
  return Ok{};
}

Result<std::vector<InboxEntry>> RocksMessageStore::inbox(UserId user, Seq after, int limit) {
  if (auto ok = check_limit(limit); !ok) return std::move(ok).error();
  std::vector<InboxEntry> out;
  if (after == std::numeric_limits<Seq>::max()) return out;
  const std::string prefix = rocks::be64(user.value);
  std::unique_ptr<rocksdb::Iterator> it(db_.db->NewIterator(rocksdb::ReadOptions(), cf(inbox_cf)));
  out.reserve(static_cast<std::size_t>(std::min(limit, reserve_cap)));
  for (it->Seek(pair_key(user.value, after + 1)); it->Valid() && static_cast<int>(out.size()) < limit; it->Next()) {
    const std::string_view key = view(it->key());
    if (key.size() != 16 || key.substr(0, 8) != prefix) break;
    auto m = decode(view(it->value()));
    if (!m) return std::move(m).error();
    out.push_back(InboxEntry{rocks::get_be64(key.substr(8)), std::move(m).value()});
  }
  if (!it->status().ok()) return rocks::to_error(it->status(), "inbox");
  return out;
}

Result<Seq> RocksMessageStore::cursor(UserId user, std::string_view device) {
  std::string value;
  const auto status = db_.db->Get(rocksdb::ReadOptions(), cf(cursors_cf), cursor_key(user, device), &value);
  if (status.IsNotFound()) return Seq{0};
  if (!status.ok()) return rocks::to_error(status, "cursor");
  if (value.size() != 8) return make_error(ErrorCode::internal, "cursor: corrupt row");
  return rocks::get_be64(value);
}

Result<Seq> RocksMessageStore::advance_cursor(UserId user, std::string_view device, Seq seq) {
  if (device.empty()) return make_error(ErrorCode::bad_request, "advance_cursor: empty device");
  const std::string key = cursor_key(user, device);
  std::lock_guard lock(cursor_mu_[std::hash<std::string>{}(key) % cursor_mu_.size()]);
  auto current = cursor(user, device);
  if (!current) return std::move(current).error();
  if (seq <= *current) return *current;
  rocksdb::WriteBatch wb;
  wb.Put(cf(cursors_cf), key, rocks::be64(seq));
  const auto status = write(wb);
  if (!status.ok()) return rocks::to_error(status, "advance_cursor");
  return seq;
}

Result<void> RocksMessageStore::delete_cursor(UserId user, std::string_view device) {
  const std::string key = cursor_key(user, device);
  std::lock_guard lock(cursor_mu_[std::hash<std::string>{}(key) % cursor_mu_.size()]);
  rocksdb::WriteBatch wb;
  wb.Delete(cf(cursors_cf), key);
  const auto status = write(wb);
  if (!status.ok()) return rocks::to_error(status, "delete_cursor");
  return Ok{};
}

Result<std::vector<MessageId>> RocksMessageStore::erase_sent(std::string_view conversation, UserId sender,
                                                             std::span<const UserId> inbox_users) {
  if (!valid_conversation(conversation)) return make_error(ErrorCode::bad_request, "erase_sent: bad conversation");
  const std::string lower = history_prefix(conversation);
  const std::string upper = history_end(conversation);
  const rocksdb::Slice lower_slice(lower);
  const rocksdb::Slice upper_slice(upper);
  auto it = history_rows(lower_slice, upper_slice);
  std::vector<MessageId> ids;
  rocksdb::WriteBatch wb;
  // Written every so many rows, so that a long history is not one batch.
  constexpr int kRowsPerBatch = 1024;
  auto write_some = [&]() -> Result<void> {
    if (wb.Count() == 0) return Ok{};
    const auto status = write(wb);
    if (!status.ok()) return rocks::to_error(status, "erase_sent");
    wb.Clear();
    return Ok{};
  };
  std::string value;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto m = decode(view(it->value()));
    if (!m) return std::move(m).error();
    if (m->from != sender) continue;
    ids.push_back(m->id);
    if (!m->deleted) {
      make_tombstone(*m);
      if (const auto s = wb.Put(cf(history_cf), it->key(), encode(*m)); !s.ok())
        return rocks::to_error(s, "erase_sent");
    }
    for (UserId user : inbox_users) {
      auto seq = inbox_seq_of(user, m->id);
      if (!seq) return std::move(seq).error();
      if (!seq->has_value()) continue;
      const std::string key = pair_key(user.value, **seq);
      const auto got = db_.db->Get(rocksdb::ReadOptions(), cf(inbox_cf), key, &value);
      if (got.IsNotFound() || (got.ok() && is_tombstone(value))) continue;
      if (!got.ok()) return rocks::to_error(got, "erase_sent");
      auto entry = decode(value);
      if (!entry) return std::move(entry).error();
      make_tombstone(*entry);
      if (const auto s = wb.Put(cf(inbox_cf), key, encode(*entry)); !s.ok()) return rocks::to_error(s, "erase_sent");
    }
    if (wb.Count() >= kRowsPerBatch) {
      if (auto w = write_some(); !w) return std::move(w).error();
    }
  }
  if (!it->status().ok()) return rocks::to_error(it->status(), "erase_sent");
  if (auto w = write_some(); !w) return std::move(w).error();
  return ids;
}

Result<void> RocksMessageStore::delete_inbox(UserId user) {
  // Every family keyed by the user first: its rows are those under the
  // user's id. Deleted key by key (a range delete does not go with these
  // families' memtable options), in batches.
  const std::string prefix = rocks::be64(user.value);
  constexpr int kRowsPerBatch = 1024;
  for (int family : {inbox_cf, inbox_index_cf, cursors_cf, conversations_cf, read_positions_cf}) {
    std::unique_ptr<rocksdb::Iterator> it(db_.db->NewIterator(rocksdb::ReadOptions(), cf(family)));
    rocksdb::WriteBatch wb;
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      if (const auto s = wb.Delete(cf(family), it->key()); !s.ok()) return rocks::to_error(s, "delete_inbox");
      if (wb.Count() >= kRowsPerBatch) {
        if (const auto s = write(wb); !s.ok()) return rocks::to_error(s, "delete_inbox");
        wb.Clear();
      }
    }
    if (!it->status().ok()) return rocks::to_error(it->status(), "delete_inbox");
    if (wb.Count() > 0) {
      if (const auto s = write(wb); !s.ok()) return rocks::to_error(s, "delete_inbox");
    }
  }
  return Ok{};
}

rocksdb::Status RocksMessageStore::write(rocksdb::WriteBatch& batch) {
  auto status = db_.db->Write(rocksdb::WriteOptions(), &batch);
  if (status.ok()) writes_.fetch_add(1, std::memory_order_acq_rel);
  return status;
}

Result<void> RocksMessageStore::flush() {
  if (durability_ == Durability::os) return Ok{};
  // Every write counted before the sync starts is durable after it; with
  // none since the last sync there is nothing to do.
  const std::uint64_t written = writes_.load(std::memory_order_acquire);
  if (written == synced_.load(std::memory_order_acquire)) return Ok{};
  // A synced write of nothing syncs the WAL up to it, every earlier write
  // with it. Not DB::SyncWAL() (FlushWAL(true)): that syncs the WAL file
  // beside the writes, and after a write that failed on a full disk, and
  // before RocksDB stopped writes for it, it would sync the failed WAL
  // writer, which RocksDB's assertions stop the process for (issue 13). A
  // write goes through RocksDB's write queue, which refuses it once writes
  // are stopped.
  rocksdb::WriteOptions sync_it;
  sync_it.sync = true;
  rocksdb::WriteBatch nothing;
  const auto status = db_.db->Write(sync_it, &nothing);
  if (!status.ok()) return rocks::to_error(status, "flush");
  std::uint64_t synced = synced_.load(std::memory_order_acquire);
  while (synced < written && !synced_.compare_exchange_weak(synced, written, std::memory_order_acq_rel)) {
  }
  return Ok{};
}

}  // namespace parley::embedded

namespace parley::embedded {

Result<std::vector<ports::MessageStore::ConversationSummary>> RocksMessageStore::conversations_of(UserId user) {
  const std::string prefix = rocks::be64(user.value);
  std::vector<ConversationSummary> out;
  std::unique_ptr<rocksdb::Iterator> it(db_.db->NewIterator(rocksdb::ReadOptions(), cf(conversations_cf)));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const std::string_view key = view(it->key());
    const std::string_view value = view(it->value());
    if (value.size() != 8) return make_error(ErrorCode::internal, "conversations_of: corrupt row");
    out.push_back({std::string(key.substr(8)), MessageId{rocks::get_be64(value)}});
  }
  if (!it->status().ok()) return rocks::to_error(it->status(), "conversations_of");
  return out;
}

Result<MessageId> RocksMessageStore::read_position(UserId user, std::string_view conversation) {
  std::string value;
  const auto status =
      db_.db->Get(rocksdb::ReadOptions(), cf(read_positions_cf), user_conversation_key(user, conversation), &value);
  if (status.IsNotFound()) return MessageId{};
  if (!status.ok()) return rocks::to_error(status, "read_position");
  if (value.size() != 8) return make_error(ErrorCode::internal, "read_position: corrupt row");
  return MessageId{rocks::get_be64(value)};
}

Result<MessageId> RocksMessageStore::advance_read_position(UserId user, std::string_view conversation,
                                                           MessageId message) {
  const std::string key = user_conversation_key(user, conversation);
  std::lock_guard lock(cursor_mu_[std::hash<std::string>{}(key) % cursor_mu_.size()]);
  auto current = read_position(user, conversation);
  if (!current) return current;
  if (message <= current.value()) return current;
  // Synced when the policy says so: a read position that went back after a
  // crash would show messages as unread again on every device.
  rocksdb::WriteOptions wo;
  wo.sync = durability_ == Durability::fsync;
  const auto status = db_.db->Put(wo, cf(read_positions_cf), key, rocks::be64(message.value));
  if (!status.ok()) return rocks::to_error(status, "advance_read_position");
  return message;
}

std::unique_ptr<rocksdb::Iterator> RocksMessageStore::history_rows(const rocksdb::Slice& lower,
                                                                   const rocksdb::Slice& upper) const {
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower;
  ro.iterate_upper_bound = &upper;
  return std::unique_ptr<rocksdb::Iterator>(db_.db->NewIterator(ro, cf(history_cf)));
}

Result<std::size_t> RocksMessageStore::count_unread(std::string_view conversation, MessageId after, UserId reader,
                                                    std::size_t cap) {
  const std::string lower = history_key(conversation, MessageId{after.value + 1});
  const std::string upper = history_end(conversation);
  const rocksdb::Slice lower_slice(lower);
  const rocksdb::Slice upper_slice(upper);
  auto it = history_rows(lower_slice, upper_slice);
  std::size_t count = 0;
  for (it->SeekToFirst(); it->Valid() && count < cap; it->Next()) {
    auto m = decode(view(it->value()));
    if (!m) return std::move(m).error();
    if (m->from != reader) ++count;
  }
  if (!it->status().ok()) return rocks::to_error(it->status(), "count_unread");
  return count;
}

}  // namespace parley::embedded
