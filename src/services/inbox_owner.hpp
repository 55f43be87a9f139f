#pragma once
// The inbox owner: the one owner of each "inboxes" partition, and so the one
// writer of each user's inbox.
//
// For each inbox record, in log order: skip it if the message already has a
// seq in that user's inbox (a replay); otherwise give it the user's next seq
// (head + 1: no gaps), store the entry, and once the batch is durable send
// the `message` event to every server that holds a device of the user.
//
// While the log's consumer group keeps its partitions with this member (one
// ownership generation, LogConsumer::generation), nobody else writes these
// users' inboxes, so the owner keeps what it learnt of them in memory instead
// of asking the store for every batch:
//
//  - per user, the head seq and `newest`, an id no message placed in the
//    inbox is above. Loaded once from the store (inbox_heads, and the
//    largest id of conversations_of), then moved by each write that
//    succeeded: never ahead of what is durable, never behind it.
//  - per partition, `fresh_from`: the partition's end offset read at its
//    first batch in this generation. Records below it may have been
//    processed by a previous owner (or by this process before a crash) past
//    the committed offset, with a write that may be only half applied
//    (visible in the inbox index, not yet in the conversation index that
//    `newest` comes from). Records at or above it were appended after this
//    member got the partition: only this owner ever saw them.
//
// A record skips the placement check when its offset is at or above
// `fresh_from` and its message id is above the user's `newest` (and it names
// a conversation, as the conversation index needs): no entry for it can
// exist then, since `newest` covers every placement. Every other
// record is checked. The offset alone would not do: the store writer's
// replays append the same inbox record again at a later offset, and those
// repeats are caught by `newest` (their id is not above it).
//
// On the embedded log, where this process owns every partition, the store
// writer hands this owner the changelog's decisions directly
// (process_decided, services/store_writer.hpp) instead of appending inbox
// records: the positions are then the changelog's, and everything above
// holds of them as of the inbox records' (a replay of the changelog comes
// below its `fresh_from`). A message that
// arrives after a newer one of another conversation is checked needlessly;
// that costs a read, not correctness. So in the steady state a batch reads
// nothing from the store.
//
// The cache holds at most `max_cached_users` users (least recently used
// dropped first; about 120 bytes each, so some 30 MB at the default), and is
// dropped whole on a new generation.
//
// A batch whose store write failed is retried (by its PipelineStep) with
// exactly the writes planned the first time, not planned again from what the
// store shows then: a failed write may be half applied. The cache is not
// touched by a failed batch; once its retry succeeds, its users are reloaded
// from the store on their next record, and a plan dropped unfinished
// (another batch came instead) drops the whole cache, since the store may
// then hold half of it.
//
// Only a seq at or below the user's head counts as placed. A store that
// cannot write a user's rows atomically (Cassandra, with no batchlog)
// writes the heads last, so a crash part-way leaves index rows and entries
// above the head, possibly with holes (seq 7 stored, seq 6 not). Trusting
// those would skip the messages found and give a hole's seq to nothing, or
// the next message a seq taken. Instead every record above the head is
// planned again: every such write came from a record after the committed
// offset, so each is replayed, in the same order, and gets the same seq;
// the write then stores its rows again and moves the head.

#include <cstdint>
#include <list>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ports/message_log.hpp"
#include "ports/message_store.hpp"
#include "ports/state_store.hpp"
#include "services/pipeline_step.hpp"
#include "services/records.hpp"

namespace parley::services {

class InboxOwner final : public BatchHandler {
 public:
  static constexpr std::size_t kDefaultCachedUsers = std::size_t{1} << 18;

  // `log` is asked only for the end offset of each partition once per
  // generation.
  InboxOwner(ports::MessageLog& log, ports::MessageStore& store, ports::StateStore& state,
             std::size_t max_cached_users = kDefaultCachedUsers);

  [[nodiscard]] Result<void> process(std::span<const ports::LogRecord> batch) override;
  // The same for decisions read from the changelog ("sequenced"), on a log
  // whose every partition this process owns (the embedded log): each
  // decision's members get their entry (a channel post's none), with
  // `batch` (the changelog records, decisions[i] decoded from
  // batch[record_of[i]]) for the positions.
  [[nodiscard]] Result<void> process_decided(std::span<const ports::LogRecord> batch,
                                             std::span<const records::Sequenced> decisions,
                                             std::span<const std::size_t> record_of);
  // Drops the cache: another member may have written these inboxes since.
  void on_generation(std::uint64_t generation) override;

 private:
  // What this owner knows of one user's inbox (see above).
  struct Known {
    Seq head = 0;
    MessageId newest;
  };

  // One user's part of a record, with where the record sits in its
  // partition.
  struct Command {
    UserId user;
    Message message;
    int partition = 0;
    std::uint64_t offset = 0;
  };
  // Places `commands`, which came from `batch`.
  [[nodiscard]] Result<void> place(std::span<const ports::LogRecord> batch, std::vector<Command> commands);

  // Writes, flushes and then delivers `writes`.
  [[nodiscard]] Result<void> store_and_deliver(const std::vector<ports::MessageStore::InboxWrite>& writes);

  // Sets each partition of `batch` without a `fresh_from` yet.
  [[nodiscard]] Result<void> learn_ends(std::span<const ports::LogRecord> batch);
  // Adds to `known` every user of `users` it lacks: from the cache, or read
  // from the store.
  [[nodiscard]] Result<void> load(const std::vector<UserId>& users, std::unordered_map<UserId, Known>& known);
  // Stores `known` in the cache, most recently used first, within the bound.
  void remember(const std::unordered_map<UserId, Known>& known);
  void forget(UserId user);
  void forget_everything();

  // A batch whose writes did not complete: its records' (partition, offset)
  // and the writes planned for it.
  struct Unfinished {
    std::vector<std::pair<int, std::uint64_t>> records;
    std::vector<ports::MessageStore::InboxWrite> writes;
  };

  ports::MessageLog& log_;
  ports::MessageStore& store_;
  ports::StateStore& state_;
  std::size_t max_cached_users_;
  // Only the step thread touches what follows.
  std::optional<Unfinished> unfinished_;
  std::unordered_map<int, std::uint64_t> fresh_from_;  // partition -> end offset at its first batch
  std::string fresh_topic_;                            // the topic of those partitions
  std::list<UserId> recent_;                           // cached users, most recently used first
  struct Cached {
    Known known;
    std::list<UserId>::iterator at;  // in recent_
  };
  std::unordered_map<UserId, Cached> cache_;
};

}  // namespace parley::services
