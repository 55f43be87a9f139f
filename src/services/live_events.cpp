#include "services/live_events.hpp"

#include <algorithm>

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
  // One envelope per server for the whole batch, its events in order.
  std::vector<std::pair<std::string_view, records::Deliveries>> by_server;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& servers = routes.value()[i];
    for (std::size_t k = 0; k < servers.size(); ++k) {
      auto it = std::find_if(by_server.begin(), by_server.end(), [&](const auto& s) { return s.first == servers[k]; });
      if (it == by_server.end()) it = by_server.insert(by_server.end(), {servers[k], {}});
      // The last server takes the frame itself; others a copy.
      it->second.items.push_back(
          records::Deliver{events[i].first, k + 1 == servers.size() ? std::move(events[i].second) : events[i].second});
    }
  }
  for (const auto& [server, deliveries] : by_server) {
    auto published = deliveries.items.size() == 1
                         ? state.publish(records::server_channel(server), records::encode(deliveries.items.front()))
                         : state.publish(records::server_channel(server), records::encode(deliveries));
    if (!published) log::warn("live", "live events not delivered: " + published.error().message);
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
