#include "core/local_subscribers.hpp"

#include <utility>

namespace parley {

// `call_mu` is held while the handler runs and while its subscription ends,
// which is what keeps a delivery under way from calling it after the
// Subscriber is gone. Recursive so that a handler may end its own
// subscription.
struct LocalSubscribers::Handler {
  explicit Handler(Fn f) : fn(std::move(f)) {}
  Fn fn;
  std::recursive_mutex call_mu;  // guards active and serialises calls to fn
  bool active = true;
};

LocalSubscribers::Subscriber::Subscriber(std::weak_ptr<LocalSubscribers> table, std::string channel,
                                         std::shared_ptr<Handler> handler, std::function<void()> on_last)
    : table_(std::move(table)),
      channel_(std::move(channel)),
      handler_(std::move(handler)),
      on_last_(std::move(on_last)) {}

LocalSubscribers::Subscriber::~Subscriber() {
  if (auto table = table_.lock()) table->remove(channel_, handler_, on_last_);
  // A delivery that copied the list before the removal finishes its call
  // first; later ones see active == false.
  std::lock_guard lock(handler_->call_mu);
  handler_->active = false;
}

std::unique_ptr<LocalSubscribers::Subscriber> LocalSubscribers::add(const std::string& channel, Fn fn, bool& first,
                                                                    std::function<void()> on_last) {
  auto handler = std::make_shared<Handler>(std::move(fn));
  {
    std::lock_guard lock(mu_);
    auto& list = channels_[channel];
    first = list.empty();
    list.push_back(handler);
  }
  return std::make_unique<Subscriber>(weak_from_this(), channel, std::move(handler), std::move(on_last));
}

void LocalSubscribers::remove(const std::string& channel, const std::shared_ptr<Handler>& handler,
                              const std::function<void()>& on_last) {
  std::lock_guard lock(mu_);
  auto it = channels_.find(channel);
  if (it == channels_.end()) return;
  std::erase(it->second, handler);
  if (!it->second.empty()) return;
  channels_.erase(it);
  if (on_last) on_last();
}

void LocalSubscribers::deliver(const std::string& channel, std::string_view payload) {
  std::vector<std::shared_ptr<Handler>> targets;
  {
    std::lock_guard lock(mu_);
    auto it = channels_.find(channel);
    if (it == channels_.end()) return;
    targets = it->second;
  }
  for (const auto& h : targets) {
    std::lock_guard lock(h->call_mu);
    if (h->active) h->fn(payload);
  }
}

void LocalSubscribers::locked(const std::function<void()>& fn) {
  std::lock_guard lock(mu_);
  fn();
}

}  // namespace parley
