#pragma once
// KafkaConsumer: one member of a Kafka consumer group on one topic, with
// manual commits (the LogConsumer port).
//
// Offsets are committed only by commit(), which the pipeline calls after a
// batch's writes are done, so a crash replays at most the uncommitted tail.
// Rebalances are handled inside poll(): when partitions are assigned, each
// resumes from its committed offset; when they are revoked, records of those
// partitions not yet returned are dropped, and a later commit() for a
// partition this member no longer owns is refused (ErrorCode::unavailable)
// instead of racing its new owner. The new owner replays from the committed
// offset, and the pipeline steps are idempotent, so the replay writes
// nothing twice. Every assign and every revoke moves generation(), so a step
// that keeps state about its partitions knows to drop it.
//
// commit_all() (the pipeline's commit after each batch) sends at most one
// OffsetCommit request per kCommitInterval: offsets committed in between are
// kept and sent with the next one, by poll() once the interval has passed,
// before a revoke and when the consumer closes. A crash loses at most that
// interval's commits, which only replays records (idempotently); a commit
// per batch cost the broker a request and the step a round trip each.
//
// poll() and commit() are called from one thread; wakeup() from any.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "adapters/kafka/kafka_handles.hpp"
#include "adapters/kafka/kafka_options.hpp"
#include "ports/message_log.hpp"

namespace parley::kafka {

class KafkaConsumer final : public ports::LogConsumer {
 public:
  // Joins `group` (full name) on `topic` (full name, `partitions` of them);
  // records carry `port_topic`, the name the port was asked for.
  [[nodiscard]] static Result<std::unique_ptr<KafkaConsumer>> open(const KafkaOptions& options, std::string topic,
                                                                   std::string port_topic, std::string group,
                                                                   int partitions);

  // Leaves the group (its partitions go to the other members at once).
  ~KafkaConsumer() override;
  // Use open(); public only for make_unique.
  KafkaConsumer(std::string topic, std::string port_topic, int partitions);
  KafkaConsumer(const KafkaConsumer&) = delete;
  KafkaConsumer& operator=(const KafkaConsumer&) = delete;

  [[nodiscard]] Result<std::vector<ports::LogRecord>> poll(std::chrono::milliseconds timeout,
                                                           std::size_t max_records) override;
  [[nodiscard]] Result<void> commit(int partition, std::uint64_t next_offset) override;
  // One OffsetCommit request for every partition this member still owns.
  [[nodiscard]] Result<void> commit_all(std::span<const std::pair<int, std::uint64_t>> offsets) override;
  void wakeup() override;
  [[nodiscard]] std::uint64_t generation() const noexcept override;

 private:
  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions,
                           void* opaque);

  // Sends the offsets waiting in pending_ (or, when `only` is given, those
  // of its partitions), as one request.
  [[nodiscard]] Result<void> send_pending(const std::set<int>* only = nullptr);

  static constexpr std::chrono::milliseconds kCommitInterval{100};

  std::string topic_;
  std::string port_topic_;
  // Offsets commit_all() took and has not sent yet: partition -> next offset.
  std::map<int, std::uint64_t> pending_;
  std::chrono::steady_clock::time_point last_commit_{};
  int partitions_;
  HandlePtr consumer_;
  QueuePtr queue_;  // the consumer queue, kept to yield a waiting poll
  // Partitions assigned to this member, and the batch poll() is building:
  // both changed only on the polling thread (rebalance callbacks run inside
  // rd_kafka_consumer_poll).
  std::set<int> owned_;
  std::vector<ports::LogRecord> batch_;
  std::atomic<bool> woken_{false};
  // Moved by on_rebalance (on the polling thread) on every assign and revoke.
  std::atomic<std::uint64_t> generation_{0};
};

}  // namespace parley::kafka
