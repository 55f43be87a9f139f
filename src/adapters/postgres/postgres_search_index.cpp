#include "adapters/postgres/postgres_search_index.hpp"

#include "adapters/postgres/postgres_schema.hpp"

#include <algorithm>

#include "core/bytes.hpp"
#include "core/validate.hpp"

namespace parley::postgres {

namespace {

std::vector<Statement> statements() {
  return {
      {"search_index",
       "INSERT INTO search_messages (id, conversation, words, payload) "
       "VALUES ($1, $2, to_tsvector('simple', lower($3 COLLATE \"und-x-icu\")), $4) ON CONFLICT (id) DO NOTHING"},
      // A whole batch in one statement: ids, conversations, words and
      // payloads (hex) as four arrays of text.
      {"search_index_many",
       "INSERT INTO search_messages (id, conversation, words, payload) "
       "SELECT i::bigint, c, to_tsvector('simple', lower(w COLLATE \"und-x-icu\")), decode(p, 'hex') "
       "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS t(i, c, w, p) ON CONFLICT (id) DO NOTHING"},
      {"search_remove", "DELETE FROM search_messages WHERE id = ANY ($1::bigint[])"},
      {"search_find",
       "SELECT encode(payload, 'hex') FROM search_messages "
       "WHERE words @@ to_tsquery('simple', lower($1 COLLATE \"und-x-icu\")) "
       "AND (conversation = ANY ($2::text[]) OR conversation LIKE $4 OR conversation LIKE $5) "
       "ORDER BY id DESC LIMIT $3"},
  };
}

// Non-ASCII punctuation, symbols and emoji: separators, as in SQLite's
// unicode61 tokenizer (PostgreSQL's parser, in a C-locale database, would
// take them for letters). The common blocks, not all of Unicode's P* and S*.
bool is_separator(char32_t c) {
  if (c >= 0x80 && c <= 0xBF) {  // Latin-1 punctuation and symbols, except its letters and numbers
    return c != 0xAA && c != 0xB2 && c != 0xB3 && c != 0xB5 && c != 0xB9 && c != 0xBA && (c < 0xBC || c > 0xBE);
  }
  return c == 0xD7 || c == 0xF7 ||                                        // × ÷
         (c >= 0x2000 && c <= 0x206F) ||                                  // general punctuation: dashes, quotes, …
         (c >= 0x20A0 && c <= 0x20CF) ||                                  // currency
         (c >= 0x2190 && c <= 0x245F) || (c >= 0x2500 && c <= 0x2BFF) ||  // arrows, math, shapes, dingbats
         (c >= 0x3000 && c <= 0x303F && (c < 0x3005 || c > 0x3007)) ||    // CJK punctuation
         (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF01 && c <= 0xFF0F) || (c >= 0xFF1A && c <= 0xFF20) ||
         (c >= 0xFF3B && c <= 0xFF40) || (c >= 0xFF5B && c <= 0xFF65) ||  // full-width punctuation
         c == 0xFE0F || (c >= 0x1F000 && c <= 0x1FAFF);                   // emoji
}

// The length of the word character at the start of `s` (ASCII letters,
// digits, '_' and non-ASCII characters that are not separators; a byte that
// does not start well-formed UTF-8 counts as one), or 0 for a separator.
std::size_t word_char(std::string_view s) {
  const auto b = static_cast<unsigned char>(s[0]);
  if (b < 0x80) return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || b == '_';
  const std::size_t n = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
  if (n == 1 || n > s.size() || !validate::utf8(s.substr(0, n))) return 1;
  char32_t c = b & (0x7F >> n);
  for (std::size_t i = 1; i < n; ++i) c = (c << 6) | (static_cast<unsigned char>(s[i]) & 0x3F);
  return is_separator(c) ? 0 : n;
}

// Calls `each(word, prefix)` for every word of `text` that is valid UTF-8
// and holds more than underscores (which the parser would drop); `prefix`
// when a '*' follows it.
template <class Each>
void for_each_word(std::string_view text, Each each) {
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t n = 0;
    while (i < text.size() && (n = word_char(text.substr(i))) == 0) {
      const auto b = static_cast<unsigned char>(text[i]);
      i += b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;  // a separator is well-formed
    }
    const std::size_t start = i;
    while (i < text.size() && (n = word_char(text.substr(i))) > 0) i += n;
    const std::string_view word = text.substr(start, i - start);
    if (word.empty() || word.find_first_not_of('_') == std::string_view::npos || !validate::utf8(word)) continue;
    each(word, i < text.size() && text[i] == '*');
  }
}

}  // namespace

