#include "adapters/kafka/kafka_log.hpp"

#include <array>
#include <chrono>

#include "adapters/kafka/kafka_consumer.hpp"
#include "core/log.hpp"

namespace parley::kafka {

namespace {

int to_ms(std::chrono::milliseconds d) { return static_cast<int>(d.count()); }

}  // namespace

KafkaLog::KafkaLog(KafkaOptions options) : options_(std::move(options)) {}

Result<std::unique_ptr<KafkaLog>> KafkaLog::open(KafkaOptions options, const std::vector<std::string>& topics) {
  if (options.brokers.empty()) return make_error(ErrorCode::bad_request, "no Kafka brokers given");
  if (options.partitions < 1) return make_error(ErrorCode::bad_request, "Kafka partitions must be at least 1");
  const std::string timeout = std::to_string(options.send_timeout.count());
  auto conf = make_conf({
      {"bootstrap.servers", options.brokers},
      {"client.id", "parley"},
      // Exactly-once per partition and in order: retries never duplicate or
      // reorder a record, and acks=all makes an acknowledgement mean every
      // in-sync replica has it.
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"message.timeout.ms", timeout},
      {"linger.ms", "1"},
      // Reconnect soon after a broker comes back, so sends resume quickly.
      {"reconnect.backoff.ms", "100"},
      {"reconnect.backoff.max.ms", "1000"},
  });
  if (!conf) return std::move(conf).error();
  route_logs(conf->get());
  rd_kafka_conf_set_dr_msg_cb(conf->get(), &KafkaLog::on_delivery);

  auto log = std::make_unique<KafkaLog>(std::move(options));
  std::array<char, 512> errstr{};
  // rd_kafka_new takes the configuration only when it succeeds.
  log->producer_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf->get(), errstr.data(), errstr.size()));
  if (!log->producer_) return make_error(ErrorCode::internal, std::string("kafka producer: ") + errstr.data());
  (void)conf->release();
  log->reporter_ = std::thread([raw = log.get()] { raw->serve_reports(); });

  for (const auto& topic : topics) {
    auto ensured = log->ensure_topic(log->options_.prefix + topic);
    if (!ensured) return std::move(ensured).error();
  }
  return log;
}

KafkaLog::~KafkaLog() {
  stopping_.store(true);
  if (reporter_.joinable()) reporter_.join();
  if (!producer_) return;
  // Give records in flight a moment, then fail the rest: every callback
  // runs exactly once, and none is a false acknowledgement.
  (void)rd_kafka_flush(producer_.get(), 2000);
  (void)rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  (void)rd_kafka_flush(producer_.get(), 0);
  while (rd_kafka_outq_len(producer_.get()) > 0 && rd_kafka_poll(producer_.get(), 100) >= 0) {
  }
}

void KafkaLog::serve_reports() {
  while (!stopping_.load()) rd_kafka_poll(producer_.get(), 100);
}

void KafkaLog::on_delivery(rd_kafka_t* /*rk*/, const rd_kafka_message_t* message, void* /*opaque*/) {
  // The callback was handed to librdkafka as the message's opaque; take it
  // back so it is destroyed after this one call.
  std::unique_ptr<ports::AppendCallback> done(static_cast<ports::AppendCallback*>(message->_private));
  if (!done) return;
  if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    (*done)(to_error(message->err, "kafka send"));
  } else if (message->offset < 0) {
    // acks=all always reports the offset; an absent one is not proof.
    (*done)(make_error(ErrorCode::unavailable, "kafka send: no offset in the delivery report"));
  } else {
    (*done)(static_cast<std::uint64_t>(message->offset));
  }
}

int KafkaLog::partitions(std::string_view topic) const {
  const std::string name = options_.prefix + std::string(topic);
  std::lock_guard lock(topics_mutex_);
  auto it = topics_.find(name);
  return it == topics_.end() ? options_.partitions : it->second;
}

int KafkaLog::partition_for(std::string_view topic, std::string_view key) const {
  return partition_of(key, partitions(topic));
}

