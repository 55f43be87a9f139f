#pragma once
// Readiness: whether this server can serve now (GET /v1/readyz), and if not,
// why. Liveness (GET /v1/healthz) is not this: a server that is alive but
// draining, or cut off from an engine, is not ready.
//
// Three checks, each with its reason when it fails:
//   - draining: set when a stop begins (SIGTERM, SIGINT); never cleared.
//   - engines: each scale-out engine in use is probed by a thread of its own
//     with a cheap round trip (a Redis PING, a PostgreSQL SELECT 1, a Kafka
//     metadata request, a Cassandra read of system.local) every `interval`.
//     An engine is unreachable while its last probe failed, while a probe
//     has gone unanswered for `timeout`, and before its first probe
//     finished. The embedded engines live in the process and are not probed.
//   - pipeline steps: each watched step must be running.
//
// The probes run in the background, whether or not anyone asks, so that
// reasons() never waits on an engine: a slow engine makes the server
// unready, it never holds the request that asks. What reasons() says is at
// most one interval old.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/result.hpp"

namespace parley::services {

// One engine's probe: a cheap round trip that fails when the engine cannot
// be reached, and should give up by itself after about `timeout`.
struct EngineProbe {
  std::string name;  // "kafka", "redis", "postgres", "cassandra"
  std::function<Result<void>(std::chrono::milliseconds timeout)> probe;
};

struct ReadinessOptions {
  std::chrono::milliseconds interval{1000};  // from the end of one probe of an engine to the next
  std::chrono::milliseconds timeout{2000};   // a probe unanswered this long: unreachable
  // The clock the timeout is measured on (tests move their own).
  std::function<std::chrono::steady_clock::time_point()> now = [] { return std::chrono::steady_clock::now(); };
};

class Readiness {
 public:
  explicit Readiness(std::vector<EngineProbe> engines, ReadinessOptions options = {});
  // Stops the probes (see stop()).
  ~Readiness();
  Readiness(const Readiness&) = delete;
  Readiness& operator=(const Readiness&) = delete;

  // A pipeline step the server needs running; `running` is called from
  // reasons(), on any thread. Before start().
  void watch_step(std::string name, std::function<bool()> running);

  // Starts the probe threads, one per engine.
  void start();
  // Waits until every engine's first probe has finished (answered or
  // failed), or `at_most`: called before the server says it listens, so
  // that a server on healthy engines is ready as soon as it serves.
  void await_first_probes(std::chrono::milliseconds at_most);
  // Stops and joins the probe threads: waits for a probe in flight, which
  // each engine's own timeouts bound.
  void stop();

  // A stop began: the server is not ready from now on.
  void set_draining() noexcept;
  [[nodiscard]] bool draining() const noexcept;

  // Why the server cannot serve now; empty when it can. Never blocks on an
  // engine; callable from any thread. Each reason is one of
  //   "draining"
  //   "engine NAME: not probed yet" / "engine NAME: no answer within N ms" /
  //   "engine NAME: <the probe's error>"
  //   "pipeline step NAME: not running"
  [[nodiscard]] std::vector<std::string> reasons() const;

 private:
  struct Engine {
    EngineProbe probe;
    // Guarded by Readiness::mu_:
    bool probed = false;                 // a probe has finished
    std::optional<std::string> failure;  // the last finished probe's error
    std::optional<std::chrono::steady_clock::time_point> in_flight_since;
  };
  struct Step {
    std::string name;
    std::function<bool()> running;
  };

  // One engine's probe loop, on its thread.
  void run(Engine& engine);

  ReadinessOptions options_;
  std::vector<std::unique_ptr<Engine>> engines_;
  std::vector<Step> steps_;  // set before start(), read-only after
  std::atomic<bool> draining_{false};
  mutable std::mutex mu_;           // guards each Engine's probe state and stopping_
  std::condition_variable wake_;    // stop() wakes the probe threads
  std::condition_variable probed_;  // a probe finished
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace parley::services
