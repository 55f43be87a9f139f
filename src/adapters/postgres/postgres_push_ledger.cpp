#include "adapters/postgres/postgres_push_ledger.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <map>
#include <set>

#include "adapters/postgres/postgres_schema.hpp"

namespace parley::postgres {

namespace {

// A batch's columns as every statement below returns them (batch_of reads
// them in this order): the open batch's fields, then whether it is closed,
// its done devices (JSON) and its claim (closed_by, closed_at).
constexpr const char* kBatchColumns =
    "user_id, conversation, is_group, entries, first_seq, last_seq, last_message, last_sender, "
    "encode(last_preview, 'hex'), opened_at";
constexpr const char* kClosedColumns = "true, array_to_json(done_devices)::text, closed_by, closed_at";

std::vector<Statement> statements() {
  const std::string columns = kBatchColumns;
  const std::string closed_columns = columns + ", " + kClosedColumns;
  return {
      // Inserts the user's watermark or locks the one there; returns it.
      {"ledger_lock_mark",
       "INSERT INTO push_watermarks (user_id, seq) VALUES ($1, 0) "
       "ON CONFLICT (user_id) DO UPDATE SET seq = push_watermarks.seq RETURNING seq"},
      {"ledger_set_mark", "UPDATE push_watermarks SET seq = $2 WHERE user_id = $1"},
      // Folds $4 entries into the open batch: a new batch takes the first
      // entry's fields, an open one keeps its own.
      {"ledger_fold",
       "INSERT INTO push_open (user_id, conversation, is_group, entries, first_seq, last_seq, last_message, "
       "last_sender, last_preview, opened_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
       "ON CONFLICT (user_id, conversation) DO UPDATE SET entries = push_open.entries + EXCLUDED.entries, "
       "last_seq = EXCLUDED.last_seq, last_message = EXCLUDED.last_message, last_sender = EXCLUDED.last_sender, "
       "last_preview = EXCLUDED.last_preview"},
      {"ledger_batches", "SELECT " + columns + ", false, '[]', '', 0::bigint FROM push_open UNION ALL SELECT " +
                             closed_columns + " FROM push_closed ORDER BY 11, 1, 2, 6"},
      // Moves the open row into push_closed with its claim ($3, $4).
      {"ledger_close",
       "WITH taken AS (DELETE FROM push_open WHERE user_id = $1 AND conversation = $2 RETURNING *) "
       "INSERT INTO push_closed (user_id, conversation, is_group, entries, first_seq, last_seq, last_message, "
       "last_sender, last_preview, opened_at, closed_by, closed_at) SELECT user_id, conversation, is_group, "
       "entries, first_seq, last_seq, last_message, last_sender, last_preview, opened_at, $3, $4 FROM taken "
       "RETURNING " +
           closed_columns},
      // The claim's compare-and-set. Two of these on one row run one after
      // the other (the row lock), and the second re-checks its condition
      // against the first's claim, so at most one takes a stale batch.
      {"ledger_take_over",
       "UPDATE push_closed SET closed_by = $4, closed_at = $6 "
       "WHERE user_id = $1 AND conversation = $2 AND last_seq = $3 AND (closed_by = $4 OR closed_at < $5) "
       "RETURNING " +
           closed_columns},
      {"ledger_closed_exists", "SELECT 1 FROM push_closed WHERE user_id = $1 AND conversation = $2 AND last_seq = $3"},
      {"ledger_mark_done",
       "UPDATE push_closed SET done_devices = CASE WHEN $4 = ANY (done_devices) THEN done_devices "
       "ELSE array_append(done_devices, $4) END "
       "WHERE user_id = $1 AND conversation = $2 AND last_seq = $3 RETURNING 1"},
      {"ledger_finish", "DELETE FROM push_closed WHERE user_id = $1 AND conversation = $2 AND last_seq = $3"},
  };
}

// A row of kBatchColumns followed by the closed flag, the done devices (a
// JSON array of strings) and the claim.
Result<ports::PushBatch> batch_of(const PGresult* r, int row) {
  ports::PushBatch b;
  b.user = UserId{id_column(r, row, 0)};
  b.conversation = text(r, row, 1);
  b.group = boolean(r, row, 2);
  b.count = static_cast<std::uint32_t>(int64(r, row, 3));
  b.first_seq = id_column(r, row, 4);
  b.last_seq = id_column(r, row, 5);
  b.last_message = MessageId{id_column(r, row, 6)};
  b.last_sender = UserId{id_column(r, row, 7)};
  b.last_preview = hex_column(r, row, 8);
  b.opened_at = int64(r, row, 9);
  b.closed = boolean(r, row, 10);
  boost::system::error_code ec;
  const boost::json::value devices = boost::json::parse(text(r, row, 11), ec);
  if (ec || !devices.is_array()) return make_error(ErrorCode::internal, "push ledger: corrupt done devices");
  for (const auto& d : devices.get_array()) {
    if (!d.is_string()) return make_error(ErrorCode::internal, "push ledger: corrupt done devices");
    b.done_devices.emplace_back(d.get_string());
  }
  b.closed_by = text(r, row, 12);
  b.closed_at = int64(r, row, 13);
  return b;
}

// The entries of one add() that go into one open batch.
struct Fold {
  const ports::PushCandidate* first = nullptr;
  const ports::PushCandidate* last = nullptr;
  std::uint32_t count = 0;
};

}  // namespace

PostgresPushLedger::PostgresPushLedger(std::unique_ptr<PgPool> pool) : pool_(std::move(pool)) {}

Result<std::unique_ptr<PostgresPushLedger>> PostgresPushLedger::open(PgPoolOptions options) {
  auto pool = PgPool::open(std::move(options), schema_migrations(), statements());
  if (!pool) return std::move(pool).error();
  return std::make_unique<PostgresPushLedger>(std::move(pool).value());
}

Result<std::size_t> PostgresPushLedger::add(std::span<const ports::PushCandidate> candidates) {
  if (candidates.empty()) return std::size_t{0};
  std::set<UserId> users;
  for (const auto& c : candidates) users.insert(c.user);
  return pool_->with<std::size_t>([&](PGconn* conn) {
    return in_transaction<std::size_t>(conn, [&]() -> Result<std::size_t> {
      std::map<UserId, Seq> marks;       // user -> watermark, including this call
      for (const UserId user : users) {  // in id order: no lock cycles between adds
        auto locked = exec_prepared(conn, "ledger_lock_mark", {id_param(user.value)});
        if (!locked) return std::move(locked).error();
        marks[user] = id_column(locked->get(), 0, 0);
      }
      const std::map<UserId, Seq> before = marks;
      std::map<std::pair<UserId, std::string_view>, Fold> folds;
      std::size_t added = 0;
      for (const auto& c : candidates) {
        Seq& mark = marks[c.user];
        if (c.seq <= mark) continue;  // folded in before: a replay
        mark = c.seq;
        Fold& fold = folds[{c.user, c.conversation}];
        if (fold.first == nullptr) fold.first = &c;
        fold.last = &c;
        ++fold.count;
        ++added;
      }
      for (const auto& [key, fold] : folds) {
        const ports::PushCandidate& first = *fold.first;
        const ports::PushCandidate& last = *fold.last;
        auto folded = exec_prepared(
            conn, "ledger_fold",
            {id_param(first.user.value), first.conversation, first.group ? "t" : "f", std::to_string(fold.count),
             id_param(first.seq), id_param(last.seq), id_param(last.message.value), id_param(last.sender.value),
             bytea_param(last.preview), std::to_string(first.at)});
        if (!folded) return std::move(folded).error();
      }
      for (const auto& [user, mark] : marks) {
        if (mark == before.at(user)) continue;
        auto raised = exec_prepared(conn, "ledger_set_mark", {id_param(user.value), id_param(mark)});
        if (!raised) return std::move(raised).error();
      }
      return added;
    });
  });
}

Result<std::vector<ports::PushBatch>> PostgresPushLedger::batches() {
  auto r = pool_->run("ledger_batches", {});
  if (!r) return std::move(r).error();
  std::vector<ports::PushBatch> out;
  const int n = PQntuples(r->get());
  out.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto b = batch_of(r->get(), i);
    if (!b) return std::move(b).error();
    out.push_back(std::move(b).value());
  }
  return out;
}

