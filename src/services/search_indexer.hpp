#pragma once
// The search indexer: a consumer of the "sequenced" changelog that adds
// every decided message to the full-text index.
//
// Indexing used to run on the sequencer's thread, before each sender was
// answered: an FTS5 transaction per sequencer batch on the acknowledgement
// path. Here it is a step of its own (consumer group "search-indexer"), and
// its PipelineStep runs at most once per interval (PipelineStep::Options::
// min_interval), so that each transaction indexes everything decided in that
// interval at once: FTS5 and PostgreSQL's GIN pay much of their cost per
// transaction, not per row. A message is therefore searchable shortly after
// it is acknowledged, not at once (docs/PROTOCOL.md, "search").
//
// Offsets move only after the index has committed, so a crash replays what
// was not indexed; indexing a message again changes nothing.

#include <span>

#include "ports/message_log.hpp"
#include "ports/search_index.hpp"
#include "services/pipeline_step.hpp"

namespace parley::services {

inline constexpr std::string_view kSearchIndexerGroup = "search-indexer";

class SearchIndexer final : public BatchHandler {
 public:
  explicit SearchIndexer(ports::SearchIndex& index) : index_(index) {}

  [[nodiscard]] Result<void> process(std::span<const ports::LogRecord> batch) override;

 private:
  ports::SearchIndex& index_;
};

}  // namespace parley::services
