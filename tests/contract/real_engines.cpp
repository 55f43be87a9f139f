// The real engines joined to the contract suites: Kafka (MessageLog), Redis
// (StateStore) and PostgreSQL (Directory and the other directory ports).
//
// Each factory reads its engine's address from the environment, as
// scripts/engines prints it (PARLEY_TEST_KAFKA, PARLEY_TEST_REDIS,
// PARLEY_TEST_POSTGRES); without it the factory returns nullptr and the test
// is skipped. scripts/test always starts the engines and sets them, so CI
// never skips these. Tests share one server per engine: each test works in
// a namespace derived from its own directory (topic and group prefix, key
// prefix, schema), so tests never see each other's data, and a restart
// (the factory called again with the same directory) finds the same data.

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "adapters/kafka/kafka_log.hpp"
#include "adapters/postgres/postgres_directory.hpp"
#include "adapters/postgres/postgres_push_ledger.hpp"
#include "adapters/postgres/postgres_push_tokens.hpp"
#include "adapters/postgres/postgres_rooms.hpp"
#include "adapters/postgres/postgres_search_index.hpp"
#include "adapters/postgres/postgres_social_graph.hpp"
#include "adapters/redis/redis_state_store.hpp"
#include "contracts.hpp"
#include "log_helpers.hpp"
#include "push_ledger_contract.hpp"
#include "push_tokens_contract.hpp"

