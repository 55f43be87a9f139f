#include "core/metrics.hpp"

#include <unistd.h>

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>
#include <fstream>
#include <sstream>
#include <vector>

namespace parley {

namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

// Batch latencies from half a millisecond (an in-memory hop) to ten seconds
// (an engine timing out and retried).
const prometheus::Histogram::BucketBoundaries kBatchBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                               0.1,    0.25,  0.5,    1,     2.5,  5,     10};

constexpr std::array<const char*, 4> kRefusals = {"server_full", "address_full", "user_full", "devices_full"};
constexpr std::array<const char*, 4> kLimits = {"connection_rate", "user_rate", "rooms_per_hour", "login"};

prometheus::MetricFamily one_value(std::string name, std::string help, prometheus::MetricType type, double value) {
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  return {std::move(name), std::move(help), type, {std::move(metric)}};
}

// The process's CPU time (user and system) and resident set, from
// /proc/self/stat and /proc/self/statm (proc(5)); nothing where /proc
// cannot be read.
void add_process_metrics(std::vector<prometheus::MetricFamily>& out) {
  std::ifstream stat("/proc/self/stat");
  std::string line;
  if (std::getline(stat, line)) {
    // The command name (field 2) is in parentheses and may hold spaces:
    // the fields after it are counted from its closing one. utime and
    // stime are fields 14 and 15, the 12th and 13th after it.
    const auto close = line.rfind(')');
    if (close != std::string::npos) {
      std::istringstream fields(line.substr(close + 1));
      std::string field;
      double utime = 0;
      double stime = 0;
      for (int i = 1; i <= 13 && fields >> field; ++i) {
        if (i == 12) utime = std::stod(field);
        if (i == 13) stime = std::stod(field);
      }
      const long ticks = sysconf(_SC_CLK_TCK);
      if (fields && ticks > 0) {
        out.push_back(one_value("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                                prometheus::MetricType::Counter, (utime + stime) / static_cast<double>(ticks)));
      }
    }
  }
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size = 0;
  std::uint64_t resident = 0;
  if (statm >> size >> resident) {
    const long page = sysconf(_SC_PAGESIZE);
    out.push_back(one_value("process_resident_memory_bytes", "Resident memory size in bytes.",
                            prometheus::MetricType::Gauge,
                            static_cast<double>(resident) * static_cast<double>(page > 0 ? page : 4096)));
  }
}

}  // namespace

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  auto& open = BuildGauge()
                   .Name("parley_connections_open")
                   .Help("Client connections open now, by kind (http until upgraded to a websocket)")
                   .Register(*registry_);
  http_open_ = &open.Add({{"kind", "http"}});
  websockets_open_ = &open.Add({{"kind", "websocket"}});
  accepted_ = &BuildCounter()
                   .Name("parley_connections_accepted_total")
                   .Help("TCP connections accepted under the connection limits")
                   .Register(*registry_)
                   .Add({});
  auto& refused =
      BuildCounter()
          .Name("parley_connections_refused_total")
          .Help(
              "Connections refused by a connection limit (at accept: server_full, address_full; at the WebSocket "
              "upgrade: user_full, devices_full)")
          .Register(*registry_);
  for (std::size_t i = 0; i < kRefusals.size(); ++i) refused_[i] = &refused.Add({{"reason", kRefusals[i]}});
  auto& limited = BuildCounter()
                      .Name("parley_rate_limited_total")
                      .Help("Requests refused with rate_limited, by the limit that refused them")
                      .Register(*registry_);
  for (std::size_t i = 0; i < kLimits.size(); ++i) limited_[i] = &limited.Add({{"limit", kLimits[i]}});
  requests_family_ = &BuildCounter()
                          .Name("parley_requests_total")
                          .Help(
                              "Requests answered, by transport, op (WebSocket op or HTTP route) and outcome (ok or "
                              "the error code)")
                          .Register(*registry_);
  sends_acknowledged_ = &BuildCounter()
                             .Name("parley_sends_acknowledged_total")
                             .Help("Sends answered with their message id (durable and sequenced)")
                             .Register(*registry_)
                             .Add({});
  deliveries_ = &BuildCounter()
                     .Name("parley_deliveries_total")
                     .Help("Event frames handed to device connections, one per device")
                     .Register(*registry_)
                     .Add({});
  batch_seconds_family_ = &BuildHistogram()
                               .Name("parley_pipeline_batch_seconds")
                               .Help("Time from a pipeline step's poll of a batch to its commit, retries included")
                               .Register(*registry_);
  step_records_family_ = &BuildCounter()
                              .Name("parley_pipeline_records_total")
                              .Help("Log records a pipeline step has handled and committed")
                              .Register(*registry_);
  step_failures_family_ = &BuildCounter()
                               .Name("parley_pipeline_batch_failures_total")
                               .Help(
                                   "Failed tries of a pipeline step's batch (each is retried; an engine down or a "
                                   "full disk fails every try)")
                               .Register(*registry_);
  step_lag_family_ = &BuildGauge()
                          .Name("parley_pipeline_lag_records")
                          .Help("Records of a pipeline step's topic not yet committed by its consumer group")
                          .Register(*registry_);
}

RequestOutcomes& Metrics::requests(std::string_view transport, std::string_view op) {
  std::lock_guard lock(mutex_);
  auto key = std::pair{std::string(transport), std::string(op)};
  if (auto it = outcomes_.find(key); it != outcomes_.end()) return *it->second;
  RequestOutcomes& made = outcome_store_.emplace_back();
  const prometheus::Labels labels = {{"transport", key.first}, {"op", key.second}};
  auto with = [&labels](std::string_view outcome) {
    auto l = labels;
    l.emplace("outcome", std::string(outcome));
    return l;
  };
  made.ok_ = &requests_family_->Add(with("ok"));
  for (std::size_t i = 0; i < RequestOutcomes::kCodes; ++i) {
    made.errors_[i] = &requests_family_->Add(with(to_string(static_cast<ErrorCode>(i))));
  }
  outcomes_.emplace(std::move(key), &made);
  return made;
}

StepMetrics Metrics::step(std::string_view step, bool with_lag) {
  const prometheus::Labels labels = {{"step", std::string(step)}};
  StepMetrics out;
  out.batch_seconds = &batch_seconds_family_->Add(labels, kBatchBuckets);
  out.records = &step_records_family_->Add(labels);
  out.batch_failures = &step_failures_family_->Add(labels);
  if (with_lag) out.lag = &step_lag_family_->Add(labels);
  return out;
}

Metrics::Hook& Metrics::Hook::operator=(Hook&& other) noexcept {
  if (this != &other) {
    if (owner_ != nullptr) {
      std::lock_guard lock(owner_->mutex_);
      owner_->hooks_.erase(it_);
    }
    owner_ = std::exchange(other.owner_, nullptr);
    it_ = other.it_;
  }
  return *this;
}

Metrics::Hook::~Hook() {
  if (owner_ == nullptr) return;
  std::lock_guard lock(owner_->mutex_);
  owner_->hooks_.erase(it_);
  owner_ = nullptr;
}

Metrics::Hook Metrics::on_render(std::function<void()> hook) {
  std::lock_guard lock(mutex_);
  Hook out;
  out.owner_ = this;
  out.it_ = hooks_.insert(hooks_.end(), std::move(hook));
  return out;
}

std::string Metrics::render() {
  {
    std::lock_guard lock(mutex_);
    for (const auto& hook : hooks_) hook();
  }
  auto families = registry_->Collect();
  add_process_metrics(families);
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace parley