Result<int> KafkaLog::existing_partitions(const std::string& name) {
  TopicPtr topic(rd_kafka_topic_new(producer_.get(), name.c_str(), nullptr));
  if (!topic) return make_error(ErrorCode::internal, "kafka topic handle for " + name);
  // Just after creation the topic may not be in every broker's metadata
  // yet: ask again until it is, within the admin timeout.
  const auto deadline = std::chrono::steady_clock::now() + options_.admin_timeout;
  rd_kafka_resp_err_t last = RD_KAFKA_RESP_ERR__TIMED_OUT;
  while (std::chrono::steady_clock::now() < deadline) {
    const rd_kafka_metadata_t* raw = nullptr;
    last = rd_kafka_metadata(producer_.get(), 0, topic.get(), &raw, to_ms(options_.admin_timeout));
    MetadataPtr metadata(raw);
    if (last == RD_KAFKA_RESP_ERR_NO_ERROR && metadata && metadata->topic_cnt == 1) {
      last = metadata->topics[0].err;
      if (last == RD_KAFKA_RESP_ERR_NO_ERROR && metadata->topics[0].partition_cnt > 0) {
        return metadata->topics[0].partition_cnt;
      }
    }
    if (last == RD_KAFKA_RESP_ERR__TRANSPORT || last == RD_KAFKA_RESP_ERR__TIMED_OUT) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // metadata propagation; no event to wait on
  }
  return to_error(last, "kafka metadata for " + name);
}

Result<int> KafkaLog::ensure_topic(const std::string& name) {
  std::lock_guard lock(topics_mutex_);
  if (auto it = topics_.find(name); it != topics_.end()) return it->second;

  std::array<char, 512> errstr{};
  NewTopicPtr new_topic(rd_kafka_NewTopic_new(name.c_str(), options_.partitions, options_.replication_factor,
                                              errstr.data(), errstr.size()));
  if (!new_topic) return make_error(ErrorCode::bad_request, "kafka topic " + name + ": " + errstr.data());
  AdminOptionsPtr admin(rd_kafka_AdminOptions_new(producer_.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS));
  // Wait for the controller to have created it, so that it can be used at once.
  (void)rd_kafka_AdminOptions_set_operation_timeout(admin.get(), to_ms(options_.admin_timeout), errstr.data(),
                                                    errstr.size());
  (void)rd_kafka_AdminOptions_set_request_timeout(admin.get(), to_ms(options_.admin_timeout), errstr.data(),
                                                  errstr.size());
  QueuePtr queue(rd_kafka_queue_new(producer_.get()));
  rd_kafka_NewTopic_t* topics[] = {new_topic.get()};
  rd_kafka_CreateTopics(producer_.get(), topics, 1, admin.get(), queue.get());
  EventPtr event(rd_kafka_queue_poll(queue.get(), to_ms(options_.admin_timeout) + 5000));
  if (!event) return make_error(ErrorCode::unavailable, "kafka: creating topic " + name + " timed out");
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return to_error(rd_kafka_event_error(event.get()), "kafka: creating topic " + name);
  }
  std::size_t count = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event.get()), &count);
  const rd_kafka_resp_err_t err = count == 1 ? rd_kafka_topic_result_error(results[0]) : RD_KAFKA_RESP_ERR__FAIL;
  int partitions = options_.partitions;
  if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
    auto existing = existing_partitions(name);
    if (!existing) return existing;
    partitions = *existing;
    if (partitions != options_.partitions) {
      log::warn("kafka", "topic " + name + " has " + std::to_string(partitions) + " partitions (not the configured " +
                             std::to_string(options_.partitions) + "); using its own count");
    }
  } else if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return to_error(err, "kafka: creating topic " + name);
  }
  topics_.emplace(name, partitions);
  return partitions;
}

void KafkaLog::append(std::string_view topic, std::string key, std::string value, ports::AppendCallback done) {
  const std::string name = options_.prefix + std::string(topic);
  auto partitions = ensure_topic(name);
  if (!partitions) {
    done(std::move(partitions).error());
    return;
  }
  const int partition = partition_of(key, *partitions);
  auto callback = std::make_unique<ports::AppendCallback>(std::move(done));
  const rd_kafka_resp_err_t err =
      rd_kafka_producev(producer_.get(), RD_KAFKA_V_TOPIC(name.c_str()), RD_KAFKA_V_PARTITION(partition),
                        RD_KAFKA_V_KEY(key.data(), key.size()), RD_KAFKA_V_VALUE(value.data(), value.size()),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(callback.get()), RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // Not queued (the local queue is full, or the producer failed for
    // good): the delivery report will never come, so fail it here.
    (*callback)(to_error(err, "kafka send"));
    return;
  }
  (void)callback.release();  // owned by the delivery report now (on_delivery)
}

Result<std::unique_ptr<ports::LogConsumer>> KafkaLog::subscribe(std::string_view topic, std::string_view group) {
  const std::string name = options_.prefix + std::string(topic);
  auto partitions = ensure_topic(name);
  if (!partitions) return std::move(partitions).error();
  auto consumer =
      KafkaConsumer::open(options_, name, std::string(topic), options_.prefix + std::string(group), *partitions);
  if (!consumer) return std::move(consumer).error();
  return std::unique_ptr<ports::LogConsumer>(std::move(consumer).value());
}

}  // namespace parley::kafka
