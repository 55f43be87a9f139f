#pragma once
// SearchIndex: full-text search over messages. The index holds one entry per
// message (not per member); who may see a message is decided by the caller,
// which passes the conversations the user belongs to.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/message.hpp"
#include "core/result.hpp"

namespace parley::ports {

class SearchIndex {
 public:
  virtual ~SearchIndex() = default;

  // Adds messages to the index. Indexing a message again changes nothing.
  [[nodiscard]] virtual Result<void> index(std::span<const Message> messages) = 0;

  // Up to `limit` messages of `conversations` whose body matches every word
  // of `query` (case-insensitive, whole words or word prefixes ending in
  // '*'), newest first. An empty query or no conversations match nothing.
  [[nodiscard]] virtual Result<std::vector<Message>> search(std::string_view query,
                                                            std::span<const std::string> conversations, int limit) = 0;
};

}  // namespace parley::ports
