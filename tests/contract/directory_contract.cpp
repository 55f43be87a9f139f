// The Directory contract: users, their ids and names, sessions.

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "contracts.hpp"

namespace parley::contract {
namespace {

TEST_P(DirectoryContract, CreatedUserIsFoundByNameAndId) {
  const std::string name = dir_.unique("alice");
  auto created = port_->create_user(name, "$argon2id$hash");
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_TRUE(created->id.valid());
  EXPECT_EQ(created->username, name);
  EXPECT_EQ(created->password_hash, "$argon2id$hash");

  auto by_name = port_->find_user_by_name(name);
  ASSERT_TRUE(by_name.ok());
  EXPECT_EQ(by_name->id, created->id);
  EXPECT_EQ(by_name->password_hash, "$argon2id$hash");
  EXPECT_EQ(by_name->created_at, created->created_at);

  auto by_id = port_->find_user(created->id);
  ASSERT_TRUE(by_id.ok());
  EXPECT_EQ(by_id->username, name);
}

TEST_P(DirectoryContract, UnknownUsersAreNotFound) {
  auto by_name = port_->find_user_by_name(dir_.unique("nobody"));
  ASSERT_FALSE(by_name.ok());
  EXPECT_EQ(by_name.error().code, ErrorCode::not_found);
  auto by_id = port_->find_user(UserId{0xFFFFFFFFFFFFULL});
  ASSERT_FALSE(by_id.ok());
  EXPECT_EQ(by_id.error().code, ErrorCode::not_found);
}

TEST_P(DirectoryContract, ATakenNameConflicts) {
  const std::string name = dir_.unique("bob");
  ASSERT_TRUE(port_->create_user(name, "h1").ok());
  auto again = port_->create_user(name, "h2");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::conflict);
  EXPECT_EQ(port_->find_user_by_name(name)->password_hash, "h1");  // the first one stays
}

TEST_P(DirectoryContract, ConcurrentCreatesOfOneNameHaveOneWinner) {
  const std::string name = dir_.unique("race");
  constexpr int kThreads = 8;
  std::atomic<int> wins{0};
  std::atomic<int> conflicts{0};
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        auto r = port_->create_user(name, "h" + std::to_string(t));
        if (r.ok()) {
          ++wins;
        } else if (r.error().code == ErrorCode::conflict) {
          ++conflicts;
        }
      });
    }
  }
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(conflicts.load(), kThreads - 1);
}

TEST_P(DirectoryContract, IdsAreUniqueAndNeverReusedAcrossRestarts) {
  std::set<std::uint64_t> ids;
  for (int i = 0; i < 20; ++i) {
    auto u = port_->create_user(dir_.unique("user" + std::to_string(i)), "h");
    ASSERT_TRUE(u.ok());
    EXPECT_TRUE(u->id.valid());
    ids.insert(u->id.value);
  }
  EXPECT_EQ(ids.size(), 20U);

  restart();
  auto kept = port_->find_user_by_name(dir_.unique("user7"));
  ASSERT_TRUE(kept.ok());
  EXPECT_TRUE(ids.contains(kept->id.value));
  auto fresh = port_->create_user(dir_.unique("after-restart"), "h");
  ASSERT_TRUE(fresh.ok());
  EXPECT_FALSE(ids.contains(fresh->id.value));
  EXPECT_GT(fresh->id.value, *ids.rbegin());
}

TEST_P(DirectoryContract, SessionsAreFoundByTokenHash) {
  auto user = port_->create_user(dir_.unique("carol"), "h");
  ASSERT_TRUE(user.ok());
  const ports::SessionRecord session{user->id, "phone", 1'700'000'000'000, 1'700'000'000'000, {}};
  const std::string token_hash = dir_.unique("token-hash");
  ASSERT_TRUE(port_->put_session(token_hash, session).ok());

  auto found = port_->find_session(token_hash);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->user, user->id);
  EXPECT_EQ(found->device, "phone");
  EXPECT_EQ(found->created_at, session.created_at);

  auto missing = port_->find_session(token_hash + "-other");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::not_found);

  restart();
  EXPECT_EQ(port_->find_session(token_hash)->device, "phone");
}

// A session as the tests put it: created at `created`, last used then.
ports::SessionRecord session_of(UserId user, std::string device, TimeMs created) {
  return ports::SessionRecord{user, std::move(device), created, created, {}};
}

