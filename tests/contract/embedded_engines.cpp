// The embedded engines joined to every contract suite, under both
// durability policies where they have one.

#include <stdexcept>

#include "adapters/embedded/file_log.hpp"
#include "adapters/embedded/memory_state_store.hpp"
#include "adapters/embedded/rocks_directory.hpp"
#include "adapters/embedded/rocks_message_store.hpp"
#include "adapters/embedded/rocks_push_ledger.hpp"
#include "adapters/embedded/rocks_push_tokens.hpp"
#include "adapters/embedded/rocks_rooms.hpp"
#include "adapters/embedded/rocks_sequencer_state.hpp"
#include "adapters/embedded/rocks_social_graph.hpp"
#include "adapters/embedded/sqlite_search_index.hpp"
#include "contracts.hpp"
#include "push_ledger_contract.hpp"
#include "push_tokens_contract.hpp"
#include "sequencer_state_contract.hpp"

namespace parley::contract {
namespace {

// The embedded engines are always there: failing to open one fails the test
// (gtest reports the exception) instead of skipping it.
template <class T>
std::unique_ptr<T> or_throw(Result<std::unique_ptr<T>> result) {
  if (!result) throw std::runtime_error("opening an embedded engine failed: " + result.error().message);
  return std::move(result).value();
}

MessageLogFactory log_factory(std::string name, embedded::Durability durability) {
  return {std::move(name), [durability](const std::string& dir) -> std::unique_ptr<ports::MessageLog> {
            embedded::LogOptions options;
            options.path = dir;
            options.durability = durability;
            return or_throw(embedded::FileLog::open(options));
          }};
}

MessageStoreFactory store_factory(std::string name, embedded::Durability durability) {
  return {std::move(name), [durability](const std::string& dir) -> std::unique_ptr<ports::MessageStore> {
            return or_throw(embedded::RocksMessageStore::open(dir, durability));
          }};
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Embedded, MessageLogContract,
                         ::testing::Values(log_factory("FileLogFsync", embedded::Durability::fsync),
                                           log_factory("FileLogOs", embedded::Durability::os)),
                         FactoryName{});

INSTANTIATE_TEST_SUITE_P(Embedded, MessageStoreContract,
                         ::testing::Values(store_factory("RocksMessageStoreFsync", embedded::Durability::fsync),
                                           store_factory("RocksMessageStoreOs", embedded::Durability::os)),
                         FactoryName{});

INSTANTIATE_TEST_SUITE_P(Embedded, StateStoreContract,
                         ::testing::Values(StateStoreFactory{
                             "MemoryStateStore",
                             [](const std::string&, SteadyClock clock) -> std::unique_ptr<ports::StateStore> {
                               return std::make_unique<embedded::MemoryStateStore>(std::move(clock));
                             },
                             true}),
                         FactoryName{});

INSTANTIATE_TEST_SUITE_P(Embedded, PushTokensContract,
                         ::testing::Values(PushTokensFactory{
                             "RocksPushTokens",
                             [](const std::string& dir) -> std::unique_ptr<ports::PushTokens> {
                               return or_throw(embedded::RocksPushTokens::open(dir));
                             }}),
                         FactoryName{});

INSTANTIATE_TEST_SUITE_P(Embedded, PushLedgerContract,
                         ::testing::Values(PushLedgerFactory{
                             "RocksPushLedger",
                             [](const std::string& dir) -> std::unique_ptr<ports::PushLedger> {
                               return or_throw(embedded::RocksPushLedger::open(dir, embedded::Durability::fsync));
                             }}),
                         FactoryName{});

INSTANTIATE_TEST_SUITE_P(Embedded, DirectoryContract,
                         ::testing::Values(DirectoryFactory{
                             "RocksDirectory",
                             [](const std::string& dir) -> std::unique_ptr<ports::Directory> {
                               return or_throw(embedded::RocksDirectory::open(dir));
                             }}),
                         FactoryName{});

INSTANTIATE_TEST_SUITE_P(Embedded, SocialGraphContract,
                         ::testing::Values(SocialGraphFactory{
                             "RocksSocialGraph",
                             [](const std::string& dir) -> std::unique_ptr<ports::SocialGraph> {
                               return or_throw(embedded::RocksSocialGraph::open(dir));
                             }}),
                         FactoryName{});

INSTANTIATE_TEST_SUITE_P(Embedded, RoomsContract,
                         ::testing::Values(RoomsFactory{"rocksdb",
                                                        [](const std::string& dir) -> std::unique_ptr<ports::Rooms> {
                                                          return or_throw(embedded::RocksRooms::open(dir));
                                                        }}),
                         FactoryName{});

INSTANTIATE_TEST_SUITE_P(Embedded, SearchIndexContract,
                         ::testing::Values(SearchIndexFactory{
                             "sqlite",
                             [](const std::string& dir) -> std::unique_ptr<ports::SearchIndex> {
                               return or_throw(embedded::SqliteSearchIndex::open(dir + ".sqlite"));
                             }}),
                         FactoryName{});

// The sequencer's own state: local to each server whatever the engine set
// (rebuilt from the changelog), so RocksDB is its one engine.
INSTANTIATE_TEST_SUITE_P(Embedded, SequencerStateContract,
                         ::testing::Values(SequencerStateFactory{
                             "RocksSequencerState",
                             [](const std::string& dir) -> std::unique_ptr<ports::SequencerState> {
                               return or_throw(embedded::RocksSequencerState::open(dir));
                             }}),
                         FactoryName{});

}  // namespace parley::contract
