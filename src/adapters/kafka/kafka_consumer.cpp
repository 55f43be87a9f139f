#include "adapters/kafka/kafka_consumer.hpp"

#include <algorithm>
#include <array>
#include <chrono>

#include "core/log.hpp"

namespace parley::kafka {

namespace {

// A waiting poll sleeps in slices this long at most, so that a wakeup()
// that lands between two slices is seen promptly even without the yield.
constexpr std::chrono::milliseconds kSlice{100};

}  // namespace

KafkaConsumer::KafkaConsumer(std::string topic, std::string port_topic, int partitions)
    : topic_(std::move(topic)), port_topic_(std::move(port_topic)), partitions_(partitions) {}

Result<std::unique_ptr<KafkaConsumer>> KafkaConsumer::open(const KafkaOptions& options, std::string topic,
                                                           std::string port_topic, std::string group, int partitions) {
  // After the settings every client shares (client_settings):
  Settings settings = {
      {"group.id", group},
      // Offsets move only when commit() says a batch is done.
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      // A group that never committed starts at the beginning: nothing
      // appended before the first member joined is skipped.
      {"auto.offset.reset", "earliest"},
      // Eager rebalancing: every member gives up all partitions, then gets
      // its new set (on_rebalance relies on assign/revoke of whole sets).
      {"partition.assignment.strategy", "range"},
      {"session.timeout.ms", std::to_string(options.session_timeout.count())},
      {"heartbeat.interval.ms", std::to_string(std::max<long>(options.session_timeout.count() / 6, 100))},
      {"reconnect.backoff.ms", "100"},
      {"reconnect.backoff.max.ms", "1000"},
      // A fetch waits for 16 KiB or 10 ms, whichever comes first: with a
      // fetch per record (fetch.min.bytes=1) the broker served thousands of
      // fetches a second at 1,000 messages/s.
      {"fetch.wait.max.ms", "10"},
      {"fetch.min.bytes", "16384"},
  };
  if (!options.instance_id.empty()) settings.emplace_back("group.instance.id", options.instance_id + "." + group);
  auto conf = make_conf(client_settings(options, std::move(settings)));
  if (!conf) return std::move(conf).error();
  route_logs(conf->get());
  rd_kafka_conf_set_rebalance_cb(conf->get(), &KafkaConsumer::on_rebalance);

  auto consumer = std::make_unique<KafkaConsumer>(std::move(topic), std::move(port_topic), partitions);
  rd_kafka_conf_set_opaque(conf->get(), consumer.get());
  std::array<char, 512> errstr{};
  consumer->consumer_.reset(rd_kafka_new(RD_KAFKA_CONSUMER, conf->get(), errstr.data(), errstr.size()));
  if (!consumer->consumer_) return make_error(ErrorCode::internal, std::string("kafka consumer: ") + errstr.data());
  (void)conf->release();  // taken by rd_kafka_new
  rd_kafka_t* rk = consumer->consumer_.get();
  // Serve rebalances and records from one queue: the consumer queue.
  (void)rd_kafka_poll_set_consumer(rk);
  consumer->queue_.reset(rd_kafka_queue_get_consumer(rk));

  PartitionListPtr subscription(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(subscription.get(), consumer->topic_.c_str(), RD_KAFKA_PARTITION_UA);
  if (const rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, subscription.get()); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return to_error(err, "kafka: subscribing to " + consumer->topic_);
  }
  return consumer;
}

KafkaConsumer::~KafkaConsumer() {
  if (!consumer_) return;
  if (auto sent = send_pending(); !sent) log::warn("kafka", "last commit failed: " + sent.error().message);
  // Leaves the group, running the revoke callback (on this thread).
  (void)rd_kafka_consumer_close(consumer_.get());
  queue_.reset();  // before the handle it belongs to
}

void KafkaConsumer::on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions,
                                 void* opaque) {
  auto* self = static_cast<KafkaConsumer*>(opaque);
  // Whatever happens below, what this member owns may have changed.
  self->generation_.fetch_add(1, std::memory_order_relaxed);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    for (int i = 0; i < partitions->cnt; ++i) self->owned_.insert(partitions->elems[i].partition);
    // Each partition starts at its committed offset (or the beginning).
    if (const rd_kafka_resp_err_t e = rd_kafka_assign(rk, partitions); e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      log::warn("kafka", "assigning partitions of " + self->topic_ + ": " + rd_kafka_err2str(e));
    }
    return;
  }
  // Revoked (or a rebalance error, which revokes everything): records of
  // those partitions that poll() has not returned yet belong to the next
  // owner now, who reads them again from the committed offset.
  std::set<int> revoked;
  for (int i = 0; i < partitions->cnt; ++i) revoked.insert(partitions->elems[i].partition);
  if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) revoked = self->owned_;
  // Offsets this member held back for those partitions go out now, while
  // it still owns them.
  if (auto sent = self->send_pending(&revoked); !sent) {
    log::warn("kafka", "commit before a revoke failed: " + sent.error().message);
  }
  for (int p : revoked) self->owned_.erase(p);
  std::erase_if(self->batch_, [&](const ports::LogRecord& r) { return revoked.contains(r.partition); });
  (void)rd_kafka_assign(rk, nullptr);
}

