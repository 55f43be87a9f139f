#include "adapters/embedded/sqlite_search_index.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <cstdint>
#include <utility>

#include "core/bytes.hpp"
#include "core/log.hpp"

namespace parley::embedded {

namespace {

// Finalizes a prepared statement when it goes out of scope.
struct Statement {
  sqlite3_stmt* stmt = nullptr;
  Statement() = default;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(stmt); }
};

// SQLite's messages name no file ("database or disk is full", "disk I/O
// error"); the full code goes to the log.
Error sqlite_error(sqlite3* db, std::string_view what) {
  const int code = db != nullptr ? sqlite3_extended_errcode(db) : SQLITE_CANTOPEN;
  const std::string text = db != nullptr ? sqlite3_errmsg(db) : "cannot open";
  // At most a line a second (a full disk fails every search and batch).
  static std::mutex mutex;
  static std::chrono::steady_clock::time_point last{};
  static std::uint64_t left_out = 0;
  std::string line;
  {
    std::lock_guard lock(mutex);
    const auto now = std::chrono::steady_clock::now();
    if (last == std::chrono::steady_clock::time_point{} || now - last >= std::chrono::seconds(1)) {
      last = now;
      line = "search index: " + std::string(what) + ": " + text + " (code " + std::to_string(code) + ")";
      if (left_out > 0)
        line += " (and " + std::to_string(std::exchange(left_out, 0)) + " more errors in the last second)";
    } else {
      ++left_out;
    }
  }
  if (!line.empty()) log::warn("search", line);
  return make_error(ErrorCode::unavailable, "search index: " + std::string(what) + ": " + text);
}

Result<void> exec(sqlite3* db, const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message != nullptr ? message : "unknown error";
    sqlite3_free(message);
    return make_error(ErrorCode::unavailable, "search index: " + text);
  }
  return Ok{};
}

// Rolls back the transaction if one is still open: after a failed
// statement or COMMIT (SQLITE_FULL) SQLite may or may not have rolled it
// back itself, and a transaction left open would make every later BEGIN
// fail.
void rollback(sqlite3* db) {
  if (sqlite3_get_autocommit(db) == 0) (void)exec(db, "ROLLBACK");
}

// Rolls back the transaction in hand and says why.
Error rolled_back(sqlite3* db, std::string_view what) {
  Error e = sqlite_error(db, what);
  rollback(db);
  return e;
}

// Commits the transaction in hand, or rolls it back and says why.
Result<void> commit(sqlite3* db) {
  if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK) return Ok{};
  return rolled_back(db, "commit");
}

// Whether an open failed for want of room or on the disk, which passes,
// rather than on something the operator must fix.
bool disk_trouble(int code) {
  const int primary = code & 0xFF;
  return primary == SQLITE_FULL || primary == SQLITE_IOERR;
}

// Column `i` of `statement`'s current row as bytes (valid until it moves).
std::string_view column_bytes(sqlite3_stmt* statement, int i) {
  const auto* data = static_cast<const char*>(sqlite3_column_blob(statement, i));
  return {data, static_cast<std::size_t>(sqlite3_column_bytes(statement, i))};
}

// A payload of `found` back into its message; false if it does not decode.
bool decode_payload(std::string_view payload, Message& m) {
  bytes::Reader r(payload);
  return bytes::read_message(r, m) && r.done();
}

// A statement prepared for the scope; `ok` false when SQLite refused it.
struct Prepared {
  Statement statement;
  bool ok = false;
  Prepared(sqlite3* db, const char* sql) {
    ok = sqlite3_prepare_v2(db, sql, -1, &statement.stmt, nullptr) == SQLITE_OK;
  }
  sqlite3_stmt* get() const { return statement.stmt; }
};

