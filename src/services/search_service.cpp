#include "services/search_service.hpp"

#include <set>

namespace parley::services {

SearchService::SearchService(ports::SearchIndex& index, ports::MessageStore& store, ports::Rooms& rooms,
                             RoomsService& access)
    : index_(index), store_(store), rooms_(rooms), access_(access) {}

Result<std::vector<Message>> SearchService::search(UserId user, std::string_view query,
                                                   const std::optional<std::string>& conversation, int limit) {
  std::vector<std::string> scope;
  if (conversation) {
    auto ref = parse_conversation(*conversation);
    if (!ref) return make_error(ErrorCode::bad_request, "conversation is not a conversation id");
    if (auto member = access_.check_member(*ref, user); !member) return std::move(member).error();
    scope.push_back(*conversation);
  } else {
    auto rooms = rooms_.rooms_of(user);
    if (!rooms) return std::move(rooms).error();
    for (const auto& m : rooms.value()) scope.push_back(to_string(services::conversation_of(m.room)));
    auto indexed = store_.conversations_of(user);
    if (!indexed) return std::move(indexed).error();
    for (auto& c : indexed.value()) {
      // Groups count only while the user is a member (listed above).
      if (c.conversation.starts_with("d:")) scope.push_back(std::move(c.conversation));
    }
  }
  return index_.search(query, scope, limit);
}

}  // namespace parley::services
