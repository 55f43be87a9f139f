#include "core/codec_ops.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <utility>

#include "core/codec.hpp"

namespace parley::codec {

namespace json = boost::json;

namespace {

Error bad(std::string message) { return make_error(ErrorCode::bad_request, std::move(message)); }

bool url_safe_token(std::string_view token) {
  if (token.empty() || token.size() > kMaxPushToken) return false;
  for (unsigned char c : token) {
    if (!(std::isalnum(c) || c == '-' || c == '_' || c == ':' || c == '.')) return false;
  }
  return true;
}

}  // namespace

Result<std::uint64_t> read_id_field(const json::object& req, std::string_view name) {
  const json::value* v = req.if_contains(name);
  if (v == nullptr) return bad(std::string(name) + " is required");
  return read_id(*v, name);
}

Result<std::string> read_string_field(const json::object& req, std::string_view name) {
  const json::value* v = req.if_contains(name);
  if (v == nullptr || !v->is_string()) return bad(std::string(name) + " is required and must be a string");
  return std::string(v->get_string());
}

Result<UserId> read_user(const json::object& req) {
  auto id = read_id_field(req, "user");
  if (!id) return std::move(id).error();
  return UserId{id.value()};
}

Result<GroupCreateRequest> read_group_create(const json::object& req) {
  GroupCreateRequest out;
  auto name = read_string_field(req, "name");
  if (!name) return std::move(name).error();
  out.name = std::move(name).value();
  const json::value* list = req.if_contains("members");
  if (list == nullptr || !list->is_array()) return bad("members is required and must be an array of user ids");
  out.members.reserve(list->get_array().size());
  for (const auto& v : list->get_array()) {
    auto id = read_id(v, "members[]");
    if (!id) return std::move(id).error();
    out.members.emplace_back(id.value());
  }
  return out;
}

Result<ChannelCreateRequest> read_channel_create(const json::object& req) {
  ChannelCreateRequest out;
  auto name = read_string_field(req, "name");
  if (!name) return std::move(name).error();
  out.name = std::move(name).value();
  if (const json::value* post = req.if_contains("post")) {
    if (*post == "admins") {
      out.admins_post = true;
    } else if (*post != "everyone") {
      return bad("post must be \"everyone\" or \"admins\"");
    }
  }
  if (const json::value* is_private = req.if_contains("private")) {
    if (!is_private->is_bool()) return bad("private must be true or false");
    out.invite_only = is_private->get_bool();
  }
  return out;
}

Result<MembershipRequest> read_membership(const json::object& req, std::string_view room_field) {
  MembershipRequest out;
  auto room = read_id_field(req, room_field);
  if (!room) return std::move(room).error();
  out.room = room.value();
  if (req.contains("user")) {
    auto user = read_user(req);
    if (!user) return std::move(user).error();
    out.user = user.value();
  }
  return out;
}

Result<RoleRequest> read_role(const json::object& req, std::string_view room_field) {
  auto room = read_id_field(req, room_field);
  if (!room) return std::move(room).error();
  auto user = read_user(req);
  if (!user) return std::move(user).error();
  auto role = read_string_field(req, "role");
  if (!role) return std::move(role).error();
  return RoleRequest{room.value(), user.value(), std::move(role).value()};
}

Result<ReadRequest> read_read(const json::object& req) {
  auto conversation = read_string_field(req, "conversation");
  if (!conversation) return std::move(conversation).error();
  auto message = read_id_field(req, "message_id");
  if (!message) return std::move(message).error();
  return ReadRequest{std::move(conversation).value(), MessageId{message.value()}};
}

Result<std::string> read_typing(const json::object& req) { return read_string_field(req, "conversation"); }

Result<std::size_t> read_conversations(const json::object& req) {
  const json::value* v = req.if_contains("limit");
  if (v == nullptr) return std::size_t{100};
  if (!v->is_int64() || v->get_int64() < 1 || v->get_int64() > 500) {
    return bad("limit must be an integer from 1 to 500");
  }
  return static_cast<std::size_t>(v->get_int64());
}

Result<bool> read_presence_away(const json::object& req) {
  const json::value* v = req.if_contains("status");
  if (v != nullptr && v->is_string() && v->get_string() == "online") return false;
  if (v != nullptr && v->is_string() && v->get_string() == "away") return true;
  return bad("status must be \"online\" or \"away\"");
}

Result<PushRegisterRequest> read_push_register(const json::object& req) {
  const json::value* platform = req.if_contains("platform");
  if (platform == nullptr || !platform->is_string() ||
      (platform->get_string() != "apns" && platform->get_string() != "fcm")) {
    return bad("platform must be \"apns\" or \"fcm\"");
  }
  const json::value* token = req.if_contains("token");
  if (token == nullptr || !token->is_string() || !url_safe_token(token->get_string())) {
    return bad("token must be 1-4096 of [A-Za-z0-9_:.-]");
  }
  return PushRegisterRequest{std::string(platform->get_string()), std::string(token->get_string())};
}

Result<SearchRequest> read_search(const json::object& req) {
  SearchRequest out;
  const json::value* q = req.if_contains("q");
  if (q == nullptr || !q->is_string() || q->get_string().empty() || q->get_string().size() > 256) {
    return bad("q is required: a string of 1 to 256 bytes");
  }
  out.q = std::string(q->get_string());
  if (const json::value* c = req.if_contains("conversation"); c != nullptr && !c->is_null()) {
    if (!c->is_string()) return bad("conversation must be a string");
    out.conversation = std::string(c->get_string());
  }
  if (const json::value* l = req.if_contains("limit"); l != nullptr && !l->is_null()) {
    if (!l->is_int64() || l->get_int64() < 1 || l->get_int64() > 100) {
      return bad("limit must be an integer from 1 to 100");
    }
    out.limit = static_cast<int>(l->get_int64());
  }
  return out;
}

std::string event_receipt(std::string_view conversation, UserId user, MessageId message) {
  json::object event;
  event["ev"] = "receipt";
  event["conversation"] = conversation;
  event["user"] = to_string(user);
  event["message_id"] = to_string(message);
  return json::serialize(event);
}

std::string event_typing(std::string_view conversation, UserId user) {
  json::object event;
  event["ev"] = "typing";
  event["conversation"] = conversation;
  event["user"] = to_string(user);
  return json::serialize(event);
}

std::string event_presence(UserId user, std::string_view status, TimeMs last_seen) {
  json::object event;
  event["ev"] = "presence";
  event["user"] = to_string(user);
  event["status"] = status;
  event["last_seen"] = last_seen;
  return json::serialize(event);
}

// Written straight into one string, as the message frames are (codec.cpp):
// every acknowledged send gets one, on the thread that answers a batch. The
// same bytes as reply_ok with these fields.
std::string reply_sent(const json::value& id, const Message& m) {
  std::string out;
  out.reserve(96 + m.conversation.size());
  out += R"({"re":)";
  out += json::serialize(id);
  out += R"(,"ok":true,"message_id":")";
  out += std::to_string(m.id.value);
  out += R"(","conversation":)";
  out += json::serialize(json::string_view(m.conversation));
  out += R"(,"sent_at":)";
  out += std::to_string(m.sent_at);
  out += '}';
  return out;
}

}  // namespace parley::codec
