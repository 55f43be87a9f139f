// log-append-bench: how long a pipeline step waits for its appends. Times
// one step's batch (30 records of 200 bytes over the topic's partitions)
// from the first append until every record is acknowledged, made as the
// connections make theirs (append(), one at a time) and as the steps make
// theirs (append_many()), on a Kafka broker: median and p90 of 300 batches
// each, after 20 unmeasured ones.
//   log-append-bench BROKERS     e.g. 127.0.0.1:19092 (scripts/engines start kafka)
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include "adapters/kafka/kafka_log.hpp"

namespace {

using namespace parley;

constexpr int kBatches = 320;
constexpr int kWarmup = 20;
constexpr int kRecords = 30;

void measure(ports::MessageLog& log, bool many) {
  std::vector<double> ms;
  for (int b = 0; b < kBatches; ++b) {
    std::mutex mu;
    std::condition_variable cv;
    int left = kRecords;
    auto done = [&](const Result<std::uint64_t>& r) {
      if (!r) std::fprintf(stderr, "append failed: %s\n", r.error().message.c_str());
      std::lock_guard lock(mu);
      if (--left == 0) cv.notify_one();
    };
    const auto began = std::chrono::steady_clock::now();
    std::vector<ports::MessageLog::Record> records;
    for (int i = 0; i < kRecords; ++i) {
      std::string key = "key-" + std::to_string(i);
      if (many) {
        records.push_back({std::move(key), std::string(200, 'x'), done});
      } else {
        log.append("t", std::move(key), std::string(200, 'x'), done);
      }
    }
    if (many) log.append_many("t", std::move(records));
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return left == 0; });
    if (b >= kWarmup) {
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - began).count());
    }
  }
  std::sort(ms.begin(), ms.end());
  std::printf("%-14s median %6.2f ms   p90 %6.2f ms\n", many ? "append_many()" : "append()", ms[ms.size() / 2],
              ms[ms.size() * 9 / 10]);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: log-append-bench BROKERS\n");
    return 2;
  }
  kafka::KafkaOptions options;
  options.brokers = argv[1];
  // A topic of its own each run.
  options.prefix =
      "log-append-bench." + std::to_string(std::chrono::system_clock::now().time_since_epoch().count()) + ".";
  auto log = kafka::KafkaLog::open(options, {"t"});
  if (!log) {
    std::fprintf(stderr, "log-append-bench: %s\n", log.error().message.c_str());
    return 1;
  }
  for (int round = 0; round < 2; ++round) {
    measure(**log, false);
    measure(**log, true);
  }
  return 0;
}
