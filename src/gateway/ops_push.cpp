// Ops for push notifications: registering a device's push token.

#include "core/clock.hpp"
#include "gateway/ops.hpp"

namespace parley::gateway::ops {

namespace json = boost::json;
using boost::asio::awaitable;

namespace {

constexpr std::size_t kMaxToken = 4096;  // FCM tokens run to a few hundred bytes; APNs tokens are 64 hex digits

// A token is opaque but must be safe in a URL path (APNs puts it there).
bool valid_token(std::string_view token) {
  if (token.empty() || token.size() > kMaxToken) return false;
  for (unsigned char c : token) {
    if (!(std::isalnum(c) || c == '-' || c == '_' || c == ':' || c == '.')) return false;
  }
  return true;
}

}  // namespace

// push_register {platform: "apns"|"fcm", token}: stores the token for this
// session's device, replacing the device's previous one (docs/PROTOCOL.md).
awaitable<void> push_register(Request& r) {
  const auto* platform = r.fields.if_contains("platform");
  const auto* token = r.fields.if_contains("token");
  ports::PushPlatform parsed{};
  if (platform == nullptr || !platform->is_string() || !ports::parse_platform(platform->as_string(), parsed)) {
    r.reply_error(make_error(ErrorCode::bad_request, "platform must be \"apns\" or \"fcm\""));
    co_return;
  }
  if (token == nullptr || !token->is_string() || !valid_token(token->as_string())) {
    r.reply_error(make_error(ErrorCode::bad_request, "token must be 1-4096 of [A-Za-z0-9_:.-]"));
    co_return;
  }
  if (r.ctx.push_tokens == nullptr) {
    r.reply_error(make_error(ErrorCode::unavailable, "push notifications are not available"));
    co_return;
  }
  const TimeMs now = now_ms();
  ports::DeviceToken record{r.who.user, r.who.device, parsed, std::string(token->as_string()), now};
  auto job = [tokens = r.ctx.push_tokens, record = std::move(record)] { return tokens->put(record); };
  r.reply(co_await run_blocking(r.ctx.blocking, std::move(job)));
}

}  // namespace parley::gateway::ops
