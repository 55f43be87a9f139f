#include "adapters/embedded/rocks_sequencer_state.hpp"

#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <map>
#include <utility>

#include "core/bytes.hpp"

namespace parley::embedded {

namespace {

std::string sent_key(std::string_view conversation, UserId sender, std::string_view client_msg_id) {
  std::string key;
  key.reserve(conversation.size() + 9 + client_msg_id.size());
  key.append(conversation);
  key.push_back('\0');
  rocks::put_be64(key, sender.value);
  key.append(client_msg_id);
  return key;
}

std::string partition_key(int partition) {
  std::string key;
  rocks::put_be32(key, static_cast<std::uint32_t>(partition));
  return key;
}

}  // namespace

RocksSequencerState::RocksSequencerState(Private, rocks::Database db, std::size_t max_cached_conversations)
    : db_(std::move(db)), max_cached_(std::max<std::size_t>(max_cached_conversations, 1)) {}

Result<std::unique_ptr<RocksSequencerState>> RocksSequencerState::open(const std::string& path,
                                                                       std::size_t max_cached_conversations) {
  if (path.empty()) return make_error(ErrorCode::bad_request, "sequencer state: empty path");
  auto db = rocks::open(path, {"sent", "last", "applied"}, {{"last", rocks::max_u64_merge()}},
                        {{"sent", rocks::through_nul()}, {"last", rocks::whole_key()}, {"applied", rocks::whole_key()}},
                        {"last", "applied"}, rocks::Journal::none);
  if (!db) return std::move(db).error();
  return std::make_unique<RocksSequencerState>(Private{}, std::move(db).value(), max_cached_conversations);
}

Result<std::optional<Message>> RocksSequencerState::find_sent(std::string_view conversation, UserId sender,
                                                              std::string_view client_msg_id) {
  std::string value;
  const auto status =
      db_.db->Get(rocksdb::ReadOptions(), sent_cf(), sent_key(conversation, sender, client_msg_id), &value);
  if (status.IsNotFound()) return std::optional<Message>{};
  if (!status.ok()) return rocks::to_error(status, "sequencer state: read");
  bytes::Reader r(value);
  Message m;
  if (!(bytes::read_message(r, m) && r.done())) {
    return make_error(ErrorCode::internal, "sequencer state: undecodable message");
  }
  return std::optional<Message>(std::move(m));
}

Result<MessageId> RocksSequencerState::last_message_id(std::string_view conversation) {
  {
    std::lock_guard lock(mu_);
    if (auto it = last_.find(conversation); it != last_.end()) return it->second;
  }
  auto stored = read_last(conversation);
  if (!stored) return stored;
  std::lock_guard lock(mu_);
  remember_last(conversation, stored.value());
  return stored;
}

Result<MessageId> RocksSequencerState::read_last(std::string_view conversation) {
  std::string value;
  const auto status = db_.db->Get(rocksdb::ReadOptions(), last_cf(), conversation, &value);
  if (status.IsNotFound()) return MessageId{};
  if (!status.ok()) return rocks::to_error(status, "sequencer state: read");
  if (value.size() != 8) return make_error(ErrorCode::internal, "sequencer state: bad last id");
  return MessageId{rocks::get_be64(value)};
}

// Called with mu_ held.
void RocksSequencerState::remember_last(std::string_view conversation, MessageId id) {
  if (auto it = last_.find(conversation); it != last_.end()) {
    if (id.value > it->second.value) it->second = id;
    return;
  }
  if (last_.size() >= max_cached_) last_.erase(last_.begin());  // any one: its row is still in the database
  last_.emplace(std::string(conversation), id);
}

Result<std::uint64_t> RocksSequencerState::applied(int partition) {
  {
    std::lock_guard lock(mu_);
    if (auto it = applied_.find(partition); it != applied_.end()) return it->second;
  }
  std::string value;
  const auto status = db_.db->Get(rocksdb::ReadOptions(), applied_cf(), partition_key(partition), &value);
  if (!status.ok() && !status.IsNotFound()) return rocks::to_error(status, "sequencer state: read");
  if (status.ok() && value.size() != 8) return make_error(ErrorCode::internal, "sequencer state: bad offset");
  const std::uint64_t next = status.ok() ? rocks::get_be64(value) : 0;
  std::lock_guard lock(mu_);
  applied_.try_emplace(partition, next);
  return next;
}

Result<void> RocksSequencerState::apply(int partition, std::span<const Message> messages, std::uint64_t next) {
  const PartitionApply part{partition, messages, next};
  return apply_all(std::span(&part, 1));
}

Result<void> RocksSequencerState::apply_all(std::span<const PartitionApply> parts) {
  // The newest id per conversation in these messages; each goes into its
  // row as a max-merge, so the row never goes down and needs no read.
  std::map<std::string_view, MessageId> last;
  rocksdb::WriteBatch batch;
  std::string value;
  for (const auto& part : parts) {
    for (const auto& m : part.messages) {
      auto& id = last[m.conversation];
      if (m.id.value > id.value) id = m.id;
      value.clear();
      bytes::Writer w(value);
      bytes::write_message(w, m);
      batch.Put(sent_cf(), sent_key(m.conversation, m.from, m.client_msg_id), value);
    }
    batch.Put(applied_cf(), partition_key(part.partition), rocks::be64(part.next));
  }
  for (const auto& [conversation, id] : last) {
    batch.Merge(last_cf(), rocksdb::Slice(conversation.data(), conversation.size()), rocks::be64(id.value));
  }
  rocksdb::WriteOptions unlogged;
  unlogged.disableWAL = true;  // rocks::Journal::none
  const auto status = db_.db->Write(unlogged, &batch);
  if (!status.ok()) return rocks::to_error(status, "sequencer state: write");
  // Written: memory follows. A conversation not in memory stays out (its
  // row holds the max of what was there and these).
  std::lock_guard lock(mu_);
  for (const auto& [conversation, id] : last) {
    if (auto it = last_.find(conversation); it != last_.end() && id.value > it->second.value) it->second = id;
  }
  for (const auto& part : parts) applied_[part.partition] = part.next;
  return Ok{};
}

}  // namespace parley::embedded
