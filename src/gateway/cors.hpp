#pragma once
// Cross-origin requests from browsers (docs/OPERATIONS.md, "CORS").
//
// GatewayOptions::cors_origins lists the web origins ("https://chat.example.com")
// whose pages may call the HTTP API; none by default. A preflight (OPTIONS
// with Origin and Access-Control-Request-Method) from a listed origin is
// answered 204 with the Access-Control-Allow-* headers; any other answer to
// a listed origin carries Access-Control-Allow-Origin. An origin not listed
// gets no CORS header (its preflight: 403 forbidden), so browsers keep its
// pages from reading the answers.
//
// Browsers do not apply CORS to WebSockets, so the server checks the
// upgrade's Origin itself: no Origin (not a browser), the server's own
// origin (the Origin's host and port are the request's Host: the web app
// served by parleyd, or through a proxy that keeps Host) and a listed
// origin are admitted; any other is refused with 403 forbidden.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "gateway/context.hpp"
#include "gateway/http_api.hpp"

namespace parley::gateway {

// Parses --cors-origins: origins separated by commas, each
// "http(s)://host[:port]" with no path; lowercased. Empty on a malformed one.
[[nodiscard]] std::optional<std::vector<std::string>> parse_cors_origins(std::string_view list);

// Whether pages from `origin` may call the HTTP API.
[[nodiscard]] bool origin_allowed(const GatewayOptions& options, std::string_view origin);

// Whether a WebSocket upgrade `req` is admitted by its Origin (above).
[[nodiscard]] bool websocket_origin_allowed(const GatewayOptions& options, const HttpRequest& req);

// The 403 forbidden for an upgrade or a preflight from an origin not allowed.
[[nodiscard]] Error origin_refused(const HttpRequest& req);

// The answer to a preflight for a path whose endpoint answers `allow`
// (its Allow header's value), from an allowed origin.
[[nodiscard]] HttpResponse preflight_response(const HttpRequest& req, std::string_view allow);

// Whether `req` is a CORS preflight.
[[nodiscard]] bool is_preflight(const HttpRequest& req);

// Adds Access-Control-Allow-Origin (and Vary: Origin) to `res` when the
// request's Origin is allowed; adds Vary: Origin to every answer while any
// origin is allowed, as the answer then depends on the Origin.
void add_cors_headers(const GatewayOptions& options, std::string_view origin, HttpResponse& res);

// How long browsers may cache a preflight's answer (Access-Control-Max-Age).
inline constexpr int kPreflightMaxAgeSeconds = 600;

}  // namespace parley::gateway
