#include "services/search_indexer.hpp"

#include <vector>

#include "core/log.hpp"
#include "services/records.hpp"

namespace parley::services {

Result<void> SearchIndexer::process(std::span<const ports::LogRecord> batch) {
  std::vector<Message> messages;
  messages.reserve(batch.size());
  for (const auto& record : batch) {
    auto decision = records::decode_sequenced(record.value);
    if (!decision) {
      log::error("search-indexer", "skipping undecodable record at offset " + std::to_string(record.offset));
      continue;
    }
    messages.push_back(std::move(decision->message));
  }
  return index_.index(messages);  // a failure retries the batch
}

}  // namespace parley::services