std::string search_words(std::string_view body) {
  std::string out;
  for_each_word(body, [&](std::string_view word, bool) {
    if (!out.empty()) out.push_back(' ');
    out.append(word);
  });
  return out;
}

std::string tsquery_text(std::string_view query) {
  std::string out;
  for_each_word(query, [&](std::string_view word, bool prefix) {
    if (!out.empty()) out.append(" & ");
    // Quoted: a word holds no quote or backslash, so nothing in it is read
    // as tsquery syntax.
    out.push_back('\'');
    out.append(word);
    out.push_back('\'');
    if (prefix) out.append(":*");
  });
  return out;
}

PostgresSearchIndex::PostgresSearchIndex(std::unique_ptr<PgPool> pool) : pool_(std::move(pool)) {}

Result<std::unique_ptr<PostgresSearchIndex>> PostgresSearchIndex::open(PgPoolOptions options) {
  auto pool = PgPool::open(std::move(options), schema_migrations(), statements());
  if (!pool) return std::move(pool).error();
  return std::make_unique<PostgresSearchIndex>(std::move(pool).value());
}

Result<void> PostgresSearchIndex::index(std::span<const Message> messages) {
  if (messages.empty()) return Ok{};
  if (messages.size() == 1) {
    const Message& m = messages.front();
    std::string payload;
    bytes::Writer w(payload);
    bytes::write_message(w, m);
    auto done =
        pool_->run("search_index", {id_param(m.id.value), m.conversation, search_words(m.body), bytea_param(payload)});
    if (!done) return std::move(done).error();
    return Ok{};
  }
  // One statement (one round trip) for the batch.
  std::vector<std::string> ids, conversations, words, payloads;
  for (const auto& m : messages) {
    std::string payload;
    bytes::Writer w(payload);
    bytes::write_message(w, m);
    ids.push_back(id_param(m.id.value));
    conversations.push_back(m.conversation);
    words.push_back(search_words(m.body));
    payloads.push_back(bytea_param(payload).substr(2));  // the hex after '\x'
  }
  auto done = pool_->run("search_index_many", {text_array_param(ids), text_array_param(conversations),
                                               text_array_param(words), text_array_param(payloads)});
  if (!done) return std::move(done).error();
  return Ok{};
}

Result<void> PostgresSearchIndex::remove(std::span<const MessageId> messages) {
  // A few thousand ids per statement.
  constexpr std::size_t kPerStatement = 4096;
  for (std::size_t at = 0; at < messages.size(); at += kPerStatement) {
    std::vector<std::string> ids;
    for (std::size_t i = at; i < std::min(messages.size(), at + kPerStatement); ++i) {
      ids.push_back(id_param(messages[i].value));
    }
    auto done = pool_->run("search_remove", {text_array_param(ids)});
    if (!done) return std::move(done).error();
  }
  return Ok{};
}

Result<std::vector<Message>> PostgresSearchIndex::search(std::string_view query, const Scope& scope, int limit) {
  std::vector<Message> out;
  const std::string match = tsquery_text(query);
  if (match.empty() || (scope.conversations.empty() && scope.direct_of.value == 0) || limit <= 0) return out;
  // A 1:1 conversation is "d:<lower id>:<higher id>"; no id has '%' or '_'.
  // With no user, patterns that match nothing.
  const std::string user = to_string(scope.direct_of);
  const bool direct = scope.direct_of.value != 0;
  auto r =
      pool_->run("search_find", {match, text_array_param(scope.conversations), std::to_string(limit),
                                 direct ? "d:" + user + ":%" : std::string(), direct ? "d:%:" + user : std::string()});
  if (!r) return std::move(r).error();
  const int n = PQntuples(r->get());
  out.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    const std::string payload = hex_column(r->get(), i, 0);
    bytes::Reader reader(payload);
    Message m;
    if (!bytes::read_message(reader, m) || !reader.done()) {
      return make_error(ErrorCode::internal, "search index: corrupt row");
    }
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace parley::postgres
