// Cassandra joined to the MessageStore contract suites, and the CQL client's
// own integration tests against the real server.
//
// The address comes from PARLEY_TEST_CASSANDRA (host:port, as
// scripts/engines prints it); without it the tests are skipped. All tests
// share one keyspace, parley_test: the contract suites name their users and
// conversations uniquely per test, and a restart (the factory called again)
// opens the same keyspace, so it finds the same data.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <random>
#include <stdexcept>

#include "adapters/cassandra/cassandra_message_store.hpp"
#include "adapters/cassandra/murmur3.hpp"
#include "contracts.hpp"

namespace parley::contract {
namespace {

using namespace parley::cassandra;

std::string cassandra_address() {
  const char* value = std::getenv("PARLEY_TEST_CASSANDRA");
  return value == nullptr ? std::string() : std::string(value);
}

CassandraStoreOptions store_options() {
  CassandraStoreOptions options;
  options.cql.contact_points = {cassandra_address()};
  options.keyspace = "parley_test";
  return options;
}

MessageStoreFactory cassandra_store() {
  return {"Cassandra", [](const std::string&) -> std::unique_ptr<ports::MessageStore> {
            if (cassandra_address().empty()) return nullptr;
            auto store = CassandraMessageStore::open(store_options());
            if (!store) throw std::runtime_error("opening Cassandra failed: " + store.error().message);
            return std::move(store).value();
          }};
}

// A session on the test server, or nullptr (the test skips).
std::unique_ptr<CqlSession> session() {
  if (cassandra_address().empty()) return nullptr;
  CqlOptions options;
  options.contact_points = {cassandra_address()};
  // Schema changes on a loaded 2-core machine take seconds.
  options.request_timeout = std::chrono::seconds(30);
  auto s = CqlSession::open(options);
  if (!s) throw std::runtime_error("opening a CQL session failed: " + s.error().message);
  return std::move(s).value();
}

// A table name unique to this run, in the test keyspace (created here).
std::string fresh_table(CqlSession& s, const std::string& columns) {
  static std::mt19937_64 rng{std::random_device{}()};
  const std::string name = "parley_test.t" + std::to_string(rng() % 1000000000ULL);
  EXPECT_TRUE(s.query("CREATE KEYSPACE IF NOT EXISTS parley_test WITH replication = "
                      "{'class': 'SimpleStrategy', 'replication_factor': 1}")
                  .ok());
  auto created = s.query("CREATE TABLE " + name + " (" + columns + ")");
  EXPECT_TRUE(created.ok()) << (created ? "" : created.error().message);
  return name;
}

#define SESSION_OR_SKIP(s) \
  auto s = session();      \
  if (!s) GTEST_SKIP() << "PARLEY_TEST_CASSANDRA is not set"

TEST(CqlSession, DiscoversTheNodeAndItsTokens) {
  SESSION_OR_SKIP(s);
  EXPECT_EQ(s->nodes().size(), 1U);
  EXPECT_GE(s->ring_size(), 1U);
  auto rows = s->query("SELECT release_version FROM system.local");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->rows.size(), 1U);
  EXPECT_TRUE(as_text(rows->rows[0][0]).starts_with("5.0"));
}

TEST(CqlSession, RoutingTokensMatchTheServers) {
  SESSION_OR_SKIP(s);
  const std::string table = fresh_table(*s, "a blob, b bigint, PRIMARY KEY ((a, b))");
  auto insert = s->prepare("INSERT INTO " + table + " (a, b) VALUES (?, ?)");
  auto select = s->prepare("SELECT token(a, b) FROM " + table + " WHERE a = ? AND b = ?");
  ASSERT_TRUE(insert.ok() && select.ok());
  std::mt19937_64 rng{42};
  for (int i = 0; i < 50; ++i) {
    std::string a(static_cast<std::size_t>(rng() % 40), '\0');
    for (auto& c : a) c = static_cast<char>(rng() % 256);
    const std::vector<CqlValue> key{text_value(a), bigint_value(static_cast<std::int64_t>(rng()))};
    ExecuteOptions idempotent;
    idempotent.idempotent = true;
    ASSERT_TRUE(s->execute({*insert, key}, idempotent).ok());
    auto rows = s->execute({*select, key}, idempotent);
    ASSERT_TRUE(rows.ok());
    ASSERT_EQ(rows->rows.size(), 1U);
    EXPECT_EQ(as_bigint(rows->rows[0][0]).value(),
              murmur3_token(routing_key((*select)->meta.partition_key_indexes, key).value()));
  }
}

TEST(CqlSession, PagesThroughAPartition) {
  SESSION_OR_SKIP(s);
  const std::string table = fresh_table(*s, "p int, c int, PRIMARY KEY ((p), c)");
  auto insert = s->prepare("INSERT INTO " + table + " (p, c) VALUES (?, ?)");
  ASSERT_TRUE(insert.ok());
  std::vector<Statement> writes;
  for (int c = 0; c < 25; ++c) writes.push_back({*insert, {int_value(1), int_value(c)}});
  ASSERT_TRUE(s->execute_all(writes).ok());
  auto select = s->prepare("SELECT c FROM " + table + " WHERE p = ?");
  ASSERT_TRUE(select.ok());
  ExecuteOptions options;
  options.page_size = 10;
  std::vector<int> seen;
  int pages = 0;
  do {
    auto rows = s->execute({*select, {int_value(1)}}, options);
    ASSERT_TRUE(rows.ok());
    ++pages;
    for (const auto& row : rows->rows) seen.push_back(as_int(row[0]).value());
    options.paging_state = rows->metadata.paging_state;
  } while (!options.paging_state.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(seen.size(), 25U);
  for (int c = 0; c < 25; ++c) EXPECT_EQ(seen[static_cast<std::size_t>(c)], c);
}

// Dropping a table drops the statements prepared on it: the next EXECUTE
// meets UNPREPARED, and the session prepares it again and re-sends it.
TEST(CqlSession, PreparesAgainAfterUnprepared) {
  SESSION_OR_SKIP(s);
  const std::string columns = "k int PRIMARY KEY, v int";
  const std::string table = fresh_table(*s, columns);
  auto insert = s->prepare("INSERT INTO " + table + " (k, v) VALUES (?, ?)");
  ASSERT_TRUE(insert.ok());
  ASSERT_TRUE(s->execute({*insert, {int_value(1), int_value(1)}}).ok());
  ASSERT_TRUE(s->query("DROP TABLE " + table).ok());
  ASSERT_TRUE(s->query("CREATE TABLE " + table + " (" + columns + ")").ok());
  auto again = s->execute({*insert, {int_value(2), int_value(2)}});
  ASSERT_TRUE(again.ok()) << again.error().message;
  auto rows = s->query("SELECT v FROM " + table + " WHERE k = 2");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->rows.size(), 1U);
}

TEST(CqlSession, BatchesWriteEveryStatement) {
  SESSION_OR_SKIP(s);
  const std::string table = fresh_table(*s, "p int, c int, PRIMARY KEY ((p), c)");
  auto insert = s->prepare("INSERT INTO " + table + " (p, c) VALUES (?, ?)");
  ASSERT_TRUE(insert.ok());
  std::vector<Statement> writes;
  for (int c = 0; c < 5; ++c) writes.push_back({*insert, {int_value(3), int_value(c)}});
  ASSERT_TRUE(s->batch(BatchType::unlogged, writes).ok());
  auto rows = s->query("SELECT c FROM " + table + " WHERE p = 3");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->rows.size(), 5U);
}

