// Ops for friendships, blocks and presence (docs/PROTOCOL.md, "Friends and
// blocks" and "Presence and friends").

#include <boost/json/array.hpp>

#include "core/codec_ops.hpp"
#include "gateway/ops.hpp"
#include "services/presence_service.hpp"
#include "services/social_service.hpp"

namespace parley::gateway::ops {

namespace json = boost::json;
using boost::asio::awaitable;

namespace {

using PairOp = Result<void> (services::SocialService::*)(UserId, UserId);

// Reads `user`, runs `op` off the I/O thread and answers with its result.
awaitable<void> pair_op(Request& r, PairOp op) {
  auto other = codec::read_user(r.fields);
  if (!other) {
    r.reply_error(other.error());
    co_return;
  }
  auto job = [&social = r.ctx.services.social, op, self = r.who.user, o = other.value()] {
    return (social.*op)(self, o);
  };
  r.reply(co_await run_blocking(r.ctx.blocking, std::move(job)));
}

}  // namespace

awaitable<void> friend_request(Request& r) {
  auto other = codec::read_user(r.fields);
  if (!other) {
    r.reply_error(other.error());
    co_return;
  }
  auto job = [&social = r.ctx.services.social, self = r.who.user, o = other.value()] {
    return social.request(self, o);
  };
  auto friends_now = co_await run_blocking(r.ctx.blocking, std::move(job));
  if (!friends_now) {
    r.reply_error(friends_now.error());
    co_return;
  }
  json::object result;
  result["state"] = friends_now.value() ? "friends" : "pending";  // extension
  r.reply_ok(std::move(result));
}

awaitable<void> friend_accept(Request& r) { co_await pair_op(r, &services::SocialService::accept); }

awaitable<void> friend_remove(Request& r) { co_await pair_op(r, &services::SocialService::remove); }

awaitable<void> block(Request& r) { co_await pair_op(r, &services::SocialService::block); }

awaitable<void> unblock(Request& r) { co_await pair_op(r, &services::SocialService::unblock); }

awaitable<void> friends(Request& r) {
  auto job = [&social = r.ctx.services.social, self = r.who.user] { return social.list(self); };
  auto listing = co_await run_blocking(r.ctx.blocking, std::move(job));
  if (!listing) {
    r.reply_error(listing.error());
    co_return;
  }
  json::array friends_json;
  friends_json.reserve(listing->friends.size());
  for (const auto& f : listing->friends) {
    json::object o;
    o["user_id"] = to_string(f.id);
    o["username"] = f.username;
    o["status"] = services::PresenceService::to_string(f.presence.status);
    o["last_seen"] = f.presence.last_seen;
    friends_json.push_back(std::move(o));
  }
  json::array requests_json;
  requests_json.reserve(listing->requests.size());
  for (const auto& p : listing->requests) {
    json::object o;
    o["user_id"] = to_string(p.id);
    o["username"] = p.username;
    requests_json.push_back(std::move(o));
  }
  json::object result;
  result["friends"] = std::move(friends_json);
  result["requests"] = std::move(requests_json);  // extension: pending requests to this user
  r.reply_ok(std::move(result));
}

awaitable<void> presence(Request& r) {
  auto away = codec::read_presence_away(r.fields);
  if (!away) {
    r.reply_error(away.error());
    co_return;
  }
  const auto status = away.value() ? ports::PresenceStatus::away : ports::PresenceStatus::online;
  auto job = [&presence = r.ctx.services.presence, self = r.who.user, status] {
    return presence.set_status(self, status);
  };
  auto done = co_await run_blocking(r.ctx.blocking, std::move(job));
  if (!done) {
    r.reply_error(done.error());
    co_return;
  }
  // Extension: the heartbeat this server expects and the TTL it applies.
  json::object result;
  result["heartbeat_ms"] = r.ctx.services.presence.options().heartbeat.count();
  result["ttl_ms"] = r.ctx.services.presence.options().ttl.count();
  r.reply_ok(std::move(result));
}

}  // namespace parley::gateway::ops
