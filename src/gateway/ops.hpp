#pragma once
// The op handlers, one group per feature (ops_<feature>.cpp). ops.cpp maps
// op names to them.

#include "gateway/request.hpp"

namespace parley::gateway::ops {

// ops_chat.cpp: 1:1 messages, device sync, history, heartbeats.
boost::asio::awaitable<void> send(Request& r);
boost::asio::awaitable<void> sync(Request& r);
boost::asio::awaitable<void> ack(Request& r);
boost::asio::awaitable<void> history(Request& r);
boost::asio::awaitable<void> ping(Request& r);

// ops_rooms.cpp: groups, channels, receipts, typing, the conversation list.
boost::asio::awaitable<void> group_create(Request& r);
boost::asio::awaitable<void> group_add(Request& r);
boost::asio::awaitable<void> group_remove(Request& r);
boost::asio::awaitable<void> group_role(Request& r);
boost::asio::awaitable<void> channel_create(Request& r);
boost::asio::awaitable<void> channel_join(Request& r);
boost::asio::awaitable<void> channel_leave(Request& r);
boost::asio::awaitable<void> channel_role(Request& r);
boost::asio::awaitable<void> read(Request& r);
boost::asio::awaitable<void> typing(Request& r);
boost::asio::awaitable<void> conversations(Request& r);

// ops_social.cpp: friendships, blocks, presence.
boost::asio::awaitable<void> friend_request(Request& r);
boost::asio::awaitable<void> friend_accept(Request& r);
boost::asio::awaitable<void> friend_remove(Request& r);
boost::asio::awaitable<void> block(Request& r);
boost::asio::awaitable<void> unblock(Request& r);
boost::asio::awaitable<void> friends(Request& r);
boost::asio::awaitable<void> presence(Request& r);

// ops_push.cpp: device tokens for push notifications.
boost::asio::awaitable<void> push_register(Request& r);

// ops_search.cpp: full-text search.
boost::asio::awaitable<void> search(Request& r);

}  // namespace parley::gateway::ops
