// The search op: full-text search over the messages the user may see.

#include <boost/json/array.hpp>

#include "core/codec_ops.hpp"
#include "gateway/ops.hpp"

namespace parley::gateway::ops {

namespace json = boost::json;
using boost::asio::awaitable;

awaitable<void> search(Request& r) {
  auto req = codec::read_search(r.fields);
  if (!req) {
    r.reply_error(req.error());
    co_return;
  }
  auto job = [&ctx = r.ctx, user = r.who.user, q = std::move(req.value())] {
    return ctx.services.search.search(user, q.q, q.conversation, q.limit);
  };
  auto found = co_await run_blocking(r.ctx.blocking, std::move(job));
  if (!found) {
    r.reply_error(found.error());
    co_return;
  }
  json::array messages;
  messages.reserve(found->size());
  for (const auto& m : found.value()) messages.push_back(codec::to_json(m));
  json::object result;
  result["messages"] = std::move(messages);
  r.reply_ok(std::move(result));
}

}  // namespace parley::gateway::ops