// Brings an index made by an earlier version into the current form, in one
// transaction: before 2026-12-02 the index was a single FTS5 table,
// `messages(body, conversation UNINDEXED, payload UNINDEXED)`, which kept a
// copy of every body and payload in FTS5's own content table beside the
// terms. Its rows move to `found` and `terms`, and it is dropped. On a
// failure (a full disk) nothing has changed, and the open fails.
Result<void> migrate(sqlite3* db) {
  {
    const Prepared old_table(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'messages'");
    if (!old_table.ok) return sqlite_error(db, "open");
    const int rc = sqlite3_step(old_table.get());
    if (rc == SQLITE_DONE) return Ok{};
    if (rc != SQLITE_ROW) return sqlite_error(db, "open");
  }
  if (auto begin = exec(db, "BEGIN"); !begin) return begin;
  for (const char* sql : {"INSERT OR IGNORE INTO found(id, conversation, payload) "
                          "SELECT rowid, conversation, payload FROM messages",
                          "INSERT INTO terms(rowid, body) SELECT rowid, body FROM messages", "DROP TABLE messages"}) {
    if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return rolled_back(db, "migrate");
  }
  if (auto committed = commit(db); !committed) return committed;
  log::info("search", "the search index was moved to its new form (terms apart from the stored messages)");
  return Ok{};
}

// `code`: SQLite's result code of the step that failed.
Result<SqliteSearchIndex::Handle> open_connection(const std::string& path, int& code) {
  sqlite3* raw = nullptr;
  code = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  SqliteSearchIndex::Handle db(raw, sqlite3_close);
  if (code != SQLITE_OK) return sqlite_error(db.get(), "open");
  sqlite3_extended_result_codes(db.get(), 1);
  // Two tables (sqlite_search_index.hpp): `terms`, a contentless FTS5
  // table (content=''), holds only the words' postings; `found` holds what
  // a search returns. FTS5 with its own content kept a second copy of each
  // body and payload and looked the rowid up on every insert for its
  // replace, which took about a quarter of the indexer thread's CPU a
  // message (docs/BENCHMARKS.md, fourteenth round). columnsize=0: no row of column
  // sizes per message (they serve only bm25 ranking; results are ordered by
  // id). automerge 16 (FTS5's default is 4) lets sixteen segments build up
  // at a level before they are merged into one, so a message's postings are
  // rewritten fewer times as the index grows; a search reads a few more
  // segments. The merge settings are kept in the file; setting them is a
  // write, so one that fails (a full disk) is left for the next open and
  // does not keep the index closed.
  for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL",
                          "CREATE VIRTUAL TABLE IF NOT EXISTS terms USING fts5("
                          "body, content='', tokenize='unicode61', columnsize=0)",
                          "CREATE TABLE IF NOT EXISTS found("
                          "id INTEGER PRIMARY KEY, conversation TEXT NOT NULL, payload BLOB NOT NULL)"}) {
    code = sqlite3_exec(db.get(), sql, nullptr, nullptr, nullptr);
    if (code != SQLITE_OK) return sqlite_error(db.get(), "open");
  }
  if (auto migrated = migrate(db.get()); !migrated) {
    code = sqlite3_extended_errcode(db.get());
    return std::move(migrated).error();
  }
  for (const char* sql : {"INSERT INTO terms(terms, rank) VALUES('automerge', 16)",
                          "INSERT INTO terms(terms, rank) VALUES('crisismerge', 64)"}) {
    (void)sqlite3_exec(db.get(), sql, nullptr, nullptr, nullptr);
  }
  return db;
}

bool is_word_byte(unsigned char c) { return c >= 0x80 || std::isalnum(c) != 0 || c == '_'; }

}  // namespace

std::string fts5_query(std::string_view text) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && !is_word_byte(static_cast<unsigned char>(text[i]))) ++i;
    const std::size_t start = i;
    while (i < text.size() && is_word_byte(static_cast<unsigned char>(text[i]))) ++i;
    if (i == start) break;
    if (!out.empty()) out.push_back(' ');
    out.push_back('"');
    out.append(text.substr(start, i - start));  // words hold no quote, so no escaping is needed
    out.push_back('"');
    if (i < text.size() && text[i] == '*') out.push_back('*');
  }
  return out;
}

SqliteSearchIndex::SqliteSearchIndex(Private, std::string path, Handle db)
    : path_(std::move(path)), db_(std::move(db)) {}

