#pragma once
// Metrics: the server's counters, gauges and histograms, and their rendering
// in the Prometheus text exposition format (version 0.0.4) for GET /metrics
// (docs/OPERATIONS.md, "Metrics", lists every metric).
//
// Built on prometheus-cpp's core (a Registry of metric families, rendered by
// its TextSerializer); parleyd serves the text on its own listener. One
// Metrics is made by main() and handed by reference to the gateway and the
// pipeline steps.
//
// The hot path never looks a label up: every series a component counts is
// resolved once, when the component is built (the accessors below that take
// a name do that, under the registry's lock), and the component keeps the
// reference. Counting is then one atomic add, and a component with a batch
// in hand adds the batch's count once (Increment(n)).
//
// The process metrics (process_cpu_seconds_total,
// process_resident_memory_bytes) are read from /proc/self at each render,
// not kept.

#include <array>
#include <cstddef>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "core/result.hpp"

namespace parley {

// The requests of one kind (a WebSocket op, an HTTP route) by outcome: "ok",
// or the protocol's error code they were answered with.
class RequestOutcomes {
 public:
  static constexpr std::size_t kCodes = static_cast<std::size_t>(ErrorCode::internal) + 1;  // ErrorCode's values

  void ok(double n = 1) { ok_->Increment(n); }
  void failed(ErrorCode code, double n = 1) { errors_[static_cast<std::size_t>(code)]->Increment(n); }

 private:
  friend class Metrics;
  prometheus::Counter* ok_ = nullptr;
  std::array<prometheus::Counter*, kCodes> errors_{};
};

// One pipeline step's series (label step).
struct StepMetrics {
  prometheus::Histogram* batch_seconds = nullptr;  // poll to commit of each batch, retries included
  prometheus::Counter* records = nullptr;          // records handled
  prometheus::Counter* batch_failures = nullptr;   // failed tries of a batch (each retried)
  prometheus::Gauge* lag = nullptr;                // records behind the log's end, when the log tells
};

class Metrics {
 public:
  // The Content-Type of render()'s text.
  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

  // Why a connection was refused (label reason of
  // parley_connections_refused_total).
  enum class Refusal { server_full, address_full, user_full, devices_full };
  // Which limit refused a request (label limit of
  // parley_rate_limited_total).
  enum class Limit { connection_rate, user_rate, rooms_per_hour, login };

  Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Every metric, in the text exposition format: runs the render hooks
  // first, then reads the process metrics. Thread-safe.
  [[nodiscard]] std::string render();

  // A function render() runs before it reads the metrics, to set gauges
  // that are cheaper to read when asked than to keep current (a pipeline
  // step's lag); it runs on the scraping thread and must not block long.
  // Runs until the Hook is destroyed, which must happen before this
  // Metrics is.
  class Hook {
   public:
    Hook() = default;
    Hook(Hook&& other) noexcept { *this = std::move(other); }
    Hook& operator=(Hook&& other) noexcept;
    Hook(const Hook&) = delete;
    Hook& operator=(const Hook&) = delete;
    ~Hook();

   private:
    friend class Metrics;
    Metrics* owner_ = nullptr;
    std::list<std::function<void()>>::iterator it_;
  };
  [[nodiscard]] Hook on_render(std::function<void()> hook);

  // The series of requests of `op` over `transport` ("websocket" or
  // "http"); the same object for the same labels. At start-up only (it
  // takes the registry's lock); the reference lives as long as this.
  [[nodiscard]] RequestOutcomes& requests(std::string_view transport, std::string_view op);
  // The series of pipeline step `step`; at start-up only, as requests().
  // `with_lag`: also the lag gauge (for a log that can tell it).
  [[nodiscard]] StepMetrics step(std::string_view step, bool with_lag);

  // Connections open now, by kind: a connection is "http" until it becomes
  // a WebSocket.
  prometheus::Gauge& http_open() noexcept { return *http_open_; }
  prometheus::Gauge& websockets_open() noexcept { return *websockets_open_; }
  prometheus::Counter& connections_accepted() noexcept { return *accepted_; }
  prometheus::Counter& connections_refused(Refusal why) noexcept { return *refused_[static_cast<std::size_t>(why)]; }
  prometheus::Counter& rate_limited(Limit limit) noexcept { return *limited_[static_cast<std::size_t>(limit)]; }
  // Sends answered with their message id.
  prometheus::Counter& sends_acknowledged() noexcept { return *sends_acknowledged_; }
  // Event frames handed to device connections (messages, receipts, typing,
  // presence, channel posts), one per device.
  prometheus::Counter& deliveries() noexcept { return *deliveries_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_family_;
  prometheus::Family<prometheus::Histogram>* batch_seconds_family_;
  prometheus::Family<prometheus::Counter>* step_records_family_;
  prometheus::Family<prometheus::Counter>* step_failures_family_;
  prometheus::Family<prometheus::Gauge>* step_lag_family_;
  prometheus::Gauge* http_open_;
  prometheus::Gauge* websockets_open_;
  prometheus::Counter* accepted_;
  std::array<prometheus::Counter*, 4> refused_{};
  std::array<prometheus::Counter*, 4> limited_{};
  prometheus::Counter* sends_acknowledged_;
  prometheus::Counter* deliveries_;
  std::mutex mutex_;  // guards outcomes_, outcome_store_ and hooks_
  std::list<std::function<void()>> hooks_;
  std::map<std::pair<std::string, std::string>, RequestOutcomes*> outcomes_;
  std::deque<RequestOutcomes> outcome_store_;  // stable addresses for outcomes_
};

// Adds one to `gauge` for the life of the object (a connection open now).
class GaugeHold {
 public:
  GaugeHold() = default;
  explicit GaugeHold(prometheus::Gauge& gauge) : gauge_(&gauge) { gauge_->Increment(); }
  GaugeHold(GaugeHold&& other) noexcept : gauge_(std::exchange(other.gauge_, nullptr)) {}
  GaugeHold& operator=(GaugeHold&& other) noexcept {
    if (this != &other) {
      release();
      gauge_ = std::exchange(other.gauge_, nullptr);
    }
    return *this;
  }
  GaugeHold(const GaugeHold&) = delete;
  GaugeHold& operator=(const GaugeHold&) = delete;
  ~GaugeHold() { release(); }
  // Takes the one away now (idempotent).
  void release() noexcept {
    if (gauge_ != nullptr) std::exchange(gauge_, nullptr)->Decrement();
  }

 private:
  prometheus::Gauge* gauge_ = nullptr;
};

}  // namespace parley
