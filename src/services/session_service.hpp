#pragma once
// Sessions and devices (docs/PROTOCOL.md, "Sessions and devices"): listing
// a user's devices, logging one out, removing one, changing the password.
// Auth keeps the tokens; this service also forgets what a removed device
// leaves behind (its cursor, its push registration) and tells the servers
// holding the user's devices to close the connections of the sessions that
// ended (records::SessionsEnded, through the state store's pub/sub, so a
// connection on any server is closed).
//
// Every call blocks (directory and engine round trips, password hashes):
// call off the I/O threads.

#include <string>
#include <string_view>
#include <vector>

#include "ports/directory.hpp"
#include "ports/message_store.hpp"
#include "ports/push_tokens.hpp"
#include "ports/state_store.hpp"
#include "services/auth.hpp"
#include "services/records.hpp"

namespace parley::services {

class SessionService {
 public:
  // `push_tokens` may be null (no push service): nothing to revoke then.
  SessionService(Auth& auth, ports::MessageStore& store, ports::StateStore& state, ports::PushTokens* push_tokens);

  // One device of a user, as GET /v1/sessions lists it: the earliest
  // creation and the latest use among the device's sessions, and whether
  // it is the caller's device.
  struct Device {
    std::string device;
    TimeMs created_at = 0;
    TimeMs last_used_at = 0;
    bool current = false;
  };

  // The caller's user's logged-in devices, ordered by device id.
  [[nodiscard]] Result<std::vector<Device>> devices(const ports::SessionRecord& caller);

  // Ends the caller's session: its token is refused from now on and its
  // connections are closed. When the device holds no other session, its
  // push registration goes too (a logged-out device is woken for nobody).
  [[nodiscard]] Result<void> logout(const ports::SessionRecord& caller);

  // Removes one of the caller's user's devices: every session of it, its
  // cursor and its push registration; its connections are closed.
  // bad_request for a malformed device id, not_found for a device with no
  // session.
  [[nodiscard]] Result<void> remove_device(const ports::SessionRecord& caller, std::string_view device);

  // Auth::change_password, then closes the connections of every session
  // it ended (all but the caller's).
  [[nodiscard]] Result<void> change_password(const ports::SessionRecord& caller, std::string_view old_password,
                                             std::string_view new_password);

  // Ends every session of the user (an administrator disabled it): each
  // device is logged out, its push registration goes, and its connections
  // are closed with `reason`.
  [[nodiscard]] Result<void> end_all(UserId user, std::string reason);

  // Stores the push token of the caller's device, replacing the device's
  // previous one (push_register). unavailable when push is not wired.
  [[nodiscard]] Result<void> register_push(const ports::SessionRecord& caller, ports::PushPlatform platform,
                                           std::string token);

 private:
  // Publishes SessionsEnded to every server holding one of the user's
  // devices (this one included). Best effort: the tokens are refused
  // whatever happens here; a failure is logged.
  void close_connections(UserId user, records::SessionsEnded::Which which, std::string key, std::string reason);

  Auth& auth_;
  ports::MessageStore& store_;
  ports::StateStore& state_;
  ports::PushTokens* push_tokens_;
};

}  // namespace parley::services