Result<void> SqliteSearchIndex::backup_to(const std::string& to) const {
  sqlite3* raw = nullptr;
  (void)sqlite3_open_v2(path_.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  const Handle source(raw, sqlite3_close);
  raw = nullptr;
  (void)sqlite3_open_v2(to.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  const Handle target(raw, sqlite3_close);
  if (!source || sqlite3_errcode(source.get()) != SQLITE_OK) return sqlite_error(source.get(), "backup: open");
  if (!target || sqlite3_errcode(target.get()) != SQLITE_OK)
    return sqlite_error(target.get(), "backup: create the copy");
  sqlite3_backup* backup = sqlite3_backup_init(target.get(), "main", source.get(), "main");
  if (backup == nullptr) return sqlite_error(target.get(), "backup");
  // -1: every page in one step, so in one read transaction of the source.
  const int stepped = sqlite3_backup_step(backup, -1);
  const int finished = sqlite3_backup_finish(backup);
  if (stepped != SQLITE_DONE || finished != SQLITE_OK) return sqlite_error(target.get(), "backup");
  return Ok{};
}

Result<std::unique_ptr<SqliteSearchIndex>> SqliteSearchIndex::open(const std::string& path) {
  int code = SQLITE_OK;
  auto db = open_connection(path, code);
  if (db) return std::make_unique<SqliteSearchIndex>(Private{}, path, std::move(db).value());
  // Only a disk that is full or failing leaves the index closed for later;
  // anything else (a file that is not a database) stops the start.
  if (!disk_trouble(code)) return make_error(db.error().code, db.error().message + " (" + path + ")");
  log::error("search", "cannot open the search index " + path +
                           " (the disk is full or failing); searches are refused until it opens, tried again "
                           "at most once a second");
  auto index = std::make_unique<SqliteSearchIndex>(Private{}, path, Handle(nullptr, sqlite3_close));
  index->last_open_ = std::chrono::steady_clock::now();
  return index;
}

Result<void> SqliteSearchIndex::ensure_open() {
  if (db_) return Ok{};
  const auto now = std::chrono::steady_clock::now();
  if (now - last_open_ < std::chrono::seconds(1)) {
    return make_error(ErrorCode::unavailable, "search index: not open yet (the server's disk is full); retry later");
  }
  last_open_ = now;
  int code = SQLITE_OK;
  auto db = open_connection(path_, code);
  if (!db)
    return make_error(ErrorCode::unavailable, "search index: cannot open (the server's disk is full); retry later");
  db_ = std::move(db).value();
  log::info("search", "the search index is open again");
  return Ok{};
}

// The statements that write the index (SqliteSearchIndex::writes()).
struct SqliteSearchIndex::Writes {
  Prepared add_found;
  Prepared add_terms;
  Prepared select_payload;
  Prepared delete_terms;
  Prepared delete_found;
  explicit Writes(sqlite3* db)
      : add_found(db, "INSERT INTO found(id, conversation, payload) VALUES (?, ?, ?) ON CONFLICT(id) DO NOTHING"),
        add_terms(db, "INSERT INTO terms(rowid, body) VALUES (?, ?)"),
        select_payload(db, "SELECT payload FROM found WHERE id = ?"),
        delete_terms(db, "INSERT INTO terms(terms, rowid, body) VALUES('delete', ?, ?)"),
        delete_found(db, "DELETE FROM found WHERE id = ?") {}
  bool ok() const { return add_found.ok && add_terms.ok && select_payload.ok && delete_terms.ok && delete_found.ok; }

  // Steps `statement` (bound by the caller) once and resets it; true when
  // it ran to the end.
  static bool run(const Prepared& statement) {
    const bool done = sqlite3_step(statement.get()) == SQLITE_DONE;
    sqlite3_reset(statement.get());
    return done;
  }

  // Takes the words of `payload`, the row `found` holds for message `id`,
  // out of `terms`: FTS5's 'delete' of a contentless row needs the body it
  // was given. A payload that does not decode leaves its words, which
  // match nothing once `found` has no row for them.
  bool forget_terms(sqlite3_int64 id, std::string_view payload) const {
    Message m;
    if (!decode_payload(payload, m)) return true;
    sqlite3_bind_int64(delete_terms.get(), 1, id);
    sqlite3_bind_text(delete_terms.get(), 2, m.body.data(), static_cast<int>(m.body.size()), SQLITE_TRANSIENT);
    return run(delete_terms);
  }

  // Takes message `id` out of both tables; true also when it is not there.
  bool erase(sqlite3_int64 id) const {
    sqlite3_bind_int64(select_payload.get(), 1, id);
    const int rc = sqlite3_step(select_payload.get());
    const bool forgotten =
        rc == SQLITE_DONE || (rc == SQLITE_ROW && forget_terms(id, column_bytes(select_payload.get(), 0)));
    sqlite3_reset(select_payload.get());
    if (!forgotten) return false;
    sqlite3_bind_int64(delete_found.get(), 1, id);
    return run(delete_found);
  }
};

SqliteSearchIndex::~SqliteSearchIndex() = default;

const SqliteSearchIndex::Writes* SqliteSearchIndex::writes() {
  if (!writes_) {
    auto prepared = std::make_unique<Writes>(db_.get());
    if (!prepared->ok()) return nullptr;
    writes_ = std::move(prepared);
  }
  return writes_.get();
}

Result<void> SqliteSearchIndex::index(std::span<const Message> messages) {
  if (messages.empty()) return Ok{};
  std::lock_guard lock(mutex_);
  if (auto opened = ensure_open(); !opened) return opened;
  if (auto begin = exec(db_.get(), "BEGIN"); !begin) return begin;
  const Writes* prepared = writes();
  if (prepared == nullptr) return rolled_back(db_.get(), "prepare");
  const Writes& writes = *prepared;
  // A message new to the index is a row in `found` and its words in
  // `terms`. One indexed before (a replay) changes nothing, unless it
  // comes with another payload: then the old words go, and the new row
  // and words replace them.
  std::string payload;
  for (const auto& m : messages) {
    payload.clear();
    bytes::Writer w(payload);
    bytes::write_message(w, m);
    const auto id = static_cast<sqlite3_int64>(m.id.value);
    auto add_found = [&] {
      sqlite3_bind_int64(writes.add_found.get(), 1, id);
      sqlite3_bind_text(writes.add_found.get(), 2, m.conversation.data(), static_cast<int>(m.conversation.size()),
                        SQLITE_STATIC);
      sqlite3_bind_blob(writes.add_found.get(), 3, payload.data(), static_cast<int>(payload.size()), SQLITE_STATIC);
      return Writes::run(writes.add_found);
    };
    if (!add_found()) return rolled_back(db_.get(), "index");
    if (sqlite3_changes(db_.get()) == 0) {
      sqlite3_bind_int64(writes.select_payload.get(), 1, id);
      if (sqlite3_step(writes.select_payload.get()) != SQLITE_ROW) {
        sqlite3_reset(writes.select_payload.get());
        return rolled_back(db_.get(), "index");
      }
      const std::string_view stored = column_bytes(writes.select_payload.get(), 0);
      const bool same = stored == payload;
      const bool forgotten = same || writes.forget_terms(id, stored);
      sqlite3_reset(writes.select_payload.get());
      if (same) continue;
      sqlite3_bind_int64(writes.delete_found.get(), 1, id);
      if (!forgotten || !Writes::run(writes.delete_found) || !add_found()) return rolled_back(db_.get(), "index");
    }
    sqlite3_bind_int64(writes.add_terms.get(), 1, id);
    sqlite3_bind_text(writes.add_terms.get(), 2, m.body.data(), static_cast<int>(m.body.size()), SQLITE_STATIC);
    if (!Writes::run(writes.add_terms)) return rolled_back(db_.get(), "index");
  }
  return commit(db_.get());
}

Result<void> SqliteSearchIndex::remove(std::span<const MessageId> messages) {
  if (messages.empty()) return Ok{};
  std::lock_guard lock(mutex_);
  if (auto opened = ensure_open(); !opened) return opened;
  if (auto begin = exec(db_.get(), "BEGIN"); !begin) return begin;
  const Writes* prepared = writes();
  if (prepared == nullptr) return rolled_back(db_.get(), "prepare");
  const Writes& writes = *prepared;
  for (MessageId id : messages) {
    if (!writes.erase(static_cast<sqlite3_int64>(id.value))) return rolled_back(db_.get(), "remove");
  }
  return commit(db_.get());
}

Result<std::vector<Message>> SqliteSearchIndex::search(std::string_view query, const Scope& scope, int limit) {
  std::vector<Message> out;
  const std::string match = fts5_query(query);
  if (match.empty() || (scope.conversations.empty() && scope.direct_of.value == 0) || limit <= 0) return out;
  boost::json::array names;
  for (const auto& c : scope.conversations) names.emplace_back(c);
  const std::string names_json = boost::json::serialize(names);
  // A 1:1 conversation is "d:<lower id>:<higher id>"; no id has '%' or '_'.
  const std::string user = to_string(scope.direct_of);
  const std::string as_lower = scope.direct_of.value == 0 ? std::string() : "d:" + user + ":%";
  const std::string as_higher = scope.direct_of.value == 0 ? std::string() : "d:%:" + user;

  std::lock_guard lock(mutex_);
  if (auto opened = ensure_open(); !opened) return std::move(opened).error();
  Statement select;
  if (sqlite3_prepare_v2(db_.get(),
                         "SELECT found.payload FROM terms JOIN found ON found.id = terms.rowid "
                         "WHERE terms MATCH ? AND (found.conversation IN (SELECT value FROM json_each(?)) "
                         "OR found.conversation LIKE ? OR found.conversation LIKE ?) "
                         "ORDER BY terms.rowid DESC LIMIT ?",
                         -1, &select.stmt, nullptr) != SQLITE_OK) {
    return sqlite_error(db_.get(), "prepare search");
  }
  sqlite3_bind_text(select.stmt, 1, match.data(), static_cast<int>(match.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(select.stmt, 2, names_json.data(), static_cast<int>(names_json.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(select.stmt, 3, as_lower.data(), static_cast<int>(as_lower.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(select.stmt, 4, as_higher.data(), static_cast<int>(as_higher.size()), SQLITE_TRANSIENT);
  sqlite3_bind_int(select.stmt, 5, limit);
  int rc = SQLITE_OK;
  while ((rc = sqlite3_step(select.stmt)) == SQLITE_ROW) {
    Message m;
    if (!decode_payload(column_bytes(select.stmt, 0), m)) {
      return make_error(ErrorCode::internal, "search index: corrupt row");
    }
    out.push_back(std::move(m));
  }
  if (rc != SQLITE_DONE) return sqlite_error(db_.get(), "search");
  return out;
}

}  // namespace parley::embedded