// More partitions than one batch takes, some of them in several groups:
// every row lands.
TEST(CqlSession, WriteByNodeWritesEveryRowOfAWriteOfManyBatches) {
  SESSION_OR_SKIP(s);
  const std::string table = fresh_table(*s, "p int, c int, PRIMARY KEY ((p), c)");
  auto insert = s->prepare("INSERT INTO " + table + " (p, c) VALUES (?, ?)");
  ASSERT_TRUE(insert.ok());
  std::vector<std::vector<Statement>> groups;
  for (int p = 0; p < 100; ++p) {
    groups.push_back({{*insert, {int_value(p), int_value(0)}}, {*insert, {int_value(p), int_value(1)}}});
    if (p % 3 == 0) groups.push_back({{*insert, {int_value(p), int_value(2)}}});
  }
  ASSERT_TRUE(s->write_by_node(groups, {}, 32 * 1024, 16).ok());
  for (int p = 0; p < 100; ++p) {
    auto rows = s->query("SELECT c FROM " + table + " WHERE p = " + std::to_string(p));
    ASSERT_TRUE(rows.ok());
    EXPECT_EQ(rows->rows.size(), p % 3 == 0 ? 3U : 2U) << "partition " << p;
  }
}

// An inbox entry placed by a version before migration 2, which indexed it in
// inbox_index (a partition per entry), is still found by the replay check of
// a store opened after it was placed (an upgrade).
TEST(CassandraMessageStore, FindsEntriesIndexedBeforeMigrationTwo) {
  SESSION_OR_SKIP(s);
  ASSERT_TRUE(CassandraMessageStore::open(store_options()).ok());  // the schema
  static std::mt19937_64 rng{std::random_device{}()};
  const auto user = static_cast<std::int64_t>(rng() % 1'000'000'000'000ULL) + 1;
  ASSERT_TRUE(
      s->query("INSERT INTO parley_test.inbox_index (user_id, id, seq) VALUES (?, 900, 1)", {bigint_value(user)}).ok());
  ASSERT_TRUE(s->query("INSERT INTO parley_test.inbox_heads (user_id, head) VALUES (?, 1)", {bigint_value(user)}).ok());
  auto store = CassandraMessageStore::open(store_options());
  ASSERT_TRUE(store.ok()) << store.error().message;
  auto& st = **store;
  const UserId id{static_cast<std::uint64_t>(user)};
  EXPECT_EQ(*st.inbox_seq_of(id, MessageId{900}), std::optional<Seq>(1));
  EXPECT_FALSE(st.inbox_seq_of(id, MessageId{901})->has_value());
}

TEST(CqlSession, ServerErrorsAreValues) {
  SESSION_OR_SKIP(s);
  auto bad = s->query("SELECT * FROM parley_test.no_such_table");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::internal);
  auto syntax = s->prepare("SELEKT 1");
  ASSERT_FALSE(syntax.ok());
}

// A node that accepts but never answers: open gives up after the connect
// timeout with `unavailable` (needs no server, so it always runs).
TEST(CqlSession, OpenTimesOutOnASilentNode) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  CqlOptions options;
  options.contact_points = {"127.0.0.1:" + std::to_string(ntohs(addr.sin_port))};
  options.connect_timeout = std::chrono::milliseconds(300);
  options.request_timeout = std::chrono::milliseconds(2000);
  auto s = CqlSession::open(options);
  ::close(fd);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::unavailable);
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Real, MessageStoreContract, ::testing::Values(cassandra_store()), FactoryName{});

}  // namespace parley::contract
