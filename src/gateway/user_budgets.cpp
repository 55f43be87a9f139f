#include "gateway/user_budgets.hpp"

#include <algorithm>

namespace parley::gateway {

namespace {

constexpr double kPlainCost = 1;
constexpr double kDirectSendCost = 2;  // two inbox entries: the sender's and the recipient's
constexpr double kFanOutCost = 10;     // a group's or a channel's send
constexpr double kPageCost = 5;        // a page read from the store
constexpr double kMostCost = kFanOutCost;

}  // namespace

double request_cost(std::string_view op, const boost::json::object& req) noexcept {
  if (op == "send") {
    const auto* to = req.if_contains("to");
    if (to != nullptr && to->is_object() && to->get_object().contains("user")) return kDirectSendCost;
    return kFanOutCost;
  }
  // A sync page is the plain price: catching up is what every device must
  // do after time away, and its pages are cheap reads of one's own inbox.
  if (op == "history" || op == "search" || op == "conversations") return kPageCost;
  return kPlainCost;
}

UserBudget::UserBudget(const UserBudgetOptions& options, Clock::time_point now)
    : options_(options),
      requests_(options.rate, std::max(options.burst, kMostCost), now),
      rooms_(options.rooms_per_hour / 3600.0, std::max(options.rooms_per_hour, 1.0), now) {}

bool UserBudget::try_take(double cost, Clock::time_point now, bool* share_due) {
  if (options_.rate <= 0 && share_due == nullptr) return true;
  std::lock_guard lock(mutex_);
  if (share_due != nullptr) *share_due = share_due_locked(now);
  return options_.rate <= 0 || requests_.try_take(cost, now);
}

bool UserBudget::try_create_room(Clock::time_point now) {
  if (options_.rooms_per_hour <= 0) return true;
  std::lock_guard lock(mutex_);
  return rooms_.try_take(1.0, now);
}

void UserBudget::set_servers(std::size_t servers, Clock::time_point now) {
  servers = std::max<std::size_t>(servers, 1);
  std::lock_guard lock(mutex_);
  if (servers == servers_) return;
  servers_ = servers;
  const auto n = static_cast<double>(servers);
  // Never below the dearest request, or that request could never pass.
  requests_.reset(options_.rate / n, std::max(options_.burst / n, kMostCost), now);
  rooms_.reset(options_.rooms_per_hour / 3600.0 / n, std::max(options_.rooms_per_hour / n, 1.0), now);
}

bool UserBudget::settled(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  return requests_.full(now) && rooms_.full(now);
}

bool UserBudget::share_due(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  return share_due_locked(now);
}

bool UserBudget::share_due_locked(Clock::time_point now) {
  if (share_read_ != Clock::time_point{} && now - share_read_ < options_.share_refresh) return false;
  share_read_ = now;
  return true;
}

std::shared_ptr<UserBudget> UserBudgets::of(UserId user) {
  Shard& shard = shards_[std::hash<UserId>{}(user) % kShards];
  std::lock_guard lock(shard.mutex);
  if (auto it = shard.budgets.find(user); it != shard.budgets.end()) return it->second;
  if (shard.budgets.size() >= shard.prune_at) {
    // Budgets no connection holds and that have refilled whole are the same
    // as new ones: drop them. Amortized: the next pass waits until the
    // table has doubled from what is left.
    const auto now = UserBudget::Clock::now();
    std::erase_if(shard.budgets,
                  [now](const auto& entry) { return entry.second.use_count() == 1 && entry.second->settled(now); });
    shard.prune_at = std::max<std::size_t>(64, 2 * shard.budgets.size());
  }
  auto budget = std::make_shared<UserBudget>(options_);
  shard.budgets.emplace(user, budget);
  return budget;
}

}  // namespace parley::gateway
