#include "adapters/push/signing_key.hpp"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <fstream>
#include <sstream>

namespace parley::push {

namespace {

constexpr int kEs256Half = 32;  // bytes of r and of s for P-256

struct BioFree {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};
struct SigFree {
  void operator()(ECDSA_SIG* s) const noexcept { ECDSA_SIG_free(s); }
};

using Bio = std::unique_ptr<BIO, BioFree>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

Bio memory_bio(std::string_view pem) { return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()))); }

// DER ECDSA-Sig-Value -> raw r||s, each left-padded to 32 bytes.
Result<std::string> der_to_raw(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<ECDSA_SIG, SigFree> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) return make_error(ErrorCode::internal, "jwt: bad ECDSA signature");
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string raw(2 * kEs256Half, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(r, out, kEs256Half) != kEs256Half || BN_bn2binpad(s, out + kEs256Half, kEs256Half) != kEs256Half) {
    return make_error(ErrorCode::internal, "jwt: ECDSA signature too long");
  }
  return raw;
}

std::string raw_to_der(std::string_view raw) {
  if (raw.size() != 2 * kEs256Half) return {};
  const auto* in = reinterpret_cast<const unsigned char*>(raw.data());
  std::unique_ptr<ECDSA_SIG, SigFree> sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(in, kEs256Half, nullptr);
  BIGNUM* s = BN_bin2bn(in + kEs256Half, kEs256Half, nullptr);
  if (!sig || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return {};
  }
  unsigned char* der = nullptr;
  const int n = i2d_ECDSA_SIG(sig.get(), &der);
  if (n <= 0) return {};
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(n));
  OPENSSL_free(der);
  return out;
}

}  // namespace

void SigningKey::Free::operator()(evp_pkey_st* key) const noexcept { EVP_PKEY_free(key); }

SigningKey::SigningKey(std::unique_ptr<evp_pkey_st, Free> key, Algorithm algorithm)
    : key_(std::move(key)), algorithm_(algorithm) {}

Result<SigningKey> SigningKey::from_pem(std::string_view pem) {
  Bio bio = memory_bio(pem);
  std::unique_ptr<evp_pkey_st, Free> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return make_error(ErrorCode::bad_request, "not a PEM private key");
  if (EVP_PKEY_is_a(key.get(), "RSA")) return SigningKey(std::move(key), Algorithm::rs256);
  if (EVP_PKEY_is_a(key.get(), "EC")) {
    char group[64] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key.get(), "group", group, sizeof group, &len) != 1 ||
        std::string_view(group) != "prime256v1") {
      return make_error(ErrorCode::bad_request, "an EC key for ES256 must be on P-256");
    }
    return SigningKey(std::move(key), Algorithm::es256);
  }
  return make_error(ErrorCode::bad_request, "the key is neither RSA nor EC P-256");
}

Result<SigningKey> SigningKey::from_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::not_found, "cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  auto key = from_pem(text.str());
  if (!key) return make_error(key.error().code, path + ": " + key.error().message);
  return key;
}

std::string_view SigningKey::jwt_alg() const noexcept { return algorithm_ == Algorithm::es256 ? "ES256" : "RS256"; }

Result<std::string> SigningKey::sign(std::string_view input) const {
  MdCtx ctx(EVP_MD_CTX_new());
  std::size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()) !=
          1) {
    return make_error(ErrorCode::internal, "jwt: cannot start signing");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    return make_error(ErrorCode::internal, "jwt: signing failed");
  }
  sig.resize(len);
  if (algorithm_ == Algorithm::es256) return der_to_raw(sig);
  return sig;
}

bool verify_signature(std::string_view public_pem, SigningKey::Algorithm algorithm, std::string_view input,
                      std::string_view signature) {
  Bio bio = memory_bio(public_pem);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr),
                                                          &EVP_PKEY_free);
  if (!key) return false;
  std::string sig(signature);
  if (algorithm == SigningKey::Algorithm::es256) {
    if (!EVP_PKEY_is_a(key.get(), "EC")) return false;
    sig = raw_to_der(signature);
    if (sig.empty()) return false;
  } else if (!EVP_PKEY_is_a(key.get(), "RSA")) {
    return false;
  }
  MdCtx ctx(EVP_MD_CTX_new());
  return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
}

}  // namespace parley::push
