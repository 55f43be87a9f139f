#pragma once
// PushTokens: the Directory's push-token role, split out as its own port.
//
// One token per (user, device): registering again replaces the device's
// token, and a token is held by at most one (user, device) at a time, so a
// phone that logs in as someone else stops waking the previous user. Tokens
// a provider reports as dead are removed with remove_if_current, which
// leaves a token registered since then in place.

#include <string>
#include <string_view>
#include <vector>

#include "core/ids.hpp"
#include "core/result.hpp"

namespace parley::ports {

enum class PushPlatform { apns, fcm };

[[nodiscard]] inline std::string_view to_string(PushPlatform p) noexcept {
  return p == PushPlatform::apns ? "apns" : "fcm";
}

// "apns" or "fcm"; false for anything else.
[[nodiscard]] inline bool parse_platform(std::string_view text, PushPlatform& out) noexcept {
  if (text == "apns") {
    out = PushPlatform::apns;
  } else if (text == "fcm") {
    out = PushPlatform::fcm;
  } else {
    return false;
  }
  return true;
}

struct DeviceToken {
  UserId user;
  std::string device;
  PushPlatform platform = PushPlatform::apns;
  std::string token;
  TimeMs updated_at = 0;

  friend bool operator==(const DeviceToken&, const DeviceToken&) = default;
};

class PushTokens {
 public:
  virtual ~PushTokens() = default;

  // Stores the device's token, replacing the one it had, and takes the token
  // away from any other (user, device) that held it. Durable on return.
  [[nodiscard]] virtual Result<void> put(const DeviceToken& token) = 0;

  // Every token of a user's devices, ordered by device id.
  [[nodiscard]] virtual Result<std::vector<DeviceToken>> list(UserId user) = 0;

  // Removes the device's token if it is still `token` (a dead-token report
  // races with a re-registration; the new token must survive). Removing a
  // token that is not there is not an error.
  [[nodiscard]] virtual Result<void> remove_if_current(UserId user, std::string_view device,
                                                       std::string_view token) = 0;

  // Removes whatever token the device has (logout).
  [[nodiscard]] virtual Result<void> remove_device(UserId user, std::string_view device) = 0;
};

}  // namespace parley::ports
