// Fuzz target: a client's WebSocket text frame, read as the server reads it
// (codec::read_frame, what WebSocketSession::handle runs on every frame),
// then each op's fields through the reader its handler uses (codec::read_*,
// codec.hpp and codec_ops.hpp), and the role and platform words through
// parse_role and parse_platform as the handlers turn them into types.
//
// Invariants: no exception escapes; a frame read as a request has an id
// that is echoed exactly (the reply parses back to the same id); a refused
// frame's answer is one JSON object; what a reader accepts is within the
// limits the protocol states, and re-encodes to what it read.

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdint>
#include <string_view>

#include "check.hpp"
#include "core/codec.hpp"
#include "core/codec_ops.hpp"
#include "core/validate.hpp"
#include "ports/push_tokens.hpp"
#include "ports/rooms.hpp"

namespace json = boost::json;
using namespace parley;

namespace {

constexpr std::size_t kMaxBody = 16 * 1024;
constexpr UserId kSelf{42};

json::value parse_back(const std::string& frame) {
  boost::system::error_code ec;
  json::value v = json::parse(frame, ec);
  PARLEY_FUZZ_CHECK(!ec);
  PARLEY_FUZZ_CHECK(v.is_object());
  return v;
}

// An id a reader accepted: not 0, and the id string it came from is the
// canonical spelling of it.
void canonical_id(const json::object& fields, std::string_view name, std::uint64_t id) {
  PARLEY_FUZZ_CHECK(id != 0);
  PARLEY_FUZZ_CHECK(std::to_string(id) == fields.at(name).get_string());
}

void op_fields(const codec::RequestFrame& f) {
  const json::object& fields = f.fields;
  const std::string_view op = f.op;
  if (op == "send") {
    auto req = codec::read_send(fields, kMaxBody, kSelf);
    if (!req) return;
    PARLEY_FUZZ_CHECK(req->body.size() <= kMaxBody);
    PARLEY_FUZZ_CHECK(validate::client_msg_id(req->client_msg_id));
    // The recipient re-encodes to what was read.
    auto again = codec::read_recipient(codec::to_json(req->to));
    PARLEY_FUZZ_CHECK(again && again->kind == req->to.kind && again->id == req->to.id);
    PARLEY_FUZZ_CHECK(codec::to_json(req->to) == fields.at("to"));
  } else if (op == "sync") {
    auto req = codec::read_sync(fields);
    if (!req) return;
    PARLEY_FUZZ_CHECK(req->limit >= 1 && req->limit <= codec::kMaxSyncLimit);
    PARLEY_FUZZ_CHECK(!req->after || *req->after <= static_cast<Seq>(INT64_MAX));
  } else if (op == "ack") {
    auto req = codec::read_ack(fields);
    if (!req) return;
    PARLEY_FUZZ_CHECK(req->seq <= static_cast<Seq>(INT64_MAX));
  } else if (op == "history") {
    auto req = codec::read_history(fields);
    if (!req) return;
    PARLEY_FUZZ_CHECK(req->limit >= 1 && req->limit <= codec::kMaxHistoryLimit);
  } else if (op == "group_add" || op == "group_remove" || op == "channel_join" || op == "channel_leave") {
    const std::string_view room_field = op.starts_with("group") ? "group" : "channel";
    auto req = codec::read_membership(fields, room_field);
    if (!req) return;
    canonical_id(fields, room_field, req->room);
    if (req->user) canonical_id(fields, "user", req->user->value);
  } else if (op == "group_role" || op == "channel_role") {
    auto req = codec::read_role(fields, op == "group_role" ? "group" : "channel");
    if (!req) return;
    canonical_id(fields, "user", req->user.value);
    if (auto role = ports::parse_role(req->role)) PARLEY_FUZZ_CHECK(req->role == ports::to_string(*role));
  } else if (op == "group_create") {
    auto req = codec::read_group_create(fields);
    if (!req) return;
    PARLEY_FUZZ_CHECK(validate::utf8(req->name));  // the JSON parser checked it
    PARLEY_FUZZ_CHECK(req->members.size() == fields.at("members").as_array().size());
    for (UserId member : req->members) PARLEY_FUZZ_CHECK(member.valid());
  } else if (op == "channel_create") {
    auto req = codec::read_channel_create(fields);
    if (!req) return;
    PARLEY_FUZZ_CHECK(validate::utf8(req->name));
    PARLEY_FUZZ_CHECK(req->admins_post == (fields.contains("post") && fields.at("post") == "admins"));
  } else if (op == "read") {
    auto req = codec::read_read(fields);
    if (!req) return;
    canonical_id(fields, "message_id", req->message.value);
  } else if (op == "typing") {
    auto conversation = codec::read_typing(fields);
    if (conversation) PARLEY_FUZZ_CHECK(validate::utf8(*conversation));
  } else if (op == "conversations") {
    auto limit = codec::read_conversations(fields);
    if (limit) PARLEY_FUZZ_CHECK(*limit >= 1 && *limit <= 500);
  } else if (op == "search") {
    auto req = codec::read_search(fields);
    if (!req) return;
    PARLEY_FUZZ_CHECK(!req->q.empty() && req->q.size() <= 256);
    PARLEY_FUZZ_CHECK(req->limit >= 1 && req->limit <= 100);
  } else if (op == "friend_request" || op == "friend_accept" || op == "friend_remove" || op == "block" ||
             op == "unblock") {
    auto user = codec::read_user(fields);
    if (user) canonical_id(fields, "user", user->value);
  } else if (op == "presence") {
    auto away = codec::read_presence_away(fields);
    if (away) PARLEY_FUZZ_CHECK(fields.at("status") == (*away ? "away" : "online"));
  } else if (op == "push_register") {
    auto req = codec::read_push_register(fields);
    if (!req) return;
    ports::PushPlatform platform{};
    PARLEY_FUZZ_CHECK(ports::parse_platform(req->platform, platform));  // the op relies on it
    PARLEY_FUZZ_CHECK(!req->token.empty() && req->token.size() <= codec::kMaxPushToken);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto frame = codec::read_frame(text);
  if (auto* bad = std::get_if<codec::BadFrame>(&frame)) {
    PARLEY_FUZZ_CHECK(bad->error.code == ErrorCode::bad_request);
    PARLEY_FUZZ_CHECK(bad->id.is_null() || codec::echoable_id(bad->id));
    (void)parse_back(bad->answer());
    return 0;
  }
  const auto& request = std::get<codec::RequestFrame>(frame);
  PARLEY_FUZZ_CHECK(codec::echoable_id(request.id));
  // The id comes back exactly as sent, in a reply and in an error reply.
  const json::value ok = parse_back(codec::reply_ok(request.id));
  PARLEY_FUZZ_CHECK(ok.at("re") == request.id);
  const json::value err = parse_back(codec::reply_error(request.id, make_error(ErrorCode::bad_request, request.op)));
  PARLEY_FUZZ_CHECK(err.at("re") == request.id);
  PARLEY_FUZZ_CHECK(err.at("error").at("message") == json::string_view(request.op));
  op_fields(request);
  return 0;
}
