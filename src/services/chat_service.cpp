#include "services/chat_service.hpp"

#include "services/records.hpp"

namespace parley::services {

ChatService::ChatService(ports::MessageLog& log, ports::MessageStore& store, ports::StateStore& state,
                         RoomsService& rooms, Options options)
    : log_(log), store_(store), state_(state), rooms_(rooms), options_(std::move(options)) {}

void ChatService::submit_send(UserId from, codec::SendRequest req, std::uint64_t ticket,
                              std::function<void(Result<std::uint64_t>)> on_appended) {
  std::string key = to_string(conversation_of(from, req.to));
  records::SendCommand cmd{options_.server_id, ticket, from, req.to, std::move(req.client_msg_id), std::move(req.body)};
  log_.append(records::kConversationsTopic, std::move(key), records::encode(cmd), std::move(on_appended));
}

Result<ChatService::SyncPage> ChatService::sync(UserId user, std::string_view device, const codec::SyncRequest& req) {
  Seq after = 0;
  if (req.after) {
    after = *req.after;
  } else {
    auto cursor = store_.cursor(user, device);
    if (!cursor) return std::move(cursor).error();
    after = cursor.value();
  }
  auto entries = store_.inbox(user, after, req.limit + 1);
  if (!entries) return std::move(entries).error();
  SyncPage page;
  page.entries = std::move(entries.value());
  if (page.entries.size() > static_cast<std::size_t>(req.limit)) {
    page.entries.resize(static_cast<std::size_t>(req.limit));
    page.more = true;
  }
  if (options_.deleted != nullptr) options_.deleted->render(page.entries);
  return page;
}

Result<Seq> ChatService::ack(UserId user, std::string_view device, Seq seq) {
  auto head = store_.inbox_head(user);
  if (!head) return std::move(head).error();
  if (seq > head.value()) {
    return make_error(ErrorCode::bad_request,
                      "seq " + std::to_string(seq) + " is beyond the end of the inbox (" + std::to_string(*head) + ")");
  }
  return store_.advance_cursor(user, device, seq);
}

Result<std::vector<Message>> ChatService::history(UserId user, const codec::HistoryRequest& req) {
  const auto conversation = parse_conversation(req.conversation);
  if (!conversation) return make_error(ErrorCode::bad_request, "conversation is not a conversation id");
  // A group or channel that does not exist answers like one the user is not
  // in, so that non-members cannot learn which ones do.
  if (auto member = rooms_.check_member(*conversation, user); !member) return std::move(member).error();
  auto messages = store_.history(req.conversation, req.before, req.limit);
  if (messages && options_.deleted != nullptr) options_.deleted->render(*messages);
  return messages;
}

}  // namespace parley::services
