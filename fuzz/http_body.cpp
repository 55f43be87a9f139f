// Fuzz target: the body of POST /v1/users and POST /v1/sessions, read as the
// HTTP API reads it (codec::read_body), then its fields through the
// validators Auth applies (username, password, new_password, device_id).
//
// Invariants: no exception escapes; an accepted body is an object whose
// required fields are strings of valid UTF-8; whatever a validator accepts
// is within the limits it states.

#include <algorithm>
#include <cstdint>
#include <string_view>

#include "check.hpp"
#include "core/codec.hpp"
#include "core/validate.hpp"

using namespace parley;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto body = codec::read_body(text, {"username", "password", "device_id"});
  if (!body) {
    PARLEY_FUZZ_CHECK(body.error().code == ErrorCode::bad_request);
    return 0;
  }
  const std::string_view username = body->at("username").get_string();
  const std::string_view password = body->at("password").get_string();
  const std::string_view device = body->at("device_id").get_string();
  for (auto s : {username, password, device}) PARLEY_FUZZ_CHECK(validate::utf8(s));
  if (validate::username(username)) {
    PARLEY_FUZZ_CHECK(username.size() >= 3 && username.size() <= 32);
    PARLEY_FUZZ_CHECK(std::all_of(username.begin(), username.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    }));
  }
  if (validate::new_password(password)) PARLEY_FUZZ_CHECK(validate::password(password));
  if (validate::password(password)) PARLEY_FUZZ_CHECK(password.size() >= 8 && password.size() <= 256);
  if (validate::device_id(device)) PARLEY_FUZZ_CHECK(!device.empty() && device.size() <= 64);
  return 0;
}
