#pragma once
// ApnsClient: the PushSender for Apple devices. HTTP/2 to the APNs provider
// API (POST /3/device/<token>) with token-based auth: an ES256 JWT signed by
// the team's .p8 key (iss = team id, kid = key id), made once and reused
// until `token_refresh` has passed (Apple refuses tokens older than an hour
// and throttles tokens renewed more often than every 20 minutes), and
// renewed at once when APNs answers 403 ExpiredProviderToken.
//
// Answers: 200 ok; 410 Unregistered and 400 BadDeviceToken /
// DeviceTokenNotForTopic mean the token is dead; 429 and 5xx (and no
// answer) are retried with backoff; anything else fails the send.

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "adapters/push/http2_client.hpp"
#include "adapters/push/retry_policy.hpp"
#include "adapters/push/signing_key.hpp"
#include "ports/push_sender.hpp"

namespace parley::push {

class ApnsClient final : public ports::PushSender {
 public:
  struct Options {
    std::string base_url = "https://api.push.apple.com";
    std::string key_file;  // the .p8 key (PKCS#8 PEM, EC P-256)
    std::string key_id;
    std::string team_id;
    std::string topic;    // the app's bundle id
    std::string ca_file;  // extra trust anchor (tests); empty: the system's
    std::chrono::seconds token_refresh{50 * 60};
    RetryPolicy retry;
  };

  // Reads the key; bad_request if a setting is missing or the key is unusable.
  [[nodiscard]] static Result<std::unique_ptr<ApnsClient>> create(Options options);

  ApnsClient(Options options, SigningKey key);

  void send(const ports::DeviceToken& token, const ports::WakeUp& wake, ports::PushCallback done) override;

  // The JSON body APNs gets for a wake-up.
  [[nodiscard]] static std::string payload(const ports::WakeUp& wake);
  // The provider token in use, made or renewed as needed.
  [[nodiscard]] Result<std::string> provider_token(bool force_renew = false);

 private:
  void attempt(const std::shared_ptr<const ports::DeviceToken>& token, const std::shared_ptr<const ports::WakeUp>& wake,
               ports::PushCallback done, int attempt, std::chrono::steady_clock::time_point not_before, bool renewed);

  Options options_;
  SigningKey key_;
  std::mutex mu_;  // guards jwt_ and jwt_made_
  std::string jwt_;
  std::chrono::steady_clock::time_point jwt_made_{};
  Http2Client http_;  // last: its thread stops before the members its callbacks use
};

}  // namespace parley::push
