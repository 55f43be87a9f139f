#pragma once
// SearchIndex: full-text search over messages. The index holds one entry per
// message (not per member); who may see a message is decided by the caller,
// which passes the groups and channels the user belongs to and the user
// whose 1:1 conversations count (their ids name both users, so those need
// no list: a 1:1 conversation is searchable from its first message on, not
// only once an inbox entry lists it).

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/ids.hpp"
#include "core/message.hpp"
#include "core/result.hpp"

namespace parley::ports {

class SearchIndex {
 public:
  virtual ~SearchIndex() = default;

  // Adds messages to the index. Indexing a message again changes nothing.
  [[nodiscard]] virtual Result<void> index(std::span<const Message> messages) = 0;

  // Removes messages from the index (their sender's account was deleted):
  // no search finds them any more. Ids not indexed are skipped.
  [[nodiscard]] virtual Result<void> remove(std::span<const MessageId> messages) = 0;

  struct Scope {
    std::span<const std::string> conversations;  // named conversations
    UserId direct_of;                            // and this user's 1:1s (none when 0)
  };

  // Up to `limit` messages in `scope` whose body matches every word of
  // `query` (case-insensitive, whole words or word prefixes ending in '*'),
  // newest first. An empty query or an empty scope match nothing.
  [[nodiscard]] virtual Result<std::vector<Message>> search(std::string_view query, const Scope& scope, int limit) = 0;

  // The messages of the named conversations only.
  [[nodiscard]] Result<std::vector<Message>> search(std::string_view query, std::span<const std::string> conversations,
                                                    int limit) {
    return search(query, Scope{conversations, UserId{}}, limit);
  }
};

}  // namespace parley::ports
