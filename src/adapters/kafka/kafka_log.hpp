#pragma once
// KafkaLog: the MessageLog port on Apache Kafka, through librdkafka.
//
// Appends go through idempotent producers with acks=all (one for append(),
// one for append_many()): a record is acknowledged only when its delivery
// report says every in-sync replica has it, and with the offset from that
// report; a record that cannot be written within KafkaOptions::send_timeout
// fails with ErrorCode::unavailable (so a down broker fails sends instead of
// holding them, and never acknowledges one it does not have). The partition
// is chosen here with Kafka's own partitioner, so partition_for() is exactly
// where a record goes.
//
// Topics are created on first use (or at open, for the names given) with
// the admin API; subscribe() returns a KafkaConsumer, one consumer group
// member with manual commits. read() goes through one more consumer, kept
// for the life of the log, that never joins a group: it is assigned the one
// partition a read asks for, at the offset asked for.

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "adapters/kafka/kafka_handles.hpp"
#include "adapters/kafka/kafka_options.hpp"
#include "ports/message_log.hpp"

namespace parley::kafka {

class KafkaLog final : public ports::MessageLog {
 public:
  // Connects to the brokers and creates `topics` (port names, without the
  // prefix) where missing. Fails with ErrorCode::unavailable when no broker
  // answers within the admin timeout, and at once when a broker refuses the
  // credentials or the TLS handshake fails (the error says which, and
  // librdkafka's reason; never the password).
  [[nodiscard]] static Result<std::unique_ptr<KafkaLog>> open(KafkaOptions options,
                                                              const std::vector<std::string>& topics = {});

  // Waits briefly for records in flight; any still unacknowledged then fail
  // with ErrorCode::unavailable (their callbacks run before this returns).
  ~KafkaLog() override;
  // Use open(); public only for make_unique.
  explicit KafkaLog(KafkaOptions options);
  KafkaLog(const KafkaLog&) = delete;
  KafkaLog& operator=(const KafkaLog&) = delete;

  [[nodiscard]] int partitions(std::string_view topic) const override;
  [[nodiscard]] int partition_for(std::string_view topic, std::string_view key) const override;
  // The first append to a topic this process has not used yet creates it
  // (a blocking admin request); parleyd creates its topics at open so that
  // sends never wait for that.
  void append(std::string_view topic, std::string key, std::string value, ports::AppendCallback done) override;
  // Through a second producer that does not linger: each partition's
  // records are queued in one call and go at once (in one request, or a
  // few where the producer's thread takes the first before the rest are
  // queued). Their order with append()'s records is not kept (another
  // producer), as the port allows.
  void append_many(std::string_view topic, std::vector<Record> records) override;
  [[nodiscard]] Result<std::unique_ptr<ports::LogConsumer>> subscribe(std::string_view topic,
                                                                      std::string_view group) override;
  // The partition's high watermark: with the default read_uncommitted
  // isolation, the offset the next record will get.
  [[nodiscard]] Result<std::uint64_t> end_offset(std::string_view topic, int partition) override;
  // Reads up to the high watermark as it was when the read began; reads are
  // serialised (one reader). A broker that stops answering fails the read
  // with ErrorCode::unavailable after the admin timeout.
  [[nodiscard]] Result<std::vector<ports::LogRecord>> read(std::string_view topic, int partition, std::uint64_t from,
                                                           std::size_t max) override;

  // Readiness: asks a broker for the metadata of the topics this log uses,
  // within `timeout`; fails (ErrorCode::unavailable) when no broker answers,
  // or a topic or one of its partitions reports an error (no leader, say).
  [[nodiscard]] Result<void> probe(std::chrono::milliseconds timeout);

 private:
  // Makes sure the topic (full name) exists and returns its partition count.
  [[nodiscard]] Result<int> ensure_topic(const std::string& name);
  [[nodiscard]] Result<int> existing_partitions(const std::string& name);
  // Makes sure the topic (full name) exists and has `partition`.
  [[nodiscard]] Result<void> ensure_partition(const std::string& name, int partition);
  [[nodiscard]] Result<std::uint64_t> high_watermark(const std::string& name, int partition);
  // The reader consumer, created on first use. Requires reader_mutex_.
  [[nodiscard]] Result<rd_kafka_t*> reader_locked();
  // Polls the assigned partition from `from` until `max` records, its end
  // or offset `until`. Requires reader_mutex_.
  [[nodiscard]] Result<std::vector<ports::LogRecord>> poll_reader_locked(std::string_view topic,
                                                                         const std::string& name, int partition,
                                                                         std::uint64_t from, std::uint64_t until,
                                                                         std::size_t max);
  // An idempotent producer with acks=all that waits up to `linger_ms` to
  // share a produce request with later records, reporting to on_delivery
  // and on_error.
  [[nodiscard]] Result<HandlePtr> make_producer(const char* linger_ms);
  // Waits until a broker answers `producer` (a metadata request), the
  // admin timeout passes, or a refusal comes (on_error).
  [[nodiscard]] Result<void> await_brokers(rd_kafka_t* producer);
  // The last refusal the producer reported (refusal()); empty: none.
  [[nodiscard]] std::string last_refusal() const;
  // Serves `producer`'s delivery reports (and error reports) until stopping_.
  void serve_reports(rd_kafka_t* producer);
  static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* message, void* opaque);
  // Logs the error, and keeps it in refusal_ when no retry mends it.
  static void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque);

  KafkaOptions options_;
  HandlePtr producer_;        // append()'s
  HandlePtr batch_producer_;  // append_many()'s
  mutable std::mutex topics_mutex_;
  std::map<std::string, int, std::less<>> topics_;  // full name -> partitions; guarded by topics_mutex_
  // batch_producer_'s topic handles, declared after it so that they go first;
  // guarded by topics_mutex_
  std::map<std::string, TopicPtr, std::less<>> batch_topics_;
  std::mutex reader_mutex_;  // one read() at a time: the reader has one assignment
  HandlePtr reader_;         // read()'s consumer, made on first read; guarded by reader_mutex_
  mutable std::mutex refusal_mutex_;
  std::string refusal_;  // the last refusal on_error saw; guarded by refusal_mutex_
  std::atomic<bool> stopping_{false};
  std::thread reporter_;        // runs serve_reports(producer_)
  std::thread batch_reporter_;  // runs serve_reports(batch_producer_)
};

}  // namespace parley::kafka
