#pragma once
// The JSON codec of docs/PROTOCOL.md: strict readers for the request ops and
// writers for replies and events. Readers refuse anything the contract does
// not allow (wrong types, ids that are not id strings, out-of-range limits)
// with ErrorCode::bad_request and a message that names the field.

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/ids.hpp"
#include "core/message.hpp"
#include "core/result.hpp"

namespace parley::codec {

struct SendRequest {
  Recipient to;
  std::string client_msg_id;
  std::string body;
};

struct SyncRequest {
  std::optional<Seq> after;  // absent: from the device's stored cursor
  int limit = 100;
};

struct AckRequest {
  Seq seq = 0;
};

struct HistoryRequest {
  std::string conversation;
  MessageId before;  // MessageId{}: from the newest
  int limit = 50;
};

// A client's text frame read as a request: an object with an `id` (a string
// or an integer that echoable_id accepts) and an `op` (a string); `fields`
// is the whole object, id and op included.
struct RequestFrame {
  boost::json::value id;
  std::string op;
  boost::json::object fields;
};

// A frame that is no request: the error, and the frame's id when it has one
// that can be echoed and the frame failed only for its op (then a reply
// answers it); null otherwise (then an error event does).
struct BadFrame {
  boost::json::value id;
  Error error;
  // The frame that answers it: reply_error(id, error) or event_error(error).
  [[nodiscard]] std::string answer() const;
};

// Reads a WebSocket text frame as docs/PROTOCOL.md says (ErrorCode::bad_request
// for anything else). The op is not looked up: an unknown one is the
// dispatcher's to refuse.
[[nodiscard]] std::variant<RequestFrame, BadFrame> read_frame(std::string_view text);

// Reads an HTTP request body as a JSON object whose listed fields are all
// strings (ErrorCode::bad_request otherwise, naming the first that is not).
[[nodiscard]] Result<boost::json::object> read_body(std::string_view body,
                                                    std::initializer_list<std::string_view> fields);

inline constexpr int kMaxSyncLimit = 500;
inline constexpr int kMaxHistoryLimit = 200;

// `max_body` is in bytes; a longer body is ErrorCode::too_large. A `from`
// field, if present, must name `self` (ErrorCode::forbidden otherwise).
[[nodiscard]] Result<SendRequest> read_send(const boost::json::object& req, std::size_t max_body, UserId self);
[[nodiscard]] Result<SyncRequest> read_sync(const boost::json::object& req);
[[nodiscard]] Result<AckRequest> read_ack(const boost::json::object& req);
[[nodiscard]] Result<HistoryRequest> read_history(const boost::json::object& req);

// Reads a JSON id string ("123") as a 64-bit id.
[[nodiscard]] Result<std::uint64_t> read_id(const boost::json::value& v, std::string_view field);
[[nodiscard]] Result<Recipient> read_recipient(const boost::json::value& v);

[[nodiscard]] boost::json::object to_json(const Recipient& to);
[[nodiscard]] boost::json::object to_json(const Message& m);
[[nodiscard]] boost::json::object to_json(const InboxEntry& e);
[[nodiscard]] boost::json::object to_json(const Error& e);

// Whether a request id can be echoed exactly as the client sent it: a
// string, or an integer from -2^63 to 2^64-1, which Boost.JSON holds as an
// int64 or uint64 and writes back digit for digit. Any other number is held
// as a double and would come back in another spelling (2^64 as
// 1.8446744073709552E19, 1.0 as 1E0, 1e999 as Infinity, which is not JSON).
// Only `-0` changes spelling: it comes back as `0`, the same number.
[[nodiscard]] bool echoable_id(const boost::json::value& id) noexcept;

// {"re": id, "ok": true, ...fields}; `id` is one that echoable_id accepts.
[[nodiscard]] std::string reply_ok(const boost::json::value& id, boost::json::object fields = {});
// {"re": id, "ok": false, "error": {...}}
[[nodiscard]] std::string reply_error(const boost::json::value& id, const Error& e);
// {"ev": "error", "error": {...}}
[[nodiscard]] std::string event_error(const Error& e);
// {"ev": "message", "seq": n, "message": {...}}; without seq for channels.
[[nodiscard]] std::string event_message(const InboxEntry& e);
// The same from the message's JSON (message_json), for a message that goes
// into many inboxes: serialized once, framed per entry.
[[nodiscard]] std::string message_json(const Message& m);
[[nodiscard]] std::string event_message(Seq seq, std::string_view message_json);
[[nodiscard]] std::string event_channel_message(const Message& m);
// {"re": id, "ok": true, "entries": [{"seq": n, "message": {...}}, ...], "more": b}
[[nodiscard]] std::string reply_sync_page(const boost::json::value& id, std::span<const InboxEntry> entries, bool more);

// Appends the JSON of to_json(m) / to_json(e) to `out`, written directly.
void append_json(std::string& out, const Message& m);
void append_json(std::string& out, const InboxEntry& e);

}  // namespace parley::codec