namespace parley::contract {
namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

// A name unique to the test's directory, usable as a Kafka prefix, Redis
// key prefix or PostgreSQL schema name.
std::string namespace_of(const std::string& dir) {
  return "t" + std::to_string(std::hash<std::string>{}(dir) % 1000000000000ULL);
}

// A real engine that is configured but fails to open fails the test (the
// exception is reported), rather than skipping it.
template <class T>
std::unique_ptr<T> or_throw(Result<std::unique_ptr<T>> result, const char* engine) {
  if (!result) throw std::runtime_error(std::string("opening ") + engine + " failed: " + result.error().message);
  return std::move(result).value();
}

MessageLogFactory kafka_log() {
  return {"Kafka", [](const std::string& dir) -> std::unique_ptr<ports::MessageLog> {
            const std::string brokers = env("PARLEY_TEST_KAFKA");
            if (brokers.empty()) return nullptr;
            kafka::KafkaOptions options;
            options.brokers = brokers;
            options.prefix = namespace_of(dir) + ".";
            options.partitions = 4;
            return or_throw(kafka::KafkaLog::open(options), "Kafka");
          }};
}

// "host:port" into Redis options.
std::optional<redis::RedisOptions> redis_options() {
  const std::string address = env("PARLEY_TEST_REDIS");
  const auto colon = address.rfind(':');
  if (address.empty() || colon == std::string::npos) return std::nullopt;
  redis::RedisOptions options;
  options.host = address.substr(0, colon);
  options.port = std::stoi(address.substr(colon + 1));
  return options;
}

std::unique_ptr<redis::RedisStateStore> open_redis(const std::string& dir) {
  auto options = redis_options();
  if (!options) return nullptr;
  return or_throw(redis::RedisStateStore::open({*options, namespace_of(dir) + ":"}), "Redis");
}

StateStoreFactory redis_state() {
  return {"Redis",
          [](const std::string& dir, SteadyClock) -> std::unique_ptr<ports::StateStore> { return open_redis(dir); },
          false};
}

// The pool options for a test's own schema, or nullopt without PostgreSQL.
std::optional<postgres::PgPoolOptions> postgres_options(const std::string& dir) {
  const std::string url = env("PARLEY_TEST_POSTGRES");
  if (url.empty()) return std::nullopt;
  postgres::PgPoolOptions options;
  options.conninfo = url;
  options.schema = namespace_of(dir);
  options.size = 4;
  return options;
}

DirectoryFactory postgres_directory() {
  return {"Postgres", [](const std::string& dir) -> std::unique_ptr<ports::Directory> {
            auto options = postgres_options(dir);
            if (!options) return nullptr;
            return or_throw(postgres::PostgresDirectory::open(*options), "PostgreSQL");
          }};
}

RoomsFactory postgres_rooms() {
  return {"Postgres", [](const std::string& dir) -> std::unique_ptr<ports::Rooms> {
            auto options = postgres_options(dir);
            if (!options) return nullptr;
            return or_throw(postgres::PostgresRooms::open(*options), "PostgreSQL");
          }};
}

PushTokensFactory postgres_push_tokens() {
  return {"Postgres", [](const std::string& dir) -> std::unique_ptr<ports::PushTokens> {
            auto options = postgres_options(dir);
            if (!options) return nullptr;
            return or_throw(postgres::PostgresPushTokens::open(*options), "PostgreSQL");
          }};
}

SocialGraphFactory postgres_social_graph() {
  return {"Postgres", [](const std::string& dir) -> std::unique_ptr<ports::SocialGraph> {
            auto options = postgres_options(dir);
            if (!options) return nullptr;
            return or_throw(postgres::PostgresSocialGraph::open(*options), "PostgreSQL");
          }};
}

PushLedgerFactory postgres_push_ledger() {
  return {"Postgres", [](const std::string& dir) -> std::unique_ptr<ports::PushLedger> {
            auto options = postgres_options(dir);
            if (!options) return nullptr;
            return or_throw(postgres::PostgresPushLedger::open(*options), "PostgreSQL");
          }};
}

SearchIndexFactory postgres_search_index() {
  return {"Postgres", [](const std::string& dir) -> std::unique_ptr<ports::SearchIndex> {
            auto options = postgres_options(dir);
            if (!options) return nullptr;
            return or_throw(postgres::PostgresSearchIndex::open(*options), "PostgreSQL");
          }};
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Real, SearchIndexContract, ::testing::Values(postgres_search_index()), FactoryName{});
INSTANTIATE_TEST_SUITE_P(Real, PushLedgerContract, ::testing::Values(postgres_push_ledger()), FactoryName{});
INSTANTIATE_TEST_SUITE_P(Real, SocialGraphContract, ::testing::Values(postgres_social_graph()), FactoryName{});
INSTANTIATE_TEST_SUITE_P(Real, PushTokensContract, ::testing::Values(postgres_push_tokens()), FactoryName{});
INSTANTIATE_TEST_SUITE_P(Real, RoomsContract, ::testing::Values(postgres_rooms()), FactoryName{});
INSTANTIATE_TEST_SUITE_P(Real, DirectoryContract, ::testing::Values(postgres_directory()), FactoryName{});
INSTANTIATE_TEST_SUITE_P(Real, MessageLogContract, ::testing::Values(kafka_log()), FactoryName{});
INSTANTIATE_TEST_SUITE_P(Real, StateStoreContract, ::testing::Values(redis_state()), FactoryName{});

// A second member joining a group takes over some partitions, each at its
// committed offset; the first member's records of those partitions after
// the rebalance are not its own any more, nor are their commits.
TEST(KafkaLog, ARebalanceHandsPartitionsOverAtTheirCommittedOffsets) {
  TempDir dir;
  auto log = kafka_log().make(dir.sub("engine"));
  if (!log) GTEST_SKIP() << "PARLEY_TEST_KAFKA is not set";
  const std::string topic = dir.unique("rebalance");
  std::map<int, std::uint64_t> count;  // partition -> records in it
  for (int i = 0; i < 40; ++i) {
    const std::string key = "k" + std::to_string(i);
    append_ok(*log, topic, key, std::to_string(i));
    ++count[log->partition_for(topic, key)];
  }
  ASSERT_GT(count.size(), 1U);

  std::map<int, std::uint64_t> committed;  // partition -> next offset committed
  auto first = log->subscribe(topic, "g");
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(read_exactly(**first, 40).size(), 40U);
  for (const auto& [partition, n] : count) {
    committed[partition] = n / 2;
    ASSERT_TRUE((*first)->commit(partition, n / 2).ok());
  }

  auto second = log->subscribe(topic, "g");
  ASSERT_TRUE(second.ok());
  // Both members poll (a member takes part in a rebalance through its
  // polls) until the uncommitted tails have been read again.
  std::map<int, std::vector<std::uint64_t>> by_first;
  std::map<int, std::vector<std::uint64_t>> by_second;
  auto second_done = [&] {
    if (by_second.empty()) return false;
    for (const auto& [partition, offsets] : by_second) {
      if (offsets.back() + 1 < count[partition]) return false;
    }
    return true;
  };
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (!second_done() && std::chrono::steady_clock::now() < deadline) {
    for (auto* member : {&first, &second}) {
      auto batch = (**member)->poll(std::chrono::milliseconds(100), 1000);
      ASSERT_TRUE(batch.ok());
      for (const auto& r : *batch) (member == &first ? by_first : by_second)[r.partition].push_back(r.offset);
    }
  }
  ASSERT_FALSE(by_second.empty()) << "the second member never got a partition";
  for (const auto& [partition, offsets] : by_second) {
    // Never read by both after the rebalance.
    EXPECT_FALSE(by_first.contains(partition)) << "partition " << partition;
    // The new owner starts where the group committed and reads each once.
    ASSERT_FALSE(offsets.empty());
    EXPECT_EQ(offsets.front(), committed[partition]) << "partition " << partition;
    EXPECT_EQ(offsets.size(), count[partition] - committed[partition]) << "partition " << partition;
    // The first member may not commit a partition it gave away.
    auto refused = (*first)->commit(partition, count[partition]);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, ErrorCode::unavailable);
    EXPECT_TRUE((*second)->commit(partition, count[partition]).ok());
  }
}

