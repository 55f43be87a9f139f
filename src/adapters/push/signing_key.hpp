#pragma once
// SigningKey: a private key read from PEM (an APNs .p8 EC P-256 key or a
// service account's RSA key) that signs JWTs, and the public-key check that
// the tests (and anyone auditing a token) use. OpenSSL 3 EVP underneath.

#include <memory>
#include <string>
#include <string_view>

#include "core/result.hpp"

struct evp_pkey_st;

namespace parley::push {

class SigningKey {
 public:
  enum class Algorithm { es256, rs256 };

  // Reads a PKCS#8 (or traditional) PEM private key; ES256 for P-256 EC
  // keys, RS256 for RSA keys. bad_request for anything else.
  [[nodiscard]] static Result<SigningKey> from_pem(std::string_view pem);
  [[nodiscard]] static Result<SigningKey> from_file(const std::string& path);

  [[nodiscard]] Algorithm algorithm() const noexcept { return algorithm_; }
  // "ES256" or "RS256", the JWT `alg`.
  [[nodiscard]] std::string_view jwt_alg() const noexcept;

  // The JWS signature of `input` as a JWT carries it: RS256 PKCS#1 v1.5, or
  // ES256 as raw r||s (64 bytes), not DER.
  [[nodiscard]] Result<std::string> sign(std::string_view input) const;

 private:
  struct Free {
    void operator()(evp_pkey_st* key) const noexcept;
  };
  SigningKey(std::unique_ptr<evp_pkey_st, Free> key, Algorithm algorithm);

  std::shared_ptr<evp_pkey_st> key_;  // shared: copies of a key sign with the same handle
  Algorithm algorithm_;
};

// Checks a JWS signature (as sign() makes it) with a PEM public key.
[[nodiscard]] bool verify_signature(std::string_view public_pem, SigningKey::Algorithm algorithm,
                                    std::string_view input, std::string_view signature);

}  // namespace parley::push
