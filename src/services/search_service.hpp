#pragma once
// Search over the messages a user may see: the conversations the user takes
// part in now (every 1:1 conversation of theirs, the groups and channels
// they belong to), or one of them.

#include <optional>
#include <string>
#include <vector>

#include "ports/rooms.hpp"
#include "ports/search_index.hpp"
#include "services/deleted_users.hpp"
#include "services/rooms_service.hpp"

namespace parley::services {

class SearchService {
 public:
  // `deleted` (may be null): their messages are never found.
  SearchService(ports::SearchIndex& index, ports::Rooms& rooms, RoomsService& access,
                const DeletedUsers* deleted = nullptr);

  // `forbidden` if `conversation` is given and the user is not in it.
  [[nodiscard]] Result<std::vector<Message>> search(UserId user, std::string_view query,
                                                    const std::optional<std::string>& conversation, int limit);

 private:
  // search() before the messages of deleted users are dropped.
  [[nodiscard]] Result<std::vector<Message>> find(UserId user, std::string_view query,
                                                  const std::optional<std::string>& conversation, int limit);

  ports::SearchIndex& index_;
  ports::Rooms& rooms_;
  RoomsService& access_;
  const DeletedUsers* deleted_;
};

}  // namespace parley::services
