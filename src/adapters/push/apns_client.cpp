#include "adapters/push/apns_client.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "adapters/push/jwt.hpp"
#include "core/clock.hpp"
#include "core/log.hpp"

namespace parley::push {

namespace json = boost::json;
using ports::PushOutcome;

namespace {

std::string reason_of(const std::string& body) {
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return {};
  const auto* r = v.as_object().if_contains("reason");
  return r != nullptr && r->is_string() ? std::string(r->as_string()) : std::string();
}

}  // namespace

Result<std::unique_ptr<ApnsClient>> ApnsClient::create(Options options) {
  if (options.base_url.empty() || options.key_file.empty() || options.key_id.empty() || options.team_id.empty() ||
      options.topic.empty()) {
    return make_error(ErrorCode::bad_request, "APNs needs a base URL, a key file, a key id, a team id and a topic");
  }
  auto key = SigningKey::from_file(options.key_file);
  if (!key) return std::move(key).error();
  if (key->algorithm() != SigningKey::Algorithm::es256) {
    return make_error(ErrorCode::bad_request, "the APNs key must be an EC P-256 (.p8) key");
  }
  return std::make_unique<ApnsClient>(std::move(options), std::move(key).value());
}

ApnsClient::ApnsClient(Options options, SigningKey key)
    : options_(std::move(options)), key_(std::move(key)), http_({.ca_file = options_.ca_file}) {}

Result<std::string> ApnsClient::provider_token(bool force_renew) {
  std::lock_guard lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  if (!jwt_.empty() && !force_renew && now - jwt_made_ < options_.token_refresh) return jwt_;
  json::object claims;
  claims["iss"] = options_.team_id;
  claims["iat"] = unix_seconds();
  json::object header;
  header["kid"] = options_.key_id;
  auto jwt = sign_jwt(key_, claims, header);
  if (!jwt) return std::move(jwt).error();
  jwt_ = std::move(jwt).value();
  jwt_made_ = now;
  return jwt_;
}

std::string ApnsClient::payload(const ports::WakeUp& wake) {
  json::object aps;
  if (wake.kind == ports::WakeUp::Kind::alert) {
    json::object alert;
    alert["title"] = wake.title;
    alert["body"] = wake.body;
    aps["alert"] = std::move(alert);
    aps["sound"] = "default";
    aps["thread-id"] = wake.conversation;
  } else {
    aps["content-available"] = 1;
    aps["badge"] = 0;
  }
  json::object body;
  body["aps"] = std::move(aps);
  body["type"] = wake.kind == ports::WakeUp::Kind::alert ? "message" : "read";
  body["conversation"] = wake.conversation;
  body["message_id"] = to_string(wake.message);
  body["seq"] = wake.seq;
  body["count"] = wake.count;
  body["push_id"] = wake.push_id;
  return json::serialize(body);
}

void ApnsClient::send(const ports::DeviceToken& token, const ports::WakeUp& wake, ports::PushCallback done) {
  attempt(std::make_shared<const ports::DeviceToken>(token), std::make_shared<const ports::WakeUp>(wake),
          std::move(done), 1, {}, false);
}

void ApnsClient::attempt(const std::shared_ptr<const ports::DeviceToken>& token,
                         const std::shared_ptr<const ports::WakeUp>& wake, ports::PushCallback done, int attempt,
                         std::chrono::steady_clock::time_point not_before, bool renewed) {
  auto jwt = provider_token(false);
  if (!jwt) {
    done(PushOutcome{PushOutcome::Status::failed, {}, "APNs provider token: " + jwt.error().message});
    return;
  }
  const bool alert = wake->kind == ports::WakeUp::Kind::alert;
  Http2Client::Request request;
  request.url = options_.base_url + "/3/device/" + token->token;
  request.headers = {
      "authorization: bearer " + jwt.value(),
      "apns-topic: " + options_.topic,
      std::string("apns-push-type: ") + (alert ? "alert" : "background"),
      // Background pushes must go at 5; alerts at 10 for 1:1, 5 for groups.
      std::string("apns-priority: ") + (alert && wake->high_priority ? "10" : "5"),
      "apns-collapse-id: " + wake->conversation.substr(0, 64),
      "apns-id: " + wake->push_id,
      "content-type: application/json",
  };
  request.body = payload(*wake);
  request.not_before = not_before;
  http_.submit(std::move(request), [this, token, wake, done = std::move(done), attempt,
                                    renewed](const Http2Client::Response& r) mutable {
    if (r.status == 200) {
      done(PushOutcome::ok());
      return;
    }
    const std::string reason = reason_of(r.body);
    if (r.status == 410 || (r.status == 400 && (reason == "BadDeviceToken" || reason == "DeviceTokenNotForTopic"))) {
      done(PushOutcome{PushOutcome::Status::token_invalid, {}, std::to_string(r.status) + " " + reason});
      return;
    }
    if (r.status == 403 && reason == "ExpiredProviderToken" && !renewed) {
      (void)provider_token(true);
      this->attempt(token, wake, std::move(done), attempt, {}, true);
      return;
    }
    const bool retryable = r.status == 0 || r.status == 429 || r.status >= 500;
    const std::string what = r.status == 0 ? r.error : std::to_string(r.status) + " " + reason;
    if (!retryable) {
      done(PushOutcome{PushOutcome::Status::failed, {}, "APNs: " + what});
      return;
    }
    const auto wait = options_.retry.delay(attempt, r.headers);
    if (attempt >= options_.retry.max_attempts) {
      done(PushOutcome{PushOutcome::Status::retry_later, wait, "APNs: " + what});
      return;
    }
    log::write(log::Level::debug, "apns", "retrying after " + what);
    this->attempt(token, wake, std::move(done), attempt + 1, std::chrono::steady_clock::now() + wait, renewed);
  });
}

}  // namespace parley::push
