#include "adapters/kafka/kafka_handles.hpp"

#include <array>
#include <iterator>

#include "core/log.hpp"

namespace parley::kafka {

Settings client_settings(const KafkaOptions& options, Settings own) {
  Settings settings = {
      {"bootstrap.servers", options.brokers},
      {"client.id", "parley"},
      {"security.protocol", options.security.protocol},
  };
  const KafkaSecurity& security = options.security;
  if (security.protocol.starts_with("sasl_")) {
    settings.emplace_back("sasl.mechanisms", security.sasl_mechanism);
    settings.emplace_back("sasl.username", security.user);
    settings.emplace_back("sasl.password", security.password);
  }
  if (security.protocol.ends_with("ssl") && !security.ca_file.empty()) {
    settings.emplace_back("ssl.ca.location", security.ca_file);
  }
  settings.insert(settings.end(), std::make_move_iterator(own.begin()), std::make_move_iterator(own.end()));
  return settings;
}

Result<ConfPtr> make_conf(const Settings& settings) {
  ConfPtr conf(rd_kafka_conf_new());
  std::array<char, 512> errstr{};
  for (const auto& [name, value] : settings) {
    if (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), errstr.data(), errstr.size()) != RD_KAFKA_CONF_OK) {
      const bool secret = name.find("password") != std::string::npos;
      return make_error(ErrorCode::internal,
                        "kafka setting " + name + (secret ? "" : "=" + value) + ": " + errstr.data());
    }
  }
  return conf;
}

namespace {

void on_log(const rd_kafka_t* /*rk*/, int level, const char* facility, const char* line) {
  // syslog levels: 0-3 errors, 4 warnings, 5-6 notices and info, 7 debug.
  const log::Level parley_level = level <= 3   ? log::Level::error
                                  : level == 4 ? log::Level::warn
                                  : level <= 6 ? log::Level::info
                                               : log::Level::debug;
  if (!log::enabled(parley_level)) return;
  log::write(parley_level, "kafka", std::string(facility) + ": " + line);
}

void on_error(rd_kafka_t* /*rk*/, int err, const char* reason, void* /*opaque*/) {
  log_error(static_cast<rd_kafka_resp_err_t>(err), reason);
}

}  // namespace

void route_logs(rd_kafka_conf_t* conf) {
  rd_kafka_conf_set_log_cb(conf, on_log);
  rd_kafka_conf_set_error_cb(conf, on_error);
}

void log_error(rd_kafka_resp_err_t err, const char* reason) {
  // Brokers going away and coming back are expected (a restart); sends fail
  // or wait on their own timeouts, so these are warnings only. Refused
  // credentials and failed TLS handshakes are not mended by waiting.
  const bool severe = err == RD_KAFKA_RESP_ERR__FATAL || !refusal(err, reason).empty();
  log::write(severe ? log::Level::error : log::Level::warn, "kafka",
             std::string(rd_kafka_err2name(err)) + ": " + reason);
}

std::string refusal(rd_kafka_resp_err_t err, std::string_view reason) {
  switch (err) {
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED: return "authentication failed: " + std::string(reason);
    case RD_KAFKA_RESP_ERR__SSL: return "TLS failed: " + std::string(reason);
    default: return {};
  }
}

Error to_error(rd_kafka_resp_err_t err, std::string_view what) {
  std::string message = std::string(what) + ": " + rd_kafka_err2str(err);
  switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE: return make_error(ErrorCode::too_large, std::move(message));
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR__INVALID_ARG: return make_error(ErrorCode::bad_request, std::move(message));
    default: return make_error(ErrorCode::unavailable, std::move(message));
  }
}

int partition_of(std::string_view key, int partitions) noexcept {
  // Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2): Java's
  // int arithmetic with >>> is uint32 arithmetic here.
  constexpr std::uint32_t seed = 0x9747b28c;
  constexpr std::uint32_t m = 0x5bd1e995;
  constexpr int r = 24;
  const auto* data = reinterpret_cast<const unsigned char*>(key.data());
  const std::size_t length = key.size();
  std::uint32_t h = seed ^ static_cast<std::uint32_t>(length);
  const std::size_t words = length / 4;
  for (std::size_t i = 0; i < words; ++i) {
    const std::size_t i4 = i * 4;
    std::uint32_t k = static_cast<std::uint32_t>(data[i4]) | (static_cast<std::uint32_t>(data[i4 + 1]) << 8) |
                      (static_cast<std::uint32_t>(data[i4 + 2]) << 16) |
                      (static_cast<std::uint32_t>(data[i4 + 3]) << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  const std::size_t tail = length & ~std::size_t{3};
  switch (length % 4) {
    case 3: h ^= static_cast<std::uint32_t>(data[tail + 2]) << 16; [[fallthrough]];
    case 2: h ^= static_cast<std::uint32_t>(data[tail + 1]) << 8; [[fallthrough]];
    case 1:
      h ^= static_cast<std::uint32_t>(data[tail]);
      h *= m;
      break;
    default: break;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return static_cast<int>((h & 0x7fffffffU) % static_cast<std::uint32_t>(partitions));
}

}  // namespace parley::kafka
