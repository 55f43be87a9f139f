#pragma once
// The server's TLS certificate and private key (docs/OPERATIONS.md, "TLS"):
// an OpenSSL context made from two PEM files, serving TLS 1.2 and later.
//
// reload() reads the same files again and, when they make a good pair,
// swaps the context that new handshakes use; a connection already open
// keeps the one it was handshaken with (OpenSSL's SSL object holds its own
// reference to its SSL_CTX), so a reload drops nothing. A bad pair on reload
// leaves the old context in place.

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <mutex>
#include <string>

#include "core/result.hpp"

namespace parley::gateway {

class TlsContext {
 public:
  // Loads the pair. Throws std::runtime_error (a start-up failure) when a
  // file cannot be read, is no PEM certificate chain or key, or when the
  // key does not belong to the certificate; the message names the file.
  TlsContext(std::string cert_file, std::string key_file);

  // Reads both files again; on success new handshakes use the new pair. On
  // failure the error says why and the old pair stays in use.
  [[nodiscard]] Result<void> reload();

  // The context for a new connection's handshake; thread-safe.
  [[nodiscard]] std::shared_ptr<boost::asio::ssl::context> current() const;

  [[nodiscard]] const std::string& cert_file() const { return cert_file_; }
  [[nodiscard]] const std::string& key_file() const { return key_file_; }

 private:
  [[nodiscard]] Result<std::shared_ptr<boost::asio::ssl::context>> load() const;

  std::string cert_file_;
  std::string key_file_;
  mutable std::mutex mutex_;  // guards current_
  std::shared_ptr<boost::asio::ssl::context> current_;
};

}  // namespace parley::gateway
