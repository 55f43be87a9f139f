#pragma once
// MessageLog: a partitioned, append-only, durable log with consumer groups.
//
// Shaped after Kafka so that Kafka can sit behind it unchanged: a topic has a
// fixed number of partitions; a record's key picks its partition, so records
// with one key keep their order; a consumer group reads each partition from
// its committed offset, and a group member that restarts resumes there.
// The embedded engine keeps the same semantics in one process.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace parley::ports {

struct LogRecord {
  std::string topic;
  int partition = 0;
  std::uint64_t offset = 0;  // position within the partition, from 0
  std::string key;
  std::string value;
};

// Called once per append, from a log thread, when the record is durable
// (with its offset) or could not be made so. It must not block.
using AppendCallback = std::function<void(Result<std::uint64_t> offset)>;

class LogConsumer {
 public:
  virtual ~LogConsumer() = default;

  // Waits up to `timeout` for records of the partitions this member owns and
  // returns those that are there (possibly none), in offset order within
  // each partition. After a restart or a change of owner, a partition is read
  // again from its committed offset.
  [[nodiscard]] virtual Result<std::vector<LogRecord>> poll(std::chrono::milliseconds timeout,
                                                            std::size_t max_records) = 0;

  // Records that every record of `partition` before `next_offset` is done.
  [[nodiscard]] virtual Result<void> commit(int partition, std::uint64_t next_offset) = 0;

  // commit() for several partitions, (partition, next_offset) each: every
  // one is tried, and the first failure is returned. A log with a round
  // trip per commit sends them as one request (Kafka); this default
  // commits them one by one.
  [[nodiscard]] virtual Result<void> commit_all(std::span<const std::pair<int, std::uint64_t>> offsets) {
    Result<void> outcome;
    for (const auto& [partition, next_offset] : offsets) {
      if (auto c = commit(partition, next_offset); !c && outcome) outcome = std::move(c).error();
    }
    return outcome;
  }

  // Makes a poll that is waiting return at once (for shutdown). Thread-safe.
  virtual void wakeup() = 0;

  // Changes whenever the set of partitions this member owns may have
  // changed (a rebalance: partitions assigned or revoked); equal values mean
  // the member owned the same partitions, without a break, in between. State
  // a step keeps about its partitions (a cache of what it wrote) is valid
  // only within one generation: in another, someone else may have owned
  // them meanwhile. The records a poll() returns belong to the generation
  // read after it. This default suits a member that owns every partition
  // for its whole life (the embedded logs). Called from the polling thread.
  [[nodiscard]] virtual std::uint64_t generation() const noexcept { return 0; }

  // How many records of its topic this member's group has not committed
  // yet (the step's lag), when the log can tell without a round trip (the
  // embedded log keeps every partition's end and commits in memory);
  // nothing where it cannot (this default: Kafka would need a request per
  // partition). Thread-safe: asked at each scrape of GET /metrics.
  [[nodiscard]] virtual std::optional<std::uint64_t> lag() const { return std::nullopt; }
};

class MessageLog {
 public:
  virtual ~MessageLog() = default;

  [[nodiscard]] virtual int partitions(std::string_view topic) const = 0;

  // The partition a key goes to (stable for the life of the topic).
  [[nodiscard]] virtual int partition_for(std::string_view topic, std::string_view key) const = 0;

  // Appends asynchronously. Appends from one thread to one partition keep
  // their order, whatever their keys (so do those with one key). `done`
  // runs once the record is durable under the log's durability policy.
  virtual void append(std::string_view topic, std::string key, std::string value, AppendCallback done) = 0;

  // One record of append_many().
  struct Record {
    std::string key;
    std::string value;
    AppendCallback done;
  };
  // As append() of each record, in order, from one thread, but for the
  // order with append() below. An engine that can queues the records
  // together, so that a step's batch is one group commit rather than split
  // across two when a writer wakes at its first record; Kafka sends them
  // without lingering for more. Records of one partition keep their order
  // with those of earlier append_many() calls from the same thread; with
  // append()'s records they are ordered only by waiting for one's
  // acknowledgement before making the other (Kafka sends the two through
  // different producers). The pipeline's steps append only through
  // append_many(), the connections' sends only through append(): no topic
  // is written both ways.
  virtual void append_many(std::string_view topic, std::vector<Record> records) {
    for (auto& r : records) append(topic, std::move(r.key), std::move(r.value), std::move(r.done));
  }

  // Joins consumer group `group` on `topic`.
  [[nodiscard]] virtual Result<std::unique_ptr<LogConsumer>> subscribe(std::string_view topic,
                                                                       std::string_view group) = 0;

  // Reading one partition directly, outside any consumer group: how a step
  // rebuilds state it keeps beside the log (the sequencer's changelog).
  //
  // The offset the next record of the partition will get: every durable
  // record is below it. Blocks for one round trip to the log at most.
  [[nodiscard]] virtual Result<std::uint64_t> end_offset(std::string_view topic, int partition) = 0;
  // Durable records of the partition from offset `from`, in offset order, at
  // most `max`; fewer (or none) only when the partition ends before. Records
  // retention removed are skipped. Thread-safe.
  [[nodiscard]] virtual Result<std::vector<LogRecord>> read(std::string_view topic, int partition, std::uint64_t from,
                                                            std::size_t max) = 0;
};

}  // namespace parley::ports
