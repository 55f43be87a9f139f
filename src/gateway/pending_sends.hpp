#pragma once
// Sends waiting for their sequenced result. A send is answered when the
// sequencer's SendDone for its ticket arrives, when its log append fails, or
// with `unavailable` when it has waited longer than the send timeout (the
// client then retries with the same client_msg_id and gets the first result).
//
// Load shedding: when the pipeline falls behind, every send accepted waits
// in the log, and past capacity all of them end in the timeout. So add()
// refuses a new send (nothing is appended; the client retries later) while
// at least `Shedding::min_pending` sends wait and the oldest has waited
// longer than `Shedding::after`: the sends accepted stay fast, and the
// refusals cost almost nothing.

#include <array>
#include <boost/json/value.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <unordered_map>
#include <utility>

#include "core/message.hpp"
#include "core/metrics.hpp"
#include "core/result.hpp"

namespace parley::gateway {

class Connection;

class PendingSends {
 public:
  using Clock = std::chrono::steady_clock;

  struct Shedding {
    std::chrono::milliseconds after{0};  // 0: never refuse
    std::size_t min_pending = 256;
  };

  // Where answers are counted (GET /metrics): the send op's outcomes,
  // and the sends acknowledged; null: not counted.
  struct Counting {
    RequestOutcomes* outcomes = nullptr;
    prometheus::Counter* acknowledged = nullptr;
  };

  PendingSends();  // never sheds
  explicit PendingSends(Shedding shedding);
  PendingSends(Shedding shedding, Counting counting);

  // Registers a waiter and returns its ticket; nothing while shedding load
  // (see above).
  [[nodiscard]] std::optional<std::uint64_t> add(std::weak_ptr<Connection> session, boost::json::value request_id);
  // Answers the waiter of `ticket`, if it is still waiting. Thread-safe.
  void complete(std::uint64_t ticket, const Result<Message>& result);
  // complete() for many (ticket, result) pairs: one lock, and one hand-off
  // to each I/O thread holding some of the waiting connections.
  void complete_all(std::span<const std::pair<std::uint64_t, Result<Message>>> results);
  // Answers every waiter older than `timeout` with `unavailable`.
  void expire(std::chrono::milliseconds timeout);
  [[nodiscard]] std::size_t size();
  // Waits until no send is waiting for its answer, or the deadline passes;
  // true when none is.
  bool wait_drained(Clock::time_point deadline);

 private:
  struct Waiter {
    std::weak_ptr<Connection> session;
    boost::json::value request_id;
    Clock::time_point since;
  };

  // Drops answered waiters off the front of order_. Requires mutex_.
  void drop_answered();
  // Counts `ok` answers that acknowledged a send and `failed` ones by code.
  void count(std::size_t ok, const std::array<std::size_t, RequestOutcomes::kCodes>& failed) const;

  const Shedding shedding_;
  const Counting counting_;
  std::mutex mutex_;                 // guards waiters_, order_ and next_ticket_
  std::condition_variable drained_;  // notified, under mutex_, when waiters_ empties
  std::unordered_map<std::uint64_t, Waiter> waiters_;
  // (since, ticket) in the order added, answered ones included until they
  // reach the front: the oldest waiter without a scan.
  std::deque<std::pair<Clock::time_point, std::uint64_t>> order_;
  std::uint64_t next_ticket_;
};

}  // namespace parley::gateway
