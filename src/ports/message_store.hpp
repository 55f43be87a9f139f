#pragma once
// MessageStore: the permanent home of messages.
//
// Two access patterns, each its own table: history per conversation by
// message id (paged backwards), and the inbox of each user by seq (paged
// forwards from a device cursor). Device cursors live here too, so that they
// are as durable as the inbox they point into. Whether a send was seen
// before is not asked here: the sequencer answers it from its own state
// (ports/sequencer_state.hpp).
//
// Writers, and why none of their writes needs a compare-and-set:
// - messages: the sequencer stores those it decided, and the store writer
//   stores every decision of the changelog again (the sequencer's write may
//   have failed, or never happened). Both write the same message under the
//   same id.
// - inbox entries, heads and the conversation index: the inbox owner, the
//   one writer of each user's partition; it picks the seqs.
// - device cursors and read positions: any server, for its clients' acks
//   and reads, concurrently; each write moves the value to the larger of
//   the stored one and its own, so their order does not matter.
// Every write is idempotent: writing the same message or entry again
// changes nothing.

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/ids.hpp"
#include "core/message.hpp"
#include "core/result.hpp"

namespace parley::ports {

class MessageStore {
 public:
  virtual ~MessageStore() = default;

  // --- history ------------------------------------------------------------

  // The highest message id stored in a conversation; MessageId{} if none.
  [[nodiscard]] virtual Result<MessageId> last_message_id(std::string_view conversation) = 0;

  // Stores messages in their conversations' history.
  [[nodiscard]] virtual Result<void> put_messages(std::span<const Message> messages) = 0;

  // The same for messages whose ids the sequencer has just decided, in the
  // batch that calls this: nothing was stored under those ids before, so a
  // store may skip what put_messages checks first (the embedded store reads
  // each row, to keep a tombstone one and not rewrite what it holds). A
  // copy another writer stored meanwhile is the same message, and a
  // deleted sender's body reads as a tombstone whatever the row holds
  // (services/deleted_users.hpp).
  [[nodiscard]] virtual Result<void> put_new_messages(std::span<const Message> messages) {
    return put_messages(messages);
  }

  // Up to `limit` messages of a conversation with id < before (before = 0:
  // from the newest), newest first.
  [[nodiscard]] virtual Result<std::vector<Message>> history(std::string_view conversation, MessageId before,
                                                             int limit) = 0;

  // --- inbox owner side ---------------------------------------------------

  struct InboxWrite {
    UserId user;
    InboxEntry entry;
  };

  // The highest seq in a user's inbox; 0 if it is empty.
  [[nodiscard]] virtual Result<Seq> inbox_head(UserId user) = 0;

  // The seq a message already has in a user's inbox, if any (replay check).
  [[nodiscard]] virtual Result<std::optional<Seq>> inbox_seq_of(UserId user, MessageId message) = 0;

  // The same two reads for a whole batch, answers in the order asked. An
  // engine behind round trips (Cassandra) asks them together; this default
  // asks one at a time.
  struct InboxKey {
    UserId user;
    MessageId message;
  };
  [[nodiscard]] virtual Result<std::vector<std::optional<Seq>>> inbox_seqs_of(std::span<const InboxKey> keys) {
    std::vector<std::optional<Seq>> out;
    out.reserve(keys.size());
    for (const auto& k : keys) {
      auto seq = inbox_seq_of(k.user, k.message);
      if (!seq) return std::move(seq).error();
      out.push_back(seq.value());
    }
    return out;
  }
  [[nodiscard]] virtual Result<std::vector<Seq>> inbox_heads(std::span<const UserId> users) {
    std::vector<Seq> out;
    out.reserve(users.size());
    for (UserId user : users) {
      auto head = inbox_head(user);
      if (!head) return std::move(head).error();
      out.push_back(head.value());
    }
    return out;
  }

  // Stores inbox entries and moves each user's head. Seqs must continue each
  // user's inbox with no gap; the caller (the inbox owner) guarantees it.
  [[nodiscard]] virtual Result<void> put_inbox(std::span<const InboxWrite> writes) = 0;

  // Up to `limit` entries of a user's inbox with seq > after, ascending.
  [[nodiscard]] virtual Result<std::vector<InboxEntry>> inbox(UserId user, Seq after, int limit) = 0;

  // --- device cursors -----------------------------------------------------

  // A device's cursor: the highest seq it acknowledged; 0 for a new device.
  [[nodiscard]] virtual Result<Seq> cursor(UserId user, std::string_view device) = 0;

  // Moves a cursor to max(cursor, seq) and returns the new value.
  [[nodiscard]] virtual Result<Seq> advance_cursor(UserId user, std::string_view device, Seq seq) = 0;

  // Forgets a device's cursor (the device was removed): it reads 0 again,
  // and a device that comes back with that id starts over. Forgetting one
  // that is not there is not an error.
  [[nodiscard]] virtual Result<void> delete_cursor(UserId user, std::string_view device) = 0;

  // --- conversation list and read positions ------------------------------

  struct ConversationSummary {
    std::string conversation;
    MessageId last_message;
  };

  // Every 1:1 and group conversation the user has an inbox entry in, with
  // the id of the newest one (put_inbox keeps this index), in no set order.
  [[nodiscard]] virtual Result<std::vector<ConversationSummary>> conversations_of(UserId user) = 0;
  // conversations_of() of each user, in order. An engine behind round trips
  // (Cassandra) asks them together; this default asks one by one.
  [[nodiscard]] virtual Result<std::vector<std::vector<ConversationSummary>>> conversations_of_each(
      std::span<const UserId> users) {
    std::vector<std::vector<ConversationSummary>> out;
    out.reserve(users.size());
    for (UserId user : users) {
      auto c = conversations_of(user);
      if (!c) return std::move(c).error();
      out.push_back(std::move(c).value());
    }
    return out;
  }

  // How far the user has read a conversation (one position for all of the
  // user's devices); MessageId{} if nothing was read.
  [[nodiscard]] virtual Result<MessageId> read_position(UserId user, std::string_view conversation) = 0;
  // Moves a read position to max(position, message) and returns the result.
  [[nodiscard]] virtual Result<MessageId> advance_read_position(UserId user, std::string_view conversation,
                                                                MessageId message) = 0;

  // How many messages of a conversation after `after` were not sent by
  // `reader`, counting at most `cap`.
  [[nodiscard]] virtual Result<std::size_t> count_unread(std::string_view conversation, MessageId after, UserId reader,
                                                         std::size_t cap) = 0;

  // --- deleting a user (docs/PROTOCOL.md, "Admin API") -------------------

  // Turns every message `sender` sent in `conversation` into a tombstone
  // (core/message.hpp, make_tombstone): in the conversation's history, and
  // in the inbox entries of `inbox_users` that hold one (the other members
  // of a 1:1 or group conversation; nobody for a channel). The message
  // keeps its id, conversation, seq and order everywhere; its body is
  // erased from the rows. Returns the ids of the sender's messages in the
  // conversation (tombstoned now or before), oldest first. Idempotent.
  [[nodiscard]] virtual Result<std::vector<MessageId>> erase_sent(std::string_view conversation, UserId sender,
                                                                  std::span<const UserId> inbox_users) = 0;

  // Deletes the user's inbox (its entries, its head, its conversation
  // list), its device cursors and its read positions. Other users' rows
  // are not touched. Idempotent.
  [[nodiscard]] virtual Result<void> delete_inbox(UserId user) = 0;

  // Makes every write that returned before this call durable on disk.
  [[nodiscard]] virtual Result<void> flush() = 0;
};

}  // namespace parley::ports
