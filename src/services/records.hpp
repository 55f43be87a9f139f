#pragma once
// What flows through the pipeline: the records of the two log topics and the
// envelopes that servers publish to each other through the state store.
//
//   device ─send─▶ gateway ─SendCommand─▶ "conversations" (key: conversation)
//   sequencer ─Sequenced─▶ "sequenced" (key: conversation; the changelog the
//                          sequencer's state is rebuilt from, kept forever)
//   sequencer ─SendDone─▶ the origin server (the sender's reply)
//   store writer ─InboxCommand─▶ "inboxes" (key: a user; one record per partition)
//   inbox owner ─Deliver─▶ every server holding a device of the user

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/ids.hpp"
#include "core/message.hpp"
#include "core/result.hpp"
#include "ports/message_log.hpp"

namespace parley::records {

inline constexpr std::string_view kConversationsTopic = "conversations";
inline constexpr std::string_view kInboxesTopic = "inboxes";
inline constexpr std::string_view kSequencedTopic = "sequenced";
inline constexpr std::string_view kSequencerGroup = "sequencer";
inline constexpr std::string_view kStoreWriterGroup = "store-writer";
inline constexpr std::string_view kInboxGroup = "inbox-owner";

// A send as the gateway accepted it. `origin` and `ticket` say where the
// sender waits for the result; they are stale after that server restarts,
// which is harmless: the client retries with the same client_msg_id.
struct SendCommand {
  std::string origin;
  std::uint64_t ticket = 0;
  UserId from;
  Recipient to;
  std::string client_msg_id;
  std::string body;
};

// A send the sequencer decided: the message under its id, and who gets an
// inbox entry (nobody for a channel post).
//
// `offset` is where in its changelog partition the sequencer appended it:
// the partition's end as that sequencer knew it. A decision found anywhere
// else was fenced off: another sequencer appended to the partition in
// between (a "zombie" that lost the partition in a rebalance and does not
// know it yet, or a new owner that had not read what the old one had just
// appended), so the one that appended it did not know every decision before
// it, and may have given a send a second id. Every reader skips such a
// decision (decode_decisions, stands()), and its sequencer answers nobody
// for it (it decides the send again on what the changelog holds). Records
// written before this field existed have none and stand.
struct Sequenced {
  Message message;
  std::vector<UserId> members;
  std::optional<std::uint64_t> offset;
};

// One message for the inboxes of `users`, who all fall in one "inboxes"
// partition: the store writer appends one record per partition a message
// reaches (its key is the first user's), so a group message is a few
// records, not one per member. A user's records keep their order: they all
// go to the user's partition, from one thread.
struct InboxCommand {
  std::vector<UserId> users;
  Message message;
};

[[nodiscard]] std::string encode(const SendCommand& c);
[[nodiscard]] std::string encode(const InboxCommand& c);
[[nodiscard]] std::string encode(const Sequenced& s);
[[nodiscard]] std::optional<Sequenced> decode_sequenced(std::string_view bytes);
// Whether `decision`, read from `record`, stands: it was appended where its
// sequencer meant it to be (Sequenced::offset).
[[nodiscard]] inline bool stands(const Sequenced& decision, const ports::LogRecord& record) {
  return !decision.offset || *decision.offset == record.offset;
}
// The decisions of a batch of "sequenced" records that stand, in order; a
// record that does not decode, or was fenced off, is logged (as `step`) and
// skipped. With `record_of`, also where each came from: decision i is
// batch[(*record_of)[i]].
[[nodiscard]] std::vector<Sequenced> decode_decisions(std::span<const ports::LogRecord> batch, std::string_view step,
                                                      std::vector<std::size_t>* record_of = nullptr);
[[nodiscard]] std::optional<SendCommand> decode_send(std::string_view bytes);
[[nodiscard]] std::optional<InboxCommand> decode_inbox(std::string_view bytes);

// The pub/sub channel a server listens on.
[[nodiscard]] std::string server_channel(std::string_view server_id);

// Server-to-server envelopes.
struct Deliver {
  UserId user;
  std::string frame;  // the event frame, ready to write to each device
};

// Several Deliver for one server, as one envelope: the inbox owner's batch
// costs one publish per server, and that server one hand-off per I/O thread,
// instead of one of each per user.
struct Deliveries {
  std::vector<Deliver> items;
};

struct SendDone {
  std::uint64_t ticket = 0;
  Result<Message> result;
};

// Several SendDone for one server (a sequencer batch's answers to it), as
// one envelope.
struct SendDones {
  std::vector<SendDone> items;
};

// An event for the online members of a channel (fan-out on read), published
// on the channel's topic to every server with a member online; each server
// hands it to its local members' devices, except `except`'s.
struct RoomEvent {
  ChannelId channel;
  UserId except;  // UserId{} for nobody
  std::string frame;
};

// A user's memberships changed: servers holding the user's devices reload
// which channel topics they follow for them.
struct MembershipChanged {
  UserId user;
};

// Sessions of a user ended (docs/PROTOCOL.md, "Sessions and devices"):
// servers holding the user's devices close the connections that used
// them. Which ones: those of the session whose token hash is `key`
// (a logout), those of the device `key` (a device removed), or all but
// those of the session whose token hash is `key` (a password changed).
struct SessionsEnded {
  enum class Which : std::uint8_t { session = 0, device = 1, all_but_session = 2 };
  UserId user;
  Which which = Which::session;
  std::string key;
  std::string reason;  // the close frame's reason, for people
};

using Envelope = std::variant<Deliver, Deliveries, SendDone, SendDones, RoomEvent, MembershipChanged, SessionsEnded>;

// The pub/sub topic of a channel's live events.
[[nodiscard]] std::string channel_topic(ChannelId channel);

[[nodiscard]] std::string encode(const Deliver& d);
[[nodiscard]] std::string encode(const Deliveries& d);
[[nodiscard]] std::string encode(const SendDone& d);
[[nodiscard]] std::string encode(const SendDones& d);
[[nodiscard]] std::string encode(const RoomEvent& e);
[[nodiscard]] std::string encode(const MembershipChanged& m);
[[nodiscard]] std::string encode(const SessionsEnded& e);
[[nodiscard]] std::optional<Envelope> decode_envelope(std::string_view bytes);

}  // namespace parley::records
