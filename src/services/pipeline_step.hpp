#pragma once
// A pipeline step: one consumer group on one log topic, run on its own thread.
//
// The loop is: poll a batch, hand it to the handler, and commit each
// partition's offset only once the handler has made its effects durable. A
// handler that fails gets the same batch again (after a backoff) until it
// succeeds, so a step never skips a record; handlers are idempotent, so a
// batch processed twice (here, or after a crash before the commit) writes
// nothing twice.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/metrics.hpp"
#include "core/result.hpp"
#include "ports/message_log.hpp"

namespace parley::services {

// A record for append_all(): its key and value.
struct Append {
  std::string key;
  std::string value;
};

// Appends every record to `topic` at once; wait() waits until the log has
// made them all durable, so that a step can do other work meanwhile (the
// store writer flushes the store while the log syncs its inbox records).
class AppendGroup {
 public:
  AppendGroup(ports::MessageLog& log, std::string_view topic, std::vector<Append> records);
  // The records' offsets, in the order given, or the first failure (some
  // may have been written then: a step's retry must cope).
  [[nodiscard]] Result<std::vector<std::uint64_t>> wait();

 private:
  struct State;
  std::shared_ptr<State> state_;  // shared with the appends' callbacks, which may outlive this
};

// AppendGroup(log, topic, records).wait().
[[nodiscard]] Result<std::vector<std::uint64_t>> append_all(ports::MessageLog& log, std::string_view topic,
                                                            std::vector<Append> records);

class BatchHandler {
 public:
  virtual ~BatchHandler() = default;
  [[nodiscard]] virtual Result<void> process(std::span<const ports::LogRecord> batch) = 0;

  // Called before process() whenever the consumer's ownership generation
  // (LogConsumer::generation) differs from the one the handler was last
  // told, and before the first batch: the batches that follow belong to
  // `generation`. A handler that keeps state about the partitions it owns
  // drops it here; the others need not override this.
  virtual void on_generation(std::uint64_t generation) { (void)generation; }
};

class PipelineStep {
 public:
  struct Options {
    std::size_t max_batch = 1024;
    std::chrono::milliseconds poll_timeout{500};
    std::chrono::milliseconds max_backoff{1000};
    // Polls at most once per interval: a step that pays per batch rather
    // than per record (the search indexer) takes what an interval brought
    // in one batch. Zero: poll again at once.
    std::chrono::milliseconds min_interval{0};
    // Where the step counts its batches (GET /metrics: label step = its
    // name); null: nowhere.
    Metrics* metrics = nullptr;
  };

  PipelineStep(std::string name, std::unique_ptr<ports::LogConsumer> consumer, BatchHandler& handler, Options options);
  ~PipelineStep();
  PipelineStep(const PipelineStep&) = delete;
  PipelineStep& operator=(const PipelineStep&) = delete;

  // Before start(): the step first handles, with `handler`, every record
  // `backlog` holds (until a poll finds none), committing as it goes, and
  // only then polls its own consumer. For records an earlier version left
  // in a topic this pipeline no longer writes (the embedded log's "inboxes",
  // node.cpp), so that they are handled before anything that follows them.
  void drain_first(std::unique_ptr<ports::LogConsumer> backlog, BatchHandler& handler);

  void start();
  // Finishes the batch in hand (committing it) and joins the thread.
  void stop();
  // Whether the step's thread is in its loop: from start() until stop() (or
  // the loop ended any other way). Any thread.
  [[nodiscard]] bool running() const noexcept { return running_.load(std::memory_order_acquire); }

 private:
  void run();
  // Polls `consumer` for a batch (waiting up to `timeout`) and, if one came,
  // has `handler` process it until it succeeds, then commits it. False if
  // stopping (the batch in hand uncommitted); `empty` says whether the poll
  // found nothing.
  bool step(ports::LogConsumer& consumer, BatchHandler& handler, std::chrono::milliseconds timeout,
            std::optional<std::uint64_t>& told, bool& empty);
  // Waits for `d` unless stop() is called first; false if stopping.
  bool backoff(std::chrono::milliseconds d);

  std::string name_;
  std::unique_ptr<ports::LogConsumer> consumer_;
  BatchHandler& handler_;
  std::unique_ptr<ports::LogConsumer> backlog_;  // drain_first(); null once drained
  BatchHandler* backlog_handler_ = nullptr;
  Options options_;
  std::optional<std::uint64_t> generation_;  // the last one handler_ was told; the step thread's
  StepMetrics metrics_;                      // all null without Options::metrics
  Metrics::Hook lag_hook_;                   // sets metrics_.lag at each scrape, where the log tells it
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> running_{false};
  std::mutex mutex_;  // guards nothing but the wait in backoff()
  std::condition_variable cv_;
};

}  // namespace parley::services
