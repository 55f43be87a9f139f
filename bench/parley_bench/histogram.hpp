#pragma once
// A log-linear latency histogram in the manner of HdrHistogram (Debian has
// no libhdr-histogram-dev package): values in nanoseconds fall into
// power-of-two ranges, each split into kSub linear buckets, so every
// recorded value is kept to within 1/kSub (0.8%) of its true value, from
// 1 ns to ~2^63 ns, in a fixed 64 * kSub counters. Recording is two shifts
// and an increment; one histogram per thread, merged at the end.

#include <array>
#include <bit>
#include <cstdint>
#include <cstdio>
#include <string>

namespace parley::bench {

class Histogram {
 public:
  static constexpr int kSubBits = 7;
  static constexpr std::uint64_t kSub = 1ULL << kSubBits;

  void record(std::int64_t value_ns) {
    const std::uint64_t v = value_ns < 0 ? 0 : static_cast<std::uint64_t>(value_ns);
    ++counts_[index(v)];
    ++count_;
    if (v > max_) max_ = v;
    if (v < min_) min_ = v;
    sum_ += static_cast<double>(v);
  }

  void merge(const Histogram& other) {
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    if (other.max_ > max_) max_ = other.max_;
    if (other.min_ < min_) min_ = other.min_;
    sum_ += other.sum_;
  }

  [[nodiscard]] std::uint64_t count() const { return count_; }
  [[nodiscard]] std::uint64_t max() const { return count_ == 0 ? 0 : max_; }
  [[nodiscard]] double mean() const { return count_ == 0 ? 0 : sum_ / static_cast<double>(count_); }

  // The smallest bucket's upper edge below which `q` (0..1) of the values lie;
  // the maximum itself for q = 1.
  [[nodiscard]] std::uint64_t quantile(double q) const {
    if (count_ == 0) return 0;
    if (q >= 1.0) return max_;
    const auto rank = static_cast<std::uint64_t>(q * static_cast<double>(count_)) + 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) {
        const std::uint64_t edge = upper(i);
        return edge < max_ ? edge : max_;
      }
    }
    return max_;
  }

  // {"count":..,"p50_us":..,...} in microseconds (fractional), for the JSON result.
  [[nodiscard]] std::string to_json() const;

 private:
  // Values below kSub map to themselves; above, the top kSubBits+1 bits
  // (leading one included) select the bucket within the power-of-two range.
  static std::size_t index(std::uint64_t v) {
    if (v < kSub) return static_cast<std::size_t>(v);
    const int msb = 63 - std::countl_zero(v);
    const int shift = msb - kSubBits;
    const std::uint64_t sub = (v >> shift) - kSub;  // 0..kSub-1
    return static_cast<std::size_t>((static_cast<std::uint64_t>(shift + 1) << kSubBits) + sub);
  }
  // The largest value that maps to bucket i.
  static std::uint64_t upper(std::size_t i) {
    if (i < kSub) return i;
    const std::uint64_t shift = (i >> kSubBits) - 1;
    const std::uint64_t sub = (i & (kSub - 1)) + kSub;
    return ((sub + 1) << shift) - 1;
  }

  std::array<std::uint64_t, (64 - kSubBits + 1) * kSub> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t max_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  double sum_ = 0;
};

inline std::string Histogram::to_json() const {
  auto us = [](std::uint64_t ns) { return static_cast<double>(ns) / 1000.0; };
  char out[320];
  std::snprintf(out, sizeof out,
                "{\"count\":%llu,\"mean_us\":%.1f,\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,"
                "\"p999_us\":%.1f,\"max_us\":%.1f}",
                static_cast<unsigned long long>(count_), mean() / 1000.0, us(quantile(0.5)), us(quantile(0.9)),
                us(quantile(0.99)), us(quantile(0.999)), us(max()));
  return out;
}

}  // namespace parley::bench