TEST_P(DirectoryContract, ASessionKeepsItsLastUseAndItsTokenHash) {
  auto user = port_->create_user(dir_.unique("dave"), "h");
  ASSERT_TRUE(user.ok());
  const std::string hash = dir_.unique("th-dave");
  ASSERT_TRUE(port_->put_session(hash, session_of(user->id, "phone", 1000)).ok());
  auto found = port_->find_session(hash);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->last_used_at, 1000);
  EXPECT_EQ(found->token_hash, hash);

  ASSERT_TRUE(port_->touch_session(hash, 5000).ok());
  EXPECT_EQ(port_->find_session(hash)->last_used_at, 5000);
  ASSERT_TRUE(port_->touch_session(hash, 3000).ok());  // never back
  EXPECT_EQ(port_->find_session(hash)->last_used_at, 5000);
  EXPECT_EQ(port_->find_session(hash)->created_at, 1000);

  restart();
  EXPECT_EQ(port_->find_session(hash)->last_used_at, 5000);
}

TEST_P(DirectoryContract, ADeletedSessionIsGoneAndATouchDoesNotBringItBack) {
  auto user = port_->create_user(dir_.unique("erin"), "h");
  ASSERT_TRUE(user.ok());
  const std::string hash = dir_.unique("th-erin");
  ASSERT_TRUE(port_->put_session(hash, session_of(user->id, "phone", 1000)).ok());
  ASSERT_TRUE(port_->delete_session(hash).ok());
  EXPECT_EQ(port_->find_session(hash).error().code, ErrorCode::not_found);
  auto touched = port_->touch_session(hash, 9000);
  ASSERT_FALSE(touched.ok());
  EXPECT_EQ(touched.error().code, ErrorCode::not_found);
  EXPECT_EQ(port_->find_session(hash).error().code, ErrorCode::not_found);
  auto again = port_->delete_session(hash);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::not_found);
  EXPECT_TRUE(port_->list_sessions(user->id)->empty());

  restart();
  EXPECT_EQ(port_->find_session(hash).error().code, ErrorCode::not_found);
}

TEST_P(DirectoryContract, AUsersSessionsAreListedByDeviceAndOnlyTheirs) {
  auto alice = port_->create_user(dir_.unique("alice-s"), "h");
  auto bob = port_->create_user(dir_.unique("bob-s"), "h");
  ASSERT_TRUE(alice.ok() && bob.ok());
  const std::string phone2 = dir_.unique("th-a-phone2");
  const std::string laptop = dir_.unique("th-a-laptop");
  const std::string phone1 = dir_.unique("th-a-phone1");
  ASSERT_TRUE(port_->put_session(phone2, session_of(alice->id, "phone", 3000)).ok());
  ASSERT_TRUE(port_->put_session(laptop, session_of(alice->id, "laptop", 2000)).ok());
  ASSERT_TRUE(port_->put_session(phone1, session_of(alice->id, "phone", 1000)).ok());
  ASSERT_TRUE(port_->put_session(dir_.unique("th-bob"), session_of(bob->id, "phone", 1500)).ok());

  auto listed = port_->list_sessions(alice->id);
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  ASSERT_EQ(listed->size(), 3U);
  EXPECT_EQ((*listed)[0].device, "laptop");
  EXPECT_EQ((*listed)[0].token_hash, laptop);
  EXPECT_EQ((*listed)[1].token_hash, phone1);  // a device's sessions by creation
  EXPECT_EQ((*listed)[2].token_hash, phone2);
  for (const auto& s : *listed) EXPECT_EQ(s.user, alice->id);

  ASSERT_TRUE(port_->delete_session(phone1).ok());
  listed = port_->list_sessions(alice->id);
  ASSERT_EQ(listed->size(), 2U);
  EXPECT_EQ(port_->list_sessions(bob->id)->size(), 1U);
  EXPECT_TRUE(port_->list_sessions(UserId{0xFFFFFFFFFFFFULL})->empty());

  restart();
  listed = port_->list_sessions(alice->id);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2U);
  EXPECT_EQ((*listed)[1].token_hash, phone2);
}

TEST_P(DirectoryContract, APasswordIsReplaced) {
  auto user = port_->create_user(dir_.unique("frank"), "old-hash");
  ASSERT_TRUE(user.ok());
  ASSERT_TRUE(port_->set_password(user->id, "new-hash").ok());
  EXPECT_EQ(port_->find_user(user->id)->password_hash, "new-hash");
  EXPECT_EQ(port_->find_user_by_name(user->username)->password_hash, "new-hash");
  auto missing = port_->set_password(UserId{0xFFFFFFFFFFFFULL}, "h");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::not_found);
  restart();
  EXPECT_EQ(port_->find_user(user->id)->password_hash, "new-hash");
}

