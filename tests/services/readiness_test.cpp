#include "services/readiness.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

namespace parley::services {
namespace {

using namespace std::chrono_literals;
using Reasons = std::vector<std::string>;

// A probe the test drives: each call says it started, then waits for the
// test to give it its answer.
class ScriptedProbe {
 public:
  // The probe function to hand to Readiness.
  std::function<Result<void>(std::chrono::milliseconds)> fn() {
    return [this](std::chrono::milliseconds) -> Result<void> {
      std::unique_lock lock(mu_);
      ++started_;
      cv_.notify_all();
      cv_.wait(lock, [this] { return !answers_.empty() || closed_; });
      if (answers_.empty()) return Ok{};
      Result<void> answer = std::move(answers_.front());
      answers_.erase(answers_.begin());
      return answer;
    };
  }
  // Waits until the probe has been called `n` times.
  void wait_started(int n) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return started_ >= n; });
  }
  void answer(Result<void> r) {
    std::lock_guard lock(mu_);
    answers_.push_back(std::move(r));
    cv_.notify_all();
  }
  // Every call from now on answers ok at once.
  void close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int started_ = 0;
  std::vector<Result<void>> answers_;
  bool closed_ = false;
};

// A clock the test moves.
struct TestClock {
  std::atomic<std::int64_t> ms{0};
  std::function<std::chrono::steady_clock::time_point()> fn() {
    return [this] { return std::chrono::steady_clock::time_point(std::chrono::milliseconds(ms.load())); };
  }
};

TEST(Readiness, ReadyWithNothingToCheckAndNotReadyOnceDraining) {
  Readiness readiness({});
  readiness.start();
  EXPECT_EQ(readiness.reasons(), Reasons{});
  readiness.set_draining();
  EXPECT_TRUE(readiness.draining());
  EXPECT_EQ(readiness.reasons(), Reasons{"draining"});
}

TEST(Readiness, AStepThatIsNotRunningIsAReason) {
  std::atomic<bool> running{true};
  Readiness readiness({});
  readiness.watch_step("sequencer", [&] { return running.load(); });
  readiness.watch_step("inbox", [] { return true; });
  EXPECT_EQ(readiness.reasons(), Reasons{});
  running = false;
  EXPECT_EQ(readiness.reasons(), Reasons{"pipeline step sequencer: not running"});
  readiness.set_draining();
  EXPECT_EQ(readiness.reasons(), (Reasons{"draining", "pipeline step sequencer: not running"}));
}

TEST(Readiness, AnEngineIsUnreadyUntilItsFirstProbeAnswers) {
  ScriptedProbe probe;
  TestClock clock;
  Readiness readiness({{"redis", probe.fn()}}, {.interval = 0ms, .timeout = 2000ms, .now = clock.fn()});
  EXPECT_EQ(readiness.reasons(), Reasons{"engine redis: not probed yet"});
  readiness.start();
  probe.wait_started(1);
  EXPECT_EQ(readiness.reasons(), Reasons{"engine redis: not probed yet"});
  probe.answer(Ok{});
  probe.wait_started(2);  // the first has been recorded
  EXPECT_EQ(readiness.reasons(), Reasons{});
  probe.close();
  readiness.stop();
}

TEST(Readiness, AwaitingTheFirstProbesReturnsOnceEachHasAnswered) {
  ScriptedProbe kafka;
  ScriptedProbe redis;
  Readiness readiness({{"kafka", kafka.fn()}, {"redis", redis.fn()}}, {.interval = 1h});
  kafka.answer(Ok{});
  redis.answer(make_error(ErrorCode::unavailable, "refused"));
  readiness.start();
  readiness.await_first_probes(std::chrono::hours(1));  // returns at once when both have answered
  EXPECT_EQ(readiness.reasons(), Reasons{"engine redis: refused"});
  readiness.stop();
}

TEST(Readiness, AFailedProbeIsAReasonUntilOneSucceeds) {
  ScriptedProbe probe;
  TestClock clock;
  Readiness readiness({{"postgres", probe.fn()}}, {.interval = 0ms, .timeout = 2000ms, .now = clock.fn()});
  readiness.start();
  probe.answer(make_error(ErrorCode::unavailable, "postgres: cannot connect: refused"));
  probe.wait_started(2);
  EXPECT_EQ(readiness.reasons(), Reasons{"engine postgres: postgres: cannot connect: refused"});
  probe.answer(Ok{});
  probe.wait_started(3);
  EXPECT_EQ(readiness.reasons(), Reasons{});
  probe.close();
  readiness.stop();
}

TEST(Readiness, AProbeUnansweredForTheTimeoutMakesItUnreadyWithoutWaitingForIt) {
  ScriptedProbe probe;
  TestClock clock;
  Readiness readiness({{"kafka", probe.fn()}}, {.interval = 0ms, .timeout = 2000ms, .now = clock.fn()});
  readiness.start();
  probe.answer(Ok{});
  probe.wait_started(2);  // the second probe hangs
  clock.ms = 1999;
  EXPECT_EQ(readiness.reasons(), Reasons{});
  clock.ms = 2000;
  EXPECT_EQ(readiness.reasons(), Reasons{"engine kafka: no answer within 2000 ms"});
  probe.answer(Ok{});
  probe.wait_started(3);
  clock.ms = 2500;  // the third began at 2000
  EXPECT_EQ(readiness.reasons(), Reasons{});
  probe.close();
  readiness.stop();
}

TEST(Readiness, EachEngineIsProbedOnItsOwnSoOneHangingDoesNotHideAnother) {
  ScriptedProbe slow;
  ScriptedProbe fast;
  TestClock clock;
  Readiness readiness({{"cassandra", slow.fn()}, {"redis", fast.fn()}},
                      {.interval = 0ms, .timeout = 100ms, .now = clock.fn()});
  readiness.start();
  slow.wait_started(1);
  fast.wait_started(1);
  clock.ms = 100;  // the slow probe has waited its timeout; the fast one fails now
  fast.answer(make_error(ErrorCode::unavailable, "down"));
  fast.wait_started(2);
  EXPECT_EQ(readiness.reasons(), (Reasons{"engine cassandra: no answer within 100 ms", "engine redis: down"}));
  slow.close();
  fast.close();
  readiness.stop();
}

}  // namespace
}  // namespace parley::services
