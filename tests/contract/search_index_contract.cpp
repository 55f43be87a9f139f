// The SearchIndex contract: matching, scoping to conversations, order,
// idempotent indexing, persistence.

#include <random>

#include "contracts.hpp"

namespace parley::contract {
namespace {

std::string conversation(std::string_view tag) {
  static std::mt19937_64 rng{std::random_device{}()};
  return "g:" + std::to_string((rng() >> 16) + 1) + "-" + std::string(tag);
}

Message message(const std::string& conv, std::uint64_t id, std::string body) {
  return Message{MessageId{id},           conv, UserId{1}, Recipient{Recipient::Kind::group, 1}, std::move(body), 1000,
                 "c" + std::to_string(id)};
}

std::vector<std::uint64_t> ids(const Result<std::vector<Message>>& r) {
  std::vector<std::uint64_t> out;
  for (const auto& m : r.value()) out.push_back(m.id.value);
  return out;
}

TEST_P(SearchIndexContract, AUsersOneToOneConversationsAreInScopeByTheirIds) {
  static std::mt19937_64 rng{std::random_device{}()};
  const std::uint64_t u = (rng() >> 28) + 1000;  // random: the index may outlive a run
  const std::uint64_t id = (rng() >> 12) + 1;
  auto direct = [](std::uint64_t a, std::uint64_t b) { return "d:" + std::to_string(a) + ":" + std::to_string(b); };
  const std::string group = conversation("g");
  const std::vector<Message> messages = {
      message(direct(u, u + 1), id, "kumquat as the lower id"),
      message(direct(u - 1, u), id + 1, "kumquat as the higher id"),
      message(direct(u * 10, u * 10 + 1), id + 2, "kumquat: starts with the same digits"),
      message(direct(1, 10 * u + u % 10), id + 3, "kumquat: ends with the same digits"),
      message(direct(1, std::stoull("1" + std::to_string(u))), id + 4, "kumquat: ends with the id itself"),
      message(group, id + 5, "kumquat in a group"),
  };
  ASSERT_TRUE(port_->index(messages).ok());
  const std::vector<std::string> none, in_group{group};
  EXPECT_EQ(ids(port_->search("kumquat", ports::SearchIndex::Scope{none, UserId{u}}, 10)),
            (std::vector<std::uint64_t>{id + 1, id}));
  EXPECT_EQ(ids(port_->search("kumquat", ports::SearchIndex::Scope{in_group, UserId{u}}, 10)),
            (std::vector<std::uint64_t>{id + 5, id + 1, id}));
  EXPECT_TRUE(port_->search("kumquat", ports::SearchIndex::Scope{none, UserId{}}, 10)->empty());
}

TEST_P(SearchIndexContract, FindsWordsInTheGivenConversationsNewestFirst) {
  const std::string a = conversation("a"), b = conversation("b");
  const std::vector<Message> messages = {message(a, 10, "Hello World"), message(a, 12, "hello again, world!"),
                                         message(b, 11, "hello from b"), message(a, 13, "goodbye")};
  ASSERT_TRUE(port_->index(messages).ok());
  const std::vector<std::string> only_a{a}, both{a, b};
  EXPECT_EQ(ids(port_->search("hello", only_a, 10)), (std::vector<std::uint64_t>{12, 10}));
  EXPECT_EQ(ids(port_->search("HELLO", both, 10)), (std::vector<std::uint64_t>{12, 11, 10}));
  EXPECT_EQ(ids(port_->search("hello world", both, 10)), (std::vector<std::uint64_t>{12, 10}));
  EXPECT_EQ(ids(port_->search("good*", both, 10)), (std::vector<std::uint64_t>{13}));
  EXPECT_EQ(ids(port_->search("hello", both, 1)), (std::vector<std::uint64_t>{12}));
  EXPECT_TRUE(port_->search("hello", std::vector<std::string>{}, 10)->empty());
  EXPECT_TRUE(port_->search("  ", both, 10)->empty());
  EXPECT_TRUE(port_->search("\"hello\" OR world", std::vector<std::string>{conversation("c")}, 10)->empty());
  auto found = port_->search("goodbye", both, 10);
  ASSERT_EQ(found->size(), 1U);
  EXPECT_EQ(found->front(), messages[3]);  // the whole message comes back
}

TEST_P(SearchIndexContract, RemovedMessagesAreNotFoundAgain) {
  const std::string a = conversation("a");
  const std::vector<Message> messages = {message(a, 21, "quince one"), message(a, 22, "quince two"),
                                         message(a, 23, "quince three")};
  ASSERT_TRUE(port_->index(messages).ok());
  const std::vector<MessageId> gone{MessageId{21}, MessageId{23}, MessageId{999}};  // 999: never indexed
  ASSERT_TRUE(port_->remove(gone).ok());
  EXPECT_EQ(ids(port_->search("quince", std::vector<std::string>{a}, 10)), (std::vector<std::uint64_t>{22}));
  ASSERT_TRUE(port_->remove(gone).ok());  // again: nothing to do
  restart();
  EXPECT_EQ(ids(port_->search("quince", std::vector<std::string>{a}, 10)), (std::vector<std::uint64_t>{22}));
}

TEST_P(SearchIndexContract, IndexingTwiceKeepsOneEntryAndSurvivesARestart) {
  const std::string a = conversation("a");
  const std::vector<Message> messages = {message(a, 7, "replayed words")};
  ASSERT_TRUE(port_->index(messages).ok());
  ASSERT_TRUE(port_->index(messages).ok());
  restart();
  EXPECT_EQ(ids(port_->search("replayed", std::vector<std::string>{a}, 10)), (std::vector<std::uint64_t>{7}));
}

// Words are cut at punctuation, ASCII or not, and at emoji: no engine reads
// a host name, an address or a decimal as one word.
TEST_P(SearchIndexContract, WordsJoinedByPunctuationAreFoundOneByOne) {
  const std::string a = conversation("a");
  ASSERT_TRUE(
      port_->index(std::vector{message(a, 20, "see example.com, mail bob@mail.org; v1.5 is well-known—«quoted» x😀y")})
          .ok());
  const std::vector<std::string> in{a};
  for (const char* word : {"example", "com", "bob", "org", "v1", "5", "known", "well", "quoted", "x", "y"}) {
    EXPECT_EQ(ids(port_->search(word, in, 10)), (std::vector<std::uint64_t>{20})) << word;
  }
}

TEST_P(SearchIndexContract, CaseDoesNotMatterBeyondAscii) {
  const std::string a = conversation("a");
  ASSERT_TRUE(port_->index(std::vector{message(a, 21, "ÉCOLE Καλημέρα")}).ok());
  const std::vector<std::string> in{a};
  EXPECT_EQ(ids(port_->search("école", in, 10)), (std::vector<std::uint64_t>{21}));
  EXPECT_EQ(ids(port_->search("καλ*", in, 10)), (std::vector<std::uint64_t>{21}));
}

// Whatever bytes a body holds, indexing it succeeds (the sequencer retries
// a failed batch until it does) and the message comes back whole.
TEST_P(SearchIndexContract, AnyBodyCanBeIndexed) {
  const std::string a = conversation("a");
  static constexpr char kBody[] = "alpha\0beta \xFF\xFE gamma";
  const Message odd = message(a, 22, std::string(kBody, sizeof kBody - 1));
  ASSERT_TRUE(port_->index(std::vector{odd}).ok());
  auto found = port_->search("gamma", std::vector<std::string>{a}, 10);
  ASSERT_TRUE(found.ok()) << found.error().message;
  ASSERT_EQ(found->size(), 1U);
  EXPECT_EQ(found->front(), odd);
}

}  // namespace
}  // namespace parley::contract
