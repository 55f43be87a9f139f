#include "adapters/kafka/kafka_log.hpp"

#include <algorithm>
#include <array>
#include <chrono>

#include "adapters/kafka/kafka_consumer.hpp"
#include "core/log.hpp"

namespace parley::kafka {

namespace {

int to_ms(std::chrono::milliseconds d) { return static_cast<int>(d.count()); }

// A read waits for the next record in slices this long at most.
constexpr std::chrono::milliseconds kReadSlice{100};

// At open, the wait for a broker's first answer looks for a refusal (the
// error callback's) this often.
constexpr std::chrono::milliseconds kConnectSlice{250};

}  // namespace

KafkaLog::KafkaLog(KafkaOptions options) : options_(std::move(options)) {}

Result<HandlePtr> KafkaLog::make_producer(const char* linger_ms) {
  // After the settings every client shares (client_settings):
  Settings settings = {
      // Exactly-once per partition and in order: retries never duplicate or
      // reorder a record, and acks=all makes an acknowledgement mean every
      // in-sync replica has it.
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"message.timeout.ms", std::to_string(options_.send_timeout.count())},
      {"linger.ms", linger_ms},
      // Reconnect soon after a broker comes back, so sends resume quickly.
      {"reconnect.backoff.ms", "100"},
      {"reconnect.backoff.max.ms", "1000"},
  };
  auto conf = make_conf(client_settings(options_, std::move(settings)));
  if (!conf) return std::move(conf).error();
  route_logs(conf->get());
  rd_kafka_conf_set_dr_msg_cb(conf->get(), &KafkaLog::on_delivery);
  rd_kafka_conf_set_error_cb(conf->get(), &KafkaLog::on_error);
  rd_kafka_conf_set_opaque(conf->get(), this);  // for on_error
  std::array<char, 512> errstr{};
  // rd_kafka_new takes the configuration only when it succeeds.
  HandlePtr producer(rd_kafka_new(RD_KAFKA_PRODUCER, conf->get(), errstr.data(), errstr.size()));
  if (!producer) return make_error(ErrorCode::internal, std::string("kafka producer: ") + errstr.data());
  (void)conf->release();
  return producer;
}

Result<std::unique_ptr<KafkaLog>> KafkaLog::open(KafkaOptions options, const std::vector<std::string>& topics) {
  if (options.brokers.empty()) return make_error(ErrorCode::bad_request, "no Kafka brokers given");
  if (options.partitions < 1) return make_error(ErrorCode::bad_request, "Kafka partitions must be at least 1");
  auto log = std::make_unique<KafkaLog>(std::move(options));
  // append(): sends from all connections share produce requests, waiting
  // 5 ms at most for each other (librdkafka sends one partition a request).
  auto producer = log->make_producer("5");
  if (!producer) return std::move(producer).error();
  log->producer_ = std::move(producer).value();
  // append_many(): a step's batch is queued a partition at a time, and
  // nothing more is coming for it: it goes at once. The step waits for its
  // acknowledgements, so a linger would only add to its batch's time.
  auto batches = log->make_producer("0");
  if (!batches) return std::move(batches).error();
  log->batch_producer_ = std::move(batches).value();
  log->reporter_ = std::thread([raw = log.get()] { raw->serve_reports(raw->producer_.get()); });
  log->batch_reporter_ = std::thread([raw = log.get()] { raw->serve_reports(raw->batch_producer_.get()); });

  for (rd_kafka_t* each : {log->producer_.get(), log->batch_producer_.get()}) {
    if (auto reached = log->await_brokers(each); !reached) return std::move(reached).error();
  }
  for (const auto& topic : topics) {
    auto ensured = log->ensure_topic(log->options_.prefix + topic);
    if (!ensured) return std::move(ensured).error();
  }
  return log;
}

KafkaLog::~KafkaLog() {
  {
    std::lock_guard lock(reader_mutex_);
    // It holds no group membership and no offsets: closing only stops its fetches.
    if (reader_) (void)rd_kafka_consumer_close(reader_.get());
    reader_.reset();
  }
  stopping_.store(true);
  if (reporter_.joinable()) reporter_.join();
  if (batch_reporter_.joinable()) batch_reporter_.join();
  // Give records in flight a moment (2 s for both producers), then fail the
  // rest: every callback runs exactly once, and none is a false
  // acknowledgement.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (rd_kafka_t* producer : {producer_.get(), batch_producer_.get()}) {
    if (producer == nullptr) continue;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    (void)rd_kafka_flush(producer, to_ms(std::max(left, std::chrono::milliseconds(0))));
    (void)rd_kafka_purge(producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    (void)rd_kafka_flush(producer, 0);
    while (rd_kafka_outq_len(producer) > 0 && rd_kafka_poll(producer, 100) >= 0) {
    }
  }
}

