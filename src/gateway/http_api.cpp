#include "gateway/http_api.hpp"

#include <algorithm>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>
#include <cstdint>
#include <optional>
#include <random>

#include <sodium.h>

#include <array>

#include "core/build_info.hpp"
#include "core/codec.hpp"
#include "core/validate.hpp"
#include "gateway/blocking.hpp"
#include "gateway/connection_limits.hpp"
#include "gateway/cors.hpp"
#include "gateway/session_registry.hpp"
#include "gateway/static_files.hpp"
#include "gateway/web_client.hpp"

namespace parley::gateway {

namespace http = boost::beast::http;
namespace json = boost::json;
using boost::asio::awaitable;

namespace {

// set_web_dir's folder: written before the server starts, only read after.
std::string& web_dir() {
  static std::string dir;
  return dir;
}

http::status status_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::bad_request: return http::status::bad_request;
    case ErrorCode::unauthorized: return http::status::unauthorized;
    case ErrorCode::forbidden: return http::status::forbidden;
    case ErrorCode::not_found: return http::status::not_found;
    case ErrorCode::conflict: return http::status::conflict;
    case ErrorCode::too_large: return http::status::payload_too_large;
    case ErrorCode::rate_limited: return http::status::too_many_requests;
    case ErrorCode::unavailable: return http::status::service_unavailable;
    case ErrorCode::internal: return http::status::internal_server_error;
  }
  return http::status::internal_server_error;
}

HttpResponse json_response(const HttpRequest& req, http::status status, const json::object& body) {
  HttpResponse res{status, req.version()};
  res.set(http::field::server, "parley");
  res.set(http::field::content_type, "application/json");
  res.keep_alive(req.keep_alive());
  res.body() = json::serialize(body);
  res.prepare_payload();
  return res;
}

// Logins and sign-ups hash a password: they run on the hashing pool, which
// refuses work past its bound instead of queueing without end.
bool enter_hashing(Context& ctx) { return ctx.hashing.try_enter(); }
void leave_hashing(Context& ctx) { ctx.hashing.leave(); }
boost::asio::thread_pool& hashing_pool(Context& ctx) { return ctx.hashing.pool(); }
Error hashing_busy() { return make_error(ErrorCode::unavailable, "too many logins in progress; retry in a moment"); }

awaitable<HttpResponse> create_user(Context& ctx, HttpRequest req) {
  auto body = codec::read_body(req.body(), {"username", "password"});
  if (!body) co_return error_response(req, body.error());
  auto job = [&ctx, b = std::move(body.value())] {
    return ctx.services.auth.register_user(b.at("username").get_string(), b.at("password").get_string());
  };
  if (!enter_hashing(ctx)) co_return error_response(req, hashing_busy());
  auto user = co_await run_blocking(hashing_pool(ctx), std::move(job));
  leave_hashing(ctx);
  if (!user) co_return error_response(req, user.error());
  json::object out;
  out["user_id"] = to_string(user->id);
  co_return json_response(req, http::status::created, out);
}

awaitable<HttpResponse> create_session(Context& ctx, HttpRequest req, std::string source) {
  auto body = codec::read_body(req.body(), {"username", "password", "device_id"});
  if (!body) co_return error_response(req, body.error());
  auto job = [&ctx, b = std::move(body.value()), s = std::move(source)] {
    return ctx.services.auth.login(b.at("username").get_string(), b.at("password").get_string(),
                                   b.at("device_id").get_string(), s);
  };
  if (!enter_hashing(ctx)) co_return error_response(req, hashing_busy());
  auto login = co_await run_blocking(hashing_pool(ctx), std::move(job));
  leave_hashing(ctx);
  if (!login) co_return error_response(req, login.error());
  json::object out;
  out["token"] = login->token;
  out["user_id"] = to_string(login->user);
  out["device_id"] = login->device;
  co_return json_response(req, http::status::ok, out);
}

awaitable<HttpResponse> user_by_name(Context& ctx, HttpRequest req, std::string username) {
  auto token = bearer_token(req, false);
  if (!token) co_return error_response(req, make_error(ErrorCode::unauthorized, "a bearer token is required"));
  auto job = [&ctx, t = std::move(*token), name = std::move(username)]() -> Result<services::SocialService::Person> {
    auto session = ctx.services.auth.authenticate(t);
    if (!session) return std::move(session).error();
    return ctx.services.social.find_by_username(name);
  };
  auto user = co_await run_blocking(ctx.blocking, std::move(job));
  if (!user) co_return error_response(req, user.error());
  json::object out;
  out["user_id"] = to_string(user->id);
  out["username"] = user->username;
  co_return json_response(req, http::status::ok, out);
}

