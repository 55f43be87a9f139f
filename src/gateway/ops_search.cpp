// The search op: full-text search over the messages the user may see.

#include <boost/json/array.hpp>

#include "gateway/ops.hpp"

namespace parley::gateway::ops {

namespace json = boost::json;
using boost::asio::awaitable;

awaitable<void> search(Request& r) {
  if (r.ctx.search == nullptr) {
    r.reply_error(make_error(ErrorCode::unavailable, "search is not configured on this server"));
    co_return;
  }
  const json::value* q = r.fields.if_contains("q");
  if (q == nullptr || !q->is_string() || q->get_string().empty() || q->get_string().size() > 256) {
    r.reply_error(make_error(ErrorCode::bad_request, "q is required: a string of 1 to 256 bytes"));
    co_return;
  }
  std::optional<std::string> conversation;
  if (const json::value* c = r.fields.if_contains("conversation"); c != nullptr && !c->is_null()) {
    if (!c->is_string()) {
      r.reply_error(make_error(ErrorCode::bad_request, "conversation must be a string"));
      co_return;
    }
    conversation = std::string(c->get_string());
  }
  int limit = 20;
  if (const json::value* l = r.fields.if_contains("limit"); l != nullptr && !l->is_null()) {
    if (!l->is_int64() || l->get_int64() < 1 || l->get_int64() > 100) {
      r.reply_error(make_error(ErrorCode::bad_request, "limit must be an integer from 1 to 100"));
      co_return;
    }
    limit = static_cast<int>(l->get_int64());
  }
  auto job = [&ctx = r.ctx, user = r.who.user, text = std::string(q->get_string()), c = std::move(conversation),
              limit] { return ctx.search->search(user, text, c, limit); };
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
