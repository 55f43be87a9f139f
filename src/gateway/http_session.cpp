#include "gateway/http_session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/url/parse.hpp>

#include "gateway/blocking.hpp"
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

}  // namespace

awaitable<void> serve_http(asio::ip::tcp::socket socket, Context& ctx) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    stream.expires_after(std::chrono::seconds(30));
    http::request_parser<http::string_body> parser;
    parser.body_limit(ctx.options.max_http_body);
    parser.header_limit(16 * 1024);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, as_tuple_awaitable);
    if (ec == http::error::body_limit) {
      HttpRequest head = parser.release();
      HttpResponse res = error_response(head, make_error(ErrorCode::too_large, "request body is too large"));
      res.keep_alive(false);
      (void)co_await http::async_write(stream, res, as_tuple_awaitable);
      break;
    }
    if (ec) break;  // closed, timed out, or not HTTP
    HttpRequest req = parser.release();

    if (beast::websocket::is_upgrade(req) && is_websocket_path(req)) {
      auto token = bearer_token(req, true);
      auto job = [&ctx, t = token.value_or("")] { return ctx.auth.authenticate(t); };
      auto who = co_await run_blocking(ctx.blocking, std::move(job));
      if (!who) {
        HttpResponse res = error_response(req, who.error().code == ErrorCode::unauthorized
                                                   ? make_error(ErrorCode::unauthorized, "a valid token is required")
                                                   : who.error());
        res.keep_alive(false);
        (void)co_await http::async_write(stream, res, as_tuple_awaitable);
        break;
      }
      auto session = std::make_shared<WebSocketSession>(std::move(stream), ctx, std::move(who.value()));
      co_await WebSocketSession::serve(std::move(session), std::move(req));
      co_return;
    }

    const bool keep_alive = req.keep_alive();
    HttpResponse res = co_await handle_http(ctx, std::move(req));
    auto [wec, wn] = co_await http::async_write(stream, res, as_tuple_awaitable);
    if (wec || !keep_alive) break;
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
}

}  // namespace parley::gateway