// A 204: done, nothing to say.
HttpResponse no_content(const HttpRequest& req) {
  HttpResponse res{http::status::no_content, req.version()};
  res.set(http::field::server, "parley");
  res.keep_alive(req.keep_alive());
  return res;
}

// GET /v1/sessions: the caller's user's logged-in devices.
awaitable<HttpResponse> list_sessions(Context& ctx, HttpRequest req) {
  auto token = bearer_token(req, false);
  if (!token) co_return error_response(req, make_error(ErrorCode::unauthorized, "a bearer token is required"));
  auto job = [&ctx, t = std::move(*token)]() -> Result<std::vector<services::SessionService::Device>> {
    auto caller = ctx.services.auth.authenticate(t);
    if (!caller) return std::move(caller).error();
    return ctx.services.sessions.devices(*caller);
  };
  auto devices = co_await run_blocking(ctx.blocking, std::move(job));
  if (!devices) co_return error_response(req, devices.error());
  json::array list;
  for (const auto& device : *devices) {
    json::object d;
    d["device_id"] = device.device;
    d["created_at"] = device.created_at;
    d["last_used_at"] = device.last_used_at;
    d["current"] = device.current;
    list.push_back(std::move(d));
  }
  json::object out;
  out["devices"] = std::move(list);
  co_return json_response(req, http::status::ok, out);
}

// DELETE /v1/sessions/current (the caller's session) and
// DELETE /v1/sessions/{device_id} (every session of that device).
awaitable<HttpResponse> end_sessions(Context& ctx, HttpRequest req, std::string device) {
  auto token = bearer_token(req, false);
  if (!token) co_return error_response(req, make_error(ErrorCode::unauthorized, "a bearer token is required"));
  auto job = [&ctx, t = std::move(*token), d = std::move(device)]() -> Result<void> {
    auto caller = ctx.services.auth.authenticate(t);
    if (!caller) return std::move(caller).error();
    if (d == "current") return ctx.services.sessions.logout(*caller);
    return ctx.services.sessions.remove_device(*caller, d);
  };
  auto done = co_await run_blocking(ctx.blocking, std::move(job));
  if (!done) co_return error_response(req, done.error());
  co_return no_content(req);
}

// POST /v1/users/me/password {"old_password", "new_password"}: hashes
// twice, so it runs on the hashing pool as logins do.
awaitable<HttpResponse> change_password(Context& ctx, HttpRequest req) {
  auto token = bearer_token(req, false);
  if (!token) co_return error_response(req, make_error(ErrorCode::unauthorized, "a bearer token is required"));
  auto body = codec::read_body(req.body(), {"old_password", "new_password"});
  if (!body) co_return error_response(req, body.error());
  auto job = [&ctx, t = std::move(*token), b = std::move(body.value())]() -> Result<void> {
    auto caller = ctx.services.auth.authenticate(t);
    if (!caller) return std::move(caller).error();
    return ctx.services.sessions.change_password(*caller, b.at("old_password").get_string(),
                                                 b.at("new_password").get_string());
  };
  if (!enter_hashing(ctx)) co_return error_response(req, hashing_busy());
  auto done = co_await run_blocking(hashing_pool(ctx), std::move(job));
  leave_hashing(ctx);
  if (!done) co_return error_response(req, done.error());
  co_return no_content(req);
}

// `scheme`: "wss://" where this server serves TLS (the servers of one
// cluster share their TLS settings), else "ws://".
json::object server_json(const ports::ServerInfo& server, std::string_view scheme) {
  json::object out;
  out["server_id"] = server.id;
  out["endpoint"] = server.endpoint;
  out["url"] = std::string(scheme) + server.endpoint + "/v1/ws";
  out["load"] = server.load;
  return out;
}

std::string_view websocket_scheme(const Context& ctx) { return ctx.options.tls ? "wss://" : "ws://"; }

// GET /v1/servers: the live servers of the cluster and their loads.
awaitable<HttpResponse> list_servers(Context& ctx, HttpRequest req) {
  auto job = [&ctx] { return ctx.services.cluster.live_servers(); };
  auto servers = co_await run_blocking(ctx.blocking, std::move(job));
  if (!servers) co_return error_response(req, servers.error());
  json::array list;
  for (const auto& server : *servers) list.push_back(server_json(server, websocket_scheme(ctx)));
  json::object out;
  out["servers"] = std::move(list);
  co_return json_response(req, http::status::ok, out);
}

