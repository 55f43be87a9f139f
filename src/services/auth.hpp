#pragma once
// Accounts and sessions: argon2id password hashes (libsodium) and opaque
// bearer tokens, of which the directory stores only a hash.

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

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

  Auth(ports::Directory& directory, HashCost cost);  // the default Throttle
  Auth(ports::Directory& directory, HashCost cost, Throttle throttle);

  // Blocking (hashing is slow by design): call off the I/O threads.
  [[nodiscard]] Result<ports::UserRecord> register_user(std::string_view username, std::string_view password);
  // `source` names where the attempt comes from (the gateway's key for the
  // client's address); empty: nowhere in particular, no per-address count.
  [[nodiscard]] Result<Login> login(std::string_view username, std::string_view password, std::string_view device,
                                    std::string_view source = {});
  // ErrorCode::unauthorized for an unknown token.
  [[nodiscard]] Result<ports::SessionRecord> authenticate(std::string_view token);

 private:
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
  std::mutex mu_;                // guards failures_ and address_failures_
  FailureMap failures_;          // username → its failed logins in a row
  FailureMap address_failures_;  // source → the failed logins from it in a row
};

}  // namespace parley::services
