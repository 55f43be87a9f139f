#pragma once
// Owning handles for librdkafka objects, and the few helpers every part of
// the Kafka adapter shares: building a configuration, mapping errors to the
// ports' error codes, and the partitioner.
//
// librdkafka is a C API; every object it hands out is wrapped in a
// unique_ptr with its destroy function here, so that no path leaks one.

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adapters/kafka/kafka_options.hpp"
#include "core/result.hpp"

namespace parley::kafka {

struct KafkaDeleter {
  void operator()(rd_kafka_t* p) const noexcept { rd_kafka_destroy(p); }
  void operator()(rd_kafka_conf_t* p) const noexcept { rd_kafka_conf_destroy(p); }
  void operator()(rd_kafka_queue_t* p) const noexcept { rd_kafka_queue_destroy(p); }
  void operator()(rd_kafka_event_t* p) const noexcept { rd_kafka_event_destroy(p); }
  void operator()(rd_kafka_message_t* p) const noexcept { rd_kafka_message_destroy(p); }
  void operator()(rd_kafka_topic_partition_list_t* p) const noexcept { rd_kafka_topic_partition_list_destroy(p); }
  void operator()(rd_kafka_NewTopic_t* p) const noexcept { rd_kafka_NewTopic_destroy(p); }
  void operator()(rd_kafka_AdminOptions_t* p) const noexcept { rd_kafka_AdminOptions_destroy(p); }
  void operator()(rd_kafka_topic_t* p) const noexcept { rd_kafka_topic_destroy(p); }
  void operator()(const rd_kafka_metadata_t* p) const noexcept { rd_kafka_metadata_destroy(p); }
  void operator()(rd_kafka_error_t* p) const noexcept { rd_kafka_error_destroy(p); }
};

using HandlePtr = std::unique_ptr<rd_kafka_t, KafkaDeleter>;
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, KafkaDeleter>;
using QueuePtr = std::unique_ptr<rd_kafka_queue_t, KafkaDeleter>;
using EventPtr = std::unique_ptr<rd_kafka_event_t, KafkaDeleter>;
using MessagePtr = std::unique_ptr<rd_kafka_message_t, KafkaDeleter>;
using PartitionListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, KafkaDeleter>;
using NewTopicPtr = std::unique_ptr<rd_kafka_NewTopic_t, KafkaDeleter>;
using AdminOptionsPtr = std::unique_ptr<rd_kafka_AdminOptions_t, KafkaDeleter>;
using TopicPtr = std::unique_ptr<rd_kafka_topic_t, KafkaDeleter>;
using MetadataPtr = std::unique_ptr<const rd_kafka_metadata_t, KafkaDeleter>;
using ErrorPtr = std::unique_ptr<rd_kafka_error_t, KafkaDeleter>;

using Settings = std::vector<std::pair<std::string, std::string>>;

// The settings every client of the adapter starts from (the brokers, the
// client id, and how to reach the brokers: KafkaOptions::security), then
// the client's `own`.
[[nodiscard]] Settings client_settings(const KafkaOptions& options, Settings own);

// A configuration with each (name, value) set; the error names the setting
// librdkafka refused, and its value unless it is a password.
[[nodiscard]] Result<ConfPtr> make_conf(const Settings& settings);

// Routes librdkafka's log lines and error reports to Parley's log.
void route_logs(rd_kafka_conf_t* conf);

// Logs an error librdkafka reported to the error callback, as route_logs'
// callback does (for a client that sets a callback of its own).
void log_error(rd_kafka_resp_err_t err, const char* reason);

// What an error librdkafka reported to the error callback means when no
// retry mends it: the brokers refused the SASL credentials or mechanism
// ("authentication failed: ..."), or the TLS handshake failed ("TLS failed:
// ...", a certificate that does not chain to the CA, say). librdkafka only
// reports these and keeps retrying; empty for every other error.
[[nodiscard]] std::string refusal(rd_kafka_resp_err_t err, std::string_view reason);

// The ports' error for a librdkafka error: message too large is too_large,
// a bad partition bad_request, everything else (brokers down, timeouts,
// purges, fatal errors) unavailable, since a retry later may succeed.
[[nodiscard]] Error to_error(rd_kafka_resp_err_t err, std::string_view what);

// Kafka's default partitioner (murmur2 of the key, as the Java client does),
// so that any Kafka client sending with the same key picks the same
// partition as Parley.
[[nodiscard]] int partition_of(std::string_view key, int partitions) noexcept;

}  // namespace parley::kafka
