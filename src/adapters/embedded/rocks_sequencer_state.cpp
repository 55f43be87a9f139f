#include "adapters/embedded/rocks_sequencer_state.hpp"

#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

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

RocksSequencerState::RocksSequencerState(Private, rocks::Database db) : db_(std::move(db)) {}

Result<std::unique_ptr<RocksSequencerState>> RocksSequencerState::open(std::string path) {
  if (path.empty()) return make_error(ErrorCode::bad_request, "sequencer state: empty path");
  auto db = rocks::open(path, {"sent", "last", "applied"});
  if (!db) return std::move(db).error();
  return std::make_unique<RocksSequencerState>(Private{}, std::move(db).value());
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
  std::string value;
  const auto status = db_.db->Get(rocksdb::ReadOptions(), last_cf(), conversation, &value);
  if (status.IsNotFound()) return MessageId{};
  if (!status.ok()) return rocks::to_error(status, "sequencer state: read");
  if (value.size() != 8) return make_error(ErrorCode::internal, "sequencer state: bad last id");
  return MessageId{rocks::get_be64(value)};
}

Result<std::uint64_t> RocksSequencerState::applied(int partition) {
  std::string value;
  const auto status = db_.db->Get(rocksdb::ReadOptions(), applied_cf(), partition_key(partition), &value);
  if (status.IsNotFound()) return std::uint64_t{0};
  if (!status.ok()) return rocks::to_error(status, "sequencer state: read");
  if (value.size() != 8) return make_error(ErrorCode::internal, "sequencer state: bad offset");
  return rocks::get_be64(value);
}

Result<void> RocksSequencerState::apply(int partition, std::span<const Message> messages, std::uint64_t next) {
  // Only the sequencer thread writes, so reading the last ids first and
  // writing them in the batch is not a race.
  std::map<std::string_view, MessageId> last;
  for (const auto& m : messages) {
    auto [it, inserted] = last.try_emplace(m.conversation, m.id);
    if (inserted) {
      auto stored = last_message_id(m.conversation);
      if (!stored) return std::move(stored).error();
      if (stored->value > it->second.value) it->second = *stored;
    }
    if (m.id.value > it->second.value) it->second = m.id;
  }
  rocksdb::WriteBatch batch;
  for (const auto& m : messages) {
    std::string value;
    bytes::Writer w(value);
    bytes::write_message(w, m);
    batch.Put(sent_cf(), sent_key(m.conversation, m.from, m.client_msg_id), value);
  }
  for (const auto& [conversation, id] : last) {
    batch.Put(last_cf(), rocksdb::Slice(conversation.data(), conversation.size()), rocks::be64(id.value));
  }
  batch.Put(applied_cf(), partition_key(partition), rocks::be64(next));
  const auto status = db_.db->Write(rocksdb::WriteOptions(), &batch);
  if (!status.ok()) return rocks::to_error(status, "sequencer state: write");
  return Ok{};
}

}  // namespace parley::embedded
