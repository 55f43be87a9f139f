// Ops for groups, channels, read receipts, typing and the conversation list.

#include <boost/json/array.hpp>

#include "gateway/channel_hub.hpp"
#include "gateway/ops.hpp"
#include "gateway/session_registry.hpp"
#include "services/live_events.hpp"

namespace parley::gateway::ops {

namespace json = boost::json;
using boost::asio::awaitable;

namespace {

Result<std::uint64_t> id_field(const json::object& fields, std::string_view name) {
  const json::value* v = fields.if_contains(name);
  if (v == nullptr) return make_error(ErrorCode::bad_request, std::string(name) + " is required");
  return codec::read_id(*v, name);
}

Result<std::string> string_field(const json::object& fields, std::string_view name) {
  const json::value* v = fields.if_contains(name);
  if (v == nullptr || !v->is_string()) {
    return make_error(ErrorCode::bad_request, std::string(name) + " is required and must be a string");
  }
  return std::string(v->get_string());
}

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
    services::notify_membership_changed(ctx.state, user, ctx.chat.server_id());
    return 0;
  };
  (void)co_await run_blocking(r.ctx.blocking, std::move(notify));
}

// group_add / group_remove / channel_* share one shape: a room id field and
// an optional user (default: the requester).
awaitable<void> membership_op(Request& r, ports::RoomKind kind, bool add) {
  const std::string_view field = kind == ports::RoomKind::group ? "group" : "channel";
  auto room = id_field(r.fields, field);
  if (!room) {
    r.reply_error(room.error());
    co_return;
  }
  UserId target = r.who.user;
  if (r.fields.contains("user")) {
    auto user = id_field(r.fields, "user");
    if (!user) {
      r.reply_error(user.error());
      co_return;
    }
    target = UserId{user.value()};
  }
  auto job = [&ctx = r.ctx, actor = r.who.user, ref = ports::RoomRef{kind, room.value()}, target, add] {
    return add ? ctx.rooms.add(actor, ref, target) : ctx.rooms.remove(actor, ref, target);
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
        services::notify_membership_changed(ctx.state, target, "");
        return 0;
      };
      (void)co_await run_blocking(r.ctx.blocking, std::move(notify));
    }
  }
  r.reply_ok();
}

awaitable<void> role_op(Request& r, ports::RoomKind kind) {
  auto room = id_field(r.fields, kind == ports::RoomKind::group ? "group" : "channel");
  auto user = id_field(r.fields, "user");
  auto role_name = string_field(r.fields, "role");
  if (!room || !user || !role_name) {
    r.reply_error(!room ? room.error() : !user ? user.error() : role_name.error());
    co_return;
  }
  auto role = ports::parse_role(role_name.value());
  if (!role) {
    r.reply_error(make_error(ErrorCode::bad_request, "role must be owner, admin or member"));
    co_return;
  }
  auto job = [&ctx = r.ctx, actor = r.who.user, ref = ports::RoomRef{kind, room.value()}, u = UserId{user.value()},
              rl = *role] { return ctx.rooms.set_role(actor, ref, u, rl); };
  r.reply(co_await run_blocking(r.ctx.blocking, std::move(job)));
}

}  // namespace

awaitable<void> group_create(Request& r) {
  auto name = string_field(r.fields, "name");
  if (!name) {
    r.reply_error(name.error());
    co_return;
  }
  const json::value* list = r.fields.if_contains("members");
  if (list == nullptr || !list->is_array()) {
    r.reply_error(make_error(ErrorCode::bad_request, "members is required and must be an array of user ids"));
    co_return;
  }
  std::vector<UserId> members;
  for (const auto& v : list->get_array()) {
    auto id = codec::read_id(v, "members[]");
    if (!id) {
      r.reply_error(id.error());
      co_return;
    }
    members.emplace_back(id.value());
  }
  auto job = [&ctx = r.ctx, owner = r.who.user, n = std::move(name.value()), m = std::move(members)] {
    return ctx.rooms.create_group(owner, n, m);
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
  auto name = string_field(r.fields, "name");
  if (!name) {
    r.reply_error(name.error());
    co_return;
  }
  ports::PostPolicy policy = ports::PostPolicy::everyone;
  if (const json::value* post = r.fields.if_contains("post")) {
    if (*post == "admins") {
      policy = ports::PostPolicy::admins;
    } else if (*post != "everyone") {
      r.reply_error(make_error(ErrorCode::bad_request, "post must be \"everyone\" or \"admins\""));
      co_return;
    }
  }
  ports::Access access = ports::Access::open;
  if (const json::value* is_private = r.fields.if_contains("private")) {
    if (!is_private->is_bool()) {
      r.reply_error(make_error(ErrorCode::bad_request, "private must be true or false"));
      co_return;
    }
    if (is_private->get_bool()) access = ports::Access::invite_only;
  }
  auto job = [&ctx = r.ctx, owner = r.who.user, n = std::move(name.value()), policy, access] {
    return ctx.rooms.create_channel(owner, n, policy, access);
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
  auto conversation = string_field(r.fields, "conversation");
  auto message = id_field(r.fields, "message_id");
  if (!conversation || !message) {
    r.reply_error(!conversation ? conversation.error() : message.error());
    co_return;
  }
  auto job = [&ctx = r.ctx, user = r.who.user, c = std::move(conversation.value()), m = MessageId{message.value()}] {
    return ctx.conversations.read(user, c, m);
  };
  r.reply(co_await run_blocking(r.ctx.blocking, std::move(job)));
}

awaitable<void> typing(Request& r) {
  auto conversation = string_field(r.fields, "conversation");
  if (!conversation) {
    r.reply_error(conversation.error());
    co_return;
  }
  auto job = [&ctx = r.ctx, user = r.who.user, c = std::move(conversation.value())] {
    return ctx.conversations.typing(user, c);
  };
  r.reply(co_await run_blocking(r.ctx.blocking, std::move(job)));
}

awaitable<void> conversations(Request& r) {
  std::size_t limit = 100;
  if (const json::value* v = r.fields.if_contains("limit")) {
    if (!v->is_int64() || v->get_int64() < 1 || v->get_int64() > 500) {
      r.reply_error(make_error(ErrorCode::bad_request, "limit must be an integer from 1 to 500"));
      co_return;
    }
    limit = static_cast<std::size_t>(v->get_int64());
  }
  auto job = [&ctx = r.ctx, user = r.who.user, limit] { return ctx.conversations.list(user, limit); };
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