// GET /v1/connect: the server a client should connect to, the least loaded
// one (ties broken at random, so that a burst of clients between two
// heartbeats spreads over equally loaded servers).
awaitable<HttpResponse> pick_server(Context& ctx, HttpRequest req) {
  auto job = [&ctx] { return ctx.services.cluster.live_servers(); };
  auto servers = co_await run_blocking(ctx.blocking, std::move(job));
  if (!servers) co_return error_response(req, servers.error());
  if (servers->empty()) {
    co_return error_response(req, make_error(ErrorCode::unavailable, "no server is registered; try again shortly"));
  }
  std::uint64_t least = UINT64_MAX;
  for (const auto& server : *servers) least = std::min(least, server.load);
  std::vector<const ports::ServerInfo*> candidates;
  for (const auto& server : *servers) {
    if (server.load == least) candidates.push_back(&server);
  }
  thread_local std::minstd_rand random{std::random_device{}()};
  const auto& chosen = *candidates[std::uniform_int_distribution<std::size_t>(0, candidates.size() - 1)(random)];
  co_return json_response(req, http::status::ok, server_json(chosen, websocket_scheme(ctx)));
}

// GET /v1/readyz: 200 {"ready":true} while this server can serve; else 503
// {"ready":false,"reasons":[...]} (services/readiness.hpp). Reads what the
// background probes found, so it never waits on an engine.
HttpResponse readyz(Context& ctx, const HttpRequest& req) {
  const auto reasons = ctx.services.readiness.reasons();
  json::object out;
  out["ready"] = reasons.empty();
  if (reasons.empty()) return json_response(req, http::status::ok, out);
  json::array list;
  for (const auto& reason : reasons) list.emplace_back(reason);
  out["reasons"] = std::move(list);
  return json_response(req, http::status::service_unavailable, out);
}

// GET /v1/version: what this binary is (core/build_info.hpp).
HttpResponse version(const HttpRequest& req) {
  json::object out;
  out["version"] = build_info::version();
  out["commit"] = build_info::commit();
  out["build_type"] = build_info::build_type();
  return json_response(req, http::status::ok, out);
}

// GET /metrics: every metric in the Prometheus text format, version 0.0.4
// (docs/OPERATIONS.md, "Metrics"). Unauthenticated, as healthz is.
HttpResponse metrics_text(Context& ctx, const HttpRequest& req) {
  HttpResponse res{http::status::ok, req.version()};
  res.set(http::field::server, "parley");
  res.set(http::field::content_type, Metrics::kContentType);
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(req.keep_alive());
  res.body() = ctx.services.metrics.render();
  res.prepare_payload();
  return res;
}

// The page at `/` when no web app is served (--web-dir unset): a small
// built-in client.
HttpResponse embedded_web_client(const HttpRequest& req) {
  HttpResponse res{http::status::ok, req.version()};
  res.set(http::field::server, "parley");
  res.set(http::field::content_type, "text/html; charset=utf-8");
  res.keep_alive(req.keep_alive());
  res.body() = std::string(kWebClientHtml);
  res.prepare_payload();
  return res;
}

// The web app's files (--web-dir): `/` is index.html. The build names its
// assets by their content (/assets/index-3f2a….js), so those may be cached
// for good; everything else is checked again on each load.
awaitable<HttpResponse> web_file(Context& ctx, HttpRequest req, std::string path) {
  if (web_dir().empty()) {
    if (path == "/" || path == "/index.html") co_return embedded_web_client(req);
    co_return error_response(req, make_error(ErrorCode::not_found, "no endpoint GET " + path));
  }
  constexpr std::size_t kMaxFile = 32U << 20;
  auto job = [root = web_dir(), path]() -> std::optional<std::pair<std::string, std::string>> {
    auto file = resolve_static_file(root, path);
    if (!file) return std::nullopt;
    auto body = read_static_file(*file, kMaxFile);
    if (!body) return std::nullopt;
    return std::pair{std::move(*body), std::string(static_content_type(*file))};
  };
  auto found = co_await run_blocking(ctx.blocking, std::move(job));
  if (!found) co_return error_response(req, make_error(ErrorCode::not_found, "no file " + path));
  HttpResponse res{http::status::ok, req.version()};
  res.set(http::field::server, "parley");
  res.set(http::field::content_type, found->second);
  res.set("X-Content-Type-Options", "nosniff");
  res.set(http::field::cache_control,
          path.starts_with("/assets/") ? "public, max-age=31536000, immutable" : "no-cache");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(found->first);
  res.prepare_payload();
  co_return res;
}

}  // namespace

