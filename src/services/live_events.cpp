#include "services/live_events.hpp"

#include "core/log.hpp"
#include "services/records.hpp"

namespace parley::services {

void send_to_user(ports::StateStore& state, UserId user, std::string frame) {
  auto servers = state.routes(user);
  if (!servers) {
    log::warn("live", "no routes for a live event: " + servers.error().message);
    return;
  }
  if (servers->empty()) return;
  const std::string envelope = records::encode(records::Deliver{user, std::move(frame)});
  for (const auto& server : servers.value()) {
    auto published = state.publish(records::server_channel(server), envelope);
    if (!published) log::warn("live", "live event not delivered: " + published.error().message);
  }
}

void send_to_users(ports::StateStore& state, std::vector<std::pair<UserId, std::string>> events) {
  if (events.empty()) return;
  std::vector<UserId> users;
  users.reserve(events.size());
  for (const auto& e : events) users.push_back(e.first);
  auto routes = state.routes_of(users);
  if (!routes) {
    log::warn("live", "no routes for live events: " + routes.error().message);
    return;
  }
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& servers = routes.value()[i];
    if (servers.empty()) continue;
    const std::string envelope = records::encode(records::Deliver{events[i].first, std::move(events[i].second)});
    for (const auto& server : servers) {
      auto published = state.publish(records::server_channel(server), envelope);
      if (!published) log::warn("live", "live event not delivered: " + published.error().message);
    }
  }
}

void send_to_channel(ports::StateStore& state, ChannelId channel, UserId except, std::string frame) {
  auto published = state.publish(records::channel_topic(channel),
                                 records::encode(records::RoomEvent{channel, except, std::move(frame)}));
  if (!published) log::warn("live", "live channel event not delivered: " + published.error().message);
}

void notify_membership_changed(ports::StateStore& state, UserId user, std::string_view except_server) {
  auto servers = state.routes(user);
  if (!servers) {
    log::warn("live", "no routes for a membership change: " + servers.error().message);
    return;
  }
  const std::string envelope = records::encode(records::MembershipChanged{user});
  for (const auto& server : servers.value()) {
    if (server == except_server) continue;
    auto published = state.publish(records::server_channel(server), envelope);
    if (!published) log::warn("live", "membership change not published: " + published.error().message);
  }
}

}  // namespace parley::services
