#include "services/pipeline_step.hpp"

#include <algorithm>
#include <map>
#include <optional>

#include "core/log.hpp"
#include "core/thread_name.hpp"

namespace parley::services {

struct AppendGroup::State {
  std::mutex mutex;
  std::condition_variable cv;
  std::size_t pending = 0;  // guarded by mutex, as the rest
  std::optional<Error> failure;
  std::vector<std::uint64_t> offsets;
};

AppendGroup::AppendGroup(ports::MessageLog& log, std::string_view topic, std::vector<Append> records)
    : state_(std::make_shared<State>()) {
  state_->pending = records.size();
  state_->offsets.resize(records.size());
  std::vector<ports::MessageLog::Record> many;
  many.reserve(records.size());
  for (std::size_t i = 0; i < records.size(); ++i) {
    many.push_back(
        {std::move(records[i].key), std::move(records[i].value), [state = state_, i](Result<std::uint64_t> r) {
           std::lock_guard lock(state->mutex);
           if (r) {
             state->offsets[i] = r.value();
           } else if (!state->failure) {
             state->failure = r.error();
           }
           if (--state->pending == 0) state->cv.notify_one();
         }});
  }
  log.append_many(topic, std::move(many));  // one group commit where the engine can
}

Result<std::vector<std::uint64_t>> AppendGroup::wait() {
  std::unique_lock lock(state_->mutex);
  state_->cv.wait(lock, [&] { return state_->pending == 0; });
  if (state_->failure) return *state_->failure;
  return std::move(state_->offsets);
}

Result<std::vector<std::uint64_t>> append_all(ports::MessageLog& log, std::string_view topic,
                                              std::vector<Append> records) {
  return AppendGroup(log, topic, std::move(records)).wait();
}

PipelineStep::PipelineStep(std::string name, std::unique_ptr<ports::LogConsumer> consumer, BatchHandler& handler,
                           Options options)
    : name_(std::move(name)), consumer_(std::move(consumer)), handler_(handler), options_(options) {
  if (options_.metrics != nullptr) {
    metrics_ = options_.metrics->step(name_, consumer_->lag().has_value());
    if (metrics_.lag != nullptr) {
      lag_hook_ = options_.metrics->on_render([this] {
        if (auto lag = consumer_->lag()) metrics_.lag->Set(static_cast<double>(*lag));
      });
    }
  }
}

PipelineStep::~PipelineStep() { stop(); }

void PipelineStep::start() {
  running_.store(true, std::memory_order_release);
  thread_ = std::thread([this] {
    name_this_thread(name_);
    run();
    running_.store(false, std::memory_order_release);
  });
}

void PipelineStep::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_.store(true);
  }
  cv_.notify_all();
  consumer_->wakeup();
  if (thread_.joinable()) thread_.join();
}

bool PipelineStep::backoff(std::chrono::milliseconds d) {
  std::unique_lock lock(mutex_);
  return !cv_.wait_for(lock, d, [this] { return stopping_.load(); });
}

void PipelineStep::drain_first(std::unique_ptr<ports::LogConsumer> backlog, BatchHandler& handler) {
  backlog_ = std::move(backlog);
  backlog_handler_ = &handler;
}

void PipelineStep::run() {
  if (backlog_ != nullptr) {
    // Read without waiting: a poll that finds nothing ends it. Its handler
    // is told the backlog's own generations.
    std::optional<std::uint64_t> told;
    for (bool empty = false; !empty;) {
      if (stopping_.load() || !step(*backlog_, *backlog_handler_, std::chrono::milliseconds(0), told, empty)) return;
    }
    backlog_.reset();
  }
  while (!stopping_.load()) {
    const auto polled_at = std::chrono::steady_clock::now();
    bool empty = false;
    if (!step(*consumer_, handler_, options_.poll_timeout, generation_, empty)) return;
    if (empty) continue;
    if (options_.min_interval.count() > 0) {
      const auto due = polled_at + options_.min_interval;
      const auto now = std::chrono::steady_clock::now();
      if (now < due && !backoff(std::chrono::duration_cast<std::chrono::milliseconds>(due - now))) return;
    }
  }
}

bool PipelineStep::step(ports::LogConsumer& consumer, BatchHandler& handler, std::chrono::milliseconds timeout,
                        std::optional<std::uint64_t>& told, bool& empty) {
  auto polled = consumer.poll(timeout, options_.max_batch);
  if (!polled) {
    log::warn(name_, "poll failed: " + polled.error().message);
    empty = false;
    return backoff(options_.max_backoff);
  }
  const auto& batch = polled.value();
  empty = batch.empty();
  if (empty) return true;
  const auto began = std::chrono::steady_clock::now();
  // Read after the poll: a rebalance inside it shows here.
  if (const std::uint64_t generation = consumer.generation(); told != generation) {
    told = generation;
    handler.on_generation(generation);
  }

  // Retry the batch until the handler makes it durable; never skip ahead.
  // The first failure is logged at once, then at most a line a second
  // (an engine down or a full disk fails every try).
  std::chrono::milliseconds delay{10};
  std::optional<std::chrono::steady_clock::time_point> logged;
  std::uint64_t unlogged = 0;
  for (;;) {
    auto done = handler.process(batch);
    if (done) break;
    if (metrics_.batch_failures != nullptr) metrics_.batch_failures->Increment();
    const auto now = std::chrono::steady_clock::now();
    if (!logged || now - *logged >= std::chrono::seconds(1)) {
      std::string line = "batch of " + std::to_string(batch.size()) + " failed, retrying: " + done.error().message;
      if (unlogged > 0) line += " (" + std::to_string(unlogged) + " more failed tries since the last line)";
      log::warn(name_, line);
      logged = now;
      unlogged = 0;
    } else {
      ++unlogged;
    }
    if (!backoff(delay)) return false;  // uncommitted: replayed after restart
    delay = std::min(delay * 2, options_.max_backoff);
  }

  std::map<int, std::uint64_t> next;  // partition -> next offset to read
  for (const auto& r : batch) next[r.partition] = std::max(next[r.partition], r.offset + 1);
  const std::vector<std::pair<int, std::uint64_t>> offsets(next.begin(), next.end());
  if (auto c = consumer.commit_all(offsets); !c) {
    // Not fatal: the records are done and will be replayed idempotently.
    log::warn(name_, "commit failed: " + c.error().message);
  }
  if (metrics_.batch_seconds != nullptr) {
    metrics_.batch_seconds->Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count());
    metrics_.records->Increment(static_cast<double>(batch.size()));
  }
  return true;
}

}  // namespace parley::services
