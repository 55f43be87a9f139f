// Ops for 1:1 messages, device sync, history and heartbeats.

#include <boost/json/array.hpp>

#include "gateway/ops.hpp"
#include "gateway/pending_sends.hpp"

namespace parley::gateway::ops {

namespace json = boost::json;
using boost::asio::awaitable;

awaitable<void> send(Request& r) {
  auto req = codec::read_send(r.fields, r.ctx.options.max_body, r.who.user);
  if (!req) {
    r.reply_error(req.error());
    co_return;
  }
  // Answered by the sequencer's SendDone (or here, if the append fails).
  const auto added = r.ctx.pending.add(r.connection, r.id);
  if (!added) {
    r.reply_error(make_error(ErrorCode::unavailable,
                             "the server is behind on sends and did not accept this one; retry it later with the same "
                             "client_msg_id"));
    co_return;
  }
  const std::uint64_t ticket = *added;
  PendingSends& pending = r.ctx.pending;
  r.ctx.services.chat.submit_send(r.who.user, std::move(req.value()), ticket,
                                  [&pending, ticket](Result<std::uint64_t> appended) {
                                    if (!appended) pending.complete(ticket, std::move(appended).error());
                                  });
}

awaitable<void> sync(Request& r) {
  auto req = codec::read_sync(r.fields);
  if (!req) {
    r.reply_error(req.error());
    co_return;
  }
  auto job = [&ctx = r.ctx, user = r.who.user, device = r.who.device, q = req.value()] {
    return ctx.services.chat.sync(user, device, q);
  };
  auto page = co_await run_blocking(r.ctx.blocking, std::move(job));
  if (!page) {
    r.reply_error(page.error());
    co_return;
  }
  r.reply_frame(codec::reply_sync_page(r.id, page->entries, page->more));
}

awaitable<void> ack(Request& r) {
  auto req = codec::read_ack(r.fields);
  if (!req) {
    r.reply_error(req.error());
    co_return;
  }
  auto job = [&ctx = r.ctx, user = r.who.user, device = r.who.device, seq = req->seq] {
    return ctx.services.chat.ack(user, device, seq);
  };
  auto cursor = co_await run_blocking(r.ctx.blocking, std::move(job));
  if (!cursor) {
    r.reply_error(cursor.error());
    co_return;
  }
  // The user has read on this device: clear the badge on the others.
  r.ctx.services.push.on_read(r.who.user, r.who.device);
  json::object result;
  result["cursor"] = cursor.value();  // extension: the device's cursor after the ack
  r.reply_ok(std::move(result));
}

awaitable<void> history(Request& r) {
  auto req = codec::read_history(r.fields);
  if (!req) {
    r.reply_error(req.error());
    co_return;
  }
  auto job = [&ctx = r.ctx, user = r.who.user, q = std::move(req.value())] {
    return ctx.services.chat.history(user, q);
  };
  auto messages = co_await run_blocking(r.ctx.blocking, std::move(job));
  if (!messages) {
    r.reply_error(messages.error());
    co_return;
  }
  json::array list;
  list.reserve(messages->size());
  for (const auto& m : messages.value()) list.push_back(codec::to_json(m));
  json::object result;
  result["messages"] = std::move(list);
  r.reply_ok(std::move(result));
}

// Every request refreshes the device's presence (WebSocketSession::handle),
// so a ping is answered at once, on the I/O thread: ok, or unavailable while
// the state store does not take presence writes (docs/ENGINES.md).
awaitable<void> ping(Request& r) {
  if (r.ctx.services.presence.available()) {
    r.reply_ok();
  } else {
    r.reply_error(make_error(ErrorCode::unavailable, "presence is unavailable: the state store does not answer"));
  }
  co_return;
}

}  // namespace parley::gateway::ops
