#include "gateway/pending_sends.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <random>
#include <vector>

#include "core/codec.hpp"
#include "core/codec_ops.hpp"
#include "gateway/connection.hpp"

namespace parley::gateway {

PendingSends::PendingSends() : PendingSends(Shedding{}) {}

PendingSends::PendingSends(Shedding shedding) : PendingSends(shedding, Counting{}) {}

PendingSends::PendingSends(Shedding shedding, Counting counting) : shedding_(shedding), counting_(counting) {
  // Tickets start at a random point so that results addressed to a previous
  // run of this server (replayed after a crash) match no waiter.
  std::random_device rd;
  next_ticket_ = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

std::optional<std::uint64_t> PendingSends::add(std::weak_ptr<Connection> session, boost::json::value request_id) {
  std::lock_guard lock(mutex_);
  const auto now = Clock::now();
  if (shedding_.after.count() > 0 && waiters_.size() >= shedding_.min_pending) {
    drop_answered();
    if (!order_.empty() && now - order_.front().first > shedding_.after) return std::nullopt;
  }
  const std::uint64_t ticket = ++next_ticket_;
  waiters_.emplace(ticket, Waiter{std::move(session), std::move(request_id), now});
  order_.emplace_back(now, ticket);
  return ticket;
}

void PendingSends::drop_answered() {
  while (!order_.empty() && !waiters_.contains(order_.front().second)) order_.pop_front();
}

namespace {

std::shared_ptr<const std::string> answer(const boost::json::value& request_id, const Result<Message>& result) {
  if (!result) return std::make_shared<const std::string>(codec::reply_error(request_id, result.error()));
  return std::make_shared<const std::string>(codec::reply_sent(request_id, *result));
}

}  // namespace

void PendingSends::count(std::size_t ok, const std::array<std::size_t, RequestOutcomes::kCodes>& failed) const {
  if (ok > 0) {
    if (counting_.outcomes != nullptr) counting_.outcomes->ok(static_cast<double>(ok));
    if (counting_.acknowledged != nullptr) counting_.acknowledged->Increment(static_cast<double>(ok));
  }
  if (counting_.outcomes == nullptr) return;
  for (std::size_t code = 0; code < failed.size(); ++code) {
    if (failed[code] > 0) counting_.outcomes->failed(static_cast<ErrorCode>(code), static_cast<double>(failed[code]));
  }
}

void PendingSends::complete(std::uint64_t ticket, const Result<Message>& result) {
  Waiter w;
  {
    std::lock_guard lock(mutex_);
    auto it = waiters_.find(ticket);
    if (it == waiters_.end()) return;
    w = std::move(it->second);
    waiters_.erase(it);
    if (waiters_.empty()) drained_.notify_all();
  }
  std::array<std::size_t, RequestOutcomes::kCodes> failed{};
  if (!result) ++failed[static_cast<std::size_t>(result.error().code)];
  count(result ? 1 : 0, failed);
  auto session = w.session.lock();
  if (!session) return;
  session->send_reply(answer(w.request_id, result));
}

void PendingSends::complete_all(std::span<const std::pair<std::uint64_t, Result<Message>>> results) {
  std::vector<std::pair<Waiter, const Result<Message>*>> found;
  found.reserve(results.size());
  {
    std::lock_guard lock(mutex_);
    for (const auto& [ticket, result] : results) {
      auto it = waiters_.find(ticket);
      if (it == waiters_.end()) continue;
      found.emplace_back(std::move(it->second), &result);
      waiters_.erase(it);
    }
    if (waiters_.empty()) drained_.notify_all();
  }
  // Counted once for the batch.
  std::size_t ok = 0;
  std::array<std::size_t, RequestOutcomes::kCodes> failed{};
  for (const auto& [w, result] : found) {
    if (*result) {
      ++ok;
    } else {
      ++failed[static_cast<std::size_t>(result->error().code)];
    }
  }
  count(ok, failed);
  ThreadHandOff answers;
  for (const auto& [w, result] : found) {
    if (auto session = w.session.lock()) answers.add(std::move(session), answer(w.request_id, *result));
  }
  std::move(answers).post(/*replies=*/true);
}

void PendingSends::expire(std::chrono::milliseconds timeout) {
  std::vector<std::uint64_t> late;
  const auto cutoff = Clock::now() - timeout;
  {
    // Oldest first: stop at the first waiter still in time.
    std::lock_guard lock(mutex_);
    while (!order_.empty() && order_.front().first < cutoff) {
      if (waiters_.contains(order_.front().second)) late.push_back(order_.front().second);
      order_.pop_front();
    }
    drop_answered();
  }
  for (auto ticket : late) {
    complete(ticket, make_error(ErrorCode::unavailable,
                                "the send was not confirmed in time; retry it with the same client_msg_id"));
  }
}

std::size_t PendingSends::size() {
  std::lock_guard lock(mutex_);
  return waiters_.size();
}

bool PendingSends::wait_drained(Clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  return drained_.wait_until(lock, deadline, [this] { return waiters_.empty(); });
}

}  // namespace parley::gateway
