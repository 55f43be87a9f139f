#pragma once
// Compact JWS (JWT) encoding: base64url(header) . base64url(claims) .
// base64url(signature), as APNs token auth and Google's OAuth2 JWT bearer
// flow take them.

#include <boost/json/object.hpp>
#include <string>
#include <string_view>

#include "adapters/push/signing_key.hpp"
#include "core/result.hpp"

namespace parley::push {

[[nodiscard]] std::string base64url(std::string_view bytes);
// nullopt-like: an empty Result error for input that is not base64url.
[[nodiscard]] Result<std::string> base64url_decode(std::string_view text);

// Signs `claims` with `key`; the header gets `alg` and `typ` plus `extra`
// (e.g. APNs's `kid`).
[[nodiscard]] Result<std::string> sign_jwt(const SigningKey& key, const boost::json::object& claims,
                                           const boost::json::object& extra_header = {});

// Checks a JWT's signature with a PEM public key and returns its claims;
// unauthorized if the signature does not verify, bad_request if it is not a
// JWT with the expected `alg`.
[[nodiscard]] Result<boost::json::object> verify_jwt(std::string_view jwt, std::string_view public_pem,
                                                     SigningKey::Algorithm algorithm);

}  // namespace parley::push
