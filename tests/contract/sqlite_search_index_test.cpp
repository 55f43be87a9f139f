// The embedded search index (SQLite FTS5) on a file made by an earlier
// version, a single FTS5 table that kept its own copy of every row (and, in
// the earliest, a row of column sizes per message): it opens with what it
// held moved into the current tables, and indexes, searches and removes as
// a new one does.

#include <sqlite3.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "adapters/embedded/sqlite_search_index.hpp"
#include "core/bytes.hpp"
#include "temp_dir.hpp"

namespace parley::contract {
namespace {

std::vector<std::string> tables(const std::string& path) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  std::vector<std::string> names;
  if (sqlite3_prepare_v2(db,
                         "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('messages', 'terms', "
                         "'found') ORDER BY name",
                         -1, &stmt, nullptr) == SQLITE_OK) {
    while (sqlite3_step(stmt) == SQLITE_ROW)
      names.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return names;
}

// Rows of the terms table that match `word`: a removed message's words
// leave the index, not only its results.
int term_rows(const std::string& path, const std::string& word) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  int rows = -1;
  if (sqlite3_prepare_v2(db, "SELECT count(*) FROM terms WHERE terms MATCH ?", -1, &stmt, nullptr) == SQLITE_OK) {
    sqlite3_bind_text(stmt, 1, word.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(stmt) == SQLITE_ROW) rows = sqlite3_column_int(stmt, 0);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return rows;
}

Message group_message(std::uint64_t id, std::string body) {
  return Message{MessageId{id},           "g:1", UserId{1}, Recipient{Recipient::Kind::group, 1}, std::move(body), 1000,
                 "c" + std::to_string(id)};
}

std::vector<std::uint64_t> ids_of(const Result<std::vector<Message>>& found) {
  std::vector<std::uint64_t> ids;
  if (found) {
    for (const auto& m : found.value()) ids.push_back(m.id.value);
  }
  return ids;
}

TEST(SqliteSearchIndex, AnIndexMadeByAnEarlierVersionKeepsItsMessagesInTheNewForm) {
  TempDir dir;
  const std::string path = dir.sub("search.sqlite");
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "PRAGMA journal_mode=WAL; CREATE VIRTUAL TABLE messages USING fts5(body, conversation "
                           "UNINDEXED, payload UNINDEXED, tokenize='unicode61')",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_stmt* insert = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "INSERT INTO messages(rowid, body, conversation, payload) VALUES (?, ?, ?, ?)", -1,
                                 &insert, nullptr),
              SQLITE_OK);
    for (const auto& m : {group_message(3, "oldest words"), group_message(5, "older words")}) {
      std::string payload;
      bytes::Writer w(payload);
      bytes::write_message(w, m);
      sqlite3_bind_int64(insert, 1, static_cast<sqlite3_int64>(m.id.value));
      sqlite3_bind_text(insert, 2, m.body.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(insert, 3, m.conversation.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_blob(insert, 4, payload.data(), static_cast<int>(payload.size()), SQLITE_TRANSIENT);
      ASSERT_EQ(sqlite3_step(insert), SQLITE_DONE);
      sqlite3_reset(insert);
    }
    sqlite3_finalize(insert);
    sqlite3_close(db);
  }
  auto index = embedded::SqliteSearchIndex::open(path);
  ASSERT_TRUE(index) << index.error().message;
  EXPECT_EQ(tables(path), (std::vector<std::string>{"found", "terms"}));
  const std::vector<std::string> scope = {"g:1"};
  auto found = index.value()->search("words", scope, 10);
  ASSERT_TRUE(found) << found.error().message;
  ASSERT_EQ(ids_of(found), (std::vector<std::uint64_t>{5, 3}));
  EXPECT_EQ(found.value()[0], group_message(5, "older words"));

  const std::vector<Message> messages = {group_message(7, "newer words"), group_message(9, "newest words")};
  ASSERT_TRUE(index.value()->index(messages).ok());
  ASSERT_TRUE(index.value()->index(messages).ok());  // a replay: nothing twice
  EXPECT_EQ(ids_of(index.value()->search("words", scope, 10)), (std::vector<std::uint64_t>{9, 7, 5, 3}));

  // A moved message is removed with its words, as a new one is.
  ASSERT_TRUE(index.value()->remove(std::vector<MessageId>{MessageId{3}, MessageId{9}}).ok());
  EXPECT_TRUE(ids_of(index.value()->search("oldest", scope, 10)).empty());
  EXPECT_TRUE(ids_of(index.value()->search("newest", scope, 10)).empty());
  EXPECT_EQ(term_rows(path, "oldest"), 0);
  EXPECT_EQ(term_rows(path, "newest"), 0);
  EXPECT_EQ(term_rows(path, "older"), 1);
  EXPECT_EQ(ids_of(index.value()->search("words", scope, 10)), (std::vector<std::uint64_t>{7, 5}));

  // Opened again, nothing moves twice.
  index = embedded::SqliteSearchIndex::open(path);
  ASSERT_TRUE(index) << index.error().message;
  EXPECT_EQ(ids_of(index.value()->search("words", scope, 10)), (std::vector<std::uint64_t>{7, 5}));
}

TEST(SqliteSearchIndex, AReplayWithAnotherBodyReplacesTheEntry) {
  TempDir dir;
  const std::string path = dir.sub("search.sqlite");
  auto index = embedded::SqliteSearchIndex::open(path);
  ASSERT_TRUE(index) << index.error().message;
  auto message = [](std::string body) {
    return Message{MessageId{5}, "g:2", UserId{1}, Recipient{Recipient::Kind::group, 2}, std::move(body), 1000, "c5"};
  };
  ASSERT_TRUE(index.value()->index(std::vector<Message>{message("first words")}).ok());
  ASSERT_TRUE(index.value()->index(std::vector<Message>{message("second words")}).ok());
  const std::vector<std::string> scope = {"g:2"};
  auto first = index.value()->search("first", scope, 10);
  auto second = index.value()->search("second", scope, 10);
  ASSERT_TRUE(first && second);
  EXPECT_TRUE(first.value().empty()) << "the first body's words still find the message";
  ASSERT_EQ(second.value().size(), 1U);
  EXPECT_EQ(second.value()[0].body, "second words");
  EXPECT_EQ(term_rows(path, "first"), 0) << "the first body's words are still in the index";
}

}  // namespace
}  // namespace parley::contract
