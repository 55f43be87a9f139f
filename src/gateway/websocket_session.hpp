#pragma once
// One WebSocket connection of one device (docs/PROTOCOL.md, "WebSocket").
//
// The connection lives on one I/O thread for its life. Reads are one
// coroutine that handles requests in order; writes go through a queue of
// shared, immutable frames (one frame is built once per event and shared by
// every device it goes to), with at most one write in flight.
//
// The queue is bounded in bytes (GatewayOptions::max_queued_bytes, B): while
// more than B/2 bytes wait, the connection's requests wait too (it reads no
// further frame), so a client that asks and never reads stalls itself; an
// event that would take the queue past B closes the connection (a device
// that far behind catches up with `sync`). A connection therefore holds at
// most B plus its one largest reply.
//
// `Stream` is what the WebSocket runs on: PlainSocket (plain ws://) or
// boost::beast::ssl_stream<tcp_stream> (wss://, --tls-cert). Both are
// instantiated in websocket_session.cpp; a plain connection carries nothing
// of TLS.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <boost/json/object.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/token_bucket.hpp"
#include "gateway/connection.hpp"
#include "gateway/connection_limits.hpp"
#include "gateway/context.hpp"
#include "gateway/request.hpp"
#include "gateway/user_budgets.hpp"

namespace parley::gateway {

// The close code of a connection whose session ended (docs/PROTOCOL.md).
inline constexpr std::uint16_t kSessionEndedCloseCode = 4001;

// A plain WebSocket's socket: bound to its I/O thread's io_context by type.
// Once upgraded, the HTTP phase's beast::tcp_stream (its own timeouts, a
// type-erased executor) is not needed: the WebSocket's timeouts take over,
// and every read and write of the connection's life skips that layer and
// the executor's type erasure (about a sixth of an I/O thread's time in a
// channel fan-out; docs/BENCHMARKS.md).
using PlainSocket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, boost::asio::io_context::executor_type>;

template <class Stream>
class WebSocketSession final : public Connection, public std::enable_shared_from_this<WebSocketSession<Stream>> {
 public:
  // `connection` and `user` are the connection's places under the
  // server's limits (ConnectionLimits), given back when the session is
  // destroyed, which is when its socket closes.
  WebSocketSession(Stream stream, Context& ctx, ports::SessionRecord who, ConnectionLimits::Slot connection,
                   ConnectionLimits::Slot user);

  // Completes the upgrade and serves the connection until it closes, as a
  // coroutine of its own on the connection's I/O thread: the HTTP
  // session's coroutine that calls this ends at once, so its frame and read
  // buffer (about 4.5 KB) are not held for the WebSocket's life.
  static void start(std::shared_ptr<WebSocketSession> self,
                    boost::beast::http::request<boost::beast::http::string_body> upgrade);

 private:
  static boost::asio::awaitable<void> serve(std::shared_ptr<WebSocketSession> self,
                                            boost::beast::http::request<boost::beast::http::string_body> upgrade);

 public:
  void send(std::shared_ptr<const std::string> frame) override;
  void send_reply(std::shared_ptr<const std::string> frame) override;
  void close_going_away() override;
  [[nodiscard]] boost::asio::any_io_executor executor() const override;
  [[nodiscard]] const void* thread_key() const override { return thread_key_; }
  void send_here(std::shared_ptr<const std::string> frame) override;
  void send_reply_here(std::shared_ptr<const std::string> frame) override;
  void close_session_ended(std::string reason) override;
  [[nodiscard]] const ports::SessionRecord& session() const override { return who_; }

 private:
  boost::asio::awaitable<void> read_loop();
  // Handles one text frame; replies go through the write queue.
  boost::asio::awaitable<void> handle(std::string text);
  // Reads again how many servers hold the user's devices (UserBudget::set_servers).
  void refresh_budget_share();
  // Runs the op's handler (`found`: find_op's), its answer counted in `outcomes`.
  boost::asio::awaitable<void> dispatch(std::optional<FoundOp> found, RequestOutcomes* outcomes, boost::json::value id,
                                        std::string op, boost::json::object req);

  void reply(std::string frame);
  // `reply`: the answer to this connection's own request, always queued
  // (requests already wait while the queue is over half full); anything
  // else closes the connection when it would overfill the queue.
  void enqueue(std::shared_ptr<const std::string> frame, bool reply = false);
  // Closes the socket at once: pending writes fail, the read loop ends.
  void abort();
  // Waits while the queue holds more than half its bytes.
  boost::asio::awaitable<void> wait_for_drain();
  void write_next();
  void on_write(boost::system::error_code ec);

  // Declared before ws_, so released after the socket is closed.
  ConnectionLimits::Slot connection_slot_;
  ConnectionLimits::Slot user_slot_;
  GaugeHold open_;  // parley_connections_open{kind="websocket"}
  boost::beast::websocket::stream<Stream> ws_;
  const void* thread_key_;  // its io_context (thread_key())
  Context& ctx_;
  ports::SessionRecord who_;
  boost::beast::flat_buffer buffer_;
  TokenBucket bucket_;
  std::shared_ptr<UserBudget> budget_;  // shared by the user's connections; null: no per-user budget
  // Touched only on this connection's thread. The frames waiting to be
  // written, oldest at queue_head_: a vector and an index rather than a
  // std::deque, which allocates its map and a 512-byte node even while empty
  // (an idle connection should hold nothing it does not need).
  std::vector<std::shared_ptr<const std::string>> queue_;
  std::size_t queue_head_ = 0;
  std::size_t queued_bytes_ = 0;                      // of the frames not yet written
  std::unique_ptr<boost::asio::steady_timer> drain_;  // made while a request waits for the queue
  bool writing_ = false;
  bool close_requested_ = false;
  boost::beast::websocket::close_reason close_reason_{boost::beast::websocket::close_code::going_away};
  bool closed_ = false;
  // Presence: this connection's device entry (unique across servers), and
  // when it last reported a sign of life; reports are throttled to the
  // presence service's refresh interval.
  std::string presence_key_;
  std::chrono::steady_clock::time_point last_alive_{};
};

}  // namespace parley::gateway
