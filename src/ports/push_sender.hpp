#pragma once
// PushSender: delivers one wake-up to one device token through its platform's
// push service (APNs, FCM) or, unconfigured, to the log.
//
// A wake-up carries no message content a device needs: the device fetches
// its messages with `sync` when it wakes. The alert text is only what the
// lock screen shows.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "core/ids.hpp"
#include "ports/push_tokens.hpp"

namespace parley::ports {

struct WakeUp {
  enum class Kind {
    alert,       // shows title/body; apns-push-type alert
    background,  // silent: content-available, clears the badge; apns-push-type background
  };
  Kind kind = Kind::alert;
  std::string push_id;        // stable across resends of the same notification (a UUID)
  std::string conversation;   // also the collapse key: one visible notification per conversation
  MessageId message;          // the newest message the push announces
  Seq seq = 0;                // that message's seq in the user's inbox
  std::uint32_t count = 1;    // messages this push announces (batched)
  bool high_priority = true;  // 1:1 high, groups low
  std::string title;
  std::string body;
};

struct PushOutcome {
  enum class Status {
    ok,             // the service accepted it
    token_invalid,  // APNs 410 / BadDeviceToken, FCM UNREGISTERED / 404: drop the token
    retry_later,    // throttled or unavailable after the sender's own retries
    failed,         // rejected for another reason: retrying would not help
  };
  Status status = Status::ok;
  std::chrono::milliseconds retry_after{0};  // for retry_later: how long to wait at least
  std::string detail;                        // for logs

  [[nodiscard]] static PushOutcome ok() { return {}; }
};

// Called once per send, from a sender thread; it must not block.
using PushCallback = std::function<void(PushOutcome)>;

class PushSender {
 public:
  virtual ~PushSender() = default;

  // Starts delivering `wake` to `token`; `done` runs once with the outcome.
  // Sends run concurrently (HTTP/2 streams on one connection per service).
  virtual void send(const DeviceToken& token, const WakeUp& wake, PushCallback done) = 0;
};

}  // namespace parley::ports
