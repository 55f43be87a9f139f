#include "adapters/cassandra/cassandra_message_store.hpp"

#include <algorithm>
#include <cctype>
#include <limits>
#include <map>
#include <utility>

namespace parley::cassandra {

namespace {

// Snowflake ids keep their time in the bits above 22; a history bucket is
// 2^26 ms of that time (about 18.6 hours). Changing either constant moves
// rows: it needs a data migration.
constexpr int history_bucket_shift = 22 + 26;
constexpr int inbox_bucket_shift = 16;  // 65,536 seqs per inbox partition

std::int64_t history_bucket(MessageId id) { return static_cast<std::int64_t>(id.value >> history_bucket_shift); }
std::int64_t inbox_bucket(Seq seq) { return static_cast<std::int64_t>(seq >> inbox_bucket_shift); }

CqlValue big(std::uint64_t v) { return bigint_value(static_cast<std::int64_t>(v)); }

// Each migration runs once, in order, and is recorded in schema_migrations.
// Statements are idempotent (IF NOT EXISTS), so a migration cut short by a
// crash runs again safely. Append new ones; never edit a released one, but
// for one exception: version 1 no longer creates sent_messages, a dedupe
// table that nothing reads or writes any more (a keyspace made before keeps
// it, unused: docs/OPERATIONS.md).
struct Migration {
  int version;
  std::vector<const char*> statements;
};

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> all{
      {1,
       {
           "CREATE TABLE IF NOT EXISTS {ks}.conversation_history (conversation text, bucket bigint, id bigint, "
           "sender bigint, to_kind int, to_id bigint, body blob, sent_at bigint, client_msg_id text, "
           "PRIMARY KEY ((conversation, bucket), id)) WITH CLUSTERING ORDER BY (id DESC)",
           "CREATE TABLE IF NOT EXISTS {ks}.channel_messages (conversation text, bucket bigint, id bigint, "
           "sender bigint, to_kind int, to_id bigint, body blob, sent_at bigint, client_msg_id text, "
           "PRIMARY KEY ((conversation, bucket), id)) WITH CLUSTERING ORDER BY (id DESC)",
           "CREATE TABLE IF NOT EXISTS {ks}.conversation_buckets (conversation text, bucket bigint, "
           "PRIMARY KEY ((conversation), bucket)) WITH CLUSTERING ORDER BY (bucket DESC)",
           "CREATE TABLE IF NOT EXISTS {ks}.user_inbox (user_id bigint, seq_bucket bigint, seq bigint, id bigint, "
           "conversation text, sender bigint, to_kind int, to_id bigint, body blob, sent_at bigint, "
           "client_msg_id text, PRIMARY KEY ((user_id, seq_bucket), seq))",
           "CREATE TABLE IF NOT EXISTS {ks}.inbox_index (user_id bigint, id bigint, seq bigint, "
           "PRIMARY KEY ((user_id, id)))",
           "CREATE TABLE IF NOT EXISTS {ks}.inbox_heads (user_id bigint PRIMARY KEY, head bigint)",
           "CREATE TABLE IF NOT EXISTS {ks}.device_cursors (user_id bigint, device text, seq bigint, "
           "PRIMARY KEY ((user_id), device))",
           "CREATE TABLE IF NOT EXISTS {ks}.user_conversations (user_id bigint, conversation text, "
           "last_message bigint, PRIMARY KEY ((user_id), conversation))",
           "CREATE TABLE IF NOT EXISTS {ks}.read_positions (user_id bigint, conversation text, message bigint, "
           "PRIMARY KEY ((user_id), conversation))",
       }},
      // The inbox index in the entries' partition: the same key as
      // user_inbox, so that an entry and its index row are one mutation
      // (inbox_index, a partition per entry, is only read from now on).
      {2,
       {
           "CREATE TABLE IF NOT EXISTS {ks}.inbox_ids (user_id bigint, seq_bucket bigint, id bigint, seq bigint, "
           "PRIMARY KEY ((user_id, seq_bucket), id))",
       }},
  };
  return all;
}

std::string with_keyspace(std::string_view cql, const std::string& keyspace) {
  std::string out;
  out.reserve(cql.size() + 32);
  for (std::size_t i = 0; i < cql.size();) {
    if (cql.substr(i, 4) == "{ks}") {
      out += keyspace;
      i += 4;
    } else {
      out.push_back(cql[i++]);
    }
  }
  return out;
}

bool valid_keyspace(const std::string& k) {
  return !k.empty() && k.size() <= 48 && std::all_of(k.begin(), k.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

bool valid_conversation(std::string_view c) noexcept { return !c.empty(); }

bool is_channel(std::string_view conversation) { return conversation.starts_with("c:"); }

Result<void> check_limit(int limit) {
  if (limit <= 0) return make_error(ErrorCode::bad_request, "limit must be positive");
  return Ok{};
}

Error corrupt(const char* what) {
  return make_error(ErrorCode::internal, std::string("cassandra: corrupt row in ") + what);
}

// The message columns, in the order the SELECTs below name them:
// id, conversation, sender, to_kind, to_id, body, sent_at, client_msg_id,
// starting at column `at`.
Result<Message> read_message(const std::vector<CqlValue>& row, std::size_t at) {
  if (row.size() < at + 8) return corrupt("a message row");
  auto id = as_bigint(row[at]);
  auto from = as_bigint(row[at + 2]);
  auto kind = as_int(row[at + 3]);
  auto to = as_bigint(row[at + 4]);
  auto sent_at = as_bigint(row[at + 6]);
  if (!id || !from || !kind || !to || !sent_at || *kind < 0 || *kind > static_cast<int>(Recipient::Kind::channel)) {
    return corrupt("a message row");
  }
  Message m;
  m.id = MessageId{static_cast<std::uint64_t>(*id)};
  m.conversation = as_text(row[at + 1]);
  m.from = UserId{static_cast<std::uint64_t>(*from)};
  m.to = Recipient{static_cast<Recipient::Kind>(*kind), static_cast<std::uint64_t>(*to)};
  // A null body is a tombstone's (erase_sent); a sent message's body is
  // never null, empty or not.
  m.deleted = !row[at + 5].has_value();
  m.body = m.deleted ? std::string() : as_text(row[at + 5]);
  m.sent_at = *sent_at;
  m.client_msg_id = as_text(row[at + 7]);
  return m;
}

// The values of a message for the history and inbox INSERTs, after the key.
void append_message(std::vector<CqlValue>& v, const Message& m) {
  v.push_back(big(m.id.value));
  v.push_back(text_value(m.conversation));
  v.push_back(big(m.from.value));
  v.push_back(int_value(static_cast<std::int32_t>(m.to.kind)));
  v.push_back(big(m.to.id));
  v.push_back(text_value(m.body));
  v.push_back(bigint_value(m.sent_at));
  v.push_back(text_value(m.client_msg_id));
}

ExecuteOptions idempotent_options() {
  ExecuteOptions o;
  o.idempotent = true;
  return o;
}

const ExecuteOptions idempotent = idempotent_options();

// The write timestamp of what erase_sent and delete_inbox remove: above
// every timestamp the store writes (some rows are written at a seq or a
// message id, not at the time), so that nothing written later, a replay of
// an older write included, brings a deleted user's data back.
constexpr std::int64_t kForever = std::numeric_limits<std::int64_t>::max();

// Statements are run this many at a time.
constexpr std::size_t kStatementsPerRound = 256;

// Schema changes wait for the schema to settle on every node: far longer
// than a row write.
ExecuteOptions schema_change_options() {
  ExecuteOptions o;
  o.timeout = std::chrono::seconds(60);
  return o;
}

const ExecuteOptions schema_change = schema_change_options();

// A batch stays under this many bytes of values when it can (one entry's
// rows always go together): below Cassandra's default
// batch_size_fail_threshold of 50 KiB.
constexpr std::size_t batch_bytes = 40 * 1024;

std::size_t size_of(const Statement& statement) {
  std::size_t n = 0;
  for (const auto& v : statement.values) n += v ? v->size() : 0;
  return n;
}

}  // namespace

CassandraMessageStore::CassandraMessageStore(Private, std::unique_ptr<CqlSession> session, std::string keyspace,
                                             bool legacy_index)
    : session_(std::move(session)), keyspace_(std::move(keyspace)), legacy_index_(legacy_index) {}

Result<std::unique_ptr<CassandraMessageStore>> CassandraMessageStore::open(const CassandraStoreOptions& options) {
  if (!valid_keyspace(options.keyspace)) {
    return make_error(ErrorCode::bad_request, "cassandra: keyspace must be 1-48 of [A-Za-z0-9_]");
  }
  auto session = CqlSession::open(options.cql);
  if (!session) return std::move(session).error();
  auto& s = **session;
  const std::string& ks = options.keyspace;
  if (auto r = s.query("CREATE KEYSPACE IF NOT EXISTS " + ks + " WITH replication = " + options.replication, {},
                       schema_change);
      !r) {
    return std::move(r).error();
  }
  if (auto r = s.query(
          "CREATE TABLE IF NOT EXISTS " + ks + ".schema_migrations (version int PRIMARY KEY, applied_at timestamp)", {},
          schema_change);
      !r) {
    return std::move(r).error();
  }
  auto applied = s.query("SELECT version FROM " + ks + ".schema_migrations", {}, idempotent);
  if (!applied) return std::move(applied).error();
  std::vector<int> done;
  for (const auto& row : applied->rows) {
    if (auto v = as_int(row.empty() ? CqlValue{} : row[0])) done.push_back(*v);
  }
  for (const auto& m : migrations()) {
    if (std::find(done.begin(), done.end(), m.version) != done.end()) continue;
    for (const char* cql : m.statements) {
      if (auto r = s.query(with_keyspace(cql, ks), {}, schema_change); !r) return std::move(r).error();
    }
    if (auto r =
            s.query("INSERT INTO " + ks + ".schema_migrations (version, applied_at) VALUES (?, toTimestamp(now()))",
                    {int_value(m.version)});
        !r) {
      return std::move(r).error();
    }
  }
  // Nothing writes inbox_index since migration 2, and no server of an older
  // version runs beside this one (docs/CLUSTER.md): empty now, it stays so.
  auto legacy = s.query("SELECT id FROM " + ks + ".inbox_index LIMIT 1", {}, idempotent);
  if (!legacy) return std::move(legacy).error();
  return std::make_unique<CassandraMessageStore>(Private{}, std::move(session).value(), ks, !legacy->rows.empty());
}

Result<Statement> CassandraMessageStore::statement(const char* cql, std::vector<CqlValue> values) {
  auto prepared = session_->prepare(with_keyspace(cql, keyspace_));
  if (!prepared) return std::move(prepared).error();
  return Statement{std::move(prepared).value(), std::move(values)};
}

Result<Rows> CassandraMessageStore::run(const char* cql, std::vector<CqlValue> values, const std::string& paging_state,
                                        int page_size) {
  auto s = statement(cql, std::move(values));
  if (!s) return std::move(s).error();
  ExecuteOptions options;
  options.idempotent = true;
  options.paging_state = paging_state;
  options.page_size = page_size;
  return session_->execute(*s, options);
}

Result<std::int64_t> CassandraMessageStore::read_single_bigint(const char* cql, std::vector<CqlValue> values) {
  auto rows = run(cql, std::move(values));
  if (!rows) return std::move(rows).error();
  if (rows->rows.empty() || rows->rows[0].empty() || !rows->rows[0][0]) return std::int64_t{0};
  return as_bigint(rows->rows[0][0]);
}

Result<MessageId> CassandraMessageStore::last_message_id(std::string_view conversation) {
  auto newest = history(conversation, MessageId{}, 1);
  if (!newest) return std::move(newest).error();
  return newest->empty() ? MessageId{} : newest->front().id;
}

// The rows of a batch of messages go out concurrently, grouped by the node
// that owns them (CqlSession::write_by_node: UNLOGGED batches, a few per
// node, each applied as one mutation per partition, with no batchlog): the
// history rows of each (conversation, bucket) and its bucket row (once per
// process). No batchlog is needed: each row is idempotent, and the callers
// retry the whole call until it succeeds (the store writer before it fans
// out), so a crash part-way leaves rows that the retry writes again.
// History is readable once this returns.
Result<void> CassandraMessageStore::put_messages(std::span<const Message> messages) {
  // (table is channel, conversation, bucket) -> that partition's history rows, in chunks of batch_bytes.
  std::map<std::pair<std::string_view, std::int64_t>, std::vector<std::vector<Statement>>> history_rows;
  std::map<std::pair<std::string_view, std::int64_t>, std::size_t> history_bytes;
  std::vector<std::vector<Statement>> groups;
  std::vector<std::pair<std::string_view, std::int64_t>> new_buckets;
  for (const auto& m : messages) {
    if (!valid_conversation(m.conversation) || !m.id.valid()) {
      return make_error(ErrorCode::bad_request, "put_messages: a message needs an id and a conversation");
    }
    const std::int64_t bucket = history_bucket(m.id);
    std::vector<CqlValue> v{text_value(m.conversation), bigint_value(bucket)};
    append_message(v, m);
    v.erase(v.begin() + 3);  // the conversation is already the key
    auto history_row = statement(
        is_channel(m.conversation) ? "INSERT INTO {ks}.channel_messages (conversation, bucket, id, sender, to_kind, "
                                     "to_id, body, sent_at, client_msg_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                                   : "INSERT INTO {ks}.conversation_history (conversation, bucket, id, sender, "
                                     "to_kind, to_id, body, sent_at, client_msg_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        std::move(v));
    if (!history_row) return std::move(history_row).error();
    const std::pair<std::string_view, std::int64_t> partition{m.conversation, bucket};
    auto [chunks, first_row] = history_rows.try_emplace(partition);
    if (first_row) chunks->second.emplace_back();
    if (first_row && !bucket_stored(m.conversation, bucket)) {
      // The first row of this partition in the call: its bucket row too.
      new_buckets.emplace_back(m.conversation, bucket);
      auto bucket_row = statement("INSERT INTO {ks}.conversation_buckets (conversation, bucket) VALUES (?, ?)",
                                  {text_value(m.conversation), bigint_value(bucket)});
      if (!bucket_row) return std::move(bucket_row).error();
      groups.push_back({std::move(bucket_row).value()});
    }
    std::size_t& bytes = history_bytes[partition];
    const std::size_t n = size_of(history_row.value());
    if (!chunks->second.back().empty() && bytes + n > batch_bytes) {
      chunks->second.emplace_back();
      bytes = 0;
    }
    bytes += n;
    chunks->second.back().push_back(std::move(history_row).value());
  }
  for (auto& [_, chunks] : history_rows) {
    for (auto& chunk : chunks) groups.push_back(std::move(chunk));
  }
  if (auto written = session_->write_by_node(groups, idempotent); !written) return written;
  std::lock_guard lock(buckets_mu_);
  if (stored_buckets_.size() + new_buckets.size() > 65536) stored_buckets_.clear();
  for (const auto& [conversation, bucket] : new_buckets) stored_buckets_.emplace(conversation, bucket);
  return Ok{};
}

bool CassandraMessageStore::bucket_stored(std::string_view conversation, std::int64_t bucket) {
  std::lock_guard lock(buckets_mu_);
  return stored_buckets_.contains(std::make_pair(std::string(conversation), bucket));
}

// The buckets of a conversation at or below `bound` (descending) or at or
// above it (ascending).
Result<std::vector<std::int64_t>> CassandraMessageStore::buckets(std::string_view conversation, std::int64_t bound,
                                                                 bool descending) {
  std::vector<std::int64_t> out;
  std::string paging;
  do {
    auto rows = descending ? run("SELECT bucket FROM {ks}.conversation_buckets WHERE conversation = ? AND bucket <= ?",
                                 {text_value(conversation), bigint_value(bound)}, paging, 1000)
                           : run("SELECT bucket FROM {ks}.conversation_buckets WHERE conversation = ? AND bucket >= ? "
                                 "ORDER BY bucket ASC",
                                 {text_value(conversation), bigint_value(bound)}, paging, 1000);
    if (!rows) return std::move(rows).error();
    for (const auto& row : rows->rows) {
      auto b = as_bigint(row.empty() ? CqlValue{} : row[0]);
      if (!b) return corrupt("conversation_buckets");
      out.push_back(*b);
    }
    paging = rows->metadata.paging_state;
  } while (!paging.empty());
  return out;
}

Result<std::vector<Message>> CassandraMessageStore::history(std::string_view conversation, MessageId before,
                                                            int limit) {
  if (auto ok = check_limit(limit); !ok) return std::move(ok).error();
  if (!valid_conversation(conversation)) return make_error(ErrorCode::bad_request, "history: bad conversation");
  std::vector<Message> out;
  if (before.valid() && before.value == 1) return out;
  const std::int64_t upper =
      before.valid() ? static_cast<std::int64_t>(before.value) : std::numeric_limits<std::int64_t>::max();
  auto list = buckets(
      conversation,
      before.valid() ? history_bucket(MessageId{before.value - 1}) : std::numeric_limits<std::int64_t>::max(), true);
  if (!list) return std::move(list).error();
  for (const auto bucket : *list) {
    const int want = limit - static_cast<int>(out.size());
    auto rows = run(is_channel(conversation)
                        ? "SELECT id, conversation, sender, to_kind, to_id, body, sent_at, client_msg_id FROM "
                          "{ks}.channel_messages WHERE conversation = ? AND bucket = ? AND id < ? LIMIT ?"
                        : "SELECT id, conversation, sender, to_kind, to_id, body, sent_at, client_msg_id FROM "
                          "{ks}.conversation_history WHERE conversation = ? AND bucket = ? AND id < ? LIMIT ?",
                    {text_value(conversation), bigint_value(bucket), bigint_value(upper), int_value(want)});
    if (!rows) return std::move(rows).error();
    for (const auto& row : rows->rows) {
      auto m = read_message(row, 0);
      if (!m) return std::move(m).error();
      out.push_back(std::move(m).value());
    }
    if (static_cast<int>(out.size()) >= limit) break;
  }
  return out;
}

Result<Seq> CassandraMessageStore::inbox_head(UserId user) {
  auto head = read_single_bigint("SELECT head FROM {ks}.inbox_heads WHERE user_id = ?", {big(user.value)});
  if (!head) return std::move(head).error();
  return static_cast<Seq>(*head);
}

Result<std::optional<Seq>> CassandraMessageStore::inbox_seq_of(UserId user, MessageId message) {
  const InboxKey key{user, message};
  auto seqs = inbox_seqs_of(std::span(&key, 1));
  if (!seqs) return std::move(seqs).error();
  return seqs->front();
}

// An entry's index row is in its seq's bucket, which the message id does not
// tell. One round asks for every user's head and every key in bucket 0 (the
// only bucket of a user with fewer than 65,536 entries); a key not found
// there whose user's head is past bucket 0 is looked for in the buckets up
// to the head's; then, in a keyspace that held any, in the index rows a
// version before migration 2 wrote (inbox_index).
Result<std::vector<std::optional<Seq>>> CassandraMessageStore::inbox_seqs_of(std::span<const InboxKey> keys) {
  std::vector<UserId> users;
  for (const auto& k : keys) users.push_back(k.user);
  std::sort(users.begin(), users.end());
  users.erase(std::unique(users.begin(), users.end()), users.end());

  std::vector<Statement> reads;
  auto ask_bucket = [&](const InboxKey& k, std::int64_t bucket) -> Result<void> {
    auto s = statement("SELECT seq FROM {ks}.inbox_ids WHERE user_id = ? AND seq_bucket = ? AND id = ?",
                       {big(k.user.value), bigint_value(bucket), big(k.message.value)});
    if (!s) return std::move(s).error();
    reads.push_back(std::move(s).value());
    return Ok{};
  };
  for (UserId user : users) {
    auto s = statement("SELECT head FROM {ks}.inbox_heads WHERE user_id = ?", {big(user.value)});
    if (!s) return std::move(s).error();
    reads.push_back(std::move(s).value());
  }
  for (const auto& k : keys) {
    if (auto asked = ask_bucket(k, 0); !asked) return std::move(asked).error();
  }
  auto pages = session_->execute_each(reads, idempotent);
  if (!pages) return std::move(pages).error();

  auto seq_in = [](const Rows& page, const char* table) -> Result<std::optional<Seq>> {
    if (page.rows.empty() || page.rows[0].empty() || !page.rows[0][0]) return std::optional<Seq>{};
    auto seq = as_bigint(page.rows[0][0]);
    if (!seq) return corrupt(table);
    return std::optional<Seq>(static_cast<Seq>(*seq));
  };
  std::vector<Seq> heads;
  heads.reserve(users.size());
  for (std::size_t u = 0; u < users.size(); ++u) {
    auto head = seq_in(pages.value()[u], "inbox_heads");
    if (!head) return std::move(head).error();
    heads.push_back(head->value_or(0));
  }
  auto head_of = [&](UserId user) {
    return heads[static_cast<std::size_t>(std::lower_bound(users.begin(), users.end(), user) - users.begin())];
  };
  std::vector<std::optional<Seq>> out(keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    auto seq = seq_in(pages.value()[users.size() + i], "inbox_ids");
    if (!seq) return std::move(seq).error();
    out[i] = *seq;
  }

  // Then the rest, each round only for the keys still missing.
  std::vector<std::size_t> asks;  // reads[r] is about keys[asks[r]]
  auto finish = [&](const char* table) -> Result<void> {
    if (reads.empty()) return Ok{};
    auto more = session_->execute_each(reads, idempotent);
    if (!more) return std::move(more).error();
    for (std::size_t r = 0; r < reads.size(); ++r) {
      auto seq = seq_in(more.value()[r], table);
      if (!seq) return std::move(seq).error();
      if (*seq) out[asks[r]] = *seq;
    }
    reads.clear();
    asks.clear();
    return Ok{};
  };
  reads.clear();
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (out[i]) continue;
    for (std::int64_t bucket = 1; bucket <= inbox_bucket(head_of(keys[i].user)); ++bucket) {
      if (auto asked = ask_bucket(keys[i], bucket); !asked) return std::move(asked).error();
      asks.push_back(i);
    }
  }
  if (auto done = finish("inbox_ids"); !done) return std::move(done).error();
  if (!legacy_index_) return out;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (out[i]) continue;
    auto s = statement("SELECT seq FROM {ks}.inbox_index WHERE user_id = ? AND id = ?",
                       {big(keys[i].user.value), big(keys[i].message.value)});
    if (!s) return std::move(s).error();
    reads.push_back(std::move(s).value());
    asks.push_back(i);
  }
  if (auto done = finish("inbox_index"); !done) return std::move(done).error();
  return out;
}

Result<std::vector<Seq>> CassandraMessageStore::inbox_heads(std::span<const UserId> users) {
  std::vector<Statement> reads;
  reads.reserve(users.size());
  for (UserId user : users) {
    auto s = statement("SELECT head FROM {ks}.inbox_heads WHERE user_id = ?", {big(user.value)});
    if (!s) return std::move(s).error();
    reads.push_back(std::move(s).value());
  }
  auto pages = session_->execute_each(reads, idempotent);
  if (!pages) return std::move(pages).error();
  std::vector<Seq> out;
  out.reserve(users.size());
  for (const auto& page : pages.value()) {
    if (page.rows.empty() || page.rows[0].empty() || !page.rows[0][0]) {
      out.push_back(0);
      continue;
    }
    auto head = as_bigint(page.rows[0][0]);
    if (!head) return corrupt("inbox_heads");
    out.push_back(static_cast<Seq>(*head));
  }
  return out;
}

// Two rounds, each of UNLOGGED batches grouped by the node that owns their
// rows (CqlSession::write_by_node: no batchlog, each partition one
// mutation): first the entries and their index rows (one partition, so one
// mutation, for each user and seq bucket), then, once all of those are
// durable, each user's head with its conversation index rows (one more).
// inbox() reads up to the head, so an entry is never visible before every
// entry below it is stored. A failure or crash part-way leaves rows above a
// head, never a head above a missing row: the inbox owner retries the same
// plan, and after a crash it plans the records above the head again (in log
// order they get the seqs they had: services/inbox_owner.hpp). Heads and the
// conversation index carry their value as timestamp, so a replay of older
// entries never moves them back.
Result<void> CassandraMessageStore::put_inbox(std::span<const InboxWrite> writes) {
  std::map<std::uint64_t, std::vector<const InboxWrite*>> by_user;
  for (const auto& w : writes) {
    if (w.entry.seq == 0 || !w.user.valid()) {
      return make_error(ErrorCode::bad_request, "put_inbox: an entry needs a user and a seq >= 1");
    }
    by_user[w.user.value].push_back(&w);
  }
  std::vector<std::vector<Statement>> rows;   // first round
  std::vector<std::vector<Statement>> heads;  // second round
  for (auto& [user, list] : by_user) {
    std::sort(list.begin(), list.end(),
              [](const InboxWrite* a, const InboxWrite* b) { return a->entry.seq < b->entry.seq; });
    Seq head = 0;
    std::map<std::string_view, std::uint64_t> newest;  // conversation → newest id
    std::int64_t bucket = -1;                          // of the chunk being filled, rows.back()
    std::size_t bytes = 0;
    for (const InboxWrite* w : list) {
      const std::int64_t entry_bucket = inbox_bucket(w->entry.seq);
      std::vector<CqlValue> v{big(user), bigint_value(entry_bucket), big(w->entry.seq)};
      append_message(v, w->entry.message);
      auto entry = statement(
          "INSERT INTO {ks}.user_inbox (user_id, seq_bucket, seq, id, conversation, sender, to_kind, to_id, body, "
          "sent_at, client_msg_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          std::move(v));
      auto index =
          statement("INSERT INTO {ks}.inbox_ids (user_id, seq_bucket, id, seq) VALUES (?, ?, ?, ?)",
                    {big(user), bigint_value(entry_bucket), big(w->entry.message.id.value), big(w->entry.seq)});
      if (!entry) return std::move(entry).error();
      if (!index) return std::move(index).error();
      const std::size_t n = size_of(entry.value()) + size_of(index.value());
      if (bucket != entry_bucket || bytes + n > batch_bytes) {
        rows.emplace_back();
        bucket = entry_bucket;
        bytes = 0;
      }
      bytes += n;
      rows.back().push_back(std::move(entry).value());
      rows.back().push_back(std::move(index).value());
      head = std::max(head, w->entry.seq);
      auto& latest = newest[w->entry.message.conversation];
      latest = std::max(latest, w->entry.message.id.value);
    }
    // The head and the conversation index share the partition key: one
    // mutation.
    auto h = statement("INSERT INTO {ks}.inbox_heads (user_id, head) VALUES (?, ?) USING TIMESTAMP ?",
                       {big(user), big(head), big(head)});
    if (!h) return std::move(h).error();
    auto& last = heads.emplace_back();
    last.push_back(std::move(h).value());
    for (const auto& [conversation, id] : newest) {
      if (conversation.empty() || id == 0) continue;
      auto c = statement(
          "INSERT INTO {ks}.user_conversations (user_id, conversation, last_message) VALUES (?, ?, ?) "
          "USING TIMESTAMP ?",
          {big(user), text_value(conversation), big(id), big(id)});
      if (!c) return std::move(c).error();
      last.push_back(std::move(c).value());
    }
  }
  if (auto r = session_->write_by_node(rows, idempotent); !r) return r;
  return session_->write_by_node(heads, idempotent);
}

// Reads up to the head: entries past it (written, head not yet moved) stay
// hidden until put_inbox finishes, as in the embedded store.
Result<std::vector<InboxEntry>> CassandraMessageStore::inbox(UserId user, Seq after, int limit) {
  if (auto ok = check_limit(limit); !ok) return std::move(ok).error();
  std::vector<InboxEntry> out;
  auto head = inbox_head(user);
  if (!head) return std::move(head).error();
  if (after >= *head) return out;
  for (std::int64_t bucket = inbox_bucket(after + 1); bucket <= inbox_bucket(*head); ++bucket) {
    const int want = limit - static_cast<int>(out.size());
    auto rows =
        run("SELECT seq, id, conversation, sender, to_kind, to_id, body, sent_at, client_msg_id FROM {ks}.user_inbox "
            "WHERE user_id = ? AND seq_bucket = ? AND seq > ? AND seq <= ? LIMIT ?",
            {big(user.value), bigint_value(bucket), big(after), big(*head), int_value(want)});
    if (!rows) return std::move(rows).error();
    for (const auto& row : rows->rows) {
      auto seq = as_bigint(row.empty() ? CqlValue{} : row[0]);
      auto m = read_message(row, 1);
      if (!seq) return corrupt("user_inbox");
      if (!m) return std::move(m).error();
      out.push_back(InboxEntry{static_cast<Seq>(*seq), std::move(m).value()});
    }
    if (static_cast<int>(out.size()) >= limit) break;
  }
  return out;
}

Result<Seq> CassandraMessageStore::cursor(UserId user, std::string_view device) {
  auto seq = read_single_bigint("SELECT seq FROM {ks}.device_cursors WHERE user_id = ? AND device = ?",
                                {big(user.value), text_value(device)});
  if (!seq) return std::move(seq).error();
  return static_cast<Seq>(*seq);
}

Result<Seq> CassandraMessageStore::advance_cursor(UserId user, std::string_view device, Seq seq) {
  if (device.empty()) return make_error(ErrorCode::bad_request, "advance_cursor: empty device");
  if (seq > 0) {
    auto r = run("INSERT INTO {ks}.device_cursors (user_id, device, seq) VALUES (?, ?, ?) USING TIMESTAMP ?",
                 {big(user.value), text_value(device), big(seq), big(seq)});
    if (!r) return std::move(r).error();
  }
  return cursor(user, device);
}

Result<void> CassandraMessageStore::delete_cursor(UserId user, std::string_view device) {
  auto current = cursor(user, device);
  if (!current) return std::move(current).error();
  if (*current == 0) return Ok{};
  auto r = run("DELETE FROM {ks}.device_cursors USING TIMESTAMP ? WHERE user_id = ? AND device = ?",
               {big(*current), big(user.value), text_value(device)});
  if (!r) return std::move(r).error();
  return Ok{};
}

Result<std::vector<ports::MessageStore::ConversationSummary>> CassandraMessageStore::conversations_of(UserId user) {
  std::vector<ConversationSummary> out;
  std::string paging;
  do {
    auto rows = run("SELECT conversation, last_message FROM {ks}.user_conversations WHERE user_id = ?",
                    {big(user.value)}, paging, 1000);
    if (!rows) return std::move(rows).error();
    for (const auto& row : rows->rows) {
      auto id = as_bigint(row.size() < 2 ? CqlValue{} : row[1]);
      if (!id) return corrupt("user_conversations");
      out.push_back({as_text(row[0]), MessageId{static_cast<std::uint64_t>(*id)}});
    }
    paging = rows->metadata.paging_state;
  } while (!paging.empty());
  return out;
}

Result<std::vector<std::vector<ports::MessageStore::ConversationSummary>>> CassandraMessageStore::conversations_of_each(
    std::span<const UserId> users) {
  std::vector<Statement> reads;
  reads.reserve(users.size());
  for (UserId user : users) {
    auto s = statement("SELECT conversation, last_message FROM {ks}.user_conversations WHERE user_id = ?",
                       {big(user.value)});
    if (!s) return std::move(s).error();
    reads.push_back(std::move(s).value());
  }
  ExecuteOptions options = idempotent;
  options.page_size = 1000;
  auto pages = session_->execute_each(reads, options);
  if (!pages) return std::move(pages).error();
  std::vector<std::vector<ConversationSummary>> out;
  out.reserve(users.size());
  for (std::size_t i = 0; i < users.size(); ++i) {
    const Rows& page = pages.value()[i];
    if (!page.metadata.paging_state.empty()) {  // more than a page: read it whole
      auto all = conversations_of(users[i]);
      if (!all) return std::move(all).error();
      out.push_back(std::move(all).value());
      continue;
    }
    auto& list = out.emplace_back();
    for (const auto& row : page.rows) {
      auto id = as_bigint(row.size() < 2 ? CqlValue{} : row[1]);
      if (!id) return corrupt("user_conversations");
      list.push_back({as_text(row[0]), MessageId{static_cast<std::uint64_t>(*id)}});
    }
  }
  return out;
}

Result<MessageId> CassandraMessageStore::read_position(UserId user, std::string_view conversation) {
  auto id = read_single_bigint("SELECT message FROM {ks}.read_positions WHERE user_id = ? AND conversation = ?",
                               {big(user.value), text_value(conversation)});
  if (!id) return std::move(id).error();
  return MessageId{static_cast<std::uint64_t>(*id)};
}

Result<MessageId> CassandraMessageStore::advance_read_position(UserId user, std::string_view conversation,
                                                               MessageId message) {
  if (message.valid()) {
    auto r = run("INSERT INTO {ks}.read_positions (user_id, conversation, message) VALUES (?, ?, ?) USING TIMESTAMP ?",
                 {big(user.value), text_value(conversation), big(message.value), big(message.value)});
    if (!r) return std::move(r).error();
  }
  return read_position(user, conversation);
}

Result<std::size_t> CassandraMessageStore::count_unread(std::string_view conversation, MessageId after, UserId reader,
                                                        std::size_t cap) {
  std::size_t count = 0;
  if (cap == 0 || !valid_conversation(conversation)) return count;
  auto list = buckets(conversation, history_bucket(MessageId{after.value + 1}), false);
  if (!list) return std::move(list).error();
  for (const auto bucket : *list) {
    std::string paging;
    do {
      auto rows = run(is_channel(conversation) ? "SELECT sender FROM {ks}.channel_messages WHERE conversation = ? AND "
                                                 "bucket = ? AND id > ?"
                                               : "SELECT sender FROM {ks}.conversation_history WHERE conversation = ? "
                                                 "AND bucket = ? AND id > ?",
                      {text_value(conversation), bigint_value(bucket), big(after.value)}, paging, 500);
      if (!rows) return std::move(rows).error();
      for (const auto& row : rows->rows) {
        auto sender = as_bigint(row.empty() ? CqlValue{} : row[0]);
        if (!sender) return corrupt("history");
        if (static_cast<std::uint64_t>(*sender) != reader.value && ++count >= cap) return count;
      }
      paging = rows->metadata.paging_state;
    } while (!paging.empty());
  }
  return count;
}

Result<std::vector<MessageId>> CassandraMessageStore::erase_sent(std::string_view conversation, UserId sender,
                                                                 std::span<const UserId> inbox_users) {
  if (!valid_conversation(conversation)) return make_error(ErrorCode::bad_request, "erase_sent: bad conversation");
  const bool channel = is_channel(conversation);
  auto list = buckets(conversation, std::numeric_limits<std::int64_t>::min(), false);
  if (!list) return std::move(list).error();
  std::vector<MessageId> ids;
  std::vector<Statement> erase;
  auto run_erase = [&]() -> Result<void> {
    if (erase.empty()) return Ok{};
    auto done = session_->execute_all(erase, idempotent);
    erase.clear();
    return done;
  };
  for (const auto bucket : *list) {
    std::string paging;
    do {
      auto rows = run(channel ? "SELECT id, sender, body FROM {ks}.channel_messages WHERE conversation = ? AND "
                                "bucket = ? ORDER BY id ASC"
                              : "SELECT id, sender, body FROM {ks}.conversation_history WHERE conversation = ? AND "
                                "bucket = ? ORDER BY id ASC",
                      {text_value(conversation), bigint_value(bucket)}, paging, 500);
      if (!rows) return std::move(rows).error();
      std::vector<InboxKey> keys;
      for (const auto& row : rows->rows) {
        auto id = as_bigint(row.size() < 3 ? CqlValue{} : row[0]);
        auto from = as_bigint(row.size() < 3 ? CqlValue{} : row[1]);
        if (!id || !from) return corrupt("history");
        if (static_cast<std::uint64_t>(*from) != sender.value) continue;
        const MessageId message{static_cast<std::uint64_t>(*id)};
        ids.push_back(message);
        for (UserId user : inbox_users) keys.push_back({user, message});
        if (!row[2].has_value()) continue;  // a tombstone already
        auto s =
            statement(channel ? "UPDATE {ks}.channel_messages USING TIMESTAMP ? SET body = null "
                                "WHERE conversation = ? AND bucket = ? AND id = ?"
                              : "UPDATE {ks}.conversation_history USING TIMESTAMP ? SET body = null "
                                "WHERE conversation = ? AND bucket = ? AND id = ?",
                      {bigint_value(kForever), text_value(conversation), bigint_value(bucket), big(message.value)});
        if (!s) return std::move(s).error();
        erase.push_back(std::move(s).value());
      }
      // The inbox copies: where each holder has it, then its row.
      auto seqs = inbox_seqs_of(keys);
      if (!seqs) return std::move(seqs).error();
      for (std::size_t i = 0; i < keys.size(); ++i) {
        if (!(*seqs)[i]) continue;
        const Seq seq = *(*seqs)[i];
        auto s = statement(
            "UPDATE {ks}.user_inbox USING TIMESTAMP ? SET body = null "
            "WHERE user_id = ? AND seq_bucket = ? AND seq = ?",
            {bigint_value(kForever), big(keys[i].user.value), bigint_value(inbox_bucket(seq)), big(seq)});
        if (!s) return std::move(s).error();
        erase.push_back(std::move(s).value());
      }
      if (erase.size() >= kStatementsPerRound) {
        if (auto done = run_erase(); !done) return std::move(done).error();
      }
      paging = rows->metadata.paging_state;
    } while (!paging.empty());
  }
  if (auto done = run_erase(); !done) return std::move(done).error();
  return ids;
}

Result<void> CassandraMessageStore::delete_inbox(UserId user) {
  auto head = inbox_head(user);
  if (!head) return std::move(head).error();
  // Every bucket up to the head's: its entries and index rows (a
  // partition each), and the rows a version before migration 2 indexed in
  // inbox_index (a partition per entry: the entries name them); then the
  // head itself.
  std::vector<Statement> deletes;
  for (std::int64_t bucket = 0; bucket <= inbox_bucket(*head); ++bucket) {
    std::string paging;
    do {
      auto rows = run("SELECT id FROM {ks}.user_inbox WHERE user_id = ? AND seq_bucket = ?",
                      {big(user.value), bigint_value(bucket)}, paging, 1000);
      if (!rows) return std::move(rows).error();
      for (const auto& row : rows->rows) {
        auto id = as_bigint(row.empty() ? CqlValue{} : row[0]);
        if (!id) return corrupt("user_inbox");
        auto s = statement("DELETE FROM {ks}.inbox_index USING TIMESTAMP ? WHERE user_id = ? AND id = ?",
                           {bigint_value(kForever), big(user.value), bigint_value(*id)});
        if (!s) return std::move(s).error();
        deletes.push_back(std::move(s).value());
      }
      if (deletes.size() >= kStatementsPerRound) {
        if (auto done = session_->execute_all(deletes, idempotent); !done) return done;
        deletes.clear();
      }
      paging = rows->metadata.paging_state;
    } while (!paging.empty());
    for (const char* cql : {"DELETE FROM {ks}.user_inbox USING TIMESTAMP ? WHERE user_id = ? AND seq_bucket = ?",
                            "DELETE FROM {ks}.inbox_ids USING TIMESTAMP ? WHERE user_id = ? AND seq_bucket = ?"}) {
      auto s = statement(cql, {bigint_value(kForever), big(user.value), bigint_value(bucket)});
      if (!s) return std::move(s).error();
      deletes.push_back(std::move(s).value());
    }
  }
  for (const char* cql : {"DELETE FROM {ks}.inbox_heads USING TIMESTAMP ? WHERE user_id = ?",
                          "DELETE FROM {ks}.device_cursors USING TIMESTAMP ? WHERE user_id = ?",
                          "DELETE FROM {ks}.user_conversations USING TIMESTAMP ? WHERE user_id = ?",
                          "DELETE FROM {ks}.read_positions USING TIMESTAMP ? WHERE user_id = ?"}) {
    auto s = statement(cql, {bigint_value(kForever), big(user.value)});
    if (!s) return std::move(s).error();
    deletes.push_back(std::move(s).value());
  }
  return session_->execute_all(deletes, idempotent);
}

// Writes are durable when they return (the consistency level's replicas
// have them in their commitlog): nothing is buffered here.
Result<void> CassandraMessageStore::probe(std::chrono::milliseconds timeout) {
  ExecuteOptions options;
  options.idempotent = true;
  options.timeout = timeout;
  auto rows = session_->query("SELECT release_version FROM system.local", {}, options);
  if (!rows) return std::move(rows).error();
  return Ok{};
}

Result<void> CassandraMessageStore::flush() { return Ok{}; }

}  // namespace parley::cassandra