void set_web_dir(std::string dir) { web_dir() = std::move(dir); }

HttpResponse error_response(const HttpRequest& req, const Error& e) {
  HttpResponse res = json_response(req, status_of(e.code), codec::to_json(e));
  if (e.code == ErrorCode::rate_limited) {
    res.set(http::field::retry_after, std::to_string(std::max<std::uint32_t>(e.retry_after_s, 1)));
  }
  return res;
}

std::string login_source(const boost::asio::ip::address& address) {
  if (address.is_v4()) return address.to_v4().to_string();
  const auto v6 = address.to_v6();
  if (v6.is_v4_mapped()) return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).to_string();
  // One IPv6 host commonly holds a whole /64: count the /64.
  auto bytes = v6.to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return boost::asio::ip::address_v6(bytes).to_string() + "/64";
}

std::optional<std::string> bearer_token(const HttpRequest& req, bool allow_query) {
  if (auto it = req.find(http::field::authorization); it != req.end()) {
    // RFC 9110: the scheme is case-insensitive, and one or more spaces
    // separate it from the token.
    std::string_view v = it->value();
    constexpr std::string_view kBearer = "bearer";
    if (v.size() <= kBearer.size() || v[kBearer.size()] != ' ' || !boost::beast::iequals(v.substr(0, 6), kBearer)) {
      return std::nullopt;
    }
    v.remove_prefix(kBearer.size());
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    if (v.empty()) return std::nullopt;
    return std::string(v);
  }
  if (!allow_query) return std::nullopt;
  auto url = boost::urls::parse_origin_form(req.target());
  if (!url) return std::nullopt;
  auto params = url->params();
  auto it = params.find("token");
  if (it == params.end() || !(*it).has_value) return std::nullopt;
  return std::string((*it).value);
}

