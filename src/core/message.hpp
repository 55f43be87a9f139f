#pragma once
// The message model: who a message goes to, the conversation it belongs to,
// and the entry it becomes in each member's inbox.

#include <optional>
#include <string>
#include <string_view>

#include "core/ids.hpp"

namespace parley {

// The `to` of a send: one user (1:1), a group or a channel.
struct Recipient {
  enum class Kind { user, group, channel };
  Kind kind = Kind::user;
  std::uint64_t id = 0;

  friend bool operator==(const Recipient&, const Recipient&) = default;
};

[[nodiscard]] std::string_view to_string(Recipient::Kind kind) noexcept;

// An opaque conversation name shown to clients. Both members of a 1:1 pair
// get the same one ("d:<lower id>:<higher id>"); a group is "g:<id>" and a
// channel "c:<id>".
struct ConversationRef {
  Recipient::Kind kind = Recipient::Kind::user;
  std::uint64_t a = 0;  // the lower user id of a pair, or the group/channel id
  std::uint64_t b = 0;  // the higher user id of a pair; 0 otherwise

  friend bool operator==(const ConversationRef&, const ConversationRef&) = default;
};

[[nodiscard]] ConversationRef direct_conversation(UserId x, UserId y) noexcept;
[[nodiscard]] ConversationRef group_conversation(GroupId g) noexcept;
[[nodiscard]] ConversationRef channel_conversation(ChannelId c) noexcept;
// The conversation a send from `from` to `to` belongs to.
[[nodiscard]] ConversationRef conversation_of(UserId from, const Recipient& to) noexcept;
[[nodiscard]] std::string to_string(const ConversationRef& c);
// Reads a conversation name; nullopt when it is not one.
[[nodiscard]] std::optional<ConversationRef> parse_conversation(std::string_view text) noexcept;
// Whether `user` takes part in a 1:1 conversation (always false for groups
// and channels, whose membership lives in the directory).
[[nodiscard]] bool is_direct_member(const ConversationRef& c, UserId user) noexcept;

struct Message {
  MessageId id;
  std::string conversation;
  UserId from;
  Recipient to;
  std::string body;
  TimeMs sent_at = 0;
  std::string client_msg_id;
  // A tombstone: its sender's account was deleted (docs/PROTOCOL.md,
  // "Admin API"). It keeps its id, conversation, sender, recipient, time
  // and place in every order; its body is gone (empty). Only the message
  // store and the read paths make them; a send never does.
  bool deleted = false;

  friend bool operator==(const Message&, const Message&) = default;
};

// Turns `m` into its tombstone: the body is erased, the rest stays.
inline void make_tombstone(Message& m) {
  m.body.clear();
  m.body.shrink_to_fit();
  m.deleted = true;
}

// One position in one user's inbox.
struct InboxEntry {
  Seq seq = 0;
  Message message;

  friend bool operator==(const InboxEntry&, const InboxEntry&) = default;
};

}  // namespace parley
