#pragma once
// One HTTP connection: serves requests in turn (keep-alive) until the peer
// closes, or hands the socket to a WebSocketSession on an upgrade to /v1/ws.
// `slot` is the connection's place under the server's connection limits,
// held as long as the socket is open (by the WebSocketSession after an
// upgrade). An upgrade is refused with 429 rate_limited when the user is at
// the limit of WebSockets or of devices (Context::limits).

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "gateway/connection_limits.hpp"
#include "gateway/context.hpp"

namespace parley::gateway {

boost::asio::awaitable<void> serve_http(boost::asio::ip::tcp::socket socket, Context& ctx, ConnectionLimits::Slot slot);

}  // namespace parley::gateway