namespace {

constexpr std::string_view kAdminUsersPrefix = "/v1/admin/users/";

// POST /v1/admin/users/{id}/disable|enable: the id and the action; nullopt
// for any other path.
std::optional<std::pair<std::string, std::string>> admin_user_action(std::string_view path) {
  if (!path.starts_with(kAdminUsersPrefix)) return std::nullopt;
  path.remove_prefix(kAdminUsersPrefix.size());
  const auto slash = path.find('/');
  if (slash == std::string_view::npos || slash == 0) return std::nullopt;
  const std::string_view action = path.substr(slash + 1);
  if (action != "disable" && action != "enable") return std::nullopt;
  return std::pair{std::string(path.substr(0, slash)), std::string(action)};
}

// DELETE /v1/admin/users/{id}: the id; nullopt for any other path.
std::optional<std::string> admin_user(std::string_view path) {
  if (!path.starts_with(kAdminUsersPrefix)) return std::nullopt;
  path.remove_prefix(kAdminUsersPrefix.size());
  if (path.empty() || path.find('/') != std::string_view::npos) return std::nullopt;
  return std::string(path);
}

// The admin API's endpoints; none (a 404, as for any unknown path) when
// parleyd runs without --admin-token-file.
std::vector<http::verb> admin_methods_of(std::string_view path) {
  if (path == "/v1/admin/users" || path == "/v1/admin/stats") return {http::verb::get};
  if (admin_user_action(path)) return {http::verb::post};
  if (admin_user(path)) return {http::verb::delete_};
  return {};
}

// The admin API (docs/PROTOCOL.md, "Admin API"), for a bearer token equal
// to --admin-token-file's content. Compared as hashes, in constant time.
bool is_admin(const Context& ctx, const HttpRequest& req) {
  const auto token = bearer_token(req, false);
  if (!token || ctx.options.admin_token.empty()) return false;
  std::array<unsigned char, crypto_generichash_BYTES> given{};
  std::array<unsigned char, crypto_generichash_BYTES> expected{};
  crypto_generichash(given.data(), given.size(), reinterpret_cast<const unsigned char*>(token->data()), token->size(),
                     nullptr, 0);
  crypto_generichash(expected.data(), expected.size(),
                     reinterpret_cast<const unsigned char*>(ctx.options.admin_token.data()),
                     ctx.options.admin_token.size(), nullptr, 0);
  return sodium_memcmp(given.data(), expected.data(), given.size()) == 0;
}

json::object user_json(const ports::UserRecord& user) {
  json::object out;
  out["user_id"] = to_string(user.id);
  out["username"] = user.username;
  out["created_at"] = user.created_at;
  out["disabled"] = user.disabled;
  out["deleted"] = user.deleted;
  return out;
}

awaitable<HttpResponse> admin(Context& ctx, HttpRequest req, const std::string& path) {
  if (!is_admin(ctx, req)) {
    co_return error_response(req, make_error(ErrorCode::unauthorized, "the admin API needs the admin bearer token"));
  }
  if (path == "/v1/admin/stats") {
    json::object out;
    out["connections"] = ctx.limits.open();
    out["websockets"] = ctx.registry.connection_count();
    out["version"] = build_info::version();
    co_return json_response(req, http::status::ok, out);
  }
  if (path == "/v1/admin/users") {
    auto url = boost::urls::parse_origin_form(req.target());
    std::string query;
    std::string after;
    int limit = services::AdminService::kDefaultPage;
    for (const auto& param : url->params()) {
      if (param.key == "q") query = param.value;
      if (param.key == "after") after = param.value;
      if (param.key == "limit") {
        const auto parsed = validate::id_string(param.value);  // a positive decimal
        if (!parsed || *parsed > static_cast<std::uint64_t>(services::AdminService::kMaxPage)) {
          co_return error_response(
              req, make_error(ErrorCode::bad_request,
                              "limit must be 1 to " + std::to_string(services::AdminService::kMaxPage)));
        }
        limit = static_cast<int>(*parsed);
      }
    }
    auto job = [&ctx, q = std::move(query), a = std::move(after), limit] {
      return ctx.services.admin.users(q, a, limit);
    };
    auto page = co_await run_blocking(ctx.blocking, std::move(job));
    if (!page) co_return error_response(req, page.error());
    json::object out;
    json::array users;
    for (const auto& user : page->users) users.push_back(user_json(user));
    out["users"] = std::move(users);
    if (page->more) out["next"] = page->users.back().username;
    co_return json_response(req, http::status::ok, out);
  }
  // DELETE /v1/admin/users/{id}, or POST …/{id}/disable|enable.
  const auto action = admin_user_action(path);
  const auto id = validate::id_string(action ? action->first : admin_user(path).value_or(""));
  if (!id) co_return error_response(req, make_error(ErrorCode::not_found, "no such user"));
  auto job = [&ctx, user = UserId{*id}, verb = action ? action->second : std::string("delete")] {
    if (verb == "delete") return ctx.services.admin.remove(user);
    return verb == "disable" ? ctx.services.admin.disable(user) : ctx.services.admin.enable(user);
  };
  auto done = co_await run_blocking(ctx.blocking, std::move(job));
  if (!done) {
    co_return error_response(req, done.error().code == ErrorCode::not_found
                                      ? make_error(ErrorCode::not_found, "no such user")
                                      : done.error());
  }
  co_return no_content(req);
}

// Whether `path` is the web app's (a file of --web-dir, or the built-in page
// at `/`) rather than the API's.
bool is_web_path(std::string_view path) {
  if (path == "/" || path == "/index.html") return true;
  return !web_dir().empty() && path != "/v1" && !path.starts_with("/v1/");
}

constexpr std::string_view kSessionsPrefix = "/v1/sessions/";

// The methods each endpoint answers (GET ones answer HEAD too); none for a
// path that is no endpoint.
std::vector<http::verb> methods_of(std::string_view path) {
  if (path == "/v1/healthz" || path == "/v1/readyz" || path == "/v1/version" || path == "/v1/connect" ||
      path == "/v1/servers" || path == "/metrics" || path.starts_with("/v1/users/by-name/") || is_web_path(path) ||
      path == "/v1/ws") {
    return {http::verb::get};
  }
  if (path == "/v1/sessions") return {http::verb::get, http::verb::post};
  if (path == "/v1/users" || path == "/v1/users/me/password") return {http::verb::post};
  if (path.starts_with(kSessionsPrefix) && path.size() > kSessionsPrefix.size()) return {http::verb::delete_};
  if (path.starts_with("/v1/admin/")) return admin_methods_of(path);
  return {};
}

// The Allow header's value for those methods.
std::string allow_header(const std::vector<http::verb>& methods) {
  std::string out;
  for (const auto method : methods) {
    if (!out.empty()) out += ", ";
    out += method == http::verb::get ? "GET, HEAD" : std::string(http::to_string(method));
  }
  return out;
}

awaitable<HttpResponse> route(Context& ctx, HttpRequest req, const std::string& path, std::string source);

// The answer to `req` with its body: 405 with Allow for a method the path's
// endpoint does not answer, else the endpoint's (a HEAD is answered as a
// GET; handle_http drops the body).
awaitable<HttpResponse> answer(Context& ctx, HttpRequest req, std::string source) {
  auto url = boost::urls::parse_origin_form(req.target());
  if (!url) co_return error_response(req, make_error(ErrorCode::bad_request, "malformed request target"));
  const std::string path(url->path());
  const auto expected = methods_of(path);
  const auto answers = [&expected](http::verb m) {
    return std::find(expected.begin(), expected.end(), m) != expected.end();
  };
  if (is_preflight(req) && !expected.empty()) {
    auto origin = req.find(http::field::origin);
    if (!origin_allowed(ctx.options, origin->value())) co_return error_response(req, origin_refused(req));
    co_return preflight_response(req, allow_header(expected));
  }
  const bool head_of_get = req.method() == http::verb::head && answers(http::verb::get);
  if (!expected.empty() && !answers(req.method()) && !head_of_get) {
    std::string use;
    for (const auto method : expected) use += (use.empty() ? "" : " or ") + std::string(http::to_string(method));
    auto res = error_response(req, make_error(ErrorCode::bad_request, std::string(req.method_string()) + " " + path +
                                                                          " is not allowed; use " + use));
    res.result(http::status::method_not_allowed);
    res.set(http::field::allow, allow_header(expected));
    co_return res;
  }
  if (head_of_get) req.method(http::verb::get);
  co_return co_await route(ctx, std::move(req), path, std::move(source));
}

// The routes of http_route_names(), in its order.
enum class Route : std::size_t {
  healthz,
  readyz,
  version,
  connect,
  servers,
  create_user,
  create_session,
  list_sessions,
  end_sessions,
  change_password,
  user_by_name,
  websocket,
  metrics,
  web,
  other,
};
constexpr std::string_view kRouteNames[] = {
    "GET /v1/healthz",
    "GET /v1/readyz",
    "GET /v1/version",
    "GET /v1/connect",
    "GET /v1/servers",
    "POST /v1/users",
    "POST /v1/sessions",
    "GET /v1/sessions",
    "DELETE /v1/sessions/{device_id}",
    "POST /v1/users/me/password",
    "GET /v1/users/by-name/{username}",
    "GET /v1/ws",
    "GET /metrics",
    "GET web",
    "other",
};
static_assert(std::size(kRouteNames) == static_cast<std::size_t>(Route::other) + 1);

// The route route() takes for a request (HEAD as GET).
Route route_of(http::verb method, std::string_view path) {
  if (method == http::verb::head) method = http::verb::get;
  const bool get = method == http::verb::get;
  if (get && path == "/v1/healthz") return Route::healthz;
  if (get && path == "/v1/readyz") return Route::readyz;
  if (get && path == "/v1/version") return Route::version;
  if (get && path == "/v1/connect") return Route::connect;
  if (get && path == "/v1/servers") return Route::servers;
  if (get && path == "/metrics") return Route::metrics;
  if (method == http::verb::post && path == "/v1/users") return Route::create_user;
  if (method == http::verb::post && path == "/v1/sessions") return Route::create_session;
  if (get && path == "/v1/sessions") return Route::list_sessions;
  if (method == http::verb::delete_ && path.starts_with(kSessionsPrefix) && path.size() > kSessionsPrefix.size()) {
    return Route::end_sessions;
  }
  if (method == http::verb::post && path == "/v1/users/me/password") return Route::change_password;
  if (get && path.starts_with("/v1/users/by-name/")) return Route::user_by_name;
  if (get && path == "/v1/ws") return Route::websocket;
  if (get && is_web_path(path)) return Route::web;
  return Route::other;
}

// The protocol's error code of an HTTP error status (status_of's inverse;
// 405 and other 4xx are bad requests).
ErrorCode code_of(unsigned status) {
  switch (status) {
    case 401: return ErrorCode::unauthorized;
    case 403: return ErrorCode::forbidden;
    case 404: return ErrorCode::not_found;
    case 409: return ErrorCode::conflict;
    case 413: return ErrorCode::too_large;
    case 429: return ErrorCode::rate_limited;
    case 503: return ErrorCode::unavailable;
    default: return status >= 500 ? ErrorCode::internal : ErrorCode::bad_request;
  }
}

}  // namespace

