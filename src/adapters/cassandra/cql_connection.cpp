#include "adapters/cassandra/cql_connection.hpp"

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace parley::cassandra {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

Error unavailable(const std::string& why) { return make_error(ErrorCode::unavailable, "cassandra: " + why); }

}  // namespace

CqlConnection::CqlConnection(asio::io_context& io, tcp::endpoint endpoint, std::chrono::milliseconds connect_timeout,
                             CqlCredentials credentials, std::shared_ptr<asio::ssl::context> tls)
    : socket_(io),
      tls_context_(std::move(tls)),
      endpoint_(std::move(endpoint)),
      connect_timer_(io),
      connect_timeout_(connect_timeout),
      credentials_(std::move(credentials)),
      handlers_(max_streams) {
  if (tls_context_) tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket_, *tls_context_);
  free_streams_.reserve(max_streams);
  // Lowest ids last, so that they are taken first.
  for (std::size_t i = max_streams; i > 0; --i) free_streams_.push_back(static_cast<std::int16_t>(i - 1));
}

void CqlConnection::start(ReadyHandler on_ready) {
  on_ready_ = std::move(on_ready);
  connect_timer_.expires_after(connect_timeout_);
  connect_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (!ec && self && !self->ready_) self->close("connecting timed out");
  });
  asio::co_spawn(socket_.get_executor(), run(shared_from_this()), asio::detached);
}

// Connects, says STARTUP, then reads frames until the connection fails.
asio::awaitable<void> CqlConnection::run(std::shared_ptr<CqlConnection> self) {
  auto [connect_ec] = co_await socket_.async_connect(endpoint_, asio::as_tuple(asio::use_awaitable));
  if (connect_ec || closed_) {
    close("connect to " + endpoint_.address().to_string() + ":" + std::to_string(endpoint_.port()) +
          " failed: " + connect_ec.message());
    co_return;
  }
  boost::system::error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
  if (tls_) {
    // The node's certificate must chain to the CAs and name the address
    // it was reached at (an IP address SAN: nodes are known by address).
    const std::string address = endpoint_.address().to_string();
    tls_->set_verify_callback(asio::ssl::host_name_verification(address));
    auto [handshake_ec] =
        co_await tls_->async_handshake(asio::ssl::stream_base::client, asio::as_tuple(asio::use_awaitable));
    if (closed_) co_return;
    if (handshake_ec) {
      fail_start(make_error(ErrorCode::unavailable, "cassandra: TLS failed with " + address + ":" +
                                                        std::to_string(endpoint_.port()) + ": " +
                                                        handshake_ec.message()));
      co_return;
    }
  }
  const std::int16_t stream = free_streams_.back();
  free_streams_.pop_back();
  write(stream, Opcode::startup, startup_body(), [self](Result<Response> r) { self->on_startup_step(std::move(r)); });

  std::array<char, header_size> header{};
  std::string body;
  for (;;) {
    auto [ec, n] = co_await read(asio::buffer(header));
    if (ec || closed_) {
      close(ec ? ec.message() : "closed");
      co_return;
    }
    auto decoded = decode_header(std::string_view(header.data(), header.size()));
    if (!decoded) {
      close(decoded.error().message);
      co_return;
    }
    body.resize(decoded->length);
    if (decoded->length > 0) {
      auto [body_ec, m] = co_await read(asio::buffer(body));
      if (body_ec || closed_) {
        close(body_ec ? body_ec.message() : "closed");
        co_return;
      }
    }
    dispatch(*decoded, body);
  }
}

asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> CqlConnection::read(asio::mutable_buffer buffer) {
  if (tls_) co_return co_await asio::async_read(*tls_, buffer, asio::as_tuple(asio::use_awaitable));
  co_return co_await asio::async_read(socket_, buffer, asio::as_tuple(asio::use_awaitable));
}

