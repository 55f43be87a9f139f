#pragma once
// SqliteSearchIndex: the embedded SearchIndex, an SQLite FTS5 table keyed by
// message id:
//
//   messages(body, conversation UNINDEXED, payload UNINDEXED), rowid = message id
//
// One connection, serialised by a mutex (searches are short; indexing comes
// in batches from the sequencer). The journal is WAL with synchronous=NORMAL:
// the index is derived data, rebuilt by replay if the tail is lost.

#include <sqlite3.h>

#include <memory>
#include <mutex>
#include <string>

#include "ports/search_index.hpp"

namespace parley::embedded {

class SqliteSearchIndex final : public ports::SearchIndex {
  struct Private {
    explicit Private() = default;
  };

 public:
  [[nodiscard]] static Result<std::unique_ptr<SqliteSearchIndex>> open(const std::string& path);
  using Handle = std::unique_ptr<sqlite3, int (*)(sqlite3*)>;

  // Use open(); public only for std::make_unique.
  SqliteSearchIndex(Private, Handle db);

  [[nodiscard]] Result<void> index(std::span<const Message> messages) override;
  [[nodiscard]] Result<std::vector<Message>> search(std::string_view query, const Scope& scope, int limit) override;
  using ports::SearchIndex::search;

 private:
  std::mutex mutex_;  // guards db_ (one connection, one statement at a time)
  Handle db_;
};

// The FTS5 query for a user's words: each word quoted (so no user text is
// read as FTS5 syntax), a trailing '*' kept as a prefix match; empty if the
// text has no word.
[[nodiscard]] std::string fts5_query(std::string_view text);

}  // namespace parley::embedded
