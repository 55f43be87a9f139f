#pragma once
// This server's place in the cluster (docs/CLUSTER.md), through the state
// store: its entry in the server registry, the routes of the users whose
// devices it holds, the topics it follows (its own channel, the channels of
// its users), and the membership notices it sends the other servers. The
// gateway reaches the state store only through here.
//
// Every call but server_id() blocks (a state store round trip on the
// scale-out engines): call off the I/O threads.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/ids.hpp"
#include "core/result.hpp"
#include "ports/state_store.hpp"

namespace parley::services {

class Cluster {
 public:
  using Handler = std::function<void(std::string_view)>;

  Cluster(ports::StateStore& state, std::string server_id);

  // This server's id in the registry, in routes and in pub/sub channels.
  [[nodiscard]] const std::string& server_id() const noexcept { return server_id_; }

  // The server registry. register_self() lists this server for `ttl`;
  // heartbeat() renews that, and answers false when the server had been
  // retired as dead meanwhile (with its routes); leave() removes it and
  // any route it left behind.
  [[nodiscard]] Result<void> register_self(const ports::ServerInfo& self, std::chrono::milliseconds ttl);
  [[nodiscard]] Result<bool> heartbeat(const ports::ServerInfo& self, std::chrono::milliseconds ttl);
  [[nodiscard]] Result<void> leave();
  // Retires the servers whose heartbeats stopped (with their routes);
  // returns their ids.
  [[nodiscard]] Result<std::vector<std::string>> retire_dead();
  // The live servers, dead ones retired first, so that what is listed is
  // what is served.
  [[nodiscard]] Result<std::vector<ports::ServerInfo>> live_servers();

  // Routes: this server holds (or no longer holds) devices of `user`.
  [[nodiscard]] Result<void> set_route(UserId user, bool here);
  // How many servers hold devices of `user`.
  [[nodiscard]] Result<std::size_t> servers_holding(UserId user);

  // What other servers send this one (records' envelopes).
  [[nodiscard]] Result<std::unique_ptr<ports::Subscription>> follow_own_channel(Handler handler);
  // What is posted live to a channel (fan-out on read).
  [[nodiscard]] Result<std::unique_ptr<ports::Subscription>> follow_channel(ChannelId channel, Handler handler);

  // Tells the servers holding `user`'s devices that the user's memberships
  // changed; `including_this_one`: this server too (its own hub reloads
  // otherwise). Best effort: a failure is logged.
  void notify_membership_changed(UserId user, bool including_this_one);

 private:
  ports::StateStore& state_;
  std::string server_id_;
};

}  // namespace parley::services
