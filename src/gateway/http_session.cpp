#include "gateway/http_session.hpp"

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/url/parse.hpp>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <type_traits>

#include "core/log.hpp"
#include "gateway/blocking.hpp"
#include "gateway/cors.hpp"
#include "gateway/http_api.hpp"
#include "gateway/websocket_session.hpp"

namespace parley::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::awaitable;
constexpr auto as_tuple_awaitable = asio::as_tuple(asio::use_awaitable);

namespace {

bool is_websocket_path(const HttpRequest& req) {
  auto url = boost::urls::parse_origin_form(req.target());
  return url && url->path() == "/v1/ws";
}

// The access log: one info line per request answered, with its method, its
// path without the query (where a WebSocket token may be), the status and
// how long it took from the end of the request to the end of the answer. No
// header (Authorization) and no query is ever logged.
void log_access(std::string_view method, std::string_view target, unsigned status,
                std::chrono::steady_clock::time_point began) {
  if (!log::enabled(log::Level::info)) return;
  constexpr std::size_t kMaxPath = 256;
  const std::string_view path = target.substr(0, std::min(target.find_first_of("?#"), kMaxPath));
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - began).count();
  std::array<char, 32> duration{};
  const auto end =
      std::to_chars(duration.data(), duration.data() + duration.size(), ms, std::chars_format::fixed, 1).ptr;
  std::string message;
  message.reserve(method.size() + path.size() + 32);
  message.append(method).append(" ").append(path).append(" ").append(std::to_string(status)).append(" ");
  message.append(duration.data(), end).append(" ms");
  log::write(log::Level::info, "http", message,
             {{"method", method}, {"path", path}, {"status", static_cast<std::int64_t>(status)}, {"duration_ms", ms}});
}

// The refusal of an upgrade past the user's limits.
Error too_many_connections(const ConnectionLimits& limits, ConnectionLimits::Refusal why) {
  if (why == ConnectionLimits::Refusal::devices_full) {
    return make_error(ErrorCode::rate_limited, "too many devices of this user connected (at most " +
                                                   std::to_string(limits.options().devices_per_user) +
                                                   "); close one first");
  }
  return make_error(ErrorCode::rate_limited, "too many connections of this user (at most " +
                                                 std::to_string(limits.options().per_user) + "); close one first");
}

// The key failed logins from the socket's peer are counted under (empty:
// the peer is already gone).
std::string source_of(const asio::ip::tcp::socket& socket) {
  boost::system::error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  return ec ? std::string() : login_source(remote.address());
}

// The socket of a plain HTTP stream, moved to a PlainSocket on the same
// io_context (and so the same I/O thread). The HTTP read buffer stays
// behind, as it did when the stream itself was handed on: a client sends
// nothing after its upgrade request until the server's 101 (RFC 6455 4.1).
PlainSocket plain_socket(beast::tcp_stream stream) {
  asio::ip::tcp::socket socket = stream.release_socket();
  const auto* executor = socket.get_executor().target<asio::io_context::executor_type>();
  PlainSocket plain(*executor);
  boost::system::error_code ec;
  const auto protocol = socket.local_endpoint(ec).protocol();
  if (ec) return plain;  // already closed by the peer: the handshake fails on a closed socket
  plain.assign(protocol, socket.release(), ec);
  return plain;
}

// Hands `stream` to a WebSocketSession that completes the upgrade `req`.
template <class S>
void start_websocket(S stream, Context& ctx, ports::SessionRecord who, ConnectionLimits::Slot connection,
                     ConnectionLimits::Slot user, HttpRequest req) {
  auto session = std::make_shared<WebSocketSession<S>>(std::move(stream), ctx, std::move(who), std::move(connection),
                                                       std::move(user));
  WebSocketSession<S>::start(std::move(session), std::move(req));
}

