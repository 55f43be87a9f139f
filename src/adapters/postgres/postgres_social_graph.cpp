#include "adapters/postgres/postgres_social_graph.hpp"

#include <algorithm>
#include <map>

#include "adapters/postgres/postgres_schema.hpp"

namespace parley::postgres {

namespace {

constexpr const char* kColumns = "friends, lo_asked, hi_asked, lo_blocks, hi_blocks";

std::vector<Statement> statements() {
  const std::string columns = kColumns;
  return {
      // Inserts the pair's row or locks the one there; either way returns it.
      // The no-op SET touches no indexed column.
      {"social_lock",
       "INSERT INTO social_pairs (lo, hi) VALUES ($1, $2) "
       "ON CONFLICT (lo, hi) DO UPDATE SET friends = social_pairs.friends RETURNING " +
           columns},
      {"social_put",
       "UPDATE social_pairs SET friends = $3, lo_asked = $4, hi_asked = $5, lo_blocks = $6, hi_blocks = $7 "
       "WHERE lo = $1 AND hi = $2"},
      {"social_drop", "DELETE FROM social_pairs WHERE lo = $1 AND hi = $2"},
      {"social_forget", "DELETE FROM social_pairs WHERE lo = $1 OR hi = $1"},
      {"social_get", "SELECT " + columns + " FROM social_pairs WHERE lo = $1 AND hi = $2"},
      {"social_get_many",
       "SELECT lo, hi, " + columns +
           " FROM social_pairs WHERE (lo, hi) IN (SELECT * FROM unnest($1::bigint[], $2::bigint[]))"},
      {"social_friends",
       "SELECT hi FROM social_pairs WHERE lo = $1 AND friends "
       "UNION ALL SELECT lo FROM social_pairs WHERE hi = $1 AND friends"},
      {"social_requests_to",
       "SELECT hi FROM social_pairs WHERE lo = $1 AND hi_asked "
       "UNION ALL SELECT lo FROM social_pairs WHERE hi = $1 AND lo_asked"},
  };
}

// A pair's key, and which side of it `self` is.
struct PairKey {
  std::string lo;
  std::string hi;
  bool self_is_lo = true;
};

PairKey key_of(UserId self, UserId other) {
  const bool self_is_lo = self.value < other.value;
  return {id_param(self_is_lo ? self.value : other.value), id_param(self_is_lo ? other.value : self.value), self_is_lo};
}

// A row's columns (kColumns) as `self` sees the pair.
ports::Relation view_of(const PGresult* r, int row, bool self_is_lo) {
  const bool lo_asked = boolean(r, row, 1), hi_asked = boolean(r, row, 2);
  const bool lo_blocks = boolean(r, row, 3), hi_blocks = boolean(r, row, 4);
  return self_is_lo ? ports::Relation{boolean(r, row, 0), lo_asked, hi_asked, lo_blocks, hi_blocks}
                    : ports::Relation{boolean(r, row, 0), hi_asked, lo_asked, hi_blocks, lo_blocks};
}

bool same(const ports::Relation& a, const ports::Relation& b) {
  return a.friends == b.friends && a.requested == b.requested && a.requested_by == b.requested_by &&
         a.blocks == b.blocks && a.blocked_by == b.blocked_by;
}

bool empty(const ports::Relation& r) { return same(r, ports::Relation{}); }

const char* flag(bool b) { return b ? "t" : "f"; }

// The parameters of social_put for `self`'s view `r`.
Params row_params(const PairKey& key, const ports::Relation& r) {
  const bool lo_asked = key.self_is_lo ? r.requested : r.requested_by;
  const bool hi_asked = key.self_is_lo ? r.requested_by : r.requested;
  const bool lo_blocks = key.self_is_lo ? r.blocks : r.blocked_by;
  const bool hi_blocks = key.self_is_lo ? r.blocked_by : r.blocks;
  return {key.lo, key.hi, flag(r.friends), flag(lo_asked), flag(hi_asked), flag(lo_blocks), flag(hi_blocks)};
}

Error same_user(std::string_view op) {
  return make_error(ErrorCode::bad_request, std::string(op) + ": a user and themself");
}

// One atomic step on the pair (self, other): under the pair's row lock,
// `decide` reads self's view of the pair, changes it or not, and returns the
// outcome; the new view is written back when it changed. An error from
// `decide` rolls everything back.
template <class T, class Decide>
Result<T> change(PgPool& pool, UserId self, UserId other, Decide decide) {
  const PairKey key = key_of(self, other);
  return pool.with<T>([&](PGconn* conn) {
    return in_transaction<T>(conn, [&]() -> Result<T> {
      auto locked = exec_prepared(conn, "social_lock", {key.lo, key.hi});
      if (!locked) return std::move(locked).error();
      const ports::Relation before = view_of(locked->get(), 0, key.self_is_lo);
      ports::Relation after = before;
      Result<T> outcome = decide(after);
      if (!outcome || same(before, after)) return outcome;
      auto written = empty(after) ? exec_prepared(conn, "social_drop", {key.lo, key.hi})
                                  : exec_prepared(conn, "social_put", row_params(key, after));
      if (!written) return std::move(written).error();
      return outcome;
    });
  });
}

}  // namespace

PostgresSocialGraph::PostgresSocialGraph(std::unique_ptr<PgPool> pool) : pool_(std::move(pool)) {}

Result<std::unique_ptr<PostgresSocialGraph>> PostgresSocialGraph::open(PgPoolOptions options) {
  auto pool = PgPool::open(std::move(options), schema_migrations(), statements());
  if (!pool) return std::move(pool).error();
  return std::make_unique<PostgresSocialGraph>(std::move(pool).value());
}

Result<ports::RequestOutcome> PostgresSocialGraph::request_friend(UserId from, UserId to) {
  if (from == to) return same_user("request_friend");
  return change<ports::RequestOutcome>(*pool_, from, to, [](ports::Relation& r) -> Result<ports::RequestOutcome> {
    if (r.blocks) return ports::RequestOutcome::self_blocks;
    if (r.blocked_by) return ports::RequestOutcome::other_blocks;
    if (r.friends) return ports::RequestOutcome::already_friends;
    if (r.requested_by) {
      r = ports::Relation{.friends = true};
      return ports::RequestOutcome::now_friends;
    }
    r.requested = true;
    return ports::RequestOutcome::pending;
  });
}

Result<void> PostgresSocialGraph::accept_friend(UserId self, UserId requester) {
  if (self == requester) return same_user("accept_friend");
  return change<void>(*pool_, self, requester, [](ports::Relation& r) -> Result<void> {
    if (r.friends) return make_error(ErrorCode::conflict, "you are friends already");
    if (!r.requested_by) return make_error(ErrorCode::not_found, "no friend request from this user");
    r = ports::Relation{.friends = true};
    return Ok{};
  });
}

Result<ports::RemoveOutcome> PostgresSocialGraph::remove_friend(UserId self, UserId other) {
  if (self == other) return same_user("remove_friend");
  return change<ports::RemoveOutcome>(*pool_, self, other, [](ports::Relation& r) -> Result<ports::RemoveOutcome> {
    if (!r.friends && !r.requested && !r.requested_by) {
      return make_error(ErrorCode::not_found, "not a friend and no pending request");
    }
    const bool were_friends = r.friends;
    r = ports::Relation{.blocks = r.blocks, .blocked_by = r.blocked_by};
    return were_friends ? ports::RemoveOutcome::unfriended : ports::RemoveOutcome::withdrawn;
  });
}

Result<bool> PostgresSocialGraph::block(UserId self, UserId other) {
  if (self == other) return same_user("block");
  return change<bool>(*pool_, self, other, [](ports::Relation& r) -> Result<bool> {
    if (r.blocks) return make_error(ErrorCode::conflict, "you block this user already");
    const bool were_friends = r.friends;
    r = ports::Relation{.blocks = true, .blocked_by = r.blocked_by};
    return were_friends;
  });
}

Result<void> PostgresSocialGraph::unblock(UserId self, UserId other) {
  if (self == other) return same_user("unblock");
  return change<void>(*pool_, self, other, [](ports::Relation& r) -> Result<void> {
    if (!r.blocks) return make_error(ErrorCode::not_found, "you do not block this user");
    r = ports::Relation{.blocked_by = r.blocked_by};
    return Ok{};
  });
}

Result<void> PostgresSocialGraph::forget(UserId user) {
  auto done = pool_->run("social_forget", {id_param(user.value)});
  if (!done) return std::move(done).error();
  return Ok{};
}

Result<ports::Relation> PostgresSocialGraph::relation(UserId self, UserId other) {
  if (self == other) return ports::Relation{};
  const PairKey key = key_of(self, other);
  auto r = pool_->run("social_get", {key.lo, key.hi});
  if (!r) return std::move(r).error();
  if (PQntuples(r->get()) == 0) return ports::Relation{};
  return view_of(r->get(), 0, key.self_is_lo);
}

Result<std::vector<ports::Relation>> PostgresSocialGraph::relations(std::span<const std::pair<UserId, UserId>> pairs) {
  std::vector<ports::Relation> out(pairs.size());
  std::vector<std::string> los, his;
  std::vector<PairKey> keys;
  keys.reserve(pairs.size());
  for (const auto& [self, other] : pairs) {
    keys.push_back(key_of(self, other));
    if (self == other) continue;
    los.push_back(keys.back().lo);
    his.push_back(keys.back().hi);
  }
  if (los.empty()) return out;
  auto r = pool_->run("social_get_many", {text_array_param(los), text_array_param(his)});
  if (!r) return std::move(r).error();
  // (lo, hi) -> its row.
  std::map<std::pair<std::string, std::string>, int> rows;
  for (int i = 0; i < PQntuples(r->get()); ++i)
    rows.emplace(std::make_pair(text(r->get(), i, 0), text(r->get(), i, 1)), i);
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    if (pairs[i].first == pairs[i].second) continue;
    auto it = rows.find({keys[i].lo, keys[i].hi});
    if (it == rows.end()) continue;
    // The row's columns start after lo and hi.
    const bool lo_asked = boolean(r->get(), it->second, 3), hi_asked = boolean(r->get(), it->second, 4);
    const bool lo_blocks = boolean(r->get(), it->second, 5), hi_blocks = boolean(r->get(), it->second, 6);
    const bool friends = boolean(r->get(), it->second, 2);
    out[i] = keys[i].self_is_lo ? ports::Relation{friends, lo_asked, hi_asked, lo_blocks, hi_blocks}
                                : ports::Relation{friends, hi_asked, lo_asked, hi_blocks, lo_blocks};
  }
  return out;
}

Result<std::vector<UserId>> PostgresSocialGraph::ids(const std::string& statement, UserId user) {
  auto r = pool_->run(statement, {id_param(user.value)});
  if (!r) return std::move(r).error();
  std::vector<UserId> out;
  const int n = PQntuples(r->get());
  out.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) out.push_back(UserId{id_column(r->get(), i, 0)});
  // Sorted here rather than in SQL: ids are unsigned, bigint is signed.
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<UserId>> PostgresSocialGraph::friends(UserId user) { return ids("social_friends", user); }

Result<std::vector<UserId>> PostgresSocialGraph::requests_to(UserId user) { return ids("social_requests_to", user); }

}  // namespace parley::postgres
