#pragma once
// The handlers of one process's subscriptions to pub/sub channels, by
// channel: what a StateStore adapter hands a payload to (the embedded store
// as it is published, the Redis store as Redis passes it on).
//
// A subscription lasts as long as its Subscriber. Once the Subscriber's
// destructor has returned, its handler is never called again, not even by
// a delivery under way on another thread (the destructor waits for that
// call to finish); a handler may end its own subscription.

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace parley {

class LocalSubscribers : public std::enable_shared_from_this<LocalSubscribers> {
 public:
  using Fn = std::function<void(std::string_view payload)>;
  struct Handler;

  // One handler's subscription; ends when destroyed.
  class Subscriber {
   public:
    Subscriber(std::weak_ptr<LocalSubscribers> table, std::string channel, std::shared_ptr<Handler> handler,
               std::function<void()> on_last);
    ~Subscriber();
    Subscriber(const Subscriber&) = delete;
    Subscriber& operator=(const Subscriber&) = delete;

   private:
    std::weak_ptr<LocalSubscribers> table_;
    std::string channel_;
    std::shared_ptr<Handler> handler_;
    std::function<void()> on_last_;
  };

  // Adds `fn` to `channel`; `first` says whether the channel had no handler.
  // `on_last`, when given, runs under the table's lock when this
  // subscription ends and leaves the channel with none (so that what it
  // tells an engine cannot overtake what a later first subscriber tells it).
  [[nodiscard]] std::unique_ptr<Subscriber> add(const std::string& channel, Fn fn, bool& first,
                                                std::function<void()> on_last = {});
  // Calls each handler of `channel` with `payload`, in the order they were
  // added, outside the table's lock.
  void deliver(const std::string& channel, std::string_view payload);
  // Runs `fn` under the table's lock: for what a caller keeps in step with
  // the table (the Redis store's client, which its on_last uses).
  void locked(const std::function<void()>& fn);

 private:
  void remove(const std::string& channel, const std::shared_ptr<Handler>& handler,
              const std::function<void()>& on_last);

  std::mutex mu_;  // guards channels_ (the lists, not the calls)
  std::unordered_map<std::string, std::vector<std::shared_ptr<Handler>>> channels_;
};

}  // namespace parley
