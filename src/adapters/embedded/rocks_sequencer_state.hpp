#pragma once
// RocksSequencerState: the SequencerState of one server, a RocksDB database in
// its data directory (with every engine set: it is local state, rebuilt from
// the "sequenced" changelog, not a shared engine). Three column families:
//
//   sent      conversation '\0' sender (BE64) client_msg_id  →  the message
//   last      conversation                                   →  last id (BE64)
//   applied   changelog partition (BE32)                     →  next offset (BE64)
//
// apply() writes one batch, so a partition's offset and the messages before
// it are applied together; a last id is a max-merge (rocks::max_u64_merge),
// written without reading it first. Writes skip RocksDB's write-ahead log
// (rocks::Journal::none): the changelog is this state's log. After a crash
// (of the process or the machine) the database is as of its last flush, its
// column families together, and the sequencer applies the rest again from
// the changelog before it decides anything (at most a memtable's worth of
// decisions, about 64 MB).
//
// Only "sent" keeps a memtable Bloom filter: its reads (dedupe) mostly miss;
// "last" and "applied" are read only when not in memory (below), and then
// mostly find their row.
//
// This object is the database's only writer, so it keeps what it read or
// wrote in memory (the applied offsets; the last ids of up to
// max_cached_conversations conversations) and answers those reads from
// there: the sequencer asks for them in every batch.

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "adapters/embedded/rocks_common.hpp"
#include "ports/sequencer_state.hpp"

namespace parley::embedded {

class RocksSequencerState final : public ports::SequencerState {
  struct Private {
    explicit Private() = default;
  };

 public:
  // Opens or creates the state at `path`.
  [[nodiscard]] static Result<std::unique_ptr<RocksSequencerState>> open(
      const std::string& path, std::size_t max_cached_conversations = 262'144);

  // Use open(); public only for std::make_unique.
  RocksSequencerState(Private, rocks::Database db, std::size_t max_cached_conversations);

  [[nodiscard]] Result<std::optional<Message>> find_sent(std::string_view conversation, UserId sender,
                                                         std::string_view client_msg_id) override;
  [[nodiscard]] Result<MessageId> last_message_id(std::string_view conversation) override;
  [[nodiscard]] Result<std::uint64_t> applied(int partition) override;
  [[nodiscard]] Result<void> apply(int partition, std::span<const Message> messages, std::uint64_t next) override;
  // Every partition in one WriteBatch: all of them or none.
  [[nodiscard]] Result<void> apply_all(std::span<const PartitionApply> parts) override;

  // A consistent copy of this database in the folder `to`, which must not
  // exist yet, taken while it serves (rocks::Database::checkpoint; a backup,
  // adapters/embedded/embedded_backup.hpp).
  [[nodiscard]] Result<void> checkpoint(const std::string& to) const { return db_.checkpoint(to); }

 private:
  [[nodiscard]] rocksdb::ColumnFamilyHandle* sent_cf() const { return db_.cf(0); }
  [[nodiscard]] rocksdb::ColumnFamilyHandle* last_cf() const { return db_.cf(1); }
  [[nodiscard]] rocksdb::ColumnFamilyHandle* applied_cf() const { return db_.cf(2); }

  [[nodiscard]] Result<MessageId> read_last(std::string_view conversation);
  void remember_last(std::string_view conversation, MessageId id);

  // Heterogeneous lookup: find a conversation's row by string_view.
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };

  rocks::Database db_;
  const std::size_t max_cached_;
  std::mutex mu_;  // guards last_ and applied_ (the sequencer thread is the only caller in practice)
  std::unordered_map<std::string, MessageId, Hash, std::equal_to<>> last_;  // a subset of the "last" rows
  std::map<int, std::uint64_t> applied_;                                    // the "applied" rows read or written
};

}  // namespace parley::embedded
