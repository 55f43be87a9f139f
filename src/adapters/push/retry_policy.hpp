#pragma once
// How the push providers retry a throttled (429) or unavailable (5xx, no
// answer) request: exponential backoff from `base`, doubled each try up to
// `max`, or the service's Retry-After when it sends one; after
// `max_attempts` the send reports retry_later and the dispatcher tries the
// batch again later.

#include <algorithm>
#include <charconv>
#include <chrono>
#include <map>
#include <string>

namespace parley::push {

struct RetryPolicy {
  int max_attempts = 5;
  std::chrono::milliseconds base{200};
  std::chrono::milliseconds max{30000};

  // The wait before retry number `retry` (1 for the first retry).
  [[nodiscard]] std::chrono::milliseconds delay(int retry, const std::map<std::string, std::string>& headers) const {
    if (auto it = headers.find("retry-after"); it != headers.end()) {
      long seconds = 0;
      const auto& v = it->second;
      const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
      if (ec == std::errc{} && end == v.data() + v.size() && seconds >= 0) {
        return std::min<std::chrono::milliseconds>(std::chrono::seconds(seconds), max);
      }
    }
    auto d = base;
    for (int i = 1; i < retry && d < max; ++i) d *= 2;
    return std::min(d, max);
  }
};

}  // namespace parley::push
