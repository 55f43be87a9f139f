#pragma once
// The HTTP endpoints of docs/PROTOCOL.md ("HTTP"): accounts, sessions, user
// lookup; and health, readiness and version (docs/OPERATIONS.md). Each handler is a coroutine that runs its blocking
// work on the blocking pool and returns the full response.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "gateway/context.hpp"

namespace parley::gateway {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

// The answer to one request that is no WebSocket upgrade. A known path asked
// with a method its endpoint does not answer is 405 with Allow (an unknown
// path 404); HEAD is answered as GET is, without the body (RFC 9110).
// `source` is login_source() of the client's address (failed logins are
// limited per source; empty: not counted per source).
[[nodiscard]] boost::asio::awaitable<HttpResponse> handle_http(Context& ctx, HttpRequest req, std::string source);

// The key under which failed logins from `address` are counted: the IPv4
// address (an IPv4-mapped IPv6 one as IPv4), or an IPv6 address's /64, as
// one host commonly holds a whole /64.
[[nodiscard]] std::string login_source(const boost::asio::ip::address& address);

// The folder of the web app's built files (clients/web) served at `/` and
// below (static_files.hpp); empty (the default): a small built-in page at
// `/`. Set once by main() before the server starts (--web-dir).
void set_web_dir(std::string dir);

// A JSON error response with the protocol's code and the matching status;
// a 429 carries Retry-After (the error's retry_after_s, at least 1).
[[nodiscard]] HttpResponse error_response(const HttpRequest& req, const Error& e);

// The HTTP routes as GET /metrics names them (label op of
// parley_requests_total{transport="http"}), in a fixed order: "GET
// /v1/healthz", "POST /v1/users", "DELETE /v1/sessions/{device_id}", …,
// "GET /v1/ws" (upgrades), "GET /metrics", "GET web" (the web app's files)
// and "other" (no endpoint, or a method it does not answer).
[[nodiscard]] std::span<const std::string_view> http_route_names() noexcept;
// Counts the answer to a request (`method` and `target` as asked, HEAD as
// GET) with status `status` in ctx.route_outcomes: ok below 400, else the
// protocol's error code for the status; a 429 of the login throttle (to a
// login or a password change) also in parley_rate_limited_total{limit="login"}.
void count_http(Context& ctx, boost::beast::http::verb method, std::string_view target, unsigned status);

// The bearer token of a request: the Authorization header, or for the
// WebSocket upgrade also ?token=.
[[nodiscard]] std::optional<std::string> bearer_token(const HttpRequest& req, bool allow_query);

}  // namespace parley::gateway
