#include "services/cluster.hpp"

#include <utility>

#include "services/live_events.hpp"
#include "services/records.hpp"

namespace parley::services {

Cluster::Cluster(ports::StateStore& state, std::string server_id) : state_(state), server_id_(std::move(server_id)) {}

Result<void> Cluster::register_self(const ports::ServerInfo& self, std::chrono::milliseconds ttl) {
  return state_.register_server(self, ttl);
}

Result<bool> Cluster::heartbeat(const ports::ServerInfo& self, std::chrono::milliseconds ttl) {
  return state_.heartbeat_server(self, ttl);
}

Result<void> Cluster::leave() { return state_.remove_server(server_id_); }

Result<std::vector<std::string>> Cluster::retire_dead() { return state_.expire_servers(); }

Result<std::vector<ports::ServerInfo>> Cluster::live_servers() {
  if (auto retired = state_.expire_servers(); !retired) return retired.error();
  return state_.servers();
}

Result<void> Cluster::set_route(UserId user, bool here) {
  return here ? state_.add_route(user, server_id_) : state_.remove_route(user, server_id_);
}

Result<std::size_t> Cluster::servers_holding(UserId user) {
  auto routes = state_.routes(user);
  if (!routes) return routes.error();
  return routes->size();
}

Result<std::unique_ptr<ports::Subscription>> Cluster::follow_own_channel(Handler handler) {
  return state_.subscribe(records::server_channel(server_id_), std::move(handler));
}

Result<std::unique_ptr<ports::Subscription>> Cluster::follow_channel(ChannelId channel, Handler handler) {
  return state_.subscribe(records::channel_topic(channel), std::move(handler));
}

void Cluster::notify_membership_changed(UserId user, bool including_this_one) {
  services::notify_membership_changed(state_, user, including_this_one ? std::string_view{} : server_id_);
}

}  // namespace parley::services
