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
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>

#include "adapters/kafka/kafka_log.hpp"
#include "adapters/postgres/postgres_directory.hpp"
#include "adapters/redis/redis_state_store.hpp"
#include "contracts.hpp"
#include "log_helpers.hpp"

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

}  // namespace

INSTANTIATE_TEST_SUITE_P(Real, DirectoryContract, ::testing::Values(postgres_directory()), FactoryName{});
INSTANTIATE_TEST_SUITE_P(Real, MessageLogContract, ::testing::Values(kafka_log()), FactoryName{});
INSTANTIATE_TEST_SUITE_P(Real, StateStoreContract, ::testing::Values(redis_state()), FactoryName{});

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
