// The embedded search index (SQLite FTS5) on a file made by an earlier
// version, whose table keeps a row of column sizes per message: it opens,
// indexes and searches as a new one does, and is left as it was made.

#include <sqlite3.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "adapters/embedded/sqlite_search_index.hpp"
#include "temp_dir.hpp"

namespace parley::contract {
namespace {

std::string table_sql(const std::string& path) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  std::string sql;
  if (sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_master WHERE name = 'messages'", -1, &stmt, nullptr) ==
          SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    sql = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return sql;
}

TEST(SqliteSearchIndex, AnIndexMadeByAnEarlierVersionIsSearchedAndWrittenAsANewOne) {
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
    sqlite3_close(db);
  }
  const std::string made = table_sql(path);
  auto index = embedded::SqliteSearchIndex::open(path);
  ASSERT_TRUE(index) << index.error().message;
  const std::vector<Message> messages = {
      Message{MessageId{7}, "g:1", UserId{1}, Recipient{Recipient::Kind::group, 1}, "older words", 1000, "c7"},
      Message{MessageId{9}, "g:1", UserId{1}, Recipient{Recipient::Kind::group, 1}, "newer words", 1000, "c9"}};
  ASSERT_TRUE(index.value()->index(messages).ok());
  ASSERT_TRUE(index.value()->index(messages).ok());  // a replay: nothing twice
  const std::vector<std::string> scope = {"g:1"};
  auto found = index.value()->search("words", scope, 10);
  ASSERT_TRUE(found) << found.error().message;
  std::vector<std::uint64_t> ids;
  for (const auto& m : found.value()) ids.push_back(m.id.value);
  EXPECT_EQ(ids, (std::vector<std::uint64_t>{9, 7}));
  ASSERT_TRUE(index.value()->remove(std::vector<MessageId>{MessageId{9}}).ok());
  found = index.value()->search("newer", scope, 10);
  ASSERT_TRUE(found);
  EXPECT_TRUE(found.value().empty());
  EXPECT_EQ(table_sql(path), made);
}

TEST(SqliteSearchIndex, AReplayWithAnotherBodyReplacesTheEntry) {
  TempDir dir;
  auto index = embedded::SqliteSearchIndex::open(dir.sub("search.sqlite"));
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
}

}  // namespace
}  // namespace parley::contract