Result<ports::PushBatch> PostgresPushLedger::close(UserId user, std::string_view conversation, std::string_view owner,
                                                   TimeMs at) {
  auto r = pool_->run("ledger_close",
                      {id_param(user.value), std::string(conversation), std::string(owner), std::to_string(at)});
  if (!r) return std::move(r).error();
  if (PQntuples(r->get()) == 0) return make_error(ErrorCode::not_found, "push ledger: no open batch");
  return batch_of(r->get(), 0);
}

Result<ports::PushBatch> PostgresPushLedger::take_over(UserId user, std::string_view conversation, Seq last_seq,
                                                       std::string_view new_owner, TimeMs stale_before, TimeMs at) {
  auto r = pool_->run("ledger_take_over", {id_param(user.value), std::string(conversation), id_param(last_seq),
                                           std::string(new_owner), std::to_string(stale_before), std::to_string(at)});
  if (!r) return std::move(r).error();
  if (PQntuples(r->get()) == 1) return batch_of(r->get(), 0);
  // Not taken: say why (a read after the fact, for the error code only).
  auto exists =
      pool_->run("ledger_closed_exists", {id_param(user.value), std::string(conversation), id_param(last_seq)});
  if (!exists) return std::move(exists).error();
  if (PQntuples(exists->get()) == 0) return make_error(ErrorCode::not_found, "push ledger: no such closed batch");
  return make_error(ErrorCode::conflict, "push ledger: the batch is held by another server");
}

Result<void> PostgresPushLedger::mark_done(UserId user, std::string_view conversation, Seq last_seq,
                                           std::string_view device) {
  auto r = pool_->run("ledger_mark_done",
                      {id_param(user.value), std::string(conversation), id_param(last_seq), std::string(device)});
  if (!r) return std::move(r).error();
  if (PQntuples(r->get()) == 0) return make_error(ErrorCode::not_found, "push ledger: no such closed batch");
  return Ok{};
}

Result<void> PostgresPushLedger::finish(UserId user, std::string_view conversation, Seq last_seq) {
  auto r = pool_->run("ledger_finish", {id_param(user.value), std::string(conversation), id_param(last_seq)});
  if (!r) return std::move(r).error();
  return Ok{};
}

}  // namespace parley::postgres
