#pragma once
// A MessageStore that passes every call to another one: the base of the
// service tests' failing stores, which override only the calls they break.

#include "ports/message_store.hpp"

namespace parley::services {

class ForwardingMessageStore : public ports::MessageStore {
 public:
  explicit ForwardingMessageStore(ports::MessageStore& inner) : inner_(inner) {}

  Result<MessageId> last_message_id(std::string_view conversation) override {
    return inner_.last_message_id(conversation);
  }
  Result<void> put_messages(std::span<const Message> messages) override { return inner_.put_messages(messages); }
  Result<std::vector<Message>> history(std::string_view conversation, MessageId before, int limit) override {
    return inner_.history(conversation, before, limit);
  }
  Result<Seq> inbox_head(UserId user) override { return inner_.inbox_head(user); }
  Result<std::optional<Seq>> inbox_seq_of(UserId user, MessageId message) override {
    return inner_.inbox_seq_of(user, message);
  }
  Result<void> put_inbox(std::span<const InboxWrite> writes) override { return inner_.put_inbox(writes); }
  Result<std::vector<InboxEntry>> inbox(UserId user, Seq after, int limit) override {
    return inner_.inbox(user, after, limit);
  }
  Result<Seq> cursor(UserId user, std::string_view device) override { return inner_.cursor(user, device); }
  Result<Seq> advance_cursor(UserId user, std::string_view device, Seq seq) override {
    return inner_.advance_cursor(user, device, seq);
  }
  Result<void> delete_cursor(UserId user, std::string_view device) override {
    return inner_.delete_cursor(user, device);
  }
  Result<std::vector<ConversationSummary>> conversations_of(UserId user) override {
    return inner_.conversations_of(user);
  }
  Result<MessageId> read_position(UserId user, std::string_view conversation) override {
    return inner_.read_position(user, conversation);
  }
  Result<MessageId> advance_read_position(UserId user, std::string_view conversation, MessageId message) override {
    return inner_.advance_read_position(user, conversation, message);
  }
  Result<std::size_t> count_unread(std::string_view conversation, MessageId after, UserId reader,
                                   std::size_t cap) override {
    return inner_.count_unread(conversation, after, reader, cap);
  }
  Result<std::vector<MessageId>> erase_sent(std::string_view conversation, UserId sender,
                                            std::span<const UserId> inbox_users) override {
    return inner_.erase_sent(conversation, sender, inbox_users);
  }
  Result<void> delete_inbox(UserId user) override { return inner_.delete_inbox(user); }
  Result<void> flush() override { return inner_.flush(); }

 protected:
  ports::MessageStore& inner_;
};

}  // namespace parley::services