// Redis keeps its own time, so the contract's expiry tests (which move a
// test clock) skip it; these check the same rules on Redis's clock with
// short TTLs, polling until the expiry shows (bounded).
template <class Done>
bool eventually(Done done) {
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a poll interval, not synchronisation
  }
  return true;
}

TEST(RedisStateStore, ExpiredDevicesTakeTheirUserOfflineOnce) {
  TempDir dir;
  auto store = open_redis(dir.sub("engine"));
  if (!store) GTEST_SKIP() << "PARLEY_TEST_REDIS is not set";
  const UserId user{(std::hash<std::string>{}(dir.path()) & 0xFFFFFFFFULL) * 1000 + 1};
  ASSERT_TRUE(store->touch_device(user, "phone", std::chrono::milliseconds(200), 1000).ok());
  ASSERT_TRUE(store->touch_device(user, "laptop", std::chrono::milliseconds(200), 1500).ok());
  std::vector<UserId> offline;
  EXPECT_TRUE(eventually([&] {
    auto expired = store->expire_devices(100);
    if (expired) offline.insert(offline.end(), expired->begin(), expired->end());
    return !offline.empty();
  }));
  EXPECT_EQ(offline, std::vector<UserId>{user});
  EXPECT_TRUE(store->expire_devices(100)->empty());  // reported once
  // last_seen is the last sign of life, not the moment of the sweep.
  EXPECT_EQ(*store->presence(user), (ports::PresenceState{ports::PresenceStatus::offline, 1500}));
}

// Two stores on one Redis are two servers: what one publishes reaches the
// other's subscribers once, and its own subscribers once (not again through
// Redis).
TEST(RedisStateStore, PublishReachesOtherServersAndOwnSubscribersOnce) {
  TempDir dir;
  auto a = open_redis(dir.sub("engine"));
  if (!a) GTEST_SKIP() << "PARLEY_TEST_REDIS is not set";
  auto b = open_redis(dir.sub("engine"));
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> at_a;
  std::vector<std::string> at_b;
  auto collect = [&](std::vector<std::string>& into) {
    return [&mu, &cv, &into](std::string_view payload) {
      std::lock_guard lock(mu);
      into.emplace_back(payload);
      cv.notify_all();
    };
  };
  auto sub_a = a->subscribe("server-x", collect(at_a));
  auto sub_b = b->subscribe("server-x", collect(at_b));
  ASSERT_TRUE(sub_a.ok() && sub_b.ok());
  ASSERT_TRUE(a->publish("server-x", "one").ok());
  ASSERT_TRUE(b->publish("server-x", "two").ok());
  // A marker published last by each side: once both arrived everywhere,
  // any duplicate of the earlier ones would have arrived too (one
  // connection per publisher keeps its order).
  ASSERT_TRUE(a->publish("server-x", "end-a").ok());
  ASSERT_TRUE(b->publish("server-x", "end-b").ok());
  std::unique_lock lock(mu);
  auto has_ends = [](const std::vector<std::string>& v) {
    return std::count(v.begin(), v.end(), "end-a") == 1 && std::count(v.begin(), v.end(), "end-b") == 1;
  };
  ASSERT_TRUE(cv.wait_for(lock, kPatience, [&] { return has_ends(at_a) && has_ends(at_b); }));
  for (const auto* seen : {&at_a, &at_b}) {
    EXPECT_EQ(std::count(seen->begin(), seen->end(), "one"), 1);
    EXPECT_EQ(std::count(seen->begin(), seen->end(), "two"), 1);
    EXPECT_EQ(seen->size(), 4U);
  }
}

}  // namespace parley::contract
