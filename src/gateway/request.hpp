#pragma once
// One WebSocket request being handled: who sent it, its id and fields, and
// how to answer it. Handlers for each op (ops_*.cpp) take a Request and
// answer it exactly once, now or later (a send is answered when it has been
// sequenced).

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <memory>

#include "core/codec.hpp"
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

  void reply_ok(boost::json::object result = {}) const { send(codec::reply_ok(id, std::move(result))); }
  void reply_error(const Error& e) const { send(codec::reply_error(id, e)); }
  // Answers with a reply frame written already (codec::reply_*).
  void reply_frame(std::string frame) const { send(std::move(frame)); }
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

// The handler for an op; nullptr if there is none.
[[nodiscard]] OpHandler find_op(std::string_view op) noexcept;

}  // namespace parley::gateway
