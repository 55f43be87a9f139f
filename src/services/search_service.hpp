#pragma once
// Search over the messages a user may see: the conversations the user takes
// part in now (1:1 pairs with a message in the user's inbox, the groups and
// channels the user belongs to), or one of them.

#include <optional>
#include <string>
#include <vector>

#include "ports/message_store.hpp"
#include "ports/rooms.hpp"
#include "ports/search_index.hpp"
#include "services/rooms_service.hpp"

namespace parley::services {

class SearchService {
 public:
  SearchService(ports::SearchIndex& index, ports::MessageStore& store, ports::Rooms& rooms, RoomsService& access);

  // `forbidden` if `conversation` is given and the user is not in it.
  [[nodiscard]] Result<std::vector<Message>> search(UserId user, std::string_view query,
                                                    const std::optional<std::string>& conversation, int limit);

 private:
  ports::SearchIndex& index_;
  ports::MessageStore& store_;
  ports::Rooms& rooms_;
  RoomsService& access_;
};

}  // namespace parley::services
