#include "services/auth.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <optional>
#include <stdexcept>
#include <utility>

#include "core/clock.hpp"
#include "core/validate.hpp"

namespace parley::services {

namespace {

// The directory key for a token: BLAKE2b-256 of it, hex. A leaked directory
// row does not give anyone a usable token.
std::string token_hash(std::string_view token) {
  std::array<unsigned char, 32> digest{};
  crypto_generichash(digest.data(), digest.size(), reinterpret_cast<const unsigned char*>(token.data()), token.size(),
                     nullptr, 0);
  std::array<char, 65> hex{};
  sodium_bin2hex(hex.data(), hex.size(), digest.data(), digest.size());
  return std::string(hex.data(), 64);
}

}  // namespace

Auth::Auth(ports::Directory& directory, HashCost cost) : Auth(directory, cost, Throttle{}) {}

Auth::Auth(ports::Directory& directory, HashCost cost, Throttle throttle)
    : Auth(directory, cost, std::move(throttle), Sessions{}) {}

Auth::Auth(ports::Directory& directory, HashCost cost, Throttle throttle, Sessions sessions)
    : directory_(directory), throttle_(std::move(throttle)), sessions_(std::move(sessions)) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  switch (cost) {
    case HashCost::interactive:
      ops_limit_ = crypto_pwhash_OPSLIMIT_INTERACTIVE;
      mem_limit_ = crypto_pwhash_MEMLIMIT_INTERACTIVE;
      break;
    case HashCost::moderate:
      ops_limit_ = crypto_pwhash_OPSLIMIT_MODERATE;
      mem_limit_ = crypto_pwhash_MEMLIMIT_MODERATE;
      break;
    case HashCost::min:
      ops_limit_ = crypto_pwhash_OPSLIMIT_MIN;
      mem_limit_ = crypto_pwhash_MEMLIMIT_MIN;
      break;
  }
  std::array<unsigned char, 32> random{};
  randombytes_buf(random.data(), random.size());
  std::array<char, crypto_pwhash_STRBYTES> hash{};
  if (crypto_pwhash_str_alg(hash.data(), reinterpret_cast<const char*>(random.data()), random.size(), ops_limit_,
                            mem_limit_, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    throw std::runtime_error("out of memory while hashing a password");
  }
  dummy_hash_ = hash.data();
}

Result<void> Auth::check_throttle(std::string_view username, std::string_view source) {
  std::lock_guard lock(mu_);
  const auto now = throttle_.now();
  auto wait_for = [&](const FailureMap& map, std::string_view key) -> std::optional<std::uint32_t> {
    auto it = map.find(std::string(key));
    if (it == map.end() || now >= it->second.retry_at) return std::nullopt;
    return static_cast<std::uint32_t>(std::chrono::ceil<std::chrono::seconds>(it->second.retry_at - now).count());
  };
  auto refuse = [](std::string_view whose, std::uint32_t wait) {
    Error e = make_error(ErrorCode::rate_limited,
                         "too many failed logins " + std::string(whose) + "; retry in " + std::to_string(wait) + " s");
    e.retry_after_s = wait;
    return e;
  };
  if (!source.empty()) {
    if (auto wait = wait_for(address_failures_, source)) return refuse("from this address", *wait);
  }
  if (auto wait = wait_for(failures_, username)) return refuse("for this username", *wait);
  return Ok{};
}

void Auth::count_failure(FailureMap& map, std::string_view key, int free_failures,
                         std::chrono::steady_clock::time_point now) {
  using std::chrono::milliseconds;
  if (map.size() >= 100000) {
    std::erase_if(map, [&](const auto& kv) { return now - kv.second.last > std::chrono::minutes(15); });
  }
  Failures& f = map[std::string(key)];
  if (f.count > 0 && now - f.last > std::chrono::minutes(15)) f = Failures{};
  ++f.count;
  f.last = now;
  if (f.count >= free_failures) {
    const int doublings = std::min(f.count - free_failures, 20);
    const auto delay = std::min<milliseconds>(throttle_.first_delay * (1LL << doublings), throttle_.max_delay);
    f.retry_at = now + delay;
  }
}

void Auth::failed(std::string_view username, std::string_view source) {
  std::lock_guard lock(mu_);
  const auto now = throttle_.now();
  if (throttle_.free_failures > 0 && !username.empty()) {
    count_failure(failures_, username, throttle_.free_failures, now);
  }
  if (throttle_.free_failures_per_address > 0 && !source.empty()) {
    count_failure(address_failures_, source, throttle_.free_failures_per_address, now);
  }
}

void Auth::succeeded(std::string_view username) {
  std::lock_guard lock(mu_);
  failures_.erase(std::string(username));
}

Result<void> Auth::check_new_password(std::string_view password) {
  if (!validate::new_password(password)) {
    return make_error(ErrorCode::bad_request,
                      "password must be 8 to 256 bytes, without control characters, not only spaces and not one "
                      "character repeated");
  }
  if (validate::common_password(password)) {
    return make_error(ErrorCode::bad_request,
                      "this password is on the list of the most common ones, which are guessed first; choose another");
  }
  return Ok{};
}

Result<std::string> Auth::hash_password(std::string_view password) const {
  std::array<char, crypto_pwhash_STRBYTES> hash{};
  if (crypto_pwhash_str_alg(hash.data(), password.data(), password.size(), ops_limit_, mem_limit_,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return make_error(ErrorCode::unavailable, "out of memory while hashing the password");
  }
  return std::string(hash.data());
}

Result<ports::UserRecord> Auth::register_user(std::string_view username, std::string_view password) {
  if (!sessions_.registration_open) {
    return make_error(ErrorCode::forbidden, "registration is closed on this server; ask its operator for an account");
  }
  if (!validate::username(username)) {
    return make_error(ErrorCode::bad_request, "username must be 3 to 32 of a-z, 0-9, '_', '.', '-'");
  }
  if (auto allowed = check_new_password(password); !allowed) return std::move(allowed).error();
  auto hash = hash_password(password);
  if (!hash) return std::move(hash).error();
  return directory_.create_user(username, *hash);
}

namespace {

// Said only to whoever gave the right password.
Error disabled_account() {
  return make_error(ErrorCode::forbidden, "this account is disabled; ask the server's operators");
}

}  // namespace

Result<Auth::Login> Auth::login(std::string_view username, std::string_view password, std::string_view device,
                                std::string_view source) {
  if (!validate::device_id(device)) {
    return make_error(ErrorCode::bad_request, "device_id must be 1 to 64 of A-Z, a-z, 0-9, '_', '.', '-'");
  }
  const Error wrong = make_error(ErrorCode::unauthorized, "wrong username or password");
  if (auto allowed = check_throttle(username, source); !allowed) return std::move(allowed).error();
  if (!validate::username(username) || !validate::password(password)) {
    failed({}, source);  // counted for the address only: such a name is no account's
    return wrong;
  }
  auto user = directory_.find_user_by_name(username);
  if (!user && user.error().code != ErrorCode::not_found) return std::move(user).error();
  // An unknown username costs the same hash check as a known one.
  const std::string& hash = user ? user->password_hash : dummy_hash_;
  if (crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) != 0 || !user) {
    failed(username, source);
    return wrong;
  }
  succeeded(username);

  std::array<unsigned char, 32> raw{};
  randombytes_buf(raw.data(), raw.size());
  std::array<char, 64> text{};
  sodium_bin2base64(text.data(), text.size(), raw.data(), raw.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  std::string token(text.data());

  if (user->disabled) return disabled_account();

  const TimeMs now = now_ms();
  const ports::SessionRecord session{user->id, std::string(device), now, now, {}};
  const std::string session_key = token_hash(token);
  if (auto put = directory_.put_session(session_key, session); !put) return std::move(put).error();
  // Disabled meanwhile (AdminService::disable sets the flag, then ends the
  // sessions it finds): this one may have come too late to be found.
  auto again = directory_.find_user(user->id);
  if (!again || again->disabled) {
    (void)directory_.delete_session(session_key);
    // Deleted meanwhile (AdminService::remove): as if it never was.
    if (!again && again.error().code == ErrorCode::not_found) return wrong;
    if (!again) return std::move(again).error();
    return disabled_account();
  }
  return Login{std::move(token), user->id, std::string(device)};
}

TimeMs Auth::now_ms() const { return sessions_.now ? sessions_.now() : parley::now_ms(); }

std::chrono::milliseconds Auth::touch_interval() const noexcept {
  return std::min<std::chrono::milliseconds>(std::chrono::hours(1), sessions_.ttl / 10);
}

bool Auth::expired(const ports::SessionRecord& session, TimeMs now) const noexcept {
  return now - session.last_used_at >= sessions_.ttl.count();
}

Result<ports::SessionRecord> Auth::authenticate(std::string_view token) {
  if (token.empty() || token.size() > 128) return make_error(ErrorCode::unauthorized, "invalid token");
  auto session = directory_.find_session(token_hash(token));
  if (!session) {
    if (session.error().code == ErrorCode::not_found) return make_error(ErrorCode::unauthorized, "invalid token");
    return std::move(session).error();
  }
  const TimeMs now = now_ms();
  if (expired(*session, now)) {
    // Gone for good; a failure to delete only leaves it for the next try.
    (void)directory_.delete_session(session->token_hash);
    return make_error(ErrorCode::unauthorized, "the session expired; log in again");
  }
  if (now - session->last_used_at >= touch_interval().count()) {
    // A use slides the expiry. A touch that fails (the session ended
    // meanwhile, an engine hiccup) does not fail this request.
    if (directory_.touch_session(session->token_hash, now)) session->last_used_at = now;
  }
  return session;
}

Result<std::vector<ports::SessionRecord>> Auth::sessions_of(UserId user) {
  auto all = directory_.list_sessions(user);
  if (!all) return std::move(all).error();
  const TimeMs now = now_ms();
  std::vector<ports::SessionRecord> live;
  live.reserve(all->size());
  for (auto& session : *all) {
    if (expired(session, now)) {
      (void)directory_.delete_session(session.token_hash);
      continue;
    }
    live.push_back(std::move(session));
  }
  return live;
}

Result<void> Auth::end_session(std::string_view hash) {
  auto ended = directory_.delete_session(hash);
  if (!ended && ended.error().code == ErrorCode::not_found) {
    return make_error(ErrorCode::unauthorized, "the session has already ended");
  }
  return ended;
}

Result<std::vector<ports::SessionRecord>> Auth::end_device(UserId user, std::string_view device) {
  auto all = directory_.list_sessions(user);
  if (!all) return std::move(all).error();
  std::vector<ports::SessionRecord> ended;
  for (auto& session : *all) {
    if (session.device != device) continue;
    auto gone = directory_.delete_session(session.token_hash);
    if (!gone && gone.error().code != ErrorCode::not_found) return std::move(gone).error();
    ended.push_back(std::move(session));
  }
  if (ended.empty()) return make_error(ErrorCode::not_found, "no device '" + std::string(device) + "' is logged in");
  return ended;
}

Result<std::vector<ports::SessionRecord>> Auth::change_password(const ports::SessionRecord& caller,
                                                                std::string_view old_password,
                                                                std::string_view new_password) {
  auto user = directory_.find_user(caller.user);
  if (!user) return std::move(user).error();
  const Error wrong = make_error(ErrorCode::forbidden, "the current password is wrong");
  if (!validate::password(old_password)) return wrong;
  if (auto allowed = check_throttle(user->username, {}); !allowed) return std::move(allowed).error();
  if (crypto_pwhash_str_verify(user->password_hash.c_str(), old_password.data(), old_password.size()) != 0) {
    failed(user->username, {});
    return wrong;
  }
  succeeded(user->username);
  if (auto allowed = check_new_password(new_password); !allowed) return std::move(allowed).error();
  auto hash = hash_password(new_password);
  if (!hash) return std::move(hash).error();
  if (auto set = directory_.set_password(caller.user, *hash); !set) return std::move(set).error();

  auto all = directory_.list_sessions(caller.user);
  if (!all) return std::move(all).error();
  std::vector<ports::SessionRecord> ended;
  for (auto& session : *all) {
    if (session.token_hash == caller.token_hash) continue;
    auto gone = directory_.delete_session(session.token_hash);
    if (!gone && gone.error().code != ErrorCode::not_found) return std::move(gone).error();
    ended.push_back(std::move(session));
  }
  return ended;
}

}  // namespace parley::services
