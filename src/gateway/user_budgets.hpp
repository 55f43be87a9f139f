#pragma once
// Per-user request budgets (docs/OPERATIONS.md, "Limits"): what one user may
// make the server do, across all of the user's connections, and across
// servers on the scale-out engines.
//
// Each request costs what it makes the server do (request_cost): a ping 1,
// a 1:1 send 2 (two inbox entries), a group or channel send 10 (a fan-out),
// a page of history, search or the conversation list 5, a sync page 1 (a
// device catching up after time away must not crawl). A user's connections share one
// token bucket of `rate` units a second, holding at most `burst`; a request
// the bucket cannot pay for is refused with `rate_limited`, and costs the
// server nothing more. Rooms (groups and channels) created per user have a
// bucket of their own: `rooms_per_hour`, as a burst refilled over the hour.
//
// Across servers: a user whose devices are on n servers (the routes in the
// state store) gets rate/n and burst/n on each, so that the user's total
// stays within the budget wherever the devices connect. The share is read
// again at most every `share_refresh` per user, off the I/O threads
// (UserBudget::share_due, then set_servers).
//
// A connection holds its user's budget for its life, and the table keeps it
// after the last connection closes, so reconnecting does not refill it. A
// budget with no connection is dropped once both its buckets are full again
// (it is then the same as a new one), so the table holds only the users
// connected now or lately. Lookups go to one of 64 shards, each with its own
// mutex; a request takes only its own user's lock, which only that user's
// connections share.

#include <array>
#include <boost/json/object.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>

#include "core/ids.hpp"
#include "core/token_bucket.hpp"

namespace parley::gateway {

struct UserBudgetOptions {
  double rate = 200;           // units a second per user (0: no limit)
  double burst = 400;          // units the bucket holds
  double rooms_per_hour = 50;  // groups and channels created per user (0: no limit)
  std::chrono::milliseconds share_refresh{10000};
};

// What `op` with the fields `req` costs, in budget units.
[[nodiscard]] double request_cost(std::string_view op, const boost::json::object& req) noexcept;

class UserBudget {
 public:
  using Clock = std::chrono::steady_clock;

  explicit UserBudget(const UserBudgetOptions& options, Clock::time_point now = Clock::now());

  // Takes `cost` units if the budget holds them. `share_due`, when given, is
  // set as share_due() would answer, under the same lock (one lock a request).
  [[nodiscard]] bool try_take(double cost, Clock::time_point now = Clock::now(), bool* share_due = nullptr);
  // Takes one room creation if the hour's allowance holds one.
  [[nodiscard]] bool try_create_room(Clock::time_point now = Clock::now());
  // The user's devices are on `servers` servers (at least 1): this server
  // allows its share of the budget.
  void set_servers(std::size_t servers, Clock::time_point now = Clock::now());
  // Whether both buckets hold their whole burst again.
  [[nodiscard]] bool settled(Clock::time_point now = Clock::now());
  // Whether the share is due to be read again; true at most once per
  // share_refresh (the caller then reads the routes and calls set_servers).
  [[nodiscard]] bool share_due(Clock::time_point now = Clock::now());

 private:
  bool share_due_locked(Clock::time_point now);

  const UserBudgetOptions options_;
  std::mutex mutex_;  // guards what follows
  std::size_t servers_ = 1;
  TokenBucket requests_;
  TokenBucket rooms_;
  Clock::time_point share_read_{};
};

class UserBudgets {
 public:
  explicit UserBudgets(UserBudgetOptions options) : options_(options) {}
  UserBudgets(const UserBudgets&) = delete;
  UserBudgets& operator=(const UserBudgets&) = delete;

  // The budget every connection of `user` on this server shares.
  [[nodiscard]] std::shared_ptr<UserBudget> of(UserId user);
  [[nodiscard]] const UserBudgetOptions& options() const noexcept { return options_; }

 private:
  static constexpr std::size_t kShards = 64;
  struct Shard {
    std::mutex mutex;  // guards budgets
    std::unordered_map<UserId, std::shared_ptr<UserBudget>> budgets;
    std::size_t prune_at = 64;  // size at which settled budgets are dropped next
  };
  const UserBudgetOptions options_;
  std::array<Shard, kShards> shards_;
};

}  // namespace parley::gateway
