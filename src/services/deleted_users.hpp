#pragma once
// DeletedUsers: the users an administrator deleted (AdminService::remove),
// as the read paths need them: a message whose sender is one of them reads
// as a tombstone (core/message.hpp, make_tombstone; docs/PROTOCOL.md,
// "Objects"), and search never returns it.
//
// The message store's rows are erased too (MessageStore::erase_sent), so
// this set is not what keeps a deleted user's words from being read; it
// covers what the erase cannot reach at once: a message of the user still
// on its way through the pipeline when it was deleted, a replay of one
// after a crash, and copies in the inboxes of members who left a group
// before. It is read whole from the directory (deleted users are few) when
// the server starts, again every refresh interval (what other servers
// deleted), and at once for what this server deletes.
//
// While nobody was ever deleted a check is one relaxed atomic load; after,
// a shared lock and a hash lookup. Nothing on the delivery path asks.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_set>
#include <vector>

#include "core/message.hpp"
#include "ports/directory.hpp"

namespace parley::services {

class DeletedUsers {
 public:
  explicit DeletedUsers(ports::Directory& directory);
  ~DeletedUsers();
  DeletedUsers(const DeletedUsers&) = delete;
  DeletedUsers& operator=(const DeletedUsers&) = delete;

  // Reads the set from the directory. On an error the set stays as it was.
  [[nodiscard]] Result<void> refresh();
  // Refreshes every `interval` on a thread of its own until stop().
  void start(std::chrono::milliseconds interval);
  void stop();

  // Adds a user this server just deleted.
  void add(UserId user);
  [[nodiscard]] bool contains(UserId user) const;

  // Turns the messages of deleted senders into tombstones, in place.
  void render(Message& message) const;
  void render(std::vector<Message>& messages) const;
  void render(std::vector<InboxEntry>& entries) const;
  // Drops the messages of deleted senders (search results).
  void drop(std::vector<Message>& messages) const;

 private:
  ports::Directory& directory_;

  mutable std::shared_mutex mu_;
  std::unordered_set<std::uint64_t> users_;  // guarded by mu_
  std::atomic<bool> any_{false};             // users_ is not empty (only ever set)

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;  // guarded by stop_mu_
  std::thread refresher_;
};

}  // namespace parley::services
