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

#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <string>

#include "adapters/kafka/kafka_log.hpp"
#include "contracts.hpp"

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

}  // namespace

INSTANTIATE_TEST_SUITE_P(Real, MessageLogContract, ::testing::Values(kafka_log()), FactoryName{});

}  // namespace parley::contract
