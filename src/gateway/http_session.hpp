#pragma once
// One HTTP connection: serves requests in turn (keep-alive) until the peer
// closes, or hands the socket to a WebSocketSession on an upgrade to /v1/ws.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "gateway/context.hpp"

namespace parley::gateway {

boost::asio::awaitable<void> serve_http(boost::asio::ip::tcp::socket socket, Context& ctx);

}  // namespace parley::gateway
