#pragma once
// Sends waiting for their sequenced result. A send is answered when the
// sequencer's SendDone for its ticket arrives, when its log append fails, or
// with `unavailable` when it has waited longer than the send timeout (the
// client then retries with the same client_msg_id and gets the first result).

#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "core/message.hpp"
#include "core/result.hpp"

namespace parley::gateway {

class Connection;

class PendingSends {
 public:
  using Clock = std::chrono::steady_clock;

  PendingSends();

  // Registers a waiter and returns its ticket.
  [[nodiscard]] std::uint64_t add(std::weak_ptr<Connection> session, boost::json::value request_id);
  // Answers the waiter of `ticket`, if it is still waiting. Thread-safe.
  void complete(std::uint64_t ticket, const Result<Message>& result);
  // Answers every waiter older than `timeout` with `unavailable`.
  void expire(std::chrono::milliseconds timeout);
  [[nodiscard]] std::size_t size();

 private:
  struct Waiter {
    std::weak_ptr<Connection> session;
    boost::json::value request_id;
    Clock::time_point since;
  };

  std::mutex mutex_;  // guards waiters_ and next_ticket_
  std::unordered_map<std::uint64_t, Waiter> waiters_;
  std::uint64_t next_ticket_;
};

}  // namespace parley::gateway
