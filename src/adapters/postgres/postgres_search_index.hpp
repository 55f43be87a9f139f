#pragma once
// PostgresSearchIndex: the SearchIndex port on PostgreSQL full-text search.
//
// Table search_messages (postgres_schema.cpp): one row per message id, the
// conversation, the body's words as a tsvector (GIN index) and the whole
// message as bytes (core/bytes.hpp). Indexing a message again is ON CONFLICT
// DO NOTHING, so replays change nothing and servers may index at once.
//
// Words are cut here, not by PostgreSQL's parser, and the same way for
// bodies and queries: a word is a run of ASCII letters, digits and '_' and
// of non-ASCII characters other than the common punctuation, symbol and
// emoji blocks (which separate words, as in SQLite's unicode61 tokenizer;
// PostgreSQL's parser in a C-locale database would take them for letters).
// The parser then sees only those words, so it never reads a host name, an
// e-mail address, a path or a decimal as one token ("example.com" is
// "example" and "com", as in SQLite), and no body byte (a NUL, bytes that
// are not UTF-8) can make a statement fail and stall the sequencer. Words
// are lowercased with ICU's root locale ("und-x-icu", present where
// PostgreSQL is built with ICU, as Debian's is) and stored with the 'simple'
// configuration (no stemming, no stop words), so matching is
// case-insensitive for every script whatever the database's locale. A query
// is the AND of its words, each whole or, ending in '*', a prefix.
//
// What differs from SQLite FTS5 (unicode61): accents are not folded ("cafe"
// does not find "café", nor "café" "cafe"); the separators are the common
// Unicode blocks listed in the .cpp, not every character of Unicode's
// punctuation and symbol categories.

#include <memory>
#include <string>
#include <string_view>

#include "adapters/postgres/pg_pool.hpp"
#include "ports/search_index.hpp"

namespace parley::postgres {

class PostgresSearchIndex final : public ports::SearchIndex {
 public:
  [[nodiscard]] static Result<std::unique_ptr<PostgresSearchIndex>> open(PgPoolOptions options);

  // Use open(); public only for make_unique.
  explicit PostgresSearchIndex(std::unique_ptr<PgPool> pool);

  [[nodiscard]] Result<void> index(std::span<const Message> messages) override;
  [[nodiscard]] Result<void> remove(std::span<const MessageId> messages) override;
  [[nodiscard]] Result<std::vector<Message>> search(std::string_view query, const Scope& scope, int limit) override;
  using ports::SearchIndex::search;

 private:
  std::unique_ptr<PgPool> pool_;
};

// The words of a body, separated by spaces (what to_tsvector is given).
[[nodiscard]] std::string search_words(std::string_view body);

// The to_tsquery text for a user's query: its words ANDed, a word followed
// by '*' as a prefix; empty if the query has no word.
[[nodiscard]] std::string tsquery_text(std::string_view query);

}  // namespace parley::postgres
