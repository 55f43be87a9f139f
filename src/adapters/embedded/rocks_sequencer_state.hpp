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
// it are applied together. Writes are not synced: after a power cut RocksDB
// recovers a prefix of them, and the sequencer applies the rest again from
// the changelog.

#include <memory>
#include <string>

#include "adapters/embedded/rocks_common.hpp"
#include "ports/sequencer_state.hpp"

namespace parley::embedded {

class RocksSequencerState final : public ports::SequencerState {
  struct Private {
    explicit Private() = default;
  };

 public:
  // Opens or creates the state at `path`.
  [[nodiscard]] static Result<std::unique_ptr<RocksSequencerState>> open(std::string path);

  // Use open(); public only for std::make_unique.
  RocksSequencerState(Private, rocks::Database db);

  [[nodiscard]] Result<std::optional<Message>> find_sent(std::string_view conversation, UserId sender,
                                                         std::string_view client_msg_id) override;
  [[nodiscard]] Result<MessageId> last_message_id(std::string_view conversation) override;
  [[nodiscard]] Result<std::uint64_t> applied(int partition) override;
  [[nodiscard]] Result<void> apply(int partition, std::span<const Message> messages, std::uint64_t next) override;

 private:
  [[nodiscard]] rocksdb::ColumnFamilyHandle* sent_cf() const { return db_.families[0].get(); }
  [[nodiscard]] rocksdb::ColumnFamilyHandle* last_cf() const { return db_.families[1].get(); }
  [[nodiscard]] rocksdb::ColumnFamilyHandle* applied_cf() const { return db_.families[2].get(); }

  rocks::Database db_;
};

}  // namespace parley::embedded
