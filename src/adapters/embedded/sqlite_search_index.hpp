#pragma once
// SqliteSearchIndex: the embedded SearchIndex, two SQLite tables keyed by
// message id:
//
//   terms(body)  contentless FTS5 (content=''): the words' postings only, rowid = message id
//   found(id INTEGER PRIMARY KEY, conversation, payload)  what a search returns
//
// A search matches `terms` and joins `found`. A message is removed from
// both, its terms through FTS5's 'delete' with the body kept in its payload.
// An index made by an earlier version (one FTS5 table that kept its own
// copy of every row) is moved into this form when it opens.
//
// One connection, serialised by a mutex (searches are short; indexing comes
// in batches from the search indexer step). The journal is WAL with synchronous=NORMAL:
// the index is derived data, rebuilt by replay if the tail is lost.
//
// A full disk: a write that fails (SQLITE_FULL, an I/O error) is rolled back
// whole and answered `unavailable`; the search indexer retries its batch.
// An open that fails for want of room (the WAL's -shm file, the schema)
// leaves the index closed instead of failing the server's start: searches
// and writes are answered `unavailable` and the open is tried again with
// them, at most once a second. Messages never name the file.

#include <sqlite3.h>

#include <chrono>
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
  SqliteSearchIndex(Private, std::string path, Handle db);
  ~SqliteSearchIndex() override;
  SqliteSearchIndex(const SqliteSearchIndex&) = delete;
  SqliteSearchIndex& operator=(const SqliteSearchIndex&) = delete;

  [[nodiscard]] Result<void> index(std::span<const Message> messages) override;
  [[nodiscard]] Result<void> remove(std::span<const MessageId> messages) override;
  [[nodiscard]] Result<std::vector<Message>> search(std::string_view query, const Scope& scope, int limit) override;
  using ports::SearchIndex::search;

  // A consistent copy of the index in the new file `to`, through SQLite's
  // online backup API on a connection of its own: one read transaction,
  // which in WAL mode neither waits for the indexer nor holds it up.
  [[nodiscard]] Result<void> backup_to(const std::string& to) const;

 private:
  // Opens the connection if it is closed (at most once a second).
  // Requires mutex_.
  [[nodiscard]] Result<void> ensure_open();

  // The statements that write the index, prepared once for the connection
  // (a batch used to prepare them again: about 2,000 instructions a message
  // at 300 messages/s). Null if SQLite refused one; it is tried again with
  // the next batch. Requires mutex_ and an open db_.
  struct Writes;
  [[nodiscard]] const Writes* writes();

  const std::string path_;
  std::mutex mutex_;                // guards db_ (one connection, one statement at a time), writes_ and last_open_
  Handle db_;                       // null while closed
  std::unique_ptr<Writes> writes_;  // after db_: finalized before the connection closes
  std::chrono::steady_clock::time_point last_open_{};
};

// The FTS5 query for a user's words: each word quoted (so no user text is
// read as FTS5 syntax), a trailing '*' kept as a prefix match; empty if the
// text has no word.
[[nodiscard]] std::string fts5_query(std::string_view text);

}  // namespace parley::embedded
