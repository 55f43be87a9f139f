#include "services/auth.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <optional>
#include <stdexcept>
#include <utility>

#include "core/snowflake.hpp"
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
    : directory_(directory), throttle_(std::move(throttle)) {
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

Result<ports::UserRecord> Auth::register_user(std::string_view username, std::string_view password) {
  if (!validate::username(username)) {
    return make_error(ErrorCode::bad_request, "username must be 3 to 32 of a-z, 0-9, '_', '.', '-'");
  }
  if (!validate::new_password(password)) {
    return make_error(ErrorCode::bad_request,
                      "password must be 8 to 256 bytes, without control characters, not only spaces and not one "
                      "character repeated");
  }
  if (validate::common_password(password)) {
    return make_error(ErrorCode::bad_request,
                      "this password is on the list of the most common ones, which are guessed first; choose another");
  }
  std::array<char, crypto_pwhash_STRBYTES> hash{};
  if (crypto_pwhash_str_alg(hash.data(), password.data(), password.size(), ops_limit_, mem_limit_,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return make_error(ErrorCode::unavailable, "out of memory while hashing the password");
  }
  return directory_.create_user(username, hash.data());
}

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

  const ports::SessionRecord session{user->id, std::string(device), Snowflake::system_clock_ms()};
  if (auto put = directory_.put_session(token_hash(token), session); !put) return std::move(put).error();
  return Login{std::move(token), user->id, std::string(device)};
}

Result<ports::SessionRecord> Auth::authenticate(std::string_view token) {
  if (token.empty() || token.size() > 128) return make_error(ErrorCode::unauthorized, "invalid token");
  auto session = directory_.find_session(token_hash(token));
  if (!session) {
    if (session.error().code == ErrorCode::not_found) return make_error(ErrorCode::unauthorized, "invalid token");
    return std::move(session).error();
  }
  return session;
}

}  // namespace parley::services
