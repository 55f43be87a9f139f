#pragma once
// Helpers for tests of the MessageLog port: appends that can be waited on and
// reading a known number of records back. No sleeps: waits are on futures or
// on poll(), which returns as soon as records are there.

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "ports/message_log.hpp"

namespace parley::contract {

// Generous: only reached when something is broken.
inline constexpr std::chrono::seconds kPatience{30};

inline std::future<Result<std::uint64_t>> append_async(ports::MessageLog& log, std::string_view topic, std::string key,
                                                       std::string value) {
  auto promise = std::make_shared<std::promise<Result<std::uint64_t>>>();
  auto future = promise->get_future();
  log.append(topic, std::move(key), std::move(value),
             [promise](Result<std::uint64_t> offset) { promise->set_value(std::move(offset)); });
  return future;
}

// append_many() of `values` under one key; a future for each.
inline std::vector<std::future<Result<std::uint64_t>>> append_many_async(ports::MessageLog& log, std::string_view topic,
                                                                         const std::string& key,
                                                                         const std::vector<std::string>& values) {
  std::vector<std::future<Result<std::uint64_t>>> futures;
  std::vector<ports::MessageLog::Record> records;
  for (const auto& v : values) {
    auto promise = std::make_shared<std::promise<Result<std::uint64_t>>>();
    futures.push_back(promise->get_future());
    records.push_back({key, v, [promise](Result<std::uint64_t> offset) { promise->set_value(std::move(offset)); }});
  }
  log.append_many(topic, std::move(records));
  return futures;
}

// Waits for an acknowledgement; a failure is recorded and returns max().
inline std::uint64_t await_offset(std::future<Result<std::uint64_t>>& future) {
  if (future.wait_for(kPatience) != std::future_status::ready) {
    ADD_FAILURE() << "append was not acknowledged";
    return std::numeric_limits<std::uint64_t>::max();
  }
  auto result = future.get();
  if (!result) {
    ADD_FAILURE() << "append failed: " << result.error().message;
    return std::numeric_limits<std::uint64_t>::max();
  }
  return *result;
}

inline std::uint64_t append_ok(ports::MessageLog& log, std::string_view topic, std::string key, std::string value) {
  auto future = append_async(log, topic, std::move(key), std::move(value));
  return await_offset(future);
}

// Polls until `count` records came back, then checks that no more are there.
inline std::vector<ports::LogRecord> read_exactly(ports::LogConsumer& consumer, std::size_t count) {
  std::vector<ports::LogRecord> out;
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
    auto batch = consumer.poll(std::chrono::seconds(1), 1000);
    if (!batch) {
      ADD_FAILURE() << "poll failed: " << batch.error().message;
      return out;
    }
    for (auto& r : *batch) out.push_back(std::move(r));
  }
  auto extra = consumer.poll(std::chrono::milliseconds(0), 1000);
  EXPECT_TRUE(extra.ok());
  if (extra) {
    for (auto& r : *extra) out.push_back(std::move(r));
  }
  EXPECT_EQ(out.size(), count);
  return out;
}

}  // namespace parley::contract
