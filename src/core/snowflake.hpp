#pragma once
// Snowflake message ids: 41 bits of milliseconds since 2024-01-01 UTC, 10 bits
// of node id, 12 bits of sequence within the millisecond.
//
// A generator never repeats an id and never goes backwards, whatever the
// wall clock does: if the clock steps back, it keeps counting in the last
// millisecond it issued (borrowing the next millisecond when 4096 ids are
// used up) until the clock catches up.

#include <cstdint>
#include <functional>

#include "core/clock.hpp"
#include "core/ids.hpp"

namespace parley {

class Snowflake {
 public:
  using Clock = std::function<TimeMs()>;  // wall clock, ms since the Unix epoch

  static constexpr TimeMs kEpochMs = 1704067200000;  // 2024-01-01T00:00:00Z
  static constexpr int kNodeBits = 10;
  static constexpr int kSequenceBits = 12;
  static constexpr std::uint32_t kMaxNode = (1U << kNodeBits) - 1;
  static constexpr std::uint32_t kMaxSequence = (1U << kSequenceBits) - 1;

  // Throws std::invalid_argument if node > kMaxNode (a start-up error).
  explicit Snowflake(std::uint32_t node, Clock clock = now_ms);

  // The next id: greater than every id this generator issued before.
  [[nodiscard]] MessageId next();
  // The next id that is also greater than `floor` (an id from any node), so
  // that ids in one conversation keep increasing across restarts and owners.
  [[nodiscard]] MessageId next_after(MessageId floor);

  [[nodiscard]] static TimeMs time_of(MessageId id) noexcept;  // ms since the Unix epoch
  [[nodiscard]] static std::uint32_t node_of(MessageId id) noexcept;
  [[nodiscard]] static std::uint32_t sequence_of(MessageId id) noexcept;
  [[nodiscard]] static MessageId compose(TimeMs unix_ms, std::uint32_t node, std::uint32_t sequence) noexcept;

 private:
  [[nodiscard]] MessageId issue() const noexcept;

  std::uint32_t node_;
  Clock clock_;
  std::int64_t last_ms_ = -1;  // ms since kEpochMs of the last id issued
  std::uint32_t sequence_ = 0;
};

}  // namespace parley
