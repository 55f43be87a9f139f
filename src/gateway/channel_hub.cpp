#include "gateway/channel_hub.hpp"

#include "core/log.hpp"
#include "gateway/session_registry.hpp"

namespace parley::gateway {

ChannelHub::ChannelHub(services::Cluster& cluster, services::RoomsService& rooms, SessionRegistry& registry,
                       std::function<void(std::string_view)> on_envelope)
    : cluster_(cluster), rooms_(rooms), registry_(registry), on_envelope_(std::move(on_envelope)) {}

ChannelHub::~ChannelHub() {
  std::unordered_map<std::uint64_t, Channel> channels;
  {
    std::lock_guard lock(mutex_);
    channels.swap(channels_);
    followed_.clear();
  }
}

void ChannelHub::follow(UserId user) {
  auto of_user = rooms_.channels_of(user);
  if (!of_user) {
    log::warn("channels", "cannot load memberships: " + of_user.error().message);
    return;
  }
  std::vector<std::uint64_t> channels;
  channels.reserve(of_user->size());
  for (const ChannelId channel : of_user.value()) channels.push_back(channel.value);
  std::vector<std::uint64_t> to_subscribe;
  {
    std::lock_guard lock(mutex_);
    if (followed_.contains(user)) return;
    followed_[user] = channels;
    for (auto id : channels) {
      auto& channel = channels_[id];
      channel.users.insert(user);
      if (!channel.subscription) to_subscribe.push_back(id);
    }
  }
  for (auto id : to_subscribe) {
    auto sub = cluster_.follow_channel(ChannelId{id}, on_envelope_);
    if (!sub) {
      log::warn("channels", "cannot follow a channel: " + sub.error().message);
      continue;
    }
    std::lock_guard lock(mutex_);
    auto it = channels_.find(id);
    if (it != channels_.end() && !it->second.subscription) it->second.subscription = std::move(sub.value());
  }
}

std::vector<std::unique_ptr<ports::Subscription>> ChannelHub::drop_locked(UserId user) {
  std::vector<std::unique_ptr<ports::Subscription>> released;
  auto it = followed_.find(user);
  if (it == followed_.end()) return released;
  for (auto id : it->second) {
    auto ch = channels_.find(id);
    if (ch == channels_.end()) continue;
    ch->second.users.erase(user);
    if (ch->second.users.empty()) {
      released.push_back(std::move(ch->second.subscription));
      channels_.erase(ch);
    }
  }
  followed_.erase(it);
  return released;
}

void ChannelHub::unfollow(UserId user) {
  std::vector<std::unique_ptr<ports::Subscription>> released;
  {
    std::lock_guard lock(mutex_);
    released = drop_locked(user);
  }
}

void ChannelHub::reload(UserId user) {
  bool here = false;
  {
    std::lock_guard lock(mutex_);
    here = followed_.contains(user);
  }
  if (!here) return;  // no device of the user here: nothing to follow
  unfollow(user);
  follow(user);
}

void ChannelHub::deliver(const records::RoomEvent& event) {
  std::vector<UserId> users;
  {
    std::lock_guard lock(mutex_);
    auto it = channels_.find(event.channel.value);
    if (it == channels_.end()) return;
    users.assign(it->second.users.begin(), it->second.users.end());
  }
  // One hand-off to each I/O thread for all of them, not a post per
  // connection: a post to 5,000 members was 5,000 wake-ups of the I/O
  // threads' queues.
  registry_.deliver_all(users, std::make_shared<const std::string>(event.frame), event.except);
}

}  // namespace parley::gateway
