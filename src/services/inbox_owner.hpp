#pragma once
// The inbox owner: the one owner of each "inboxes" partition, and so the one
// writer of each user's inbox.
//
// For each inbox record, in log order: skip it if the message already has a
// seq in that user's inbox (a replay); otherwise give it the user's next seq
// (head + 1: no gaps), store the entry, and once the batch is durable send
// the `message` event to every server that holds a device of the user.
//
// A batch whose store write failed is retried (by its PipelineStep) with
// exactly the writes planned the first time, not planned again from what the
// store shows then: a failed write may be half applied. Cassandra applies a
// logged batch's partitions one by one and, after a crash part-way,
// completes it from its batchlog only some time after the restart; in
// between an index row can be visible without its entry and head, and
// planning again would skip that message as "already placed" and give its
// seq to the next one.

#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "ports/message_store.hpp"
#include "ports/state_store.hpp"
#include "services/pipeline_step.hpp"

namespace parley::services {

class InboxOwner final : public BatchHandler {
 public:
  InboxOwner(ports::MessageStore& store, ports::StateStore& state);

  [[nodiscard]] Result<void> process(std::span<const ports::LogRecord> batch) override;

 private:
  // Writes, flushes and then delivers `writes`.
  [[nodiscard]] Result<void> store_and_deliver(const std::vector<ports::MessageStore::InboxWrite>& writes);
  void deliver(UserId user, const InboxEntry& entry);

  // A batch whose writes did not complete: its records' (partition, offset)
  // and the writes planned for it.
  struct Unfinished {
    std::vector<std::pair<int, std::uint64_t>> records;
    std::vector<ports::MessageStore::InboxWrite> writes;
  };

  ports::MessageStore& store_;
  ports::StateStore& state_;
  std::optional<Unfinished> unfinished_;  // only the step thread touches this
};

}  // namespace parley::services
