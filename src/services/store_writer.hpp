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
// move. Fanning out here, in changelog order, rather than in the sequencer,
// keeps every member's inbox in the conversation's one order even when some
// messages were stored late.
//
// While the message store is down this step stops (the batch is retried),
// and the sequencer keeps acknowledging: the changelog holds the messages
// until the store is back. Replays are harmless: storing is idempotent, and
// the inbox owner skips a message already in an inbox.

#include <span>

#include "ports/message_log.hpp"
#include "ports/message_store.hpp"
#include "ports/state_store.hpp"
#include "services/pipeline_step.hpp"
#include "services/records.hpp"
#include "services/stored_messages.hpp"

namespace parley::services {

class StoreWriter final : public BatchHandler {
 public:
  // `stored`, when given: the messages the sequencer of this process
  // stored itself (services/stored_messages.hpp), which this step does not
  // store again.
  StoreWriter(ports::MessageLog& log, ports::MessageStore& store, ports::StateStore& state,
              StoredMessages* stored = nullptr);

  [[nodiscard]] Result<void> process(std::span<const ports::LogRecord> batch) override;

 private:
  ports::MessageLog& log_;
  ports::MessageStore& store_;
  ports::StateStore& state_;
  StoredMessages* stored_;
};

}  // namespace parley::services
