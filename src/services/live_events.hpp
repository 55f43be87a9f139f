#pragma once
// Live events to devices, through the state store: an event for a user goes
// to every server that holds one of the user's devices (routes); an event for
// a channel goes to the channel's topic, which every server with a member
// online follows. Best effort: what must not be lost is stored elsewhere
// (inbox, history, read positions) and reaches devices by sync.

#include <string>
#include <utility>
#include <vector>

#include "core/ids.hpp"
#include "ports/state_store.hpp"

namespace parley::services {

void send_to_user(ports::StateStore& state, UserId user, std::string frame);
// send_to_user() for many (user, frame) pairs, with one routes lookup for
// all of them (StateStore::routes_of) and one envelope per server
// (records::Deliveries), each user's frames in the order given.
void send_to_users(ports::StateStore& state, std::vector<std::pair<UserId, std::string>> events);
void send_to_channel(ports::StateStore& state, ChannelId channel, UserId except, std::string frame);
// Tells the servers holding the user's devices, except `except_server`, that
// the user's memberships changed.
void notify_membership_changed(ports::StateStore& state, UserId user, std::string_view except_server);

}  // namespace parley::services
