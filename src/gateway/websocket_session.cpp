#include "gateway/websocket_session.hpp"

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/json/parse.hpp>

#include "core/codec.hpp"
#include "core/log.hpp"
#include "gateway/blocking.hpp"
#include "gateway/request.hpp"
#include "gateway/session_registry.hpp"

namespace parley::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace json = boost::json;
using asio::awaitable;
using asio::use_awaitable;
constexpr auto as_tuple_awaitable = asio::as_tuple(use_awaitable);

namespace {

// Numbers this process's connections, plain and TLS alike (presence keys).
std::uint64_t next_connection_number() {
  static std::atomic<std::uint64_t> connections{0};
  return ++connections;
}

}  // namespace

template <class Stream>
WebSocketSession<Stream>::WebSocketSession(Stream stream, Context& ctx, ports::SessionRecord who,
                                           ConnectionLimits::Slot connection, ConnectionLimits::Slot user)
    : connection_slot_(std::move(connection)),
      user_slot_(std::move(user)),
      open_(ctx.services.metrics.websockets_open()),
      ws_(std::move(stream)),
      thread_key_(&asio::query(ws_.get_executor(), asio::execution::context)),
      ctx_(ctx),
      who_(std::move(who)),
      bucket_(ctx.options.rate_limit, ctx.options.rate_burst),
      budget_(ctx.budgets.of(who_.user)) {
  presence_key_ =
      ctx_.services.cluster.server_id() + "/" + who_.device + "/" + std::to_string(next_connection_number());
}

template <class Stream>
void WebSocketSession<Stream>::start(std::shared_ptr<WebSocketSession> self,
                                     beast::http::request<beast::http::string_body> upgrade) {
  auto executor = self->ws_.get_executor();
  asio::co_spawn(executor, serve(std::move(self), std::move(upgrade)), [](const std::exception_ptr& e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log::error("gateway", std::string("connection task failed: ") + ex.what());
    }
  });
}

template <class Stream>
awaitable<void> WebSocketSession<Stream>::serve(std::shared_ptr<WebSocketSession> self,
                                                beast::http::request<beast::http::string_body> upgrade) {
  if constexpr (!std::is_same_v<Stream, PlainSocket>) {
    beast::get_lowest_layer(self->ws_).expires_never();  // the websocket's own timeouts take over
  }
  websocket::stream_base::timeout timeouts = websocket::stream_base::timeout::suggested(beast::role_type::server);
  timeouts.idle_timeout = self->ctx_.options.idle_timeout;
  timeouts.keep_alive_pings = true;
  self->ws_.set_option(timeouts);
  self->ws_.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(beast::http::field::server, "parley"); }));
  self->ws_.read_message_max(self->ctx_.options.max_frame);
  self->ws_.auto_fragment(false);

  // Registered, with the user's route in place, before the handshake
  // answers: once the client sees the WebSocket open, whatever is placed for
  // the user reaches it. Frames handed to it meanwhile wait in its queue
  // (writing_: nothing may be written before the handshake's answer).
  self->writing_ = true;
  self->ctx_.registry.add(self->who_.user, self);
  co_await self->ctx_.registry.routes_settled();
  auto [ec] = co_await self->ws_.async_accept(upgrade, as_tuple_awaitable);
  self->writing_ = false;
  if (ec) {
    self->closed_ = true;
    self->ctx_.registry.remove(self->who_.user, self.get());
    co_return;
  }
  upgrade = {};  // its headers are not needed past the handshake: not held for the connection's life
  if (self->queue_head_ < self->queue_.size() || self->close_requested_) self->write_next();

  self->last_alive_ = std::chrono::steady_clock::now();
  self->ctx_.services.presence.connected(self->who_.user, self->presence_key_);
  co_await self->read_loop();
  self->ctx_.registry.remove(self->who_.user, self.get());
  self->ctx_.services.presence.disconnected(self->who_.user, self->presence_key_);
}

template <class Stream>
awaitable<void> WebSocketSession<Stream>::wait_for_drain() {
  while (!closed_ && queued_bytes_ > ctx_.options.max_queued_bytes / 2) {
    if (!drain_) drain_ = std::make_unique<asio::steady_timer>(ws_.get_executor());
    drain_->expires_at(asio::steady_timer::time_point::max());
    co_await drain_->async_wait(as_tuple_awaitable);  // cancelled by on_write() or abort()
  }
  drain_.reset();
}