TEST_P(DirectoryContract, AUserIsDisabledAndEnabledAgain) {
  auto user = port_->create_user(dir_.unique("grace"), "hash");
  ASSERT_TRUE(user.ok());
  EXPECT_FALSE(user->disabled);
  ASSERT_TRUE(port_->set_disabled(user->id, true).ok());
  EXPECT_TRUE(port_->find_user(user->id)->disabled);
  EXPECT_TRUE(port_->find_user_by_name(user->username)->disabled);
  EXPECT_EQ(port_->find_user(user->id)->password_hash, "hash");  // nothing else changes
  restart();
  EXPECT_TRUE(port_->find_user(user->id)->disabled);
  ASSERT_TRUE(port_->set_disabled(user->id, false).ok());
  EXPECT_FALSE(port_->find_user(user->id)->disabled);
  auto missing = port_->set_disabled(UserId{0xFFFFFFFFFFFFULL}, true);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::not_found);
}

TEST_P(DirectoryContract, ADeletedUserIsNoUserButKeepsItsName) {
  auto user = port_->create_user(dir_.unique("dora"), "hash");
  auto other = port_->create_user(dir_.unique("dorb"), "hash");
  ASSERT_TRUE(user.ok() && other.ok());
  ASSERT_TRUE(port_->delete_user(user->id).ok());
  ASSERT_TRUE(port_->delete_user(user->id).ok());  // again: no error
  for (auto found : {port_->find_user(user->id), port_->find_user_by_name(user->username)}) {
    ASSERT_FALSE(found.ok());
    EXPECT_EQ(found.error().code, ErrorCode::not_found);
  }
  EXPECT_EQ(port_->set_disabled(user->id, true).error().code, ErrorCode::not_found);
  EXPECT_EQ(port_->set_password(user->id, "new").error().code, ErrorCode::not_found);
  auto again = port_->create_user(user->username, "hash");  // the name stays taken
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::conflict);
  restart();
  EXPECT_EQ(port_->find_user(user->id).error().code, ErrorCode::not_found);
  EXPECT_TRUE(port_->find_user(other->id).ok());
  auto listed = port_->list_users(user->username, "", 10);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1U);
  EXPECT_TRUE(listed->front().deleted);
  EXPECT_TRUE(listed->front().password_hash.empty());  // erased
  auto deleted = port_->deleted_users();
  ASSERT_TRUE(deleted.ok());
  EXPECT_NE(std::find(deleted->begin(), deleted->end(), user->id), deleted->end());
  EXPECT_EQ(std::find(deleted->begin(), deleted->end(), other->id), deleted->end());
  EXPECT_EQ(port_->delete_user(UserId{0xFFFFFFFFFFFFULL}).error().code, ErrorCode::not_found);
}

TEST_P(DirectoryContract, UsersAreListedByNamePrefixInPagesInByteOrder) {
  const std::string base = dir_.unique("list");
  for (const char* suffix : {"b", "a", "ca", "c", "Z"}) ASSERT_TRUE(port_->create_user(base + suffix, "h").ok());
  ASSERT_TRUE(port_->create_user(dir_.unique("lisu"), "h").ok());  // another prefix
  const auto names = [](const Result<std::vector<ports::UserRecord>>& users) {
    std::vector<std::string> out;
    for (const auto& u : *users) out.push_back(u.username);
    return out;
  };
  auto first = port_->list_users(base, "", 2);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(names(first), (std::vector<std::string>{base + "Z", base + "a"}));  // bytes: 'Z' < 'a'
  EXPECT_TRUE((*first)[0].id.valid());
  auto next = port_->list_users(base, base + "a", 10);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(names(next), (std::vector<std::string>{base + "b", base + "c", base + "ca"}));
  EXPECT_EQ(names(port_->list_users(base + "c", "", 10)), (std::vector<std::string>{base + "c", base + "ca"}));
  EXPECT_TRUE(port_->list_users(base, base + "ca", 10)->empty());
  EXPECT_TRUE(port_->list_users(base + "x", "", 10)->empty());
  EXPECT_TRUE(port_->list_users(base, "", 0)->empty());
}

}  // namespace
}  // namespace parley::contract
