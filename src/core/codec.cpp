#include "core/codec.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/validate.hpp"

namespace parley::codec {

namespace json = boost::json;

namespace {

Error bad(std::string message) { return make_error(ErrorCode::bad_request, std::move(message)); }

// Reads an optional integer field in [lo, hi]; `fallback` when absent.
Result<std::int64_t> read_int(const json::object& req, std::string_view field, std::int64_t lo, std::int64_t hi,
                              std::int64_t fallback) {
  const json::value* v = req.if_contains(field);
  if (v == nullptr || v->is_null()) return fallback;
  std::int64_t n = 0;
  if (v->is_int64()) {
    n = v->get_int64();
  } else if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    n = static_cast<std::int64_t>(v->get_uint64());
  } else {
    return bad(std::string(field) + " must be an integer");
  }
  if (n < lo || n > hi) {
    return bad(std::string(field) + " must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  }
  return n;
}

Result<std::string> read_string(const json::object& req, std::string_view field) {
  const json::value* v = req.if_contains(field);
  if (v == nullptr) return bad(std::string(field) + " is required");
  if (!v->is_string()) return bad(std::string(field) + " must be a string");
  return std::string(v->get_string());
}

}  // namespace

Result<std::uint64_t> read_id(const json::value& v, std::string_view field) {
  if (!v.is_string()) return bad(std::string(field) + " must be an id string");
  const auto id = validate::id_string(v.get_string());
  if (!id) return bad(std::string(field) + " is not a valid id");
  return *id;
}

Result<Recipient> read_recipient(const json::value& v) {
  if (!v.is_object() || v.get_object().size() != 1) {
    return bad(R"(to must be one of {"user": id}, {"group": id}, {"channel": id})");
  }
  const auto& [key, value] = *v.get_object().begin();
  Recipient to;
  if (key == "user") {
    to.kind = Recipient::Kind::user;
  } else if (key == "group") {
    to.kind = Recipient::Kind::group;
  } else if (key == "channel") {
    to.kind = Recipient::Kind::channel;
  } else {
    return bad(R"(to must be one of {"user": id}, {"group": id}, {"channel": id})");
  }
  auto id = read_id(value, "to." + std::string(key));
  if (!id) return std::move(id).error();
  to.id = *id;
  return to;
}

std::string BadFrame::answer() const { return id.is_null() ? event_error(error) : reply_error(id, error); }

std::variant<RequestFrame, BadFrame> read_frame(std::string_view text) {
  boost::system::error_code ec;
  json::value parsed = json::parse(text, ec);
  if (ec) return BadFrame{nullptr, bad("frame is not valid JSON: " + ec.message())};
  if (!parsed.is_object()) return BadFrame{nullptr, bad("frame must be a JSON object")};
  json::object& req = parsed.get_object();
  const json::value* id = req.if_contains("id");
  if (id == nullptr || !(id->is_string() || id->is_number())) {
    return BadFrame{nullptr, bad("request must have an id (a string or a number)")};
  }
  if (!echoable_id(*id)) {
    return BadFrame{nullptr,
                    bad("a numeric request id must be an integer from -2^63 to 2^64-1; send a string otherwise")};
  }
  json::value request_id = *id;
  const json::value* op = req.if_contains("op");
  if (op == nullptr || !op->is_string())
    return BadFrame{std::move(request_id), bad("request must have an op (a string)")};
  std::string op_name(op->get_string());
  return RequestFrame{std::move(request_id), std::move(op_name), std::move(req)};
}

Result<json::object> read_body(std::string_view body, std::initializer_list<std::string_view> fields) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);  // also rejects invalid UTF-8
  if (ec) return bad("body is not valid JSON: " + ec.message());
  if (!v.is_object()) return bad("body must be a JSON object");
  for (auto f : fields) {
    const json::value* field = v.get_object().if_contains(f);
    if (field == nullptr || !field->is_string()) return bad(std::string(f) + " is required and must be a string");
  }
  return std::move(v.get_object());
}

Result<SendRequest> read_send(const json::object& req, std::size_t max_body, UserId self) {
  const json::value* to = req.if_contains("to");
  if (to == nullptr) return bad("to is required");
  auto recipient = read_recipient(*to);
  if (!recipient) return std::move(recipient).error();

  auto cmid = read_string(req, "client_msg_id");
  if (!cmid) return std::move(cmid).error();
  if (!validate::client_msg_id(*cmid)) return bad("client_msg_id must be 1 to 64 characters");

  auto body = read_string(req, "body");
  if (!body) return std::move(body).error();
  if (body->size() > max_body) {
    return make_error(ErrorCode::too_large,
                      "body is " + std::to_string(body->size()) + " bytes; the limit is " + std::to_string(max_body));
  }

  if (const json::value* from = req.if_contains("from")) {
    auto id = read_id(*from, "from");
    if (!id) return std::move(id).error();
    if (*id != self.value) return make_error(ErrorCode::forbidden, "cannot send as another user");
  }
  return SendRequest{*recipient, std::move(*cmid), std::move(*body)};
}

Result<SyncRequest> read_sync(const json::object& req) {
  SyncRequest out;
  if (const json::value* after = req.if_contains("after"); after != nullptr && !after->is_null()) {
    auto n = read_int(req, "after", 0, INT64_MAX, 0);
    if (!n) return std::move(n).error();
    out.after = static_cast<Seq>(*n);
  }
  auto limit = read_int(req, "limit", 1, kMaxSyncLimit, 100);
  if (!limit) return std::move(limit).error();
  out.limit = static_cast<int>(*limit);
  return out;
}

