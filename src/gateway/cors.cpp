#include "gateway/cors.hpp"

#include <algorithm>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <cctype>

namespace parley::gateway {

namespace http = boost::beast::http;

namespace {

std::string lowercase(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "host[:port]" of an origin "scheme://host[:port]"; empty when it is none.
std::string_view authority_of(std::string_view origin) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (origin.size() > scheme.size() && boost::beast::iequals(origin.substr(0, scheme.size()), scheme)) {
      return origin.substr(scheme.size());
    }
  }
  return {};
}

// An origin as browsers send it: a scheme, a host, maybe a port; no path,
// query, user or blank.
bool well_formed_origin(std::string_view origin) {
  const std::string_view authority = authority_of(origin);
  if (authority.empty()) return false;
  return std::none_of(authority.begin(), authority.end(), [](unsigned char c) {
    return c == '/' || c == '?' || c == '#' || c == '@' || std::isspace(c) != 0 || std::iscntrl(c) != 0;
  });
}

std::string_view header(const HttpRequest& req, http::field field) {
  auto it = req.find(field);
  return it == req.end() ? std::string_view() : std::string_view(it->value());
}

}  // namespace

std::optional<std::vector<std::string>> parse_cors_origins(std::string_view list) {
  std::vector<std::string> out;
  while (!list.empty()) {
    const auto comma = list.find(',');
    const std::string_view item = trim(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (item.empty()) continue;
    if (!well_formed_origin(item)) return std::nullopt;
    out.push_back(lowercase(item));
  }
  if (out.empty()) return std::nullopt;
  return out;
}

bool origin_allowed(const GatewayOptions& options, std::string_view origin) {
  if (origin.empty() || options.cors_origins.empty()) return false;
  const std::string wanted = lowercase(origin);
  return std::find(options.cors_origins.begin(), options.cors_origins.end(), wanted) != options.cors_origins.end();
}

bool websocket_origin_allowed(const GatewayOptions& options, const HttpRequest& req) {
  const std::string_view origin = header(req, http::field::origin);
  if (origin.empty()) return true;  // not a browser
  const std::string_view host = header(req, http::field::host);
  const std::string_view authority = authority_of(origin);
  if (!host.empty() && !authority.empty() && boost::beast::iequals(authority, host)) return true;
  return origin_allowed(options, origin);
}

Error origin_refused(const HttpRequest& req) {
  // The origin is echoed only when it is well formed and short: it is the
  // client's own input.
  std::string_view origin = header(req, http::field::origin);
  const bool show = well_formed_origin(origin) && origin.size() <= 256;
  return make_error(ErrorCode::forbidden, (show ? "the origin " + std::string(origin) : std::string("this origin")) +
                                              " is not allowed here (the server's --cors-origins)");
}

bool is_preflight(const HttpRequest& req) {
  return req.method() == http::verb::options && !header(req, http::field::origin).empty() &&
         !header(req, http::field::access_control_request_method).empty();
}

HttpResponse preflight_response(const HttpRequest& req, std::string_view allow) {
  HttpResponse res{http::status::no_content, req.version()};
  res.set(http::field::server, "parley");
  res.set(http::field::access_control_allow_origin, lowercase(header(req, http::field::origin)));
  res.set(http::field::access_control_allow_methods, allow);
  res.set(http::field::access_control_allow_headers, "Authorization, Content-Type");
  res.set(http::field::access_control_max_age, std::to_string(kPreflightMaxAgeSeconds));
  res.set(http::field::vary, "Origin");
  res.keep_alive(req.keep_alive());
  return res;
}

void add_cors_headers(const GatewayOptions& options, std::string_view origin, HttpResponse& res) {
  if (options.cors_origins.empty()) return;
  res.set(http::field::vary, "Origin");
  if (!origin_allowed(options, origin)) return;
  res.set(http::field::access_control_allow_origin, lowercase(origin));
  // A client told to wait (429) can read how long.
  res.set(http::field::access_control_expose_headers, "Retry-After");
}

}  // namespace parley::gateway
