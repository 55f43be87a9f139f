#pragma once
// The fan-out to inboxes that the sequencer does itself, on a log whose
// partitions are shared out among servers (Kafka), and how the store
// writer of the same process knows it.
//
// There the store writer appends the inbox records of each decision (a
// record per "inboxes" partition its members fall in) for the inbox owner
// to place: one more hop of the log, and one more step's batch, between an
// answered send and its delivery. The sequencer has the decision, its
// members and (once its own history write is done) everything the store
// writer would wait for, so where it may it appends those records itself,
// once the decisions are durable in the changelog and stored, after
// answering the senders. The store writer then skips them: it waits
// (bounded) for the sequencer's append, as for its history write
// (services/stored_messages.hpp), and appends itself whatever the sequencer
// did not (the store was down, the append failed, the wait ran out, or it
// is another server's sequencer).
//
// Order. An inbox must get a conversation's messages in changelog order.
// Each writer (this sequencer, a store writer) appends a changelog
// partition's records in its order, and a decision's first copy to reach
// the log is the one placed (the inbox owner skips the later copy as
// already placed), so the order holds if the sequencer fans out a decision
// only when every earlier decision of its changelog partition already has
// its inbox records in the log. That is `through`: per changelog partition,
// an offset below which every decision has them. The store writer of this
// process moves it after each batch it completes (its committed position
// only ever follows completed batches, so everything below its batch did
// too); the sequencer moves it after its own appends, and fans out a
// partition's decisions only if `through` reaches the first of them. So
// after a partition changes owner, or the sequencer left some decisions to
// the store writer, the sequencer fans out again only once this process's
// store writer has caught up with them; and where this process's store
// writer does not own the partition, `through` never reaches it, and the
// store writer that does fans out as before. A rebalance of the store
// writer's group forgets it all (reset()), so that a partition it no
// longer owns is not fanned out twice for ever.
//
// Memory only: after a restart nothing is known, and the store writer fans
// out until it has caught up. Thread-safe.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ports/message_log.hpp"
#include "services/pipeline_step.hpp"
#include "services/records.hpp"
#include "services/stored_messages.hpp"

namespace parley::services {

class FanOuts {
 public:
  explicit FanOuts(std::size_t capacity = std::size_t{1} << 16) : marks_(capacity) {}

  // How far the changelog's partitions are fanned out (see above). A
  // writer reads epoch() before it works, and advance() changes nothing if
  // reset() came in between.
  void reset() {
    std::lock_guard lock(mu_);
    ++epoch_;
    through_.clear();
  }
  [[nodiscard]] std::uint64_t epoch() const {
    std::lock_guard lock(mu_);
    return epoch_;
  }
  // Every decision of changelog partition `partition` below `next` has
  // its inbox records in the log.
  void advance(int partition, std::uint64_t next, std::uint64_t epoch) {
    std::lock_guard lock(mu_);
    if (epoch != epoch_) return;
    auto& through = through_[partition];
    through = std::max(through, next);
  }
  // Whether every decision of `partition` below `offset` has.
  [[nodiscard]] bool covers(int partition, std::uint64_t offset) const {
    std::lock_guard lock(mu_);
    auto it = through_.find(partition);
    return it != through_.end() && it->second >= offset;
  }

  // The sequencer is about to log these, and to fan them out once stored.
  void expect(std::span<const Message> messages) { marks_.expect(messages); }
  // Their inbox records are in the log.
  void fanned_out(std::span<const Message> messages) { marks_.stored(messages); }
  // The sequencer leaves these to the store writer.
  void abandon(std::span<const Message> messages) { marks_.abandon(messages); }
  // Whether the sequencer fanned `m` out; waits up to `wait` while it is
  // about to.
  [[nodiscard]] bool wait_fanned_out(const Message& m, std::chrono::milliseconds wait) {
    return marks_.wait_stored(m, wait);
  }

 private:
  StoredMessages marks_;  // the same bookkeeping: expected, then done or abandoned
  mutable std::mutex mu_;
  std::uint64_t epoch_ = 0;
  std::unordered_map<int, std::uint64_t> through_;
};

// The inbox records of decision `d` (none for a channel post): one per
// "inboxes" partition its members fall in, naming those members, keyed by
// the first of them (so it lands in their partition, which is all of
// theirs).
inline void add_inbox_records(ports::MessageLog& log, const records::Sequenced& d, std::vector<Append>& out) {
  if (d.message.to.kind == Recipient::Kind::channel) return;
  std::map<int, std::vector<UserId>> by_partition;
  for (UserId member : d.members) {
    by_partition[log.partition_for(records::kInboxesTopic, to_string(member))].push_back(member);
  }
  for (auto& [partition, users] : by_partition) {
    std::string key = to_string(users.front());
    out.push_back(Append{std::move(key), records::encode(records::InboxCommand{std::move(users), d.message})});
  }
}

}  // namespace parley::services