Result<AckRequest> read_ack(const json::object& req) {
  if (req.if_contains("seq") == nullptr) return bad("seq is required");
  auto seq = read_int(req, "seq", 0, INT64_MAX, 0);
  if (!seq) return std::move(seq).error();
  return AckRequest{static_cast<Seq>(*seq)};
}

Result<HistoryRequest> read_history(const json::object& req) {
  auto conversation = read_string(req, "conversation");
  if (!conversation) return std::move(conversation).error();
  HistoryRequest out;
  out.conversation = std::move(*conversation);
  if (const json::value* before = req.if_contains("before"); before != nullptr && !before->is_null()) {
    auto id = read_id(*before, "before");
    if (!id) return std::move(id).error();
    out.before = MessageId{*id};
  }
  auto limit = read_int(req, "limit", 1, kMaxHistoryLimit, 50);
  if (!limit) return std::move(limit).error();
  out.limit = static_cast<int>(*limit);
  return out;
}

json::object to_json(const Recipient& to) {
  json::object o;
  o[to_string(to.kind)] = std::to_string(to.id);
  return o;
}

json::object to_json(const Message& m) {
  json::object o;
  o.reserve(7);
  o["message_id"] = to_string(m.id);
  o["conversation"] = m.conversation;
  o["from"] = to_string(m.from);
  o["to"] = to_json(m.to);
  if (m.deleted) {
    o["deleted"] = true;
  } else {
    o["body"] = m.body;
  }
  o["sent_at"] = m.sent_at;
  o["client_msg_id"] = m.client_msg_id;
  return o;
}

json::object to_json(const InboxEntry& e) {
  json::object o;
  o["seq"] = e.seq;
  o["message"] = to_json(e.message);
  return o;
}

json::object to_json(const Error& e) {
  json::object o;
  o["code"] = to_string(e.code);
  o["message"] = e.message;
  return o;
}

bool echoable_id(const json::value& id) noexcept { return id.is_string() || id.is_int64() || id.is_uint64(); }

// NOLINTNEXTLINE(performance-unnecessary-value-param): a sink, its values are moved out
std::string reply_ok(const json::value& id, json::object fields) {
  json::object o;
  o.reserve(fields.size() + 2);
  o["re"] = id;
  o["ok"] = true;
  for (auto& [k, v] : fields) o[k] = std::move(v);
  return json::serialize(o);
}

std::string reply_error(const json::value& id, const Error& e) {
  json::object o;
  o["re"] = id;
  o["ok"] = false;
  o["error"] = to_json(e);
  return json::serialize(o);
}

std::string event_error(const Error& e) {
  json::object o;
  o["ev"] = "error";
  o["error"] = to_json(e);
  return json::serialize(o);
}

// The frames below are written straight into one string, not built as a
// json::object first: they go out for every delivery and every entry of a
// sync page, and the object tree cost an allocation per field. Strings are
// escaped by Boost.JSON's serializer; the fields are those of to_json.

void append_json(std::string& out, const Message& m) {
  out += R"({"message_id":")";
  out += std::to_string(m.id.value);
  out += R"(","conversation":)";
  out += json::serialize(json::string_view(m.conversation));
  out += R"(,"from":")";
  out += std::to_string(m.from.value);
  out += R"(","to":{")";
  out += to_string(m.to.kind);
  out += R"(":")";
  out += std::to_string(m.to.id);
  out += R"("},)";
  // A tombstone has no body, and says so (docs/PROTOCOL.md, "Objects").
  if (m.deleted) {
    out += R"("deleted":true)";
  } else {
    out += R"("body":)";
    out += json::serialize(json::string_view(m.body));
  }
  out += R"(,"sent_at":)";
  out += std::to_string(m.sent_at);
  out += R"(,"client_msg_id":)";
  out += json::serialize(json::string_view(m.client_msg_id));
  out += '}';
}

void append_json(std::string& out, const InboxEntry& e) {
  out += R"({"seq":)";
  out += std::to_string(e.seq);
  out += R"(,"message":)";
  append_json(out, e.message);
  out += '}';
}

std::string event_message(const InboxEntry& e) {
  std::string out;
  out.reserve(160 + e.message.body.size());
  out += R"({"ev":"message","seq":)";
  out += std::to_string(e.seq);
  out += R"(,"message":)";
  append_json(out, e.message);
  out += '}';
  return out;
}

std::string message_json(const Message& m) {
  std::string out;
  out.reserve(128 + m.body.size());
  append_json(out, m);
  return out;
}

std::string event_message(Seq seq, std::string_view message_json) {
  std::string out;
  out.reserve(48 + message_json.size());
  out += R"({"ev":"message","seq":)";
  out += std::to_string(seq);
  out += R"(,"message":)";
  out += message_json;
  out += '}';
  return out;
}

std::string event_channel_message(const Message& m) {
  std::string out;
  out.reserve(150 + m.body.size());
  out += R"({"ev":"message","message":)";
  append_json(out, m);
  out += '}';
  return out;
}

std::string reply_sync_page(const json::value& id, std::span<const InboxEntry> entries, bool more) {
  std::string out;
  std::size_t bytes = 64;
  for (const auto& e : entries) bytes += 180 + e.message.body.size();
  out.reserve(bytes);
  out += R"({"re":)";
  out += json::serialize(id);
  out += R"(,"ok":true,"entries":[)";
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (i > 0) out += ',';
    append_json(out, entries[i]);
  }
  out += R"(],"more":)";
  out += more ? "true" : "false";
  out += '}';
  return out;
}

}  // namespace parley::codec