Result<std::vector<ports::LogRecord>> KafkaConsumer::poll(std::chrono::milliseconds timeout, std::size_t max_records) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout;
  batch_.clear();
  if (!pending_.empty() && Clock::now() - last_commit_ >= kCommitInterval) {
    if (auto sent = send_pending(); !sent) log::warn("kafka", "commit failed: " + sent.error().message);
  }
  while (batch_.size() < max_records) {
    if (woken_.exchange(false)) break;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    // Once something is there, take only what is ready without waiting.
    const auto wait =
        batch_.empty() ? std::clamp(left, std::chrono::milliseconds(0), kSlice) : std::chrono::milliseconds(0);
    MessagePtr message(rd_kafka_consumer_poll(consumer_.get(), static_cast<int>(wait.count())));
    if (!message) {
      if (!batch_.empty() || left.count() <= 0) break;
      continue;
    }
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
      if (message->err == RD_KAFKA_RESP_ERR__FATAL) return to_error(message->err, "kafka consumer " + topic_);
      // Transient (a broker went away, a fetch failed): librdkafka retries
      // by itself; the records come later.
      log::write(log::Level::debug, "kafka", std::string("consumer: ") + rd_kafka_message_errstr(message.get()));
      continue;
    }
    if (!owned_.contains(message->partition)) continue;  // fetched before a revoke
    ports::LogRecord record;
    record.topic = port_topic_;
    record.partition = message->partition;
    record.offset = static_cast<std::uint64_t>(message->offset);
    if (message->key != nullptr) record.key.assign(static_cast<const char*>(message->key), message->key_len);
    if (message->payload != nullptr) record.value.assign(static_cast<const char*>(message->payload), message->len);
    batch_.push_back(std::move(record));
  }
  return std::move(batch_);
}

Result<void> KafkaConsumer::commit(int partition, std::uint64_t next_offset) {
  if (partition < 0 || partition >= partitions_) {
    return make_error(ErrorCode::bad_request, "kafka: " + topic_ + " has no partition " + std::to_string(partition));
  }
  if (!owned_.contains(partition)) {
    return make_error(ErrorCode::unavailable, "kafka: partition " + std::to_string(partition) + " of " + topic_ +
                                                  " is no longer this member's; its new owner resumes from the "
                                                  "committed offset");
  }
  PartitionListPtr offsets(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(offsets.get(), topic_.c_str(), partition)->offset =
      static_cast<std::int64_t>(next_offset);
  const rd_kafka_resp_err_t err = rd_kafka_commit(consumer_.get(), offsets.get(), 0);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return to_error(err, "kafka: committing " + topic_);
  if (offsets->elems[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return to_error(offsets->elems[0].err, "kafka: committing " + topic_);
  }
  return Ok{};
}

Result<void> KafkaConsumer::commit_all(std::span<const std::pair<int, std::uint64_t>> offsets) {
  Result<void> outcome;
  for (const auto& [partition, next_offset] : offsets) {
    if (partition < 0 || partition >= partitions_ || !owned_.contains(partition)) {
      // As commit() says; the others are still committed.
      if (auto refused = commit(partition, next_offset); !refused && outcome) outcome = std::move(refused).error();
      continue;
    }
    auto& at = pending_[partition];
    at = std::max(at, next_offset);
  }
  if (std::chrono::steady_clock::now() - last_commit_ < kCommitInterval) return outcome;
  if (auto sent = send_pending(); !sent && outcome) outcome = std::move(sent).error();
  return outcome;
}

Result<void> KafkaConsumer::send_pending(const std::set<int>* only) {
  PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(pending_.size())));
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (only != nullptr && !only->contains(it->first)) {
      ++it;
      continue;
    }
    if (owned_.contains(it->first)) {
      rd_kafka_topic_partition_list_add(list.get(), topic_.c_str(), it->first)->offset =
          static_cast<std::int64_t>(it->second);
    }
    it = pending_.erase(it);
  }
  last_commit_ = std::chrono::steady_clock::now();
  if (list->cnt == 0) return Ok{};
  const rd_kafka_resp_err_t err = rd_kafka_commit(consumer_.get(), list.get(), 0);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return to_error(err, "kafka: committing " + topic_);
  for (int i = 0; i < list->cnt; ++i) {
    if (list->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return to_error(list->elems[i].err, "kafka: committing " + topic_);
    }
  }
  return Ok{};
}

std::uint64_t KafkaConsumer::generation() const noexcept { return generation_.load(std::memory_order_relaxed); }

void KafkaConsumer::wakeup() {
  woken_.store(true);
  if (queue_) rd_kafka_queue_yield(queue_.get());
}

}  // namespace parley::kafka
