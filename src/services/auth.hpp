#pragma once
// Accounts and sessions: argon2id password hashes (libsodium) and opaque
// bearer tokens, of which the directory stores only a hash.

#include <string>
#include <string_view>

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

  Auth(ports::Directory& directory, HashCost cost);

  // Blocking (hashing is slow by design): call off the I/O threads.
  [[nodiscard]] Result<ports::UserRecord> register_user(std::string_view username, std::string_view password);
  [[nodiscard]] Result<Login> login(std::string_view username, std::string_view password, std::string_view device);
  // ErrorCode::unauthorized for an unknown token.
  [[nodiscard]] Result<ports::SessionRecord> authenticate(std::string_view token);

 private:
  ports::Directory& directory_;
  unsigned long long ops_limit_;
  std::size_t mem_limit_;
};

}  // namespace parley::services
