#pragma once
// Directory: who exists and who may do what. Users and their credentials,
// sessions (device tokens), and, as they land, friendships, groups, channels
// and push tokens.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/ids.hpp"
#include "core/result.hpp"

namespace parley::ports {

struct UserRecord {
  UserId id;
  std::string username;
  std::string password_hash;  // an argon2id string from libsodium
  TimeMs created_at = 0;
  // Disabled by an administrator: logins are refused until enabled again.
  bool disabled = false;
  // Deleted by an administrator (delete_user). Only list_users shows such a
  // record; every other lookup answers not_found.
  bool deleted = false;
};

// One session: a token given to one device of a user at a login. A device
// may hold several (it logged in again); each is its own session.
struct SessionRecord {
  UserId user;
  std::string device;
  TimeMs created_at = 0;
  // When the token was last used, as last written (touch_session): the
  // expiry slides from it. put_session stores it as given (a new session:
  // its created_at).
  TimeMs last_used_at = 0;
  // The key the session is stored under. Filled in by find_session and
  // list_sessions; ignored by put_session, which takes it apart.
  std::string token_hash;
};

class Directory {
 public:
  virtual ~Directory() = default;

  // Creates a user with a fresh id; ErrorCode::conflict if the name is taken.
  [[nodiscard]] virtual Result<UserRecord> create_user(std::string_view username, std::string_view password_hash) = 0;
  // ErrorCode::not_found if there is no such user.
  [[nodiscard]] virtual Result<UserRecord> find_user_by_name(std::string_view username) = 0;
  [[nodiscard]] virtual Result<UserRecord> find_user(UserId id) = 0;
  // Replaces the user's password hash; ErrorCode::not_found if there is no
  // such user.
  [[nodiscard]] virtual Result<void> set_password(UserId id, std::string_view password_hash) = 0;
  // Disables or enables the user; ErrorCode::not_found if there is no such
  // user. Durable when it returns.
  [[nodiscard]] virtual Result<void> set_disabled(UserId id, bool disabled) = 0;
  // Deletes the user's account: from then on find_user and
  // find_user_by_name answer not_found for it, its password hash is
  // erased, and its username stays taken (create_user answers conflict),
  // so that nobody can take the name of someone whose old messages others
  // still hold. The id is never given again. Its sessions are not touched:
  // the caller ends them. Deleting a deleted user is no error (a retry);
  // ErrorCode::not_found if there never was such a user. Durable when it
  // returns.
  [[nodiscard]] virtual Result<void> delete_user(UserId id) = 0;
  // The ids of every deleted user, in id order (few: read whole).
  [[nodiscard]] virtual Result<std::vector<UserId>> deleted_users() = 0;
  // Up to `limit` users whose usernames start with `prefix` and sort after
  // `after` (bytewise; "" for the first page), in that order: an
  // administrator's list and search. Deleted users are listed too, with
  // `deleted` set (their names stay taken).
  [[nodiscard]] virtual Result<std::vector<UserRecord>> list_users(std::string_view prefix, std::string_view after,
                                                                   int limit) = 0;

  // Sessions are keyed by a hash of their token, never the token itself.
  [[nodiscard]] virtual Result<void> put_session(std::string_view token_hash, const SessionRecord& session) = 0;
  // ErrorCode::not_found if no session has this token hash.
  [[nodiscard]] virtual Result<SessionRecord> find_session(std::string_view token_hash) = 0;
  // Moves the session's last_used_at forward to `when` (never back).
  // ErrorCode::not_found if the session is gone: a touch never brings back a
  // deleted session, even when the two race. Need not be durable at once
  // (losing one only makes the session expire a little earlier).
  [[nodiscard]] virtual Result<void> touch_session(std::string_view token_hash, TimeMs when) = 0;
  // Deletes the session; ErrorCode::not_found if there is none.
  [[nodiscard]] virtual Result<void> delete_session(std::string_view token_hash) = 0;
  // Every session of the user (expired ones too: expiry is the caller's
  // rule), ordered by device, then by created_at.
  [[nodiscard]] virtual Result<std::vector<SessionRecord>> list_sessions(UserId user) = 0;
};

}  // namespace parley::ports
