#pragma once
// The messages the sequencer stores itself, for the store writer of the
// same process to skip: its second write of a message found here would
// change nothing, and on Cassandra it is a write per row on the path to
// every inbox. On Cassandra the sequencer's write is durable when it
// returns; on the embedded store the store writer's flush, made before it
// commits whether it stored anything or not, makes it durable
// (SequencerOptions::flush_stored).
//
// The sequencer says which messages it is about to log and store
// (expect), before it appends them to the changelog, then whether it
// stored them (stored) or not (abandon). The store writer may read a
// decision from the changelog before the sequencer's store write is done:
// for an expected message it waits (bounded) for the answer instead of
// writing the same rows at the same time.
//
// Memory only, and bounded (the oldest are forgotten first): whatever the
// store writer does not find here (after a restart, on another server, once
// forgotten, or after the wait) it stores again, as without it.
// Thread-safe.

#include <boost/container_hash/hash.hpp>
#include <boost/unordered/unordered_flat_set.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <span>
#include <string>
#include <utility>

#include "core/message.hpp"

namespace parley::services {

class StoredMessages {
 public:
  explicit StoredMessages(std::size_t capacity = std::size_t{1} << 16) : capacity_(capacity) {}

  // The sequencer is about to log and store these.
  void expect(std::span<const Message> messages) {
    std::lock_guard lock(mu_);
    for (const auto& m : messages) {
      auto key = key_of(m);
      if (!pending_.insert(key).second) continue;
      pending_order_.push_back(std::move(key));
      if (pending_order_.size() > capacity_) {
        pending_.erase(pending_order_.front());
        pending_order_.pop_front();
      }
    }
  }

  // These are in the message store (durable, or made so by the store
  // writer's next flush).
  void stored(std::span<const Message> messages) {
    {
      std::lock_guard lock(mu_);
      for (const auto& m : messages) {
        auto key = key_of(m);
        pending_.erase(key);
        if (!stored_.insert(key).second) continue;
        stored_order_.push_back(std::move(key));
        if (stored_order_.size() > capacity_) {
          stored_.erase(stored_order_.front());
          stored_order_.pop_front();
        }
      }
    }
    cv_.notify_all();
  }

  // The sequencer did not store these (the store failed, or was left alone).
  void abandon(std::span<const Message> messages) {
    {
      std::lock_guard lock(mu_);
      for (const auto& m : messages) pending_.erase(key_of(m));
    }
    cv_.notify_all();
  }

  // Whether `m` is in the store by the sequencer's write; waits up to
  // `wait` while that write is under way.
  [[nodiscard]] bool wait_stored(const Message& m, std::chrono::milliseconds wait) {
    const auto key = key_of(m);
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, wait, [&] { return !pending_.contains(key); });
    return stored_.contains(key);
  }

 private:
  using Key = std::pair<std::string, std::uint64_t>;  // (conversation, id)
  static Key key_of(const Message& m) { return {m.conversation, m.id.value}; }

  std::mutex mu_;
  std::condition_variable cv_;
  std::size_t capacity_;
  // Hashed, open addressing: two lookups a message on the sequencer's path
  // and one on the store writer's, in sets of up to capacity_ (a std::set
  // of 65,536 strings was a tenth of the sequencer's time at 4,000 sends/s).
  using Set = boost::unordered_flat_set<Key, boost::hash<Key>>;
  Set pending_;
  std::deque<Key> pending_order_;  // may hold keys no longer pending
  Set stored_;
  std::deque<Key> stored_order_;  // oldest first
};

}  // namespace parley::services
