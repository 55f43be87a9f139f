#pragma once
// SequencerState: what the sequencer must know to sequence a send without
// the message store: the first result of every send (dedupe) and the last
// message id of every conversation.
//
// It is a materialised view of the "sequenced" changelog topic, kept on the
// server's own disk: the sequencer appends each decision to the changelog
// (that append is what makes a send acknowledged), applies it here, and
// before each batch applies whatever the changelog holds past applied() (a
// partition it did not own before, or decisions of a crashed attempt). So the
// sequencer keeps acknowledging sends while the message store is down, and a
// server that loses this state rebuilds it from the changelog.
//
// Dedupe is per conversation: a retry is the same send, to the same place.

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "core/ids.hpp"
#include "core/message.hpp"
#include "core/result.hpp"

namespace parley::ports {

class SequencerState {
 public:
  virtual ~SequencerState() = default;

  // The message an earlier send with this (sender, client_msg_id) produced in
  // the conversation.
  [[nodiscard]] virtual Result<std::optional<Message>> find_sent(std::string_view conversation, UserId sender,
                                                                 std::string_view client_msg_id) = 0;

  // The highest message id sequenced in the conversation; MessageId{} if none.
  [[nodiscard]] virtual Result<MessageId> last_message_id(std::string_view conversation) = 0;

  // The first offset of changelog partition `partition` not applied yet (0
  // at first).
  [[nodiscard]] virtual Result<std::uint64_t> applied(int partition) = 0;

  // Applies the messages of changelog records of `partition` and moves
  // applied(partition) to `next`, all or nothing. Applying a message again
  // changes nothing; a last id never goes down.
  [[nodiscard]] virtual Result<void> apply(int partition, std::span<const Message> messages, std::uint64_t next) = 0;

  // One partition's share of apply_all().
  struct PartitionApply {
    int partition = 0;
    std::span<const Message> messages;
    std::uint64_t next = 0;
  };
  // apply() of each, as one write where the engine can (a sequencer batch
  // touches several partitions). Each partition is all or nothing, as in
  // apply(); this default applies them in turn and stops at a failure.
  [[nodiscard]] virtual Result<void> apply_all(std::span<const PartitionApply> parts) {
    for (const auto& part : parts) {
      if (auto done = apply(part.partition, part.messages, part.next); !done) return done;
    }
    return Ok{};
  }
};

}  // namespace parley::ports
