// Ops for push notifications: registering a device's push token.

#include "core/codec_ops.hpp"
#include "gateway/ops.hpp"

namespace parley::gateway::ops {

namespace json = boost::json;
using boost::asio::awaitable;

// push_register {platform: "apns"|"fcm", token}: stores the token for this
// session's device, replacing the device's previous one (docs/PROTOCOL.md).
awaitable<void> push_register(Request& r) {
  auto req = codec::read_push_register(r.fields);
  if (!req) {
    r.reply_error(req.error());
    co_return;
  }
  ports::PushPlatform platform{};
  (void)ports::parse_platform(req->platform, platform);  // one of the two the codec accepts
  auto job = [&sessions = r.ctx.services.sessions, session = r.who, platform, t = std::move(req->token)] {
    return sessions.register_push(session, platform, t);
  };
  r.reply(co_await run_blocking(r.ctx.blocking, std::move(job)));
}

}  // namespace parley::gateway::ops
