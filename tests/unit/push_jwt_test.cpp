// JWTs for APNs (ES256, raw r||s signatures) and FCM's OAuth2 assertion
// (RS256): what Parley signs verifies with the key's public half, and
// nothing else does.

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <boost/json/object.hpp>
#include <memory>
#include <string>

#include "adapters/push/jwt.hpp"
#include "adapters/push/signing_key.hpp"

namespace parley::push {
namespace {

struct KeyPair {
  std::string private_pem;
  std::string public_pem;
};

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

KeyPair make_key(bool ec) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(ec ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048), &EVP_PKEY_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> priv(BIO_new(BIO_s_mem()), &BIO_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> pub(BIO_new(BIO_s_mem()), &BIO_free);
  PEM_write_bio_PrivateKey(priv.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);  // PKCS#8, like a .p8
  PEM_write_bio_PUBKEY(pub.get(), key.get());
  return {bio_text(priv.get()), bio_text(pub.get())};
}

TEST(PushJwt, Es256VerifiesWithThePublicKeyAndHasARawSignature) {
  const KeyPair pair = make_key(true);
  auto key = SigningKey::from_pem(pair.private_pem);
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(key->jwt_alg(), "ES256");
  boost::json::object claims{{"iss", "TEAM123456"}, {"iat", 1700000000}};
  auto jwt = sign_jwt(key.value(), claims, {{"kid", "KEY1234567"}});
  ASSERT_TRUE(jwt.ok());

  auto verified = verify_jwt(jwt.value(), pair.public_pem, SigningKey::Algorithm::es256);
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  EXPECT_EQ(verified->at("iss").as_string(), "TEAM123456");
  // JWS ES256 signatures are r||s, 64 bytes, not DER.
  auto signature = base64url_decode(jwt->substr(jwt->rfind('.') + 1));
  ASSERT_TRUE(signature.ok());
  EXPECT_EQ(signature->size(), 64U);
}

TEST(PushJwt, TamperedOrForeignTokensDoNotVerify) {
  const KeyPair pair = make_key(true);
  const KeyPair other = make_key(true);
  auto key = SigningKey::from_pem(pair.private_pem);
  ASSERT_TRUE(key.ok());
  auto jwt = sign_jwt(key.value(), {{"iss", "TEAM"}});
  ASSERT_TRUE(jwt.ok());
  EXPECT_EQ(verify_jwt(jwt.value(), other.public_pem, SigningKey::Algorithm::es256).error().code,
            ErrorCode::unauthorized);
  std::string tampered = jwt.value();
  const auto dot = tampered.find('.');
  tampered.replace(dot + 1, tampered.find('.', dot + 1) - dot - 1, base64url(R"({"iss":"EVIL"})"));
  EXPECT_EQ(verify_jwt(tampered, pair.public_pem, SigningKey::Algorithm::es256).error().code, ErrorCode::unauthorized);
  EXPECT_FALSE(verify_jwt(jwt.value(), pair.public_pem, SigningKey::Algorithm::rs256).ok());
}

TEST(PushJwt, Rs256ForTheServiceAccountAssertion) {
  const KeyPair pair = make_key(false);
  auto key = SigningKey::from_pem(pair.private_pem);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->jwt_alg(), "RS256");
  auto jwt = sign_jwt(key.value(), {{"iss", "svc@example.iam.gserviceaccount.com"}, {"aud", "https://t/token"}});
  ASSERT_TRUE(jwt.ok());
  auto verified = verify_jwt(jwt.value(), pair.public_pem, SigningKey::Algorithm::rs256);
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  EXPECT_EQ(verified->at("aud").as_string(), "https://t/token");
}

TEST(PushJwt, Base64UrlRoundTripsWithoutPadding) {
  for (const std::string s : {"", "f", "fo", "foo", "foob", "\xff\xfe\x00?"}) {
    const std::string enc = base64url(s);
    EXPECT_EQ(enc.find('='), std::string::npos);
    EXPECT_EQ(base64url_decode(enc).value(), s);
  }
  EXPECT_FALSE(base64url_decode("a+b/").ok());
}

TEST(PushJwt, RejectsKeysThatAreNotUsable) { EXPECT_FALSE(SigningKey::from_pem("not a key").ok()); }

}  // namespace
}  // namespace parley::push
