// Fuzz target: a client's WebSocket text frame, read as the server reads it
// (codec::read_frame, what WebSocketSession::handle runs on every frame),
// then each op's fields through the readers its handler uses (codec::read_*
// for send, sync, ack and history; read_id, read_recipient, parse_role,
// parse_platform and the validators for the others).
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

// An id field as the room and social ops read it.
void id_field(const json::object& fields, std::string_view name) {
  const json::value* v = fields.if_contains(name);
  if (v == nullptr) return;
  auto id = codec::read_id(*v, name);
  if (!id) return;
  PARLEY_FUZZ_CHECK(*id != 0);
  // The id string it came from is the canonical one.
  PARLEY_FUZZ_CHECK(std::to_string(*id) == v->get_string());
}

void string_field(const json::object& fields, std::string_view name, bool display) {
  const json::value* v = fields.if_contains(name);
  if (v == nullptr || !v->is_string()) return;
  const std::string_view s = v->get_string();
  PARLEY_FUZZ_CHECK(validate::utf8(s));  // the JSON parser checked it
  if (display && validate::display_name(s)) PARLEY_FUZZ_CHECK(!s.empty() && s.size() <= 200);
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
  } else if (op == "group_add" || op == "group_remove" || op == "group_role" || op == "channel_join" ||
             op == "channel_leave" || op == "channel_role") {
    id_field(fields, "group");
    id_field(fields, "channel");
    id_field(fields, "user");
    if (const json::value* role = fields.if_contains("role"); role != nullptr && role->is_string()) {
      (void)ports::parse_role(role->get_string());
    }
  } else if (op == "group_create" || op == "channel_create") {
    string_field(fields, "name", /*display=*/true);
    if (const json::value* members = fields.if_contains("members"); members != nullptr && members->is_array()) {
      for (const auto& m : members->get_array()) (void)codec::read_id(m, "members[]");
    }
  } else if (op == "read") {
    string_field(fields, "conversation", false);
    id_field(fields, "message_id");
  } else if (op == "typing" || op == "search") {
    string_field(fields, "conversation", false);
    string_field(fields, "q", false);
  } else if (op == "friend_request" || op == "friend_accept" || op == "friend_remove" || op == "block" ||
             op == "unblock") {
    id_field(fields, "user");
  } else if (op == "push_register") {
    if (const json::value* p = fields.if_contains("platform"); p != nullptr && p->is_string()) {
      ports::PushPlatform platform{};
      (void)ports::parse_platform(p->get_string(), platform);
    }
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