// The answer to STARTUP or AUTH_RESPONSE: READY or AUTH_SUCCESS ends the
// start; AUTHENTICATE is answered with the credentials; anything else fails
// it.
void CqlConnection::on_startup_step(Result<Response> r) {
  if (closed_) return;
  if (!r) return close(r.error().message);
  switch (r->kind) {
    case Response::Kind::ready:
    case Response::Kind::auth_success:
      ready_ = true;
      connect_timer_.cancel();
      if (auto on_ready = std::exchange(on_ready_, nullptr)) on_ready(Ok{});
      return;
    case Response::Kind::authenticate: {
      if (credentials_.user.empty()) {
        return fail_start(make_error(ErrorCode::unauthorized, "cassandra: the node requires authentication (" +
                                                                  r->authenticator + ") and no credentials are set"));
      }
      if (free_streams_.empty()) return close("no free stream");
      const std::int16_t stream = free_streams_.back();
      free_streams_.pop_back();
      write(stream, Opcode::auth_response,
            auth_response_body(plain_sasl_token(credentials_.user, credentials_.password)),
            [self = shared_from_this()](Result<Response> next) { self->on_startup_step(std::move(next)); });
      return;
    }
    case Response::Kind::auth_challenge:
      // PLAIN is one step: PasswordAuthenticator never challenges it.
      return fail_start(make_error(ErrorCode::unauthorized,
                                   "cassandra: authentication failed: an AUTH_CHALLENGE to "
                                   "SASL PLAIN, which has no second step"));
    case Response::Kind::error:
      if (r->error.code == error_code::bad_credentials) {
        return fail_start(make_error(ErrorCode::unauthorized, "cassandra: authentication failed: " + r->error.message));
      }
      return close("the node refused the connection's start: " + r->error.message);
    default: return close("the node did not answer STARTUP with READY or AUTHENTICATE");
  }
}

// Closes, with `e` (its code kept) as on_ready's error.
void CqlConnection::fail_start(Error e) {
  start_error_ = std::move(e);
  close(start_error_->message);
}

void CqlConnection::dispatch(const FrameHeader& header, std::string_view body) {
  // Stream -1 carries server events, which this client does not register for.
  if (header.stream < 0 || static_cast<std::size_t>(header.stream) >= max_streams) return;
  auto handler = std::move(handlers_[static_cast<std::size_t>(header.stream)]);
  handlers_[static_cast<std::size_t>(header.stream)] = nullptr;
  if (!handler) return;  // not ours: ignore
  free_streams_.push_back(header.stream);
  auto response = decode_response(header.opcode, header.flags, body);
  handler(std::move(response));
}

void CqlConnection::send(Opcode opcode, const std::string& body, Handler handler) {
  if (!ready()) return handler(unavailable(closed_ ? "connection closed" : "connection not ready"));
  if (free_streams_.empty()) return handler(unavailable("too many requests in flight on one connection"));
  const std::int16_t stream = free_streams_.back();
  free_streams_.pop_back();
  write(stream, opcode, body, std::move(handler));
}

void CqlConnection::write(std::int16_t stream, Opcode opcode, const std::string& body, Handler handler) {
  handlers_[static_cast<std::size_t>(stream)] = std::move(handler);
  writes_.push_back(encode_frame(stream, opcode, body));
  if (!writing_) write_next();
}

void CqlConnection::write_next() {
  if (writes_.empty() || closed_) {
    writing_ = false;
    return;
  }
  writing_ = true;
  auto written = [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
    if (self->closed_) return;
    if (ec) return self->close("write failed: " + ec.message());
    self->writes_.pop_front();
    self->write_next();
  };
  if (tls_) {
    asio::async_write(*tls_, asio::buffer(writes_.front()), std::move(written));
  } else {
    asio::async_write(socket_, asio::buffer(writes_.front()), std::move(written));
  }
}

void CqlConnection::close(const std::string& why) {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  socket_.close(ignored);
  connect_timer_.cancel();
  writes_.clear();
  // Handlers may start new requests elsewhere: take them all out first.
  std::vector<Handler> failed;
  for (auto& h : handlers_) {
    if (h) failed.push_back(std::exchange(h, nullptr));
  }
  if (auto on_ready = std::exchange(on_ready_, nullptr)) on_ready(start_error_ ? *start_error_ : unavailable(why));
  for (auto& h : failed) h(unavailable(why));
}

}  // namespace parley::cassandra
