#include "gateway/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <utility>

namespace parley::gateway {

namespace ssl = boost::asio::ssl;

namespace {

// The whole of a PEM file (a certificate chain or a key: a few kilobytes;
// anything past 1 MiB is no such file).
Result<std::string> read_pem(const std::string& path, const char* what) {
  constexpr std::size_t kMaxPem = 1U << 20;
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::internal, std::string(what) + " " + path + ": " + std::strerror(errno));
  std::string text;
  text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) return make_error(ErrorCode::internal, std::string(what) + " " + path + ": cannot read it");
  if (text.size() > kMaxPem) {
    return make_error(ErrorCode::internal, std::string(what) + " " + path + " is over 1 MiB: no PEM file");
  }
  return text;
}

}  // namespace

TlsContext::TlsContext(std::string cert_file, std::string key_file)
    : cert_file_(std::move(cert_file)), key_file_(std::move(key_file)) {
  auto loaded = load();
  if (!loaded) throw std::runtime_error(loaded.error().message);
  current_ = std::move(loaded.value());
}

Result<std::shared_ptr<ssl::context>> TlsContext::load() const {
  auto cert = read_pem(cert_file_, "the certificate file");
  if (!cert) return cert.error();
  auto key = read_pem(key_file_, "the key file");
  if (!key) return key.error();

  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  // TLS 1.2 and later only; no renegotiation, no compression.
  context->set_options(ssl::context::default_workarounds | ssl::context::no_compression | ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
  SSL_CTX_set_options(context->native_handle(), SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // An idle connection gives OpenSSL's record buffers back (per-connection
  // memory: docs/OPERATIONS.md, "TLS").
  SSL_CTX_set_mode(context->native_handle(), SSL_MODE_RELEASE_BUFFERS);

  boost::system::error_code ec;
  context->use_certificate_chain(boost::asio::buffer(*cert), ec);
  if (ec) {
    return make_error(ErrorCode::internal,
                      "the certificate file " + cert_file_ + " holds no PEM certificate chain (" + ec.message() + ")");
  }
  context->use_private_key(boost::asio::buffer(*key), ssl::context::pem, ec);
  // The key's text is no longer needed: leave no copy of it in freed memory.
  OPENSSL_cleanse(key->data(), key->size());
  // OpenSSL checks the key against the certificate as it takes it.
  const bool mismatch = ec && ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == X509_R_KEY_VALUES_MISMATCH;
  if (mismatch || (!ec && SSL_CTX_check_private_key(context->native_handle()) != 1)) {
    return make_error(ErrorCode::internal,
                      "the key in " + key_file_ + " does not belong to the certificate in " + cert_file_);
  }
  if (ec) {
    return make_error(ErrorCode::internal,
                      "the key file " + key_file_ + " holds no PEM private key (" + ec.message() + ")");
  }
  return context;
}

Result<void> TlsContext::reload() {
  auto loaded = load();
  if (!loaded) return loaded.error();
  const std::lock_guard lock(mutex_);
  current_ = std::move(loaded.value());
  return Ok{};
}

std::shared_ptr<ssl::context> TlsContext::current() const {
  const std::lock_guard lock(mutex_);
  return current_;
}

}  // namespace parley::gateway
