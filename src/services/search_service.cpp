#include "services/search_service.hpp"

#include <set>

namespace parley::services {

SearchService::SearchService(ports::SearchIndex& index, ports::Rooms& rooms, RoomsService& access,
                             const DeletedUsers* deleted)
    : index_(index), rooms_(rooms), access_(access), deleted_(deleted) {}

Result<std::vector<Message>> SearchService::search(UserId user, std::string_view query,
                                                   const std::optional<std::string>& conversation, int limit) {
  auto found = find(user, query, conversation, limit);
  if (found && deleted_ != nullptr) deleted_->drop(*found);
  return found;
}

Result<std::vector<Message>> SearchService::find(UserId user, std::string_view query,
                                                 const std::optional<std::string>& conversation, int limit) {
  std::vector<std::string> conversations;
  if (conversation) {
    auto ref = parse_conversation(*conversation);
    if (!ref) return make_error(ErrorCode::bad_request, "conversation is not a conversation id");
    if (auto member = access_.check_member(*ref, user); !member) return std::move(member).error();
    conversations.push_back(*conversation);
    return index_.search(query, conversations, limit);
  }
  // Groups and channels while the user is a member; every 1:1 of theirs.
  auto rooms = rooms_.rooms_of(user);
  if (!rooms) return std::move(rooms).error();
  for (const auto& m : rooms.value()) conversations.push_back(to_string(services::conversation_of(m.room)));
  return index_.search(query, ports::SearchIndex::Scope{conversations, user}, limit);
}

}  // namespace parley::services
