#pragma once
// RocksMessageStore: the embedded MessageStore, one RocksDB database with a
// column family per access pattern (all integers big-endian, so bytewise
// order is numeric order):
//
//   history      conversation '\0' message_id   → message (or its tombstone)
//   inbox        user seq                       → message (the entry's seq is in the key)
//   inbox_index  user message_id                → seq
//   cursors      user device                    → seq
//   conversations user conversation             → newest message id in the user's inbox
//   read_positions user conversation            → message id read up to
//
// Two more families, "dedupe" and "inbox_head", are opened but no longer
// written (data directories made by older versions hold them).
//
// Writes are not synced one by one (sync=false: they reach the OS at once and
// survive a process crash); flush() syncs the WAL under Durability::fsync, so
// a caller that needs a batch on disk writes it and then calls flush().

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "adapters/embedded/durability.hpp"
#include "adapters/embedded/rocks_common.hpp"
#include "ports/message_store.hpp"

namespace parley::embedded {

class RocksMessageStore final : public ports::MessageStore {
  struct Private {
    explicit Private() = default;
  };

 public:
  // Opens or creates the store at `path`.
  [[nodiscard]] static Result<std::unique_ptr<RocksMessageStore>> open(const std::string& path, Durability durability);

  // Use open(); public only for std::make_unique.
  RocksMessageStore(Private, rocks::Database db, Durability durability);

  [[nodiscard]] Result<MessageId> last_message_id(std::string_view conversation) override;
  [[nodiscard]] Result<void> put_messages(std::span<const Message> messages) override;
  [[nodiscard]] Result<void> put_new_messages(std::span<const Message> messages) override;
  [[nodiscard]] Result<std::vector<Message>> history(std::string_view conversation, MessageId before,
                                                     int limit) override;

  [[nodiscard]] Result<Seq> inbox_head(UserId user) override;
  [[nodiscard]] Result<std::optional<Seq>> inbox_seq_of(UserId user, MessageId message) override;
  [[nodiscard]] Result<void> put_inbox(std::span<const InboxWrite> writes) override;
  [[nodiscard]] Result<std::vector<InboxEntry>> inbox(UserId user, Seq after, int limit) override;

  [[nodiscard]] Result<Seq> cursor(UserId user, std::string_view device) override;
  [[nodiscard]] Result<Seq> advance_cursor(UserId user, std::string_view device, Seq seq) override;
  [[nodiscard]] Result<void> delete_cursor(UserId user, std::string_view device) override;

  [[nodiscard]] Result<std::vector<ConversationSummary>> conversations_of(UserId user) override;
  [[nodiscard]] Result<MessageId> read_position(UserId user, std::string_view conversation) override;
  [[nodiscard]] Result<MessageId> advance_read_position(UserId user, std::string_view conversation,
                                                        MessageId message) override;
  [[nodiscard]] Result<std::size_t> count_unread(std::string_view conversation, MessageId after, UserId reader,
                                                 std::size_t cap) override;

  [[nodiscard]] Result<std::vector<MessageId>> erase_sent(std::string_view conversation, UserId sender,
                                                          std::span<const UserId> inbox_users) override;
  [[nodiscard]] Result<void> delete_inbox(UserId user) override;

  [[nodiscard]] Result<void> flush() override;

  // A consistent copy of this database in the folder `to`, which must not
  // exist yet, taken while it serves (rocks::Database::checkpoint; a backup,
  // adapters/embedded/embedded_backup.hpp).
  [[nodiscard]] Result<void> checkpoint(const std::string& to) const { return db_.checkpoint(to); }

 private:
  [[nodiscard]] rocksdb::ColumnFamilyHandle* cf(int i) const { return db_.cf(static_cast<std::size_t>(i)); }
  // The history rows with keys in [lower, upper), in key order; the slices
  // must outlive the iterator.
  [[nodiscard]] std::unique_ptr<rocksdb::Iterator> history_rows(const rocksdb::Slice& lower,
                                                                const rocksdb::Slice& upper) const;

  // Writes the history rows of `messages` in one batch. With read_first,
  // a row stored as it is, or as a tombstone, is left as it is.
  [[nodiscard]] Result<void> put_history(std::span<const Message> messages, bool read_first, const char* what);

  // Writes `batch` and counts it, for flush().
  [[nodiscard]] rocksdb::Status write(rocksdb::WriteBatch& batch);

  rocks::Database db_;
  const Durability durability_;
  // Writes made (not synced themselves), and how many of them the last WAL
  // sync covered: flush() syncs only when the first is ahead.
  std::atomic<std::uint64_t> writes_{0};
  std::atomic<std::uint64_t> synced_{0};

  // Striped by (user, device): each guards the read-modify-write of the
  // cursor rows that hash to it, so concurrent advance_cursor calls for one
  // device cannot lose the larger value.
  std::array<std::mutex, 16> cursor_mu_;
};

}  // namespace parley::embedded
