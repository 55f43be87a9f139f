#pragma once
// One HTTP connection: serves requests in turn (keep-alive) until the peer
// closes, or hands the socket to a WebSocketSession on an upgrade to /v1/ws.
// `slot` is the connection's place under the server's connection limits,
// held as long as the socket is open (by the WebSocketSession after an
// upgrade). An upgrade is refused with 429 rate_limited when the user is at
// the limit of WebSockets or of devices (Context::limits). An upgrade with
// an Origin that is neither this server's own nor allowed (--cors-origins)
// is refused with 403 forbidden.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <memory>

#include "gateway/connection_limits.hpp"
#include "gateway/context.hpp"

namespace parley::gateway {

boost::asio::awaitable<void> serve_http(boost::asio::ip::tcp::socket socket, Context& ctx, ConnectionLimits::Slot slot);

// The same over TLS (--tls-cert): the handshake with `tls` first (30 s at
// most), then HTTPS and WSS as serve_http serves HTTP and WS. A connection
// that fails the handshake (plain HTTP, say) is closed without an answer.
boost::asio::awaitable<void> serve_https(boost::asio::ip::tcp::socket socket, Context& ctx, ConnectionLimits::Slot slot,
                                         std::shared_ptr<boost::asio::ssl::context> tls);

}  // namespace parley::gateway
