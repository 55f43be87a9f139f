#include "services/auth.hpp"

#include <sodium.h>

#include <array>
#include <stdexcept>

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

Auth::Auth(ports::Directory& directory, HashCost cost) : directory_(directory) {
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
}

Result<ports::UserRecord> Auth::register_user(std::string_view username, std::string_view password) {
  if (!validate::username(username)) {
    return make_error(ErrorCode::bad_request, "username must be 3 to 32 of a-z, 0-9, '_', '.', '-'");
  }
  if (!validate::password(password)) return make_error(ErrorCode::bad_request, "password must be 8 to 256 bytes");
  std::array<char, crypto_pwhash_STRBYTES> hash{};
  if (crypto_pwhash_str_alg(hash.data(), password.data(), password.size(), ops_limit_, mem_limit_,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return make_error(ErrorCode::unavailable, "out of memory while hashing the password");
  }
  return directory_.create_user(username, hash.data());
}

Result<Auth::Login> Auth::login(std::string_view username, std::string_view password, std::string_view device) {
  if (!validate::device_id(device)) {
    return make_error(ErrorCode::bad_request, "device_id must be 1 to 64 of A-Z, a-z, 0-9, '_', '.', '-'");
  }
  const Error wrong = make_error(ErrorCode::unauthorized, "wrong username or password");
  if (!validate::username(username) || !validate::password(password)) return wrong;
  auto user = directory_.find_user_by_name(username);
  if (!user) return user.error().code == ErrorCode::not_found ? wrong : std::move(user).error();
  if (crypto_pwhash_str_verify(user->password_hash.c_str(), password.data(), password.size()) != 0) return wrong;

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
