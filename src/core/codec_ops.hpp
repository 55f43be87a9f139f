#pragma once
// The codec of docs/PROTOCOL.md's ops beyond messages (codec.hpp has the
// frames, send, sync, ack and history): rooms, receipts, typing, the
// conversation list, friends, presence, push and search; and the events and
// replies those ops and the send answer produce. Like codec.hpp's readers,
// each refuses what the contract does not allow with ErrorCode::bad_request
// and a message that names the field. Room roles, post policies, presence
// statuses and push platforms are read as the protocol spells them; the
// ops turn them into the services' types.

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/ids.hpp"
#include "core/message.hpp"
#include "core/result.hpp"

namespace parley::codec {

// A required id string field (`name` is required; then read_id's rules).
[[nodiscard]] Result<std::uint64_t> read_id_field(const boost::json::object& req, std::string_view name);
// A required string field.
[[nodiscard]] Result<std::string> read_string_field(const boost::json::object& req, std::string_view name);

// friend_request, friend_accept, friend_remove, block, unblock: {user}.
[[nodiscard]] Result<UserId> read_user(const boost::json::object& req);

// group_create {name, members: [user ids]}.
struct GroupCreateRequest {
  std::string name;
  std::vector<UserId> members;
};
[[nodiscard]] Result<GroupCreateRequest> read_group_create(const boost::json::object& req);

// channel_create {name, post?: "everyone"|"admins", private?: bool}.
struct ChannelCreateRequest {
  std::string name;
  bool admins_post = false;  // post: "admins"
  bool invite_only = false;  // private: true
};
[[nodiscard]] Result<ChannelCreateRequest> read_channel_create(const boost::json::object& req);

// group_add, group_remove, channel_join, channel_leave: {group|channel, user?}
// (`room_field` names the room; no user: the requester).
struct MembershipRequest {
  std::uint64_t room = 0;
  std::optional<UserId> user;
};
[[nodiscard]] Result<MembershipRequest> read_membership(const boost::json::object& req, std::string_view room_field);

// group_role, channel_role: {group|channel, user, role}; the role is the
// protocol's word ("owner", "admin", "member"), checked by the op.
struct RoleRequest {
  std::uint64_t room = 0;
  UserId user;
  std::string role;
};
[[nodiscard]] Result<RoleRequest> read_role(const boost::json::object& req, std::string_view room_field);

// read {conversation, message_id}.
struct ReadRequest {
  std::string conversation;
  MessageId message;
};
[[nodiscard]] Result<ReadRequest> read_read(const boost::json::object& req);

// typing {conversation}.
[[nodiscard]] Result<std::string> read_typing(const boost::json::object& req);

// conversations {limit?: 1..500, default 100}.
[[nodiscard]] Result<std::size_t> read_conversations(const boost::json::object& req);

// presence {status: "online"|"away"}: whether away.
[[nodiscard]] Result<bool> read_presence_away(const boost::json::object& req);

// push_register {platform: "apns"|"fcm", token}: a token is opaque but must
// be safe in a URL path (APNs puts it there).
struct PushRegisterRequest {
  std::string platform;
  std::string token;
};
inline constexpr std::size_t kMaxPushToken =
    4096;  // FCM tokens run to a few hundred bytes; APNs tokens are 64 hex digits
[[nodiscard]] Result<PushRegisterRequest> read_push_register(const boost::json::object& req);

// search {q: 1..256 bytes, conversation?: string|null, limit?: 1..100, default 20}.
struct SearchRequest {
  std::string q;
  std::optional<std::string> conversation;
  int limit = 20;
};
[[nodiscard]] Result<SearchRequest> read_search(const boost::json::object& req);

// {"ev":"receipt","conversation":c,"user":u,"message_id":m}
[[nodiscard]] std::string event_receipt(std::string_view conversation, UserId user, MessageId message);
// {"ev":"typing","conversation":c,"user":u}
[[nodiscard]] std::string event_typing(std::string_view conversation, UserId user);
// {"ev":"presence","user":u,"status":s,"last_seen":ms}
[[nodiscard]] std::string event_presence(UserId user, std::string_view status, TimeMs last_seen);
// The answer to a send: {"re":id,"ok":true,"message_id","conversation","sent_at"}.
[[nodiscard]] std::string reply_sent(const boost::json::value& id, const Message& m);

}  // namespace parley::codec
