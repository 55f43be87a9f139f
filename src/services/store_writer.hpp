#pragma once
// The store writer: the consumer of the "sequenced" changelog.
//
// For each decision of the sequencer, in changelog order: store the message
// (idempotent: the sequencer has usually stored it already, but not while the
// store was down, nor if it died between logging and storing; what it
// stored in this process is skipped), publish a channel post to its
// members' servers, and append to "inboxes" one record per partition its
// members fall in, naming them (records::InboxCommand);
// then flush the store (which makes the sequencer's unflushed write durable
// too) while the log syncs those records, and only then let the offsets
// move. Fanning out here, in changelog order, keeps every member's inbox in
// the conversation's one order even when some messages were stored late.
// On Kafka the sequencer of this process appends the inbox records of what
// it stored itself, where that order allows (services/fan_outs.hpp): this
// step skips those, and fans out everything else.
//
// On a log whose every partition this process owns (the embedded log), the
// store writer is the inbox owner too (`inboxes`): instead of appending
// inbox records for another step to read back, it hands the batch's
// decisions to its InboxOwner, whose flush makes the messages and the
// entries durable at once, and which delivers them. That saves a log append,
// sync, read and commit, and a step's wake-up, per batch; the fan-out is
// still in changelog order. The push step then reads the changelog too.
//
// While the message store is down this step stops (the batch is retried),
// and the sequencer keeps acknowledging: the changelog holds the messages
// until the store is back. Replays are harmless: storing is idempotent, and
// the inbox owner skips a message already in an inbox.

#include <span>

#include "ports/message_log.hpp"
#include "ports/message_store.hpp"
#include "ports/state_store.hpp"
#include "services/fan_outs.hpp"
#include "services/inbox_owner.hpp"
#include "services/pipeline_step.hpp"
#include "services/records.hpp"
#include "services/stored_messages.hpp"

namespace parley::services {

class StoreWriter final : public BatchHandler {
 public:
  // `stored`, when given: the messages the sequencer of this process
  // stored itself (services/stored_messages.hpp), which this step does not
  // store again. `inboxes`, when given: the inbox owner this step places
  // the entries with, on a log this process owns whole (see above).
  // `fan_outs`, when given (and `inboxes` is not): the decisions whose
  // inbox records the sequencer of this process appends itself, which this
  // step then does not append (services/fan_outs.hpp).
  StoreWriter(ports::MessageLog& log, ports::MessageStore& store, ports::StateStore& state,
              StoredMessages* stored = nullptr, InboxOwner* inboxes = nullptr, FanOuts* fan_outs = nullptr);

  [[nodiscard]] Result<void> process(std::span<const ports::LogRecord> batch) override;
  // Tells `inboxes` (which keeps what it owns in memory).
  void on_generation(std::uint64_t generation) override;

 private:
  ports::MessageLog& log_;
  ports::MessageStore& store_;
  ports::StateStore& state_;
  StoredMessages* stored_;
  InboxOwner* inboxes_;
  FanOuts* fan_outs_;
};

}  // namespace parley::services
