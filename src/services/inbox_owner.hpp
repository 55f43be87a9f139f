#pragma once
// The inbox owner: the one owner of each "inboxes" partition, and so the one
// writer of each user's inbox.
//
// For each inbox record, in log order: skip it if the message already has a
// seq in that user's inbox (a replay); otherwise give it the user's next seq
// (head + 1: no gaps), store the entry, and once the batch is durable send
// the `message` event to every server that holds a device of the user.

#include <span>

#include "ports/message_store.hpp"
#include "ports/state_store.hpp"
#include "services/pipeline_step.hpp"

namespace parley::services {

class InboxOwner final : public BatchHandler {
 public:
  InboxOwner(ports::MessageStore& store, ports::StateStore& state);

  [[nodiscard]] Result<void> process(std::span<const ports::LogRecord> batch) override;

 private:
  void deliver(UserId user, const InboxEntry& entry);

  ports::MessageStore& store_;
  ports::StateStore& state_;
};

}  // namespace parley::services
