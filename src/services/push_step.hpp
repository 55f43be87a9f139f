#pragma once
// The push step: its own consumer group ("push") on the "inboxes" topic, or,
// on the embedded log, where no step writes "inboxes" (node.cpp), on the
// "sequenced" changelog: a decision names every member, as the inbox records
// made from it did.
//
// For each inbox record (or decision), in log order: skip the sender's own
// copy and any user with a device online now (routes in the state store);
// otherwise look up the seq the inbox owner gave the entry (the batch's
// entries together, in calls of at most keys_per_lookup: on Cassandra a
// read per entry and per user, 128 in flight, not one round trip per entry
// one after another; waiting briefly for those the inbox owner has not
// stored yet) and fold it into the ledger, which skips entries folded in
// before. The fold is durable before process() returns, so the offset
// commit that follows can never lose a wake-up, and a replay
// after a crash adds nothing twice. The dispatcher sends the batches.

#include <functional>

#include "ports/message_store.hpp"
#include "ports/push_ledger.hpp"
#include "ports/state_store.hpp"
#include "services/pipeline_step.hpp"

namespace parley::services {

// The push step's consumer group (on "inboxes", or on "sequenced").
inline constexpr std::string_view kPushGroup = "push";

class PushStep final : public BatchHandler {
 public:
  struct Options {
    std::size_t preview_bytes = 512;           // body bytes kept for the alert text
    std::chrono::milliseconds seq_wait{3000};  // how long to wait for the inbox owner
    std::size_t keys_per_lookup = 4096;        // entries asked for in one call to the store
    std::function<TimeMs()> clock{};           // wall clock (ms); tests inject one
    std::function<void()> on_added{};          // tells the dispatcher there is work
  };

  PushStep(ports::MessageStore& store, ports::StateStore& state, ports::PushLedger& ledger, Options options);

  [[nodiscard]] Result<void> process(std::span<const ports::LogRecord> batch) override;

 private:
  // The seqs of the entries, in the order asked; unavailable if the inbox
  // owner has not stored one of them in time.
  [[nodiscard]] Result<std::vector<Seq>> seqs_of(std::vector<ports::MessageStore::InboxKey> keys);

  ports::MessageStore& store_;
  ports::StateStore& state_;
  ports::PushLedger& ledger_;
  Options options_;
};

}  // namespace parley::services