template <class Stream>
awaitable<void> WebSocketSession<Stream>::read_loop() {
  for (;;) {
    // A client that sends requests but does not read the answers waits
    // here, and reads nothing more until its queue drains.
    co_await wait_for_drain();
    if (closed_) co_return;
    auto [ec, n] = co_await ws_.async_read(buffer_, as_tuple_awaitable);
    if (ec) {
      // Closed by the peer, a timeout, or a protocol violation that Beast
      // has already answered with its close code (1009 for an oversize
      // frame, 1007 for invalid UTF-8).
      if (ec != websocket::error::closed && ec != asio::error::operation_aborted && ec != beast::error::timeout &&
          ec != asio::error::eof && ec != asio::error::connection_reset) {
        log::write(log::Level::debug, "ws", "read ended: " + ec.message());
      }
      closed_ = true;
      co_return;
    }
    if (!ws_.got_text()) {
      buffer_.consume(buffer_.size());
      reply(codec::event_error(make_error(ErrorCode::bad_request, "binary frames are not supported; send JSON text")));
      continue;
    }
    std::string text = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    buffer_.shrink_to_fit();  // an idle connection keeps no read buffer
    co_await handle(std::move(text));
  }
}

template <class Stream>
awaitable<void> WebSocketSession<Stream>::handle(std::string text) {
  // Every request is a heartbeat (not only `ping`).
  if (const auto now = std::chrono::steady_clock::now();
      now - last_alive_ >= ctx_.services.presence.refresh_interval()) {
    last_alive_ = now;
    ctx_.services.presence.heartbeat(who_.user, presence_key_);
  }
  // An id is echoed as sent, so only one that can be (codec::echoable_id).
  const auto usable_id = [](const json::value* id) { return id != nullptr && codec::echoable_id(*id); };
  if (!bucket_.try_take()) {
    ctx_.services.metrics.rate_limited(Metrics::Limit::connection_rate).Increment();
    ctx_.unknown_op->failed(ErrorCode::rate_limited);
    Error limited = make_error(ErrorCode::rate_limited, "too many requests; slow down");
    // Answer with the request's id when it has one, so clients can match it.
    boost::system::error_code pec;
    json::value parsed = json::parse(text, pec);
    if (!pec && parsed.is_object()) {
      if (const json::value* id = parsed.get_object().if_contains("id"); usable_id(id)) {
        reply(codec::reply_error(*id, limited));
        co_return;
      }
    }
    reply(codec::event_error(limited));
    co_return;
  }

  auto frame = codec::read_frame(text);
  if (auto* bad = std::get_if<codec::BadFrame>(&frame)) {
    ctx_.unknown_op->failed(bad->error.code);
    reply(bad->answer());
    co_return;
  }
  auto& request = std::get<codec::RequestFrame>(frame);
  const auto found = find_op(request.op);
  RequestOutcomes* outcomes = found ? ctx_.op_outcomes[found->index] : ctx_.unknown_op;
  if (budget_ != nullptr) {
    // The user's budget across connections and servers (UserBudgets).
    bool share_due = false;
    const bool paid = budget_->try_take(request_cost(request.op, request.fields), UserBudget::Clock::now(), &share_due);
    if (share_due) refresh_budget_share();
    if (!paid) {
      ctx_.services.metrics.rate_limited(Metrics::Limit::user_rate).Increment();
      outcomes->failed(ErrorCode::rate_limited);
      reply(codec::reply_error(request.id,
                               make_error(ErrorCode::rate_limited,
                                          "too many requests from this user, across all of its connections; slow "
                                          "down")));
      co_return;
    }
    if ((request.op == "group_create" || request.op == "channel_create") && !budget_->try_create_room()) {
      ctx_.services.metrics.rate_limited(Metrics::Limit::rooms_per_hour).Increment();
      outcomes->failed(ErrorCode::rate_limited);
      reply(codec::reply_error(request.id, make_error(ErrorCode::rate_limited,
                                                      "too many groups and channels created by this user in the "
                                                      "last hour; try again later")));
      co_return;
    }
  }
  co_await dispatch(found, outcomes, std::move(request.id), std::move(request.op), std::move(request.fields));
}

template <class Stream>
void WebSocketSession<Stream>::refresh_budget_share() {
  // The servers holding the user's devices share its budget; read off the
  // I/O thread (a state store round trip on the scale-out engines).
  asio::post(ctx_.blocking, [&cluster = ctx_.services.cluster, budget = budget_, user = who_.user] {
    if (auto servers = cluster.servers_holding(user); servers) budget->set_servers(*servers);
  });
}

template <class Stream>
awaitable<void> WebSocketSession<Stream>::dispatch(std::optional<FoundOp> found, RequestOutcomes* outcomes,
                                                   json::value id, std::string op, json::object req) {
  if (!found) {
    outcomes->failed(ErrorCode::bad_request);
    reply(codec::reply_error(id, make_error(ErrorCode::bad_request, "unknown op '" + op + "'")));
    co_return;
  }
  Request request{ctx_, who_, this->weak_from_this(), std::move(id), std::move(req), outcomes};
  co_await found->handler(request);
}

