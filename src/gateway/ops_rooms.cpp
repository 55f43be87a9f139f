// Ops for groups, channels, read receipts, typing and the conversation list.

#include <boost/json/array.hpp>

#include "core/codec_ops.hpp"
#include "gateway/channel_hub.hpp"
#include "gateway/ops.hpp"
#include "gateway/session_registry.hpp"

namespace parley::gateway::ops {

namespace json = boost::json;
using boost::asio::awaitable;

namespace {

json::object room_result(const ports::RoomRecord& room) {
  json::object out;
  out[room.ref.kind == ports::RoomKind::group ? "group_id" : "channel_id"] = std::to_string(room.ref.id);
  out["conversation"] = to_string(services::conversation_of(room.ref));
  return out;
}

// Follows the user's channels on this server as they are now, before the
// reply goes out (so a post right after a join reaches this device), and
// tells the user's other servers to do the same.
awaitable<void> refresh_memberships(Request& r) {
  auto reload = [&ctx = r.ctx, user = r.who.user] {
    ctx.channels.reload(user);
    return 0;
  };
  (void)co_await run_on(r.ctx.registry.ordered(), std::move(reload));
  auto notify = [&ctx = r.ctx, user = r.who.user] {
    ctx.services.cluster.notify_membership_changed(user, false);
    return 0;
  };
  (void)co_await run_blocking(r.ctx.blocking, std::move(notify));
}

// group_add / group_remove / channel_* share one shape: a room id field and
// an optional user (default: the requester).
awaitable<void> membership_op(Request& r, ports::RoomKind kind, bool add) {
  auto req = codec::read_membership(r.fields, kind == ports::RoomKind::group ? "group" : "channel");
  if (!req) {
    r.reply_error(req.error());
    co_return;
  }
  const UserId target = req->user.value_or(r.who.user);
  auto job = [&ctx = r.ctx, actor = r.who.user, ref = ports::RoomRef{kind, req->room}, target, add] {
    return add ? ctx.services.rooms.add(actor, ref, target) : ctx.services.rooms.remove(actor, ref, target);
  };
  auto done = co_await run_blocking(r.ctx.blocking, std::move(job));
  if (!done) {
    r.reply_error(done.error());
    co_return;
  }
  if (kind == ports::RoomKind::channel) {
    if (target == r.who.user) {
      co_await refresh_memberships(r);
    } else {
      auto notify = [&ctx = r.ctx, target] {
        ctx.services.cluster.notify_membership_changed(target, true);
        return 0;
      };
      (void)co_await run_blocking(r.ctx.blocking, std::move(notify));
    }
  }
  r.reply_ok();
}

awaitable<void> role_op(Request& r, ports::RoomKind kind) {
  auto req = codec::read_role(r.fields, kind == ports::RoomKind::group ? "group" : "channel");
  if (!req) {
    r.reply_error(req.error());
    co_return;
  }
  auto role = ports::parse_role(req->role);
  if (!role) {
    r.reply_error(make_error(ErrorCode::bad_request, "role must be owner, admin or member"));
    co_return;
  }
  auto job = [&ctx = r.ctx, actor = r.who.user, ref = ports::RoomRef{kind, req->room}, u = req->user, rl = *role] {
    return ctx.services.rooms.set_role(actor, ref, u, rl);
  };
  r.reply(co_await run_blocking(r.ctx.blocking, std::move(job)));
}

}  // namespace

awaitable<void> group_create(Request& r) {
  auto req = codec::read_group_create(r.fields);
  if (!req) {
    r.reply_error(req.error());
    co_return;
  }
  auto job = [&ctx = r.ctx, owner = r.who.user, q = std::move(req.value())] {
    return ctx.services.rooms.create_group(owner, q.name, q.members);
  };
  auto room = co_await run_blocking(r.ctx.blocking, std::move(job));
  if (!room) {
    r.reply_error(room.error());
    co_return;
  }
  r.reply_ok(room_result(room.value()));
}

awaitable<void> group_add(Request& r) { co_await membership_op(r, ports::RoomKind::group, true); }
awaitable<void> group_remove(Request& r) { co_await membership_op(r, ports::RoomKind::group, false); }
awaitable<void> group_role(Request& r) { co_await role_op(r, ports::RoomKind::group); }

awaitable<void> channel_create(Request& r) {
  auto req = codec::read_channel_create(r.fields);
  if (!req) {
    r.reply_error(req.error());
    co_return;
  }
  const auto policy = req->admins_post ? ports::PostPolicy::admins : ports::PostPolicy::everyone;
  const auto access = req->invite_only ? ports::Access::invite_only : ports::Access::open;
  auto job = [&ctx = r.ctx, owner = r.who.user, n = std::move(req->name), policy, access] {
    return ctx.services.rooms.create_channel(owner, n, policy, access);
  };
  auto room = co_await run_blocking(r.ctx.blocking, std::move(job));
  if (!room) {
    r.reply_error(room.error());
    co_return;
  }
  co_await refresh_memberships(r);
  r.reply_ok(room_result(room.value()));
}

awaitable<void> channel_join(Request& r) { co_await membership_op(r, ports::RoomKind::channel, true); }
awaitable<void> channel_leave(Request& r) { co_await membership_op(r, ports::RoomKind::channel, false); }
awaitable<void> channel_role(Request& r) { co_await role_op(r, ports::RoomKind::channel); }

awaitable<void> read(Request& r) {
  auto req = codec::read_read(r.fields);
  if (!req) {
    r.reply_error(req.error());
    co_return;
  }
  auto job = [&ctx = r.ctx, user = r.who.user, q = std::move(req.value())] {
    return ctx.services.conversations.read(user, q.conversation, q.message);
  };
  r.reply(co_await run_blocking(r.ctx.blocking, std::move(job)));
}

awaitable<void> typing(Request& r) {
  auto conversation = codec::read_typing(r.fields);
  if (!conversation) {
    r.reply_error(conversation.error());
    co_return;
  }
  auto job = [&ctx = r.ctx, user = r.who.user, c = std::move(conversation.value())] {
    return ctx.services.conversations.typing(user, c);
  };
  r.reply(co_await run_blocking(r.ctx.blocking, std::move(job)));
}

awaitable<void> conversations(Request& r) {
  auto limit = codec::read_conversations(r.fields);
  if (!limit) {
    r.reply_error(limit.error());
    co_return;
  }
  auto job = [&ctx = r.ctx, user = r.who.user, n = *limit] { return ctx.services.conversations.list(user, n); };
  auto list = co_await run_blocking(r.ctx.blocking, std::move(job));
  if (!list) {
    r.reply_error(list.error());
    co_return;
  }
  json::array out;
  out.reserve(list->size());
  for (const auto& e : list.value()) {
    json::object item;
    item["conversation"] = e.conversation;
    item["kind"] = e.kind == Recipient::Kind::user ? "direct" : std::string(to_string(e.kind));
    if (e.last_message) {
      item["last_message"] = codec::to_json(*e.last_message);
    } else {
      item["last_message"] = nullptr;
    }
    item["unread"] = e.unread;
    out.push_back(std::move(item));
  }
  json::object result;
  result["conversations"] = std::move(out);
  r.reply_ok(std::move(result));
}

}  // namespace parley::gateway::ops
