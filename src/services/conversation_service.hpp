#pragma once
// What a user sees across conversations: the conversation list with unread
// counts, read positions with their receipts, and typing indicators.
//
// Read positions are per user (not per device), so the list and its unread
// counts are the same on every device. Typing is ephemeral: never stored,
// throttled per user and conversation.

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "ports/message_store.hpp"
#include "ports/rooms.hpp"
#include "ports/state_store.hpp"
#include "services/deleted_users.hpp"
#include "services/rooms_service.hpp"

namespace parley::services {

class ConversationService {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    std::chrono::milliseconds typing_interval{2000};  // at most one typing event per user and conversation per interval
    std::size_t unread_cap = 1000;                    // unread counts stop counting here
    const DeletedUsers* deleted = nullptr;            // their messages read as tombstones; null: none
  };

  struct Entry {
    std::string conversation;
    Recipient::Kind kind = Recipient::Kind::user;
    std::optional<Message> last_message;
    std::size_t unread = 0;
  };

  ConversationService(ports::MessageStore& store, ports::Rooms& rooms, RoomsService& access, ports::StateStore& state,
                      Options options);

  // The user's conversations, most recent first (conversations with no
  // message yet last, newest room first).
  [[nodiscard]] Result<std::vector<Entry>> list(UserId user, std::size_t limit);

  // Moves the user's read position; if it moved, sends the `receipt` event
  // to the other members (1:1 and groups) and to the reader's devices.
  [[nodiscard]] Result<void> read(UserId user, std::string_view conversation, MessageId message);

  // Sends the `typing` event to the other members' online devices, unless
  // the user sent one for this conversation within the typing interval.
  [[nodiscard]] Result<void> typing(UserId user, std::string_view conversation, Clock::time_point now = Clock::now());

 private:
  [[nodiscard]] Result<std::optional<Message>> newest(const std::string& conversation);

  ports::MessageStore& store_;
  ports::Rooms& rooms_;
  RoomsService& access_;
  ports::StateStore& state_;
  Options options_;
  std::mutex typing_mu_;                                            // guards last_typing_
  std::unordered_map<std::string, Clock::time_point> last_typing_;  // "user conversation" -> last event sent
};

}  // namespace parley::services
