#pragma once
// StateStore: fast, shared, short-lived state: presence with a TTL, which
// servers hold a user's devices (routes), and pub/sub between servers.
//
// Nothing here is the only copy of anything that must not be lost: routes and
// presence are rebuilt by connections, and pub/sub carries live events whose
// durable copy is in the message store.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/ids.hpp"
#include "core/result.hpp"

namespace parley::ports {

// Ends a subscription when destroyed.
class Subscription {
 public:
  virtual ~Subscription() = default;
};

class StateStore {
 public:
  virtual ~StateStore() = default;

  // --- routes: user -> the servers holding that user's connected devices ---
  [[nodiscard]] virtual Result<void> add_route(UserId user, std::string_view server) = 0;
  [[nodiscard]] virtual Result<void> remove_route(UserId user, std::string_view server) = 0;
  [[nodiscard]] virtual Result<std::vector<std::string>> routes(UserId user) = 0;

  // --- presence -------------------------------------------------------------
  // Marks a user present for `ttl` from now (a heartbeat).
  [[nodiscard]] virtual Result<void> touch_presence(UserId user, std::chrono::milliseconds ttl) = 0;
  // Whether the user's presence has not expired.
  [[nodiscard]] virtual Result<bool> is_present(UserId user) = 0;

  // --- pub/sub between servers ---------------------------------------------
  // Delivers `payload` to every current subscriber of `channel`, at most
  // once each; a message published with no subscriber is dropped.
  [[nodiscard]] virtual Result<void> publish(std::string_view channel, std::string payload) = 0;
  // Calls `handler` for each message on `channel` until the returned
  // subscription is destroyed. The handler runs on a store thread and must
  // not block.
  [[nodiscard]] virtual Result<std::unique_ptr<Subscription>> subscribe(
      std::string_view channel, std::function<void(std::string_view payload)> handler) = 0;
};

}  // namespace parley::ports
