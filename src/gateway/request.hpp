#pragma once
// One WebSocket request being handled: who sent it, its id and fields, and
// how to answer it. Handlers for each op (ops_*.cpp) take a Request and
// answer it exactly once, now or later (a send is answered when it has been
// sequenced).

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "core/codec.hpp"
#include "core/metrics.hpp"
#include "gateway/blocking.hpp"
#include "gateway/connection.hpp"
#include "gateway/context.hpp"

namespace parley::gateway {

struct Request {
  Context& ctx;
  const ports::SessionRecord& who;
  std::weak_ptr<Connection> connection;
  boost::json::value id;
  boost::json::object fields;
  // Where the answer is counted (GET /metrics); null: nowhere.
  RequestOutcomes* outcomes = nullptr;

  void reply_ok(boost::json::object result = {}) const {
    if (outcomes != nullptr) outcomes->ok();
    send(codec::reply_ok(id, std::move(result)));
  }
  void reply_error(const Error& e) const {
    if (outcomes != nullptr) outcomes->failed(e.code);
    send(codec::reply_error(id, e));
  }
  // Answers with a successful reply frame written already (codec::reply_*).
  void reply_frame(std::string frame) const {
    if (outcomes != nullptr) outcomes->ok();
    send(std::move(frame));
  }
  // Answers with the error, or with no fields on success.
  void reply(const Result<void>& r) const {
    if (r) {
      reply_ok();
    } else {
      reply_error(r.error());
    }
  }

 private:
  void send(std::string frame) const {
    if (auto c = connection.lock()) c->send_reply(std::make_shared<const std::string>(std::move(frame)));
  }
};

using OpHandler = boost::asio::awaitable<void> (*)(Request& request);

// Every op's name, in a fixed order.
[[nodiscard]] std::span<const std::string_view> op_names() noexcept;

struct FoundOp {
  OpHandler handler;
  std::size_t index;  // the op's place in op_names()
};
// The handler for an op; nothing if there is none.
[[nodiscard]] std::optional<FoundOp> find_op(std::string_view op) noexcept;

}  // namespace parley::gateway
