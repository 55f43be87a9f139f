#include "services/search_indexer.hpp"

#include <vector>

#include "services/records.hpp"

namespace parley::services {

Result<void> SearchIndexer::process(std::span<const ports::LogRecord> batch) {
  std::vector<Message> messages;
  messages.reserve(batch.size());
  for (auto& decision : records::decode_decisions(batch, "search-indexer"))
    messages.push_back(std::move(decision.message));
  return index_.index(messages);  // a failure retries the batch
}

}  // namespace parley::services
