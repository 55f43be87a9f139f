#pragma once
// Directory: who exists and who may do what. Users and their credentials,
// sessions (device tokens), and, as they land, friendships, groups, channels
// and push tokens.

#include <optional>
#include <string>
#include <string_view>

#include "core/ids.hpp"
#include "core/result.hpp"

namespace parley::ports {

struct UserRecord {
  UserId id;
  std::string username;
  std::string password_hash;  // an argon2id string from libsodium
  TimeMs created_at = 0;
};

struct SessionRecord {
  UserId user;
  std::string device;
  TimeMs created_at = 0;
};

class Directory {
 public:
  virtual ~Directory() = default;

  // Creates a user with a fresh id; ErrorCode::conflict if the name is taken.
  [[nodiscard]] virtual Result<UserRecord> create_user(std::string_view username, std::string_view password_hash) = 0;
  // ErrorCode::not_found if there is no such user.
  [[nodiscard]] virtual Result<UserRecord> find_user_by_name(std::string_view username) = 0;
  [[nodiscard]] virtual Result<UserRecord> find_user(UserId id) = 0;

  // Sessions are keyed by a hash of their token, never the token itself.
  [[nodiscard]] virtual Result<void> put_session(std::string_view token_hash, const SessionRecord& session) = 0;
  // ErrorCode::not_found if no session has this token hash.
  [[nodiscard]] virtual Result<SessionRecord> find_session(std::string_view token_hash) = 0;
};

}  // namespace parley::ports
