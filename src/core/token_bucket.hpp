#pragma once
// A token bucket: `rate` tokens per second, holding at most `burst`. Used for
// per-connection and per-user request limits. Not thread-safe: its owner
// serializes calls.

#include <algorithm>
#include <chrono>

namespace parley {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  TokenBucket(double rate, double burst, Clock::time_point now = Clock::now())
      : rate_(rate), burst_(burst), tokens_(burst), last_(now) {}

  // Takes one token if there is one.
  [[nodiscard]] bool try_take(Clock::time_point now = Clock::now()) noexcept { return try_take(1.0, now); }

  // Takes `cost` tokens if there are that many.
  [[nodiscard]] bool try_take(double cost, Clock::time_point now) noexcept {
    refill(now);
    if (tokens_ < cost) return false;
    tokens_ -= cost;
    return true;
  }

  // Whether the bucket holds its whole burst again.
  [[nodiscard]] bool full(Clock::time_point now) noexcept {
    refill(now);
    return tokens_ >= burst_;
  }

  // A new rate and burst from now on; the tokens held are kept, up to the
  // new burst.
  void reset(double rate, double burst, Clock::time_point now) noexcept {
    refill(now);
    rate_ = rate;
    burst_ = burst;
    tokens_ = std::min(tokens_, burst_);
  }

 private:
  void refill(Clock::time_point now) noexcept {
    const double elapsed = std::chrono::duration<double>(now - last_).count();
    if (elapsed > 0) {
      last_ = now;
      tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
    }
  }

  double rate_;
  double burst_;
  double tokens_;
  Clock::time_point last_;
};

}  // namespace parley
