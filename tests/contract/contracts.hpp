#pragma once
// The contract suites, one per port. Each is a parameterized fixture over a
// factory that builds the port on a fresh directory; an engine joins a suite
// with one line, e.g.
//
//   INSTANTIATE_TEST_SUITE_P(Kafka, MessageLogContract,
//                            ::testing::Values(MessageLogFactory{"kafka", make_kafka_log}), factory_name);
//
// A factory may be called again with the same directory within a test: that
// is a restart, and whatever the port keeps durably must still be there.
// Factories return nullptr when their engine cannot be reached; the test is
// then skipped. Tests name their topics, users and conversations with
// TempDir::unique so that engines shared between tests keep them apart.

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "ports/directory.hpp"
#include "ports/message_log.hpp"
#include "ports/message_store.hpp"
#include "ports/rooms.hpp"
#include "ports/search_index.hpp"
#include "ports/social_graph.hpp"
#include "ports/state_store.hpp"
#include "temp_dir.hpp"

namespace parley::contract {

struct MessageLogFactory {
  std::string name;
  std::function<std::unique_ptr<ports::MessageLog>(const std::string& dir)> make;
};

struct MessageStoreFactory {
  std::string name;
  std::function<std::unique_ptr<ports::MessageStore>(const std::string& dir)> make;
};

using SteadyClock = std::function<std::chrono::steady_clock::time_point()>;

struct StateStoreFactory {
  std::string name;
  std::function<std::unique_ptr<ports::StateStore>(const std::string& dir, SteadyClock clock)> make;
  // Whether the store measures presence TTLs with the clock it is given (an
  // in-process store can; Redis keeps its own time, so the expiry test is
  // skipped for it).
  bool honours_clock = true;
};

struct DirectoryFactory {
  std::string name;
  std::function<std::unique_ptr<ports::Directory>(const std::string& dir)> make;
};

struct SocialGraphFactory {
  std::string name;
  std::function<std::unique_ptr<ports::SocialGraph>(const std::string& dir)> make;
};

struct SearchIndexFactory {
  std::string name;
  std::function<std::unique_ptr<ports::SearchIndex>(const std::string& dir)> make;
};

struct RoomsFactory {
  std::string name;
  std::function<std::unique_ptr<ports::Rooms>(const std::string& dir)> make;
};

// Names an instantiation after its factory, for readable test names.
struct FactoryName {
  template <class Factory>
  std::string operator()(const ::testing::TestParamInfo<Factory>& info) const {
    return info.param.name;
  }
};

// Each fixture owns the temp directory and builds the port through the
// factory, skipping the test when the engine is not there.
template <class Factory, class Port>
class ContractTest : public ::testing::TestWithParam<Factory> {
 protected:
  void SetUp() override {
    port_ = make();
    if (!port_) GTEST_SKIP() << this->GetParam().name << " is not available";
  }

  // A new instance of the port on this test's directory (a restart when one
  // was made before).
  std::unique_ptr<Port> make() { return this->GetParam().make(dir_.sub("engine")); }

  // Closes the port and opens it again on the same directory.
  void restart() {
    port_.reset();
    port_ = make();
    ASSERT_NE(port_, nullptr);
  }

  TempDir dir_;
  std::unique_ptr<Port> port_;
};

class MessageLogContract : public ContractTest<MessageLogFactory, ports::MessageLog> {};
class MessageStoreContract : public ContractTest<MessageStoreFactory, ports::MessageStore> {};
class DirectoryContract : public ContractTest<DirectoryFactory, ports::Directory> {};
class SocialGraphContract : public ContractTest<SocialGraphFactory, ports::SocialGraph> {};
class RoomsContract : public ContractTest<RoomsFactory, ports::Rooms> {};
class SearchIndexContract : public ContractTest<SearchIndexFactory, ports::SearchIndex> {};

// A clock the test moves by hand.
class ManualClock {
 public:
  [[nodiscard]] SteadyClock function() {
    return [this] { return now_; };
  }
  void advance(std::chrono::milliseconds d) { now_ += d; }

 private:
  std::chrono::steady_clock::time_point now_{std::chrono::hours(1000)};
};

class StateStoreContract : public ::testing::TestWithParam<StateStoreFactory> {
 protected:
  void SetUp() override {
    store_ = GetParam().make(dir_.sub("engine"), clock_.function());
    if (!store_) GTEST_SKIP() << GetParam().name << " is not available";
  }

  TempDir dir_;
  ManualClock clock_;  // declared before store_, which holds its function
  std::unique_ptr<ports::StateStore> store_;
};

}  // namespace parley::contract