// Serves HTTP requests on `stream` (a beast::tcp_stream, or an ssl_stream
// on one after its handshake) in turn until the peer closes, or hands it to
// a WebSocketSession<Stream> on an upgrade. A template, so that the plain
// path is the same code it was before TLS, with nothing of TLS in it.
template <class Stream>
awaitable<void> serve_requests(Stream stream, Context& ctx, ConnectionLimits::Slot slot, std::string source) {
  beast::flat_buffer buffer;
  GaugeHold open(ctx.services.metrics.http_open());  // until it ends, or becomes a WebSocket
  for (;;) {
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
    http::request_parser<http::string_body> parser;
    parser.body_limit(ctx.options.max_http_body);
    parser.header_limit(16 * 1024);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, as_tuple_awaitable);
    const auto began = std::chrono::steady_clock::now();
    if (ec == http::error::body_limit) {
      HttpRequest head = parser.release();
      HttpResponse res = error_response(head, make_error(ErrorCode::too_large, "request body is too large"));
      res.keep_alive(false);
      (void)co_await http::async_write(stream, res, as_tuple_awaitable);
      log_access(head.method_string(), head.target(), res.result_int(), began);
      count_http(ctx, head.method(), head.target(), res.result_int());
      break;
    }
    if (ec) break;  // closed, timed out, or not HTTP
    HttpRequest req = parser.release();

    if (beast::websocket::is_upgrade(req) && is_websocket_path(req)) {
      if (!websocket_origin_allowed(ctx.options, req)) {
        // A browser page of another site (docs/OPERATIONS.md, "CORS").
        HttpResponse res = error_response(req, origin_refused(req));
        res.keep_alive(false);
        (void)co_await http::async_write(stream, res, as_tuple_awaitable);
        log_access(req.method_string(), req.target(), res.result_int(), began);
        break;
      }
      auto token = bearer_token(req, true);
      auto job = [&ctx, t = token.value_or("")] { return ctx.services.auth.authenticate(t); };
      auto who = co_await run_blocking(ctx.blocking, std::move(job));
      if (!who) {
        HttpResponse res = error_response(req, who.error().code == ErrorCode::unauthorized
                                                   ? make_error(ErrorCode::unauthorized, "a valid token is required")
                                                   : who.error());
        res.keep_alive(false);
        (void)co_await http::async_write(stream, res, as_tuple_awaitable);
        log_access(req.method_string(), req.target(), res.result_int(), began);
        count_http(ctx, req.method(), req.target(), res.result_int());
        break;
      }
      auto admission = ctx.limits.admit_user(who->user, who->device);
      if (!admission.slot) {
        ctx.services.metrics.connections_refused(metric_label(admission.refusal)).Increment();
        HttpResponse res = error_response(req, too_many_connections(ctx.limits, admission.refusal));
        res.keep_alive(false);
        (void)co_await http::async_write(stream, res, as_tuple_awaitable);
        log_access(req.method_string(), req.target(), res.result_int(), began);
        count_http(ctx, req.method(), req.target(), res.result_int());
        break;
      }
      ConnectionLimits::Slot user_slot = std::move(admission.slot);
      // Logged when handed over: the 101 is written by the session's
      // handshake, which follows at once.
      log_access(req.method_string(), req.target(), static_cast<unsigned>(http::status::switching_protocols), began);
      count_http(ctx, req.method(), req.target(), static_cast<unsigned>(http::status::switching_protocols));
      open.release();  // a WebSocket from here (WebSocketSession counts it)
      if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
        // The socket itself, on its io_context by type (PlainSocket).
        start_websocket(plain_socket(std::move(stream)), ctx, std::move(who.value()), std::move(slot),
                        std::move(user_slot), std::move(req));
      } else {
        start_websocket(std::move(stream), ctx, std::move(who.value()), std::move(slot), std::move(user_slot),
                        std::move(req));
      }
      co_return;  // this coroutine's frame and buffer go; the session runs on
    }

    const bool keep_alive = req.keep_alive();
    // What the access log needs, kept before the request is handed on.
    std::string method;
    std::string target;
    if (log::enabled(log::Level::info)) {
      method = req.method_string();
      target = req.target();
    }
    HttpResponse res = co_await handle_http(ctx, std::move(req), source);
    auto [wec, wn] = co_await http::async_write(stream, res, as_tuple_awaitable);
    log_access(method, target, res.result_int(), began);
    if (wec || !keep_alive) break;
  }
  if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
    boost::system::error_code ignored;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  } else {
    // TLS: say close_notify, waiting a short while at most for the peer's.
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
    (void)co_await stream.async_shutdown(as_tuple_awaitable);
  }
}

}  // namespace

// No coroutine itself: it returns serve_requests' own, so that a plain
// connection holds one coroutine frame, as it did before TLS.
awaitable<void> serve_http(asio::ip::tcp::socket socket, Context& ctx, ConnectionLimits::Slot slot) {
  std::string source = source_of(socket);
  return serve_requests(beast::tcp_stream(std::move(socket)), ctx, std::move(slot), std::move(source));
}

awaitable<void> serve_https(asio::ip::tcp::socket socket, Context& ctx, ConnectionLimits::Slot slot,
                            std::shared_ptr<asio::ssl::context> tls) {
  std::string source = source_of(socket);
  beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *tls);
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
  auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, as_tuple_awaitable);
  if (ec) {
    // Plain HTTP sent to the TLS port, a client that does not trust the
    // certificate, a scanner: nothing to answer, and nothing worth more
    // than a debug line.
    log::write(log::Level::debug, "tls", "handshake failed: " + ec.message());
    co_return;
  }
  co_await serve_requests(std::move(stream), ctx, std::move(slot), std::move(source));
}

}  // namespace parley::gateway
