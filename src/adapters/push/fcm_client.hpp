#pragma once
// FcmClient: the PushSender for Android devices. FCM's HTTP v1 API
// (POST /v1/projects/<project>/messages:send) over HTTP/2, authorised by an
// OAuth2 access token that the client gets from the token endpoint with the
// service account's key (an RS256 JWT assertion, the JWT bearer grant) and
// reuses until shortly before it expires. Sends that arrive while a token is
// being fetched wait for it; one fetch serves them all.
//
// Answers: 200 ok; 404 or errorCode UNREGISTERED mean the token is dead;
// 401 renews the access token once; 429 and 5xx (and no answer) are retried
// with backoff; anything else fails the send.

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "adapters/push/http2_client.hpp"
#include "adapters/push/retry_policy.hpp"
#include "adapters/push/signing_key.hpp"
#include "ports/push_sender.hpp"

namespace parley::push {

class FcmClient final : public ports::PushSender {
 public:
  struct Options {
    std::string base_url = "https://fcm.googleapis.com";
    std::string token_url;             // empty: the service account's token_uri
    std::string service_account_file;  // the JSON key file from the Firebase console
    std::string project_id;            // empty: the service account's project_id
    std::string ca_file;               // extra trust anchor (tests); empty: the system's
    RetryPolicy retry;
  };

  struct ServiceAccount {
    std::string client_email;
    std::string private_key_id;
    std::string project_id;
    std::string token_uri;
    SigningKey key;
  };

  [[nodiscard]] static Result<ServiceAccount> read_service_account(std::string_view json_text);
  [[nodiscard]] static Result<std::unique_ptr<FcmClient>> create(Options options);

  FcmClient(Options options, ServiceAccount account);

  void send(const ports::DeviceToken& token, const ports::WakeUp& wake, ports::PushCallback done) override;

  // The JSON body FCM gets for a wake-up.
  [[nodiscard]] static std::string message_body(std::string_view token, const ports::WakeUp& wake);

 private:
  struct Send {
    std::shared_ptr<const ports::DeviceToken> token;
    std::shared_ptr<const ports::WakeUp> wake;
    ports::PushCallback done;
    int attempt = 1;
    bool renewed = false;
    std::chrono::steady_clock::time_point not_before{};  // a backoff carried across a token fetch
  };

  // Posts `s` with the access token, or queues it behind a token fetch.
  void dispatch(Send s, std::chrono::steady_clock::time_point not_before);
  void post(Send s, const std::string& access_token, std::chrono::steady_clock::time_point not_before);
  void fetch_token();
  void on_token(const Http2Client::Response& r);

  Options options_;
  ServiceAccount account_;
  std::mutex mu_;  // guards the token state below
  std::string access_token_;
  std::chrono::steady_clock::time_point refresh_at_{};  // renew at or after this
  bool fetching_ = false;
  std::vector<Send> waiting_;  // sends waiting for the fetch in flight
  Http2Client http_;           // last: its thread stops before the members its callbacks use
};

}  // namespace parley::push
