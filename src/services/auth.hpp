#pragma once
// Accounts and sessions: argon2id password hashes (libsodium) and opaque
// bearer tokens, of which the directory stores only a hash.

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ports/directory.hpp"

namespace parley::services {

class Auth {
 public:
  // How much work one password hash costs. `interactive` is libsodium's
  // recommendation for logins; `min` exists for tests that create thousands
  // of users and must never be used in production.
  enum class HashCost { interactive, moderate, min };

  struct Login {
    std::string token;
    UserId user;
    std::string device;
  };

  // Failed logins: after `free_failures` in a row for one username, the
  // next attempt waits `first_delay`, doubling with each further failure up
  // to `max_delay`; an attempt before then is `rate_limited` and checks
  // nothing. A success clears the count; so do 15 minutes without a
  // failure. Unknown usernames count alike and cost one hash check, so
  // neither the answer nor its time tells whether an account exists.
  //
  // The same holds per source address (the caller's key for it), after
  // `free_failures_per_address` failures from it, whatever the usernames:
  // one address cannot try a few passwords on each of many accounts. A
  // success does not clear an address's count (an attacker with an
  // account of their own could otherwise clear it between guesses); 15
  // minutes without a failure from it do. 0 turns either limit off.
  struct Throttle {
    int free_failures = 5;
    int free_failures_per_address = 20;
    std::chrono::milliseconds first_delay{1000};
    std::chrono::milliseconds max_delay{60000};
    std::function<std::chrono::steady_clock::time_point()> now = [] { return std::chrono::steady_clock::now(); };
  };

  // Sessions and sign-ups. A session ends `ttl` after its token was last
  // used (sliding): each use pushes the end back. Uses are written to the
  // directory at most once per `touch_interval()` per token, so the hot
  // path (every HTTP call and WebSocket upgrade authenticates) costs one
  // directory read, and a write only now and then.
  struct Sessions {
    std::chrono::milliseconds ttl{std::chrono::hours(24 * 30)};
    bool registration_open = true;  // false: register_user is `forbidden`
    std::function<TimeMs()> now;    // wall-clock ms; empty: the system clock
  };

  Auth(ports::Directory& directory, HashCost cost);  // the default Throttle and Sessions
  Auth(ports::Directory& directory, HashCost cost, Throttle throttle);
  Auth(ports::Directory& directory, HashCost cost, Throttle throttle, Sessions sessions);

  // Blocking (hashing is slow by design): call off the I/O threads.
  [[nodiscard]] Result<ports::UserRecord> register_user(std::string_view username, std::string_view password);
  // `source` names where the attempt comes from (the gateway's key for the
  // client's address); empty: nowhere in particular, no per-address count.
  [[nodiscard]] Result<Login> login(std::string_view username, std::string_view password, std::string_view device,
                                    std::string_view source = {});
  // The session of a token, with its token_hash; ErrorCode::unauthorized
  // for an unknown, ended or expired token (an expired one is deleted).
  [[nodiscard]] Result<ports::SessionRecord> authenticate(std::string_view token);

  // The user's sessions that have not expired (expired ones are deleted on
  // the way), ordered by device, then by creation.
  [[nodiscard]] Result<std::vector<ports::SessionRecord>> sessions_of(UserId user);
  // Ends one session (its token is refused from now on).
  [[nodiscard]] Result<void> end_session(std::string_view token_hash);
  // Ends every session of one device of the user; returns those ended;
  // ErrorCode::not_found when the device has none.
  [[nodiscard]] Result<std::vector<ports::SessionRecord>> end_device(UserId user, std::string_view device);
  // Checks `old_password` (a wrong one counts as a failed login of the
  // user's name, throttled alike), sets `new_password` (the sign-up rules),
  // and ends every other session of the user. Returns those ended.
  [[nodiscard]] Result<std::vector<ports::SessionRecord>> change_password(const ports::SessionRecord& caller,
                                                                          std::string_view old_password,
                                                                          std::string_view new_password);

  // How often one token's use is written: an hour, or a tenth of the TTL
  // when that is shorter.
  [[nodiscard]] std::chrono::milliseconds touch_interval() const noexcept;
  [[nodiscard]] std::chrono::milliseconds session_ttl() const noexcept { return sessions_.ttl; }

 private:
  // The sign-up rules for a new password; Ok or bad_request.
  [[nodiscard]] static Result<void> check_new_password(std::string_view password);
  [[nodiscard]] Result<std::string> hash_password(std::string_view password) const;
  [[nodiscard]] TimeMs now_ms() const;
  [[nodiscard]] bool expired(const ports::SessionRecord& session, TimeMs now) const noexcept;

  struct Failures {
    int count = 0;
    std::chrono::steady_clock::time_point last;      // the latest failure
    std::chrono::steady_clock::time_point retry_at;  // no attempt before this
  };
  using FailureMap = std::unordered_map<std::string, Failures>;

  // rate_limited while `source` or `username` must wait; Ok otherwise.
  [[nodiscard]] Result<void> check_throttle(std::string_view username, std::string_view source);
  // Counts a failed login for `username` and for `source` (either empty:
  // not counted for it).
  void failed(std::string_view username, std::string_view source);
  void succeeded(std::string_view username);
  // Counts one failure of `key` in `map` (under mu_), and sets its wait once
  // past `free_failures`.
  void count_failure(FailureMap& map, std::string_view key, int free_failures,
                     std::chrono::steady_clock::time_point now);

  ports::Directory& directory_;
  unsigned long long ops_limit_;
  std::size_t mem_limit_;
  std::string dummy_hash_;  // checked for unknown usernames, so they cost what known ones do
  const Throttle throttle_;
  const Sessions sessions_;
  std::mutex mu_;                // guards failures_ and address_failures_
  FailureMap failures_;          // username → its failed logins in a row
  FailureMap address_failures_;  // source → the failed logins from it in a row
};

}  // namespace parley::services
