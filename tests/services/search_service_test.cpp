// SearchService against the embedded engines (SQLite FTS5 and RocksDB):
// a user finds the messages of their own 1:1 conversations and of the
// groups and channels they are in now, and never another conversation's,
// whether searching everywhere or naming it.

#include "services/search_service.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "adapters/embedded/sqlite_search_index.hpp"
#include "service_fixture.hpp"

namespace parley::services {
namespace {

using testkit::Engines;
using testkit::must;

class SearchServiceTest : public ::testing::Test {
 protected:
  SearchServiceTest() {
    alice_ = engines_.user("alice");
    bob_ = engines_.user("bob");
    carol_ = engines_.user("carol");
    engines_.befriend(alice_, bob_);
    group_ = access_.create_group(alice_, "pair", {bob_}).value().ref;
    channel_ = access_.create_channel(carol_, "news", ports::PostPolicy::everyone, ports::Access::open).value().ref;

    index(alice_, {Recipient::Kind::user, bob_.value}, 10, "secret plans for alice and bob");
    index(bob_, {Recipient::Kind::user, carol_.value}, 20, "secret plans for bob and carol");
    index(bob_, {Recipient::Kind::group, group_.id}, 30, "secret plans in the group");
    index(carol_, {Recipient::Kind::channel, channel_.id}, 40, "secret plans in the channel");
  }

  void index(UserId from, Recipient to, std::uint64_t id, std::string body) {
    Message m;
    m.id = MessageId{id};
    m.conversation = to_string(conversation_of(from, to));
    m.from = from;
    m.to = to;
    m.body = std::move(body);
    m.sent_at = static_cast<TimeMs>(id);
    ASSERT_TRUE(index_->index(std::vector{m}).ok());
  }

  // The ids a search finds, in the order found.
  std::vector<std::uint64_t> found(UserId user, std::string_view query,
                                   const std::optional<std::string>& conversation = std::nullopt) {
    auto r = search_.search(user, query, conversation, 50);
    EXPECT_TRUE(r.ok()) << r.error().message;
    std::vector<std::uint64_t> ids;
    if (r) {
      for (const auto& m : r.value()) ids.push_back(m.id.value);
    }
    return ids;
  }

  Engines engines_{"parley-search"};
  std::unique_ptr<embedded::SqliteSearchIndex> index_ =
      must(embedded::SqliteSearchIndex::open(engines_.sub("search.sqlite")));
  RoomsService access_{*engines_.rooms, *engines_.directory, *engines_.social, {}};
  SearchService search_{*index_, *engines_.rooms, access_};
  UserId alice_, bob_, carol_;
  ports::RoomRef group_;
  ports::RoomRef channel_;
};

TEST_F(SearchServiceTest, AUserFindsTheirOwnConversationsAndNoOthers) {
  EXPECT_EQ(found(alice_, "secret"), (std::vector<std::uint64_t>{30, 10}));  // newest first
  EXPECT_EQ(found(bob_, "secret"), (std::vector<std::uint64_t>{30, 20, 10}));
  EXPECT_EQ(found(carol_, "secret"), (std::vector<std::uint64_t>{40, 20}));
  EXPECT_TRUE(found(alice_, "carol").empty());  // the words of bob and carol's 1:1, not hers to find
}

TEST_F(SearchServiceTest, AChannelIsSearchableWhileAMemberAndAGroupNoLongerOnceLeft) {
  ASSERT_TRUE(access_.add(alice_, channel_, alice_).ok());
  EXPECT_EQ(found(alice_, "channel"), (std::vector<std::uint64_t>{40}));
  ASSERT_TRUE(access_.remove(bob_, group_, bob_).ok());
  EXPECT_TRUE(found(bob_, "group").empty());
  EXPECT_EQ(found(bob_, "secret"), (std::vector<std::uint64_t>{20, 10}));
}

TEST_F(SearchServiceTest, NamingAConversationSearchesOnlyItAndIsRefusedToNonMembers) {
  const std::string group = to_string(conversation_of(group_));
  EXPECT_EQ(found(alice_, "secret", group), (std::vector<std::uint64_t>{30}));
  EXPECT_EQ(found(alice_, "secret", to_string(direct_conversation(alice_, bob_))), (std::vector<std::uint64_t>{10}));

  const std::string missing = to_string(conversation_of(ports::RoomRef{ports::RoomKind::group, group_.id ^ 0x77}));
  for (const auto& [user, conversation] : std::vector<std::pair<UserId, std::string>>{
           {carol_, group},                                         // a group she is not in
           {alice_, to_string(direct_conversation(bob_, carol_))},  // someone else's 1:1
           {alice_, to_string(conversation_of(channel_))},          // a channel she has not joined
           {alice_, missing}}) {                                    // a group that does not exist
    auto refused = search_.search(user, "secret", conversation, 50);
    ASSERT_FALSE(refused.ok()) << conversation;
    EXPECT_EQ(refused.error().code, ErrorCode::forbidden) << conversation;
  }
  auto bad = search_.search(alice_, "secret", std::string("nonsense"), 50);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::bad_request);
}

}  // namespace
}  // namespace parley::services