std::span<const std::string_view> http_route_names() noexcept { return kRouteNames; }

void count_http(Context& ctx, http::verb method, std::string_view target, unsigned status) {
  if (ctx.route_outcomes.empty()) return;
  auto url = boost::urls::parse_origin_form(target);
  const Route route = url ? route_of(method, url->path()) : Route::other;
  RequestOutcomes& outcomes = *ctx.route_outcomes[static_cast<std::size_t>(route)];
  if (status < 400) {
    outcomes.ok();
    return;
  }
  outcomes.failed(code_of(status));
  if (status == 429 && (route == Route::create_session || route == Route::change_password))
    ctx.services.metrics.rate_limited(Metrics::Limit::login).Increment();
}

awaitable<HttpResponse> handle_http(Context& ctx, HttpRequest req, std::string source) {
  const bool head = req.method() == http::verb::head;
  std::string origin;
  if (!ctx.options.cors_origins.empty()) {
    if (auto it = req.find(http::field::origin); it != req.end()) origin = it->value();
  }
  const auto method = req.method();
  const std::string target(req.target());
  HttpResponse res = co_await answer(ctx, std::move(req), std::move(source));
  count_http(ctx, method, target, res.result_int());
  add_cors_headers(ctx.options, origin, res);
  if (head) {
    // RFC 9110: a HEAD answer is the GET one's status and headers, its
    // Content-Length included, and never has a body, whatever the status
    // (a body would be read as the start of the next answer).
    const auto length = res.body().size();
    res.body().clear();
    res.content_length(length);
  }
  co_return res;
}

