// What RocksSequencerState adds to the port's contract (which
// sequencer_state_contract.cpp checks): its memory of a bounded number of
// conversations' last ids answers exactly as the database does, whichever
// conversations it holds, before and after a restart.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "adapters/embedded/rocks_sequencer_state.hpp"
#include "temp_dir.hpp"

namespace parley::contract {
namespace {

Message sent(std::string conversation, std::uint64_t id, std::string client_msg_id) {
  Message m;
  m.id = MessageId{id};
  m.conversation = std::move(conversation);
  m.from = UserId{7};
  m.to = Recipient{Recipient::Kind::user, 8};
  m.body = "hi";
  m.client_msg_id = std::move(client_msg_id);
  return m;
}

std::unique_ptr<embedded::RocksSequencerState> open_state(const TempDir& dir, std::size_t cached) {
  auto state = embedded::RocksSequencerState::open(dir.sub("sequencer"), cached);
  if (!state) {
    ADD_FAILURE() << state.error().message;
    return nullptr;
  }
  return std::move(state).value();
}

// A memory of one conversation: the others are read back from the database,
// and every answer must be the same as with all of them in memory.
TEST(RocksSequencerState, LastIdsNeverGoDownInMemoryOrOnDisk) {
  TempDir dir;
  {
    auto state = open_state(dir, 1);
    ASSERT_NE(state, nullptr);
    ASSERT_TRUE(state->apply(0, std::vector{sent("a", 100, "1"), sent("b", 50, "2")}, 2).ok());
    EXPECT_EQ(state->last_message_id("a")->value, 100U);
    EXPECT_EQ(state->last_message_id("b")->value, 50U);  // evicts "a" from memory
    // Older ids applied again (a replay of the changelog): nothing goes down.
    ASSERT_TRUE(state->apply(0, std::vector{sent("a", 90, "0"), sent("b", 40, "0")}, 2).ok());
    EXPECT_EQ(state->last_message_id("a")->value, 100U);
    EXPECT_EQ(state->last_message_id("b")->value, 50U);
    ASSERT_TRUE(state->apply(0, std::vector{sent("a", 120, "3"), sent("a", 110, "4")}, 4).ok());
    EXPECT_EQ(state->last_message_id("a")->value, 120U);
    EXPECT_EQ(state->last_message_id("c")->value, 0U);
    EXPECT_EQ(state->applied(0).value(), 4U);
    EXPECT_EQ(state->applied(1).value(), 0U);
  }
  // A restart starts with nothing in memory: the database says the same.
  auto state = open_state(dir, 1000);
  ASSERT_NE(state, nullptr);
  EXPECT_EQ(state->last_message_id("a")->value, 120U);
  EXPECT_EQ(state->last_message_id("b")->value, 50U);
  EXPECT_EQ(state->applied(0).value(), 4U);
  auto first = state->find_sent("a", UserId{7}, "3");
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->id.value, 120U);
}

}  // namespace
}  // namespace parley::contract
