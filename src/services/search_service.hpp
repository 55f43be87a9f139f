#pragma once
// Search over the messages a user may see: the conversations the user takes
// part in now (every 1:1 conversation of theirs, the groups and channels
// they belong to), or one of them.

#include <optional>
#include <string>
#include <vector>

#include "ports/rooms.hpp"
#include "ports/search_index.hpp"
#include "services/rooms_service.hpp"

namespace parley::services {

class SearchService {
 public:
  SearchService(ports::SearchIndex& index, ports::Rooms& rooms, RoomsService& access);

  // `forbidden` if `conversation` is given and the user is not in it.
  [[nodiscard]] Result<std::vector<Message>> search(UserId user, std::string_view query,
                                                    const std::optional<std::string>& conversation, int limit);

 private:
  ports::SearchIndex& index_;
  ports::Rooms& rooms_;
  RoomsService& access_;
};

}  // namespace parley::services