template <class Stream>
void WebSocketSession<Stream>::reply(std::string frame) {
  enqueue(std::make_shared<const std::string>(std::move(frame)), /*reply=*/true);
}

template <class Stream>
void WebSocketSession<Stream>::send(std::shared_ptr<const std::string> frame) {
  asio::dispatch(ws_.get_executor(),
                 [self = this->shared_from_this(), f = std::move(frame)]() mutable { self->enqueue(std::move(f)); });
}

template <class Stream>
void WebSocketSession<Stream>::send_reply(std::shared_ptr<const std::string> frame) {
  asio::dispatch(ws_.get_executor(), [self = this->shared_from_this(), f = std::move(frame)]() mutable {
    self->enqueue(std::move(f), /*reply=*/true);
  });
}

template <class Stream>
asio::any_io_executor WebSocketSession<Stream>::executor() const {
  return const_cast<websocket::stream<Stream>&>(ws_).get_executor();
}

template <class Stream>
void WebSocketSession<Stream>::send_here(std::shared_ptr<const std::string> frame) {
  enqueue(std::move(frame));
}

template <class Stream>
void WebSocketSession<Stream>::send_reply_here(std::shared_ptr<const std::string> frame) {
  enqueue(std::move(frame), /*reply=*/true);
}

template <class Stream>
void WebSocketSession<Stream>::close_going_away() {
  asio::dispatch(ws_.get_executor(), [self = this->shared_from_this()] {
    if (self->close_requested_) return;  // already closing, with its own reason
    self->close_requested_ = true;
    if (!self->writing_) self->write_next();
  });
}

template <class Stream>
void WebSocketSession<Stream>::close_session_ended(std::string reason) {
  asio::dispatch(ws_.get_executor(), [self = this->shared_from_this(), r = std::move(reason)] {
    if (self->close_requested_ || self->closed_) return;
    self->close_requested_ = true;
    self->close_reason_ = websocket::close_reason(static_cast<websocket::close_code>(kSessionEndedCloseCode), r);
    if (!self->writing_) self->write_next();
  });
}

template <class Stream>
void WebSocketSession<Stream>::enqueue(std::shared_ptr<const std::string> frame, bool reply) {
  if (closed_ || close_requested_) return;
  const bool queued = queue_head_ < queue_.size();
  if (queue_.size() - queue_head_ >= ctx_.options.max_write_queue ||
      (!reply && queued && queued_bytes_ + frame->size() > ctx_.options.max_queued_bytes)) {
    // A device this far behind is better served by sync after a reconnect
    // (it reads too slowly to take a close frame either).
    log::warn("ws", "closing a connection that does not keep up with its writes (" + std::to_string(queued_bytes_) +
                        " bytes queued)");
    abort();
    return;
  }
  queued_bytes_ += frame->size();
  queue_.push_back(std::move(frame));
  if (!writing_) write_next();
}

template <class Stream>
void WebSocketSession<Stream>::abort() {
  closed_ = true;
  beast::close_socket(beast::get_lowest_layer(ws_));
  if (drain_) drain_->cancel();
}

template <class Stream>
void WebSocketSession<Stream>::write_next() {
  if (closed_) return;
  if (queue_head_ == queue_.size()) {
    if (close_requested_) {
      closed_ = true;
      writing_ = true;
      ws_.async_close(close_reason_,
                      [self = this->shared_from_this()](boost::system::error_code) { self->writing_ = false; });
    }
    return;
  }
  writing_ = true;
  ws_.text(true);
  ws_.async_write(asio::buffer(*queue_[queue_head_]),
                  [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) { self->on_write(ec); });
}

template <class Stream>
void WebSocketSession<Stream>::on_write(boost::system::error_code ec) {
  writing_ = false;
  queued_bytes_ -= queue_[queue_head_]->size();
  queue_[queue_head_++].reset();
  if (drain_ && queued_bytes_ <= ctx_.options.max_queued_bytes / 2) drain_->cancel();
  if (queue_head_ == queue_.size()) {
    queue_.clear();
    queue_head_ = 0;
    if (queue_.capacity() > 64) queue_.shrink_to_fit();  // after a burst
  } else if (queue_head_ >= 64 && queue_head_ * 2 >= queue_.size()) {
    // A queue that never drains: drop the written half now and then.
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(queue_head_));
    queue_head_ = 0;
  }
  if (ec) {
    closed_ = true;
    queue_.clear();
    queue_head_ = 0;
    queued_bytes_ = 0;
    if (drain_) drain_->cancel();
    return;
  }
  write_next();
}

template class WebSocketSession<PlainSocket>;
template class WebSocketSession<beast::ssl_stream<beast::tcp_stream>>;

}  // namespace parley::gateway
