#pragma once
// CqlConnection: one TCP connection to one Cassandra node, speaking the CQL
// native protocol v4 with requests multiplexed by stream id.
//
// Everything here runs on the owning session's I/O thread: start(), send()
// and close() must be called there, and handlers are called there. The
// connection is opened by start() (TCP connect, then STARTUP/READY within
// the connect timeout, with the SASL exchange of PasswordAuthenticator in
// between when the node asks for it: AUTHENTICATE, AUTH_RESPONSE with the
// PLAIN token, AUTH_SUCCESS), and over TLS when given a TLS context (the
// handshake right after the TCP connect, the node's certificate checked
// against the context's CAs and the node's IP address); its reader is a
// coroutine that reads frames and hands each response to the handler of its
// stream. Up to max_streams requests are in flight at once; a handler is
// called exactly once: with the response, or with ErrorCode::unavailable
// when the connection closes first. A request whose caller stopped waiting
// keeps its stream until its response arrives (so a late response can never
// be taken for another request's).

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "adapters/cassandra/cql_protocol.hpp"

namespace parley::cassandra {

class CqlConnection : public std::enable_shared_from_this<CqlConnection> {
 public:
  using Handler = std::function<void(Result<Response>)>;
  using ReadyHandler = std::function<void(Result<void>)>;

  static constexpr std::size_t max_streams = 1024;

  // With `tls` (the session's, shared by its connections), the connection
  // speaks TLS; without, plain TCP.
  CqlConnection(boost::asio::io_context& io, boost::asio::ip::tcp::endpoint endpoint,
                std::chrono::milliseconds connect_timeout, CqlCredentials credentials = {},
                std::shared_ptr<boost::asio::ssl::context> tls = nullptr);
  CqlConnection(const CqlConnection&) = delete;
  CqlConnection& operator=(const CqlConnection&) = delete;
  ~CqlConnection() = default;

  // Connects and says STARTUP; `on_ready` is called once: Ok when the node
  // answered READY (or accepted the credentials), an error when that failed
  // or timed out. Refused credentials are ErrorCode::unauthorized,
  // "cassandra: authentication failed: " and the node's message; a failed
  // TLS handshake ErrorCode::unavailable, "cassandra: TLS failed with
  // ADDRESS: " and OpenSSL's reason.
  void start(ReadyHandler on_ready);

  // Sends one request. Fails at once (through the handler) when the
  // connection is not ready or has no free stream.
  void send(Opcode opcode, const std::string& body, Handler handler);

  // Closes the socket and fails every request in flight with `why`.
  void close(const std::string& why);

  [[nodiscard]] bool ready() const noexcept { return ready_ && !closed_; }
  [[nodiscard]] bool closed() const noexcept { return closed_; }
  [[nodiscard]] std::size_t in_flight() const noexcept { return max_streams - free_streams_.size(); }

 private:
  boost::asio::awaitable<void> run(std::shared_ptr<CqlConnection> self);
  // Reads exactly `buffer`'s size, through TLS when it is on.
  boost::asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> read(boost::asio::mutable_buffer buffer);
  void write(std::int16_t stream, Opcode opcode, const std::string& body, Handler handler);
  void write_next();
  void dispatch(const FrameHeader& header, std::string_view body);
  void on_startup_step(Result<Response> r);
  void fail_start(Error e);

  boost::asio::ip::tcp::socket socket_;
  std::shared_ptr<boost::asio::ssl::context> tls_context_;  // kept alive for tls_
  // TLS over socket_ when the connection has a TLS context; else null.
  std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>> tls_;
  boost::asio::ip::tcp::endpoint endpoint_;
  boost::asio::steady_timer connect_timer_;
  std::chrono::milliseconds connect_timeout_;
  CqlCredentials credentials_;
  std::optional<Error> start_error_;  // why the start failed, when not a plain close (refused credentials)
  ReadyHandler on_ready_;
  std::vector<Handler> handlers_;           // by stream id; empty when free
  std::vector<std::int16_t> free_streams_;  // stream ids without a request
  std::deque<std::string> writes_;          // frames not yet written, in order
  bool writing_ = false;
  bool ready_ = false;
  bool closed_ = false;
};

}  // namespace parley::cassandra