namespace {

awaitable<HttpResponse> route(Context& ctx, HttpRequest req, const std::string& path, std::string source) {
  const auto method = req.method();

  if (path == "/v1/healthz" && method == http::verb::get) {
    json::object ok;
    ok["status"] = "ok";
    co_return json_response(req, http::status::ok, ok);
  }
  if (path == "/v1/readyz" && method == http::verb::get) co_return readyz(ctx, req);
  if (path == "/v1/version" && method == http::verb::get) co_return version(req);
  if (path == "/metrics" && method == http::verb::get) co_return metrics_text(ctx, req);
  if (path == "/v1/connect" && method == http::verb::get) co_return co_await pick_server(ctx, std::move(req));
  if (path == "/v1/servers" && method == http::verb::get) co_return co_await list_servers(ctx, std::move(req));
  if (path == "/v1/users" && method == http::verb::post) co_return co_await create_user(ctx, std::move(req));
  if (path == "/v1/sessions" && method == http::verb::post)
    co_return co_await create_session(ctx, std::move(req), std::move(source));
  if (path == "/v1/sessions" && method == http::verb::get) co_return co_await list_sessions(ctx, std::move(req));
  if (path.starts_with(kSessionsPrefix) && method == http::verb::delete_) {
    std::string device = path.substr(kSessionsPrefix.size());
    co_return co_await end_sessions(ctx, std::move(req), std::move(device));
  }
  if (path == "/v1/users/me/password" && method == http::verb::post) {
    co_return co_await change_password(ctx, std::move(req));
  }
  constexpr std::string_view kByName = "/v1/users/by-name/";
  if (path.starts_with(kByName) && method == http::verb::get) {
    std::string name = path.substr(kByName.size());
    co_return co_await user_by_name(ctx, std::move(req), std::move(name));
  }
  if (path.starts_with("/v1/admin/") && !ctx.options.admin_token.empty())
    co_return co_await admin(ctx, std::move(req), path);
  if (is_web_path(path) && method == http::verb::get) co_return co_await web_file(ctx, std::move(req), path);
  if (path == "/v1/ws") {
    co_return error_response(req, make_error(ErrorCode::bad_request, "/v1/ws needs a WebSocket upgrade"));
  }
  co_return error_response(
      req, make_error(ErrorCode::not_found, "no endpoint " + std::string(req.method_string()) + " " + path));
}

}  // namespace

}  // namespace parley::gateway
