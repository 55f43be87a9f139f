#include "core/snowflake.hpp"

#include <stdexcept>
#include <utility>

namespace parley {

Snowflake::Snowflake(std::uint32_t node, Clock clock) : node_(node), clock_(std::move(clock)) {
  if (node_ > kMaxNode) throw std::invalid_argument("snowflake node id must be 0..1023");
}

MessageId Snowflake::next() {
  const std::int64_t now = clock_() - kEpochMs;
  if (now > last_ms_) {
    last_ms_ = now;
    sequence_ = 0;
  } else if (sequence_ < kMaxSequence) {
    ++sequence_;  // same millisecond, or the clock stepped back: keep counting
  } else {
    ++last_ms_;  // 4096 ids in one millisecond: borrow the next one
    sequence_ = 0;
  }
  return issue();
}

MessageId Snowflake::next_after(MessageId floor) {
  const MessageId id = next();
  if (id > floor) return id;
  // Continue right after `floor`: in its millisecond if our node sorts after
  // its node (or is the same node with sequence room left), else the next one.
  last_ms_ = time_of(floor) - kEpochMs;
  const std::uint32_t floor_node = node_of(floor);
  const std::uint32_t floor_seq = sequence_of(floor);
  if (node_ > floor_node) {
    sequence_ = 0;
  } else if (node_ == floor_node && floor_seq < kMaxSequence) {
    sequence_ = floor_seq + 1;
  } else {
    ++last_ms_;
    sequence_ = 0;
  }
  return issue();
}

MessageId Snowflake::issue() const noexcept {
  return MessageId{(static_cast<std::uint64_t>(last_ms_) << (kNodeBits + kSequenceBits)) |
                   (static_cast<std::uint64_t>(node_) << kSequenceBits) | sequence_};
}

TimeMs Snowflake::time_of(MessageId id) noexcept {
  return static_cast<TimeMs>(id.value >> (kNodeBits + kSequenceBits)) + kEpochMs;
}

std::uint32_t Snowflake::node_of(MessageId id) noexcept {
  return static_cast<std::uint32_t>((id.value >> kSequenceBits) & kMaxNode);
}

std::uint32_t Snowflake::sequence_of(MessageId id) noexcept {
  return static_cast<std::uint32_t>(id.value & kMaxSequence);
}

MessageId Snowflake::compose(TimeMs unix_ms, std::uint32_t node, std::uint32_t sequence) noexcept {
  return MessageId{(static_cast<std::uint64_t>(unix_ms - kEpochMs) << (kNodeBits + kSequenceBits)) |
                   (static_cast<std::uint64_t>(node & kMaxNode) << kSequenceBits) | (sequence & kMaxSequence)};
}

}  // namespace parley