void KafkaLog::serve_reports(rd_kafka_t* producer) {
  while (!stopping_.load()) rd_kafka_poll(producer, 100);
}

void KafkaLog::on_error(rd_kafka_t* /*rk*/, int err, const char* reason, void* opaque) {
  const auto code = static_cast<rd_kafka_resp_err_t>(err);
  log_error(code, reason);
  if (std::string refused = refusal(code, reason); !refused.empty()) {
    auto* self = static_cast<KafkaLog*>(opaque);
    std::lock_guard lock(self->refusal_mutex_);
    self->refusal_ = std::move(refused);
  }
}

std::string KafkaLog::last_refusal() const {
  std::lock_guard lock(refusal_mutex_);
  return refusal_;
}

Result<void> KafkaLog::await_brokers(rd_kafka_t* producer) {
  const auto deadline = std::chrono::steady_clock::now() + options_.admin_timeout;
  for (;;) {
    const rd_kafka_metadata_t* raw = nullptr;
    // No topic named: a broker's answer is all this asks for.
    const rd_kafka_resp_err_t err = rd_kafka_metadata(producer, 0, nullptr, &raw, to_ms(kConnectSlice));
    MetadataPtr metadata(raw);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Ok{};
    if (std::string refused = last_refusal(); !refused.empty()) {
      return make_error(ErrorCode::unavailable, "kafka: " + refused);
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return to_error(err, "kafka: no broker of " + options_.brokers + " answered within " +
                               std::to_string(options_.admin_timeout.count()) + " ms");
    }
  }
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
  const bool keep = std::any_of(options_.kept_topics.begin(), options_.kept_topics.end(),
                                [&](const std::string& topic) { return options_.prefix + topic == name; });
  if (keep) {
    for (const char* setting : {"retention.ms", "retention.bytes"}) {
      if (const rd_kafka_resp_err_t err = rd_kafka_NewTopic_set_config(new_topic.get(), setting, "-1");
          err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return to_error(err, "kafka topic " + name + ": " + setting);
      }
    }
  }
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

void KafkaLog::append_many(std::string_view topic, std::vector<Record> records) {
  if (records.empty()) return;
  const std::string name = options_.prefix + std::string(topic);
  auto partitions = ensure_topic(name);
  rd_kafka_topic_t* handle = nullptr;
  if (partitions) {
    std::lock_guard lock(topics_mutex_);
    auto [it, added] = batch_topics_.try_emplace(name);
    if (added) it->second.reset(rd_kafka_topic_new(batch_producer_.get(), name.c_str(), nullptr));
    handle = it->second.get();
    if (handle == nullptr) batch_topics_.erase(it);
  }
  if (!partitions || handle == nullptr) {
    const Error error =
        partitions ? make_error(ErrorCode::internal, "kafka topic handle for " + name) : std::move(partitions).error();
    for (auto& r : records) r.done(error);
    return;
  }
  // Each partition's records in one call, in their order, so that the
  // producer's thread finds them queued together.
  std::map<int, std::vector<rd_kafka_message_t>> by_partition;
  for (auto& r : records) {
    rd_kafka_message_t m{};
    m.payload = r.value.data();
    m.len = r.value.size();
    m.key = r.key.data();
    m.key_len = r.key.size();
    m._private = new ports::AppendCallback(std::move(r.done));  // owned by the delivery report (on_delivery)
    by_partition[partition_of(r.key, *partitions)].push_back(m);
  }
  for (auto& [partition, messages] : by_partition) {
    const int queued = rd_kafka_produce_batch(handle, partition, RD_KAFKA_MSG_F_COPY, messages.data(),
                                              static_cast<int>(messages.size()));
    if (queued == static_cast<int>(messages.size())) continue;
    // Not queued (the local queue is full, or the producer failed for
    // good): their delivery reports will never come, so fail them here.
    for (auto& m : messages) {
      if (m.err == RD_KAFKA_RESP_ERR_NO_ERROR) continue;
      std::unique_ptr<ports::AppendCallback> done(static_cast<ports::AppendCallback*>(m._private));
      (*done)(to_error(m.err, "kafka send"));
    }
  }
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

Result<void> KafkaLog::ensure_partition(const std::string& name, int partition) {
  auto partitions = ensure_topic(name);
  if (!partitions) return std::move(partitions).error();
  if (partition < 0 || partition >= *partitions) {
    return make_error(ErrorCode::bad_request, "kafka: " + name + " has no partition " + std::to_string(partition));
  }
  return Ok{};
}

Result<std::uint64_t> KafkaLog::high_watermark(const std::string& name, int partition) {
  // Just after creation the partition's leader may not be known yet (or
  // not know it leads): ask again until it answers, within the admin
  // timeout. A broker that does not answer at all fails at once.
  const auto deadline = std::chrono::steady_clock::now() + options_.admin_timeout;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    std::int64_t low = 0;
    std::int64_t high = 0;
    const rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
        producer_.get(), name.c_str(), partition, &low, &high, to_ms(std::max(left, std::chrono::milliseconds(1))));
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return static_cast<std::uint64_t>(std::max<std::int64_t>(high, 0));
    const bool settling = err == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
                          err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
                          err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                          err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION || err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
    if (!settling || std::chrono::steady_clock::now() >= deadline) {
      // The partition was checked: an unknown one here means Kafka is not ready, not a bad request.
      return make_error(ErrorCode::unavailable, "kafka: end of " + name + ": " + rd_kafka_err2str(err));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // metadata propagation; no event to wait on
    if (err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION || err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
      // The handle's cache can hold a topic created a moment ago as it
      // was before (no partitions) and keep it so: ask for the topic itself.
      TopicPtr topic(rd_kafka_topic_new(producer_.get(), name.c_str(), nullptr));
      const rd_kafka_metadata_t* raw = nullptr;
      if (topic) (void)rd_kafka_metadata(producer_.get(), 0, topic.get(), &raw, to_ms(kConnectSlice));
      MetadataPtr metadata(raw);
    }
  }
}

Result<std::uint64_t> KafkaLog::end_offset(std::string_view topic, int partition) {
  const std::string name = options_.prefix + std::string(topic);
  if (auto ensured = ensure_partition(name, partition); !ensured) return std::move(ensured).error();
  return high_watermark(name, partition);
}

Result<std::vector<ports::LogRecord>> KafkaLog::read(std::string_view topic, int partition, std::uint64_t from,
                                                     std::size_t max) {
  const std::string name = options_.prefix + std::string(topic);
  if (auto ensured = ensure_partition(name, partition); !ensured) return std::move(ensured).error();
  if (max == 0) return std::vector<ports::LogRecord>{};
  // The end is fixed first, so that a read ends even while appends go on,
  // and a read at the end answers without a fetch.
  auto until = high_watermark(name, partition);
  if (!until) return std::move(until).error();
  if (from >= *until) return std::vector<ports::LogRecord>{};

  std::lock_guard lock(reader_mutex_);
  auto reader = reader_locked();
  if (!reader) return std::move(reader).error();
  PartitionListPtr assignment(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(assignment.get(), name.c_str(), partition)->offset =
      static_cast<std::int64_t>(from);
  if (const rd_kafka_resp_err_t err = rd_kafka_assign(*reader, assignment.get()); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return to_error(err, "kafka: reading " + name);
  }
  auto records = poll_reader_locked(topic, name, partition, from, *until, max);
  // Unassigned between reads, so that it fetches nothing nobody asked for.
  (void)rd_kafka_assign(*reader, nullptr);
  return records;
}

Result<void> KafkaLog::probe(std::chrono::milliseconds timeout) {
  std::vector<std::string> names;
  {
    std::lock_guard lock(topics_mutex_);
    for (const auto& [name, partitions] : topics_) names.push_back(name);
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (const auto& name : names) {
    TopicPtr topic(rd_kafka_topic_new(producer_.get(), name.c_str(), nullptr));
    if (!topic) return make_error(ErrorCode::internal, "kafka topic handle for " + name);
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    const rd_kafka_metadata_t* raw = nullptr;
    const rd_kafka_resp_err_t err =
        rd_kafka_metadata(producer_.get(), 0, topic.get(), &raw, to_ms(std::max(left, std::chrono::milliseconds(1))));
    MetadataPtr metadata(raw);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return to_error(err, "kafka metadata for " + name);
    if (!metadata || metadata->topic_cnt != 1) {
      return make_error(ErrorCode::unavailable, "kafka metadata for " + name + ": the topic is missing");
    }
    const rd_kafka_metadata_topic_t& t = metadata->topics[0];
    if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) return to_error(t.err, "kafka metadata for " + name);
    // A partition without a leader takes no sends. (A partition may also
    // report REPLICA_NOT_AVAILABLE while its leader serves: not a failure.)
    for (int i = 0; i < t.partition_cnt; ++i) {
      if (t.partitions[i].leader < 0) {
        return make_error(ErrorCode::unavailable,
                          "kafka: partition " + std::to_string(t.partitions[i].id) + " of " + name + " has no leader");
      }
    }
  }
  return Ok{};
}

Result<rd_kafka_t*> KafkaLog::reader_locked() {
  if (reader_) return reader_.get();
  // After the settings every client shares (client_settings):
  Settings settings = {
      // Required of a consumer, but never joined: the reader only assigns
      // partitions to itself and never commits.
      {"group.id", options_.prefix + "parley-reader"},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      // Reaching the end of the partition is an event, so a read ends
      // there instead of waiting out a timeout.
      {"enable.partition.eof", "true"},
      // A `from` that retention already removed reads from the oldest record left.
      {"auto.offset.reset", "earliest"},
      {"fetch.wait.max.ms", "100"},
      {"reconnect.backoff.ms", "100"},
      {"reconnect.backoff.max.ms", "1000"},
  };
  auto conf = make_conf(client_settings(options_, std::move(settings)));
  if (!conf) return std::move(conf).error();
  route_logs(conf->get());
  std::array<char, 512> errstr{};
  reader_.reset(rd_kafka_new(RD_KAFKA_CONSUMER, conf->get(), errstr.data(), errstr.size()));
  if (!reader_) return make_error(ErrorCode::internal, std::string("kafka reader: ") + errstr.data());
  (void)conf->release();  // taken by rd_kafka_new
  // Errors and logs are served by the consumer polls too.
  (void)rd_kafka_poll_set_consumer(reader_.get());
  return reader_.get();
}

Result<std::vector<ports::LogRecord>> KafkaLog::poll_reader_locked(std::string_view topic, const std::string& name,
                                                                   int partition, std::uint64_t from,
                                                                   std::uint64_t until, std::size_t max) {
  using Clock = std::chrono::steady_clock;
  std::vector<ports::LogRecord> out;
  std::uint64_t next = from;  // the lowest offset still wanted
  // A broker that stops answering must not hang the read: it fails when no
  // record came for the admin timeout.
  auto deadline = Clock::now() + options_.admin_timeout;
  while (out.size() < max && next < until) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return make_error(ErrorCode::unavailable, "kafka: reading " + name + " timed out");
    MessagePtr message(
        rd_kafka_consumer_poll(reader_.get(), to_ms(std::clamp(left, std::chrono::milliseconds(0), kReadSlice))));
    if (!message) continue;
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR && message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      return make_error(ErrorCode::unavailable,
                        "kafka: reading " + name + ": " + rd_kafka_message_errstr(message.get()));
    }
    // Anything of an earlier assignment, or before `from`, is not this read's.
    const bool ours = message->rkt != nullptr && name == rd_kafka_topic_name(message->rkt) &&
                      message->partition == partition && message->offset >= 0;
    if (!ours) continue;
    if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) break;
    if (static_cast<std::uint64_t>(message->offset) < next) continue;
    if (static_cast<std::uint64_t>(message->offset) >= until) break;
    ports::LogRecord record;
    record.topic = std::string(topic);
    record.partition = partition;
    record.offset = static_cast<std::uint64_t>(message->offset);
    if (message->key != nullptr) record.key.assign(static_cast<const char*>(message->key), message->key_len);
    if (message->payload != nullptr) record.value.assign(static_cast<const char*>(message->payload), message->len);
    next = record.offset + 1;
    out.push_back(std::move(record));
    deadline = Clock::now() + options_.admin_timeout;
  }
  return out;
}

}  // namespace parley::kafka
