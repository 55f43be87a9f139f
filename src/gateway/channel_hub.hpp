#pragma once
// Channel fan-out on read, live half: which channels this server follows for
// the users whose devices it holds, and the hand-off of a channel event to
// those users' devices.
//
// A server follows a channel's topic while at least one member of the
// channel has a device connected here, so a post costs one publish per such
// server, and each server's cost is its own online members of the channel.
// follow/unfollow/reload run in order (the registry's route strand);
// deliver runs on whatever thread published.

#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "services/cluster.hpp"
#include "services/records.hpp"
#include "services/rooms_service.hpp"

namespace parley::gateway {

class SessionRegistry;

class ChannelHub {
 public:
  // `on_envelope` receives what the followed topics carry.
  ChannelHub(services::Cluster& cluster, services::RoomsService& rooms, SessionRegistry& registry,
             std::function<void(std::string_view)> on_envelope);
  ~ChannelHub();
  ChannelHub(const ChannelHub&) = delete;
  ChannelHub& operator=(const ChannelHub&) = delete;

  void follow(UserId user);
  void unfollow(UserId user);
  // Memberships of `user` changed: follow what they are now.
  void reload(UserId user);
  void deliver(const records::RoomEvent& event);

 private:
  struct Channel {
    std::set<UserId> users;  // local users who are members
    std::unique_ptr<ports::Subscription> subscription;
  };

  // Drops `user` from every channel; returns subscriptions to destroy after
  // the lock is released (a subscription's destructor may wait for a
  // handler that is waiting for the lock).
  std::vector<std::unique_ptr<ports::Subscription>> drop_locked(UserId user);

  services::Cluster& cluster_;
  services::RoomsService& rooms_;
  SessionRegistry& registry_;
  std::function<void(std::string_view)> on_envelope_;
  std::mutex mutex_;  // guards channels_ and followed_
  std::unordered_map<std::uint64_t, Channel> channels_;
  std::unordered_map<UserId, std::vector<std::uint64_t>> followed_;
};

}  // namespace parley::gateway
