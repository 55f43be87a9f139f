#include "adapters/push/fcm_client.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fstream>
#include <sstream>

#include "adapters/push/jwt.hpp"
#include "core/clock.hpp"
#include "core/log.hpp"

namespace parley::push {

namespace json = boost::json;
using ports::PushOutcome;

namespace {

constexpr std::string_view kScope = "https://www.googleapis.com/auth/firebase.messaging";
constexpr std::int64_t kAssertionLifetime = 3600;  // seconds; Google's maximum

std::string string_field(const json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::string url_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

// FCM's error code from an error body: details[].errorCode, else error.status.
std::string fcm_error_code(const std::string& body) {
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return {};
  const auto* error = v.as_object().if_contains("error");
  if (error == nullptr || !error->is_object()) return {};
  if (const auto* details = error->as_object().if_contains("details"); details != nullptr && details->is_array()) {
    for (const auto& d : details->as_array()) {
      if (d.is_object()) {
        std::string code = string_field(d.as_object(), "errorCode");
        if (!code.empty()) return code;
      }
    }
  }
  return string_field(error->as_object(), "status");
}

}  // namespace

Result<FcmClient::ServiceAccount> FcmClient::read_service_account(std::string_view json_text) {
  boost::system::error_code ec;
  const json::value v = json::parse(json_text, ec);
  if (ec || !v.is_object()) return make_error(ErrorCode::bad_request, "the service account file is not JSON");
  const auto& o = v.as_object();
  const std::string pem = string_field(o, "private_key");
  const std::string email = string_field(o, "client_email");
  if (pem.empty() || email.empty()) {
    return make_error(ErrorCode::bad_request, "the service account has no private_key or client_email");
  }
  auto key = SigningKey::from_pem(pem);
  if (!key) return std::move(key).error();
  if (key->algorithm() != SigningKey::Algorithm::rs256) {
    return make_error(ErrorCode::bad_request, "the service account key must be RSA");
  }
  return ServiceAccount{email, string_field(o, "private_key_id"), string_field(o, "project_id"),
                        string_field(o, "token_uri"), std::move(key).value()};
}

Result<std::unique_ptr<FcmClient>> FcmClient::create(Options options) {
  std::ifstream in(options.service_account_file, std::ios::binary);
  if (!in) return make_error(ErrorCode::bad_request, "cannot read " + options.service_account_file);
  std::stringstream text;
  text << in.rdbuf();
  auto account = read_service_account(text.str());
  if (!account) return make_error(account.error().code, options.service_account_file + ": " + account.error().message);
  if (options.project_id.empty()) options.project_id = account->project_id;
  if (options.token_url.empty()) options.token_url = account->token_uri;
  if (options.project_id.empty() || options.token_url.empty() || options.base_url.empty()) {
    return make_error(ErrorCode::bad_request, "FCM needs a base URL, a project id and a token URL");
  }
  return std::make_unique<FcmClient>(std::move(options), std::move(account).value());
}

FcmClient::FcmClient(Options options, ServiceAccount account)
    : options_(std::move(options)), account_(std::move(account)), http_({.ca_file = options_.ca_file}) {}

std::string FcmClient::message_body(std::string_view token, const ports::WakeUp& wake) {
  const bool alert = wake.kind == ports::WakeUp::Kind::alert;
  // FCM data values must be strings. A data-only message wakes the app,
  // which syncs and then shows the notification itself.
  json::object data;
  data["type"] = alert ? "message" : "read";
  data["conversation"] = wake.conversation;
  data["message_id"] = to_string(wake.message);
  data["seq"] = std::to_string(wake.seq);
  data["count"] = std::to_string(wake.count);
  data["push_id"] = wake.push_id;
  if (alert) {
    data["title"] = wake.title;
    data["body"] = wake.body;
  } else {
    data["badge"] = "0";
  }
  json::object android;
  android["collapse_key"] = wake.conversation;
  android["priority"] = alert && wake.high_priority ? "HIGH" : "NORMAL";
  json::object message;
  message["token"] = token;
  message["data"] = std::move(data);
  message["android"] = std::move(android);
  json::object body;
  body["message"] = std::move(message);
  return json::serialize(body);
}

void FcmClient::send(const ports::DeviceToken& token, const ports::WakeUp& wake, ports::PushCallback done) {
  dispatch(Send{std::make_shared<const ports::DeviceToken>(token), std::make_shared<const ports::WakeUp>(wake),
                std::move(done)},
           {});
}

void FcmClient::dispatch(Send s, std::chrono::steady_clock::time_point not_before) {
  std::string token;
  bool fetch = false;
  {
    std::lock_guard lock(mu_);
    if (access_token_.empty() || std::chrono::steady_clock::now() >= refresh_at_) {
      // Waits for a fresh token; the first such send fetches it.
      s.not_before = not_before;
      waiting_.push_back(std::move(s));
      fetch = !std::exchange(fetching_, true);
    } else {
      token = access_token_;
    }
  }
  if (!token.empty()) {
    post(std::move(s), token, not_before);  // NOLINT(bugprone-use-after-move): only moved when token is empty
  } else if (fetch) {
    fetch_token();
  }
}

void FcmClient::fetch_token() {
  const std::int64_t now = unix_seconds();
  json::object claims;
  claims["iss"] = account_.client_email;
  claims["scope"] = kScope;
  claims["aud"] = options_.token_url;
  claims["iat"] = now;
  claims["exp"] = now + kAssertionLifetime;
  json::object header;
  if (!account_.private_key_id.empty()) header["kid"] = account_.private_key_id;
  auto assertion = sign_jwt(account_.key, claims, header);
  if (!assertion) {
    Http2Client::Response failed;
    failed.error = "cannot sign the OAuth2 assertion: " + assertion.error().message;
    on_token(failed);
    return;
  }
  Http2Client::Request request;
  request.url = options_.token_url;
  request.headers = {"content-type: application/x-www-form-urlencoded"};
  request.body = "grant_type=" + url_encode("urn:ietf:params:oauth:grant-type:jwt-bearer") +
                 "&assertion=" + url_encode(assertion.value());
  http_.submit(std::move(request), [this](const Http2Client::Response& r) { on_token(r); });
}

void FcmClient::on_token(const Http2Client::Response& r) {
  std::string token;
  long lifetime = 0;
  if (r.status == 200) {
    boost::system::error_code ec;
    const json::value v = json::parse(r.body, ec);
    if (!ec && v.is_object()) {
      token = string_field(v.as_object(), "access_token");
      if (const auto* e = v.as_object().if_contains("expires_in"); e != nullptr && e->is_int64()) {
        lifetime = static_cast<long>(e->as_int64());
      }
    }
  }
  std::vector<Send> waiting;
  {
    std::lock_guard lock(mu_);
    fetching_ = false;
    waiting.swap(waiting_);
    if (!token.empty() && lifetime > 0) {
      access_token_ = token;
      // Renew a minute early (or at half-life for short-lived tokens), so a
      // send never carries a token that expires on the way.
      const long margin = std::min<long>(60, lifetime / 2);
      refresh_at_ = std::chrono::steady_clock::now() + std::chrono::seconds(lifetime - margin);
    } else {
      token.clear();
    }
  }
  if (token.empty()) {
    const std::string what = r.status == 0 ? r.error : "token endpoint answered " + std::to_string(r.status);
    log::warn("fcm", "no OAuth2 access token: " + what);
    for (auto& s : waiting) {
      s.done(PushOutcome{PushOutcome::Status::retry_later, options_.retry.delay(s.attempt, {}), "FCM token: " + what});
    }
    return;
  }
  for (auto& s : waiting) {
    const auto not_before = s.not_before;
    post(std::move(s), token, not_before);
  }
}

void FcmClient::post(Send s, const std::string& access_token, std::chrono::steady_clock::time_point not_before) {
  Http2Client::Request request;
  request.url = options_.base_url + "/v1/projects/" + options_.project_id + "/messages:send";
  request.headers = {"authorization: Bearer " + access_token, "content-type: application/json"};
  request.body = message_body(s.token->token, *s.wake);
  request.not_before = not_before;
  http_.submit(std::move(request), [this, s = std::move(s), access_token](const Http2Client::Response& r) mutable {
    if (r.status == 200) {
      s.done(PushOutcome::ok());
      return;
    }
    const std::string code = fcm_error_code(r.body);
    if (r.status == 404 || code == "UNREGISTERED") {
      s.done(PushOutcome{PushOutcome::Status::token_invalid, {}, std::to_string(r.status) + " " + code});
      return;
    }
    if (r.status == 401 && !s.renewed) {
      {
        std::lock_guard lock(mu_);
        if (access_token_ == access_token) access_token_.clear();  // not if another send renewed it already
      }
      s.renewed = true;
      dispatch(std::move(s), {});
      return;
    }
    const bool retryable = r.status == 0 || r.status == 429 || r.status >= 500;
    const std::string what = r.status == 0 ? r.error : std::to_string(r.status) + " " + code;
    if (!retryable) {
      s.done(PushOutcome{PushOutcome::Status::failed, {}, "FCM: " + what});
      return;
    }
    const auto wait = options_.retry.delay(s.attempt, r.headers);
    if (s.attempt >= options_.retry.max_attempts) {
      s.done(PushOutcome{PushOutcome::Status::retry_later, wait, "FCM: " + what});
      return;
    }
    log::write(log::Level::debug, "fcm", "retrying after " + what);
    ++s.attempt;
    dispatch(std::move(s), std::chrono::steady_clock::now() + wait);
  });
}

}  // namespace parley::push
