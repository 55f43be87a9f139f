// AdminService::remove against the embedded engines: a deleted user's
// account, sessions, push registrations, relations and memberships go; its
// messages read as tombstones everywhere and leave the search index; its
// own inbox goes; everyone else's data stays.

#include "services/admin_service.hpp"

#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>
#include <memory>

#include "adapters/embedded/memory_state_store.hpp"
#include "adapters/embedded/rocks_directory.hpp"
#include "adapters/embedded/rocks_message_store.hpp"
#include "adapters/embedded/rocks_push_tokens.hpp"
#include "adapters/embedded/rocks_rooms.hpp"
#include "adapters/embedded/rocks_social_graph.hpp"
#include "adapters/embedded/sqlite_search_index.hpp"
#include "forwarding_message_store.hpp"
#include "services/auth.hpp"
#include "services/deleted_users.hpp"
#include "services/session_service.hpp"

namespace parley::services {
namespace {

template <typename T>
std::unique_ptr<T> must(Result<std::unique_ptr<T>> r) {
  EXPECT_TRUE(r.ok()) << r.error().message;
  return std::move(r).value();
}

class AdminServiceTest : public ::testing::Test {
 protected:
  AdminServiceTest() {
    dir_ = std::filesystem::temp_directory_path() / ("parley-admin-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    const auto at = [this](const char* name) { return (dir_ / name).string(); };
    directory_ = must(embedded::RocksDirectory::open(at("directory")));
    store_ = must(embedded::RocksMessageStore::open(at("messages"), embedded::Durability::os));
    rooms_ = must(embedded::RocksRooms::open(at("rooms")));
    social_ = must(embedded::RocksSocialGraph::open(at("social")));
    search_ = must(embedded::SqliteSearchIndex::open(at("search.sqlite")));
    push_tokens_ = must(embedded::RocksPushTokens::open(at("push")));
    auth_ = std::make_unique<Auth>(*directory_, Auth::HashCost::min);
    sessions_ = std::make_unique<SessionService>(*auth_, *store_, state_, push_tokens_.get());
    deleted_ = std::make_unique<DeletedUsers>(*directory_);
    admin_ = std::make_unique<AdminService>(*directory_, *sessions_,
                                            AdminService::Data{.store = *store_,
                                                               .rooms = *rooms_,
                                                               .social = *social_,
                                                               .search = *search_,
                                                               .push_tokens = push_tokens_.get(),
                                                               .deleted = deleted_.get()});
    alice_ = auth_->register_user("alice", "alice's password")->id;
    bob_ = auth_->register_user("bob", "bob's password")->id;
    carol_ = auth_->register_user("carol", "carol's password")->id;
  }
  ~AdminServiceTest() override { std::filesystem::remove_all(dir_); }

  // A message from `from` in `conversation`, in its history, in the inboxes
  // of `holders` and in the search index.
  Message say(const std::string& conversation, UserId from, Recipient to, std::string body,
              const std::vector<UserId>& holders) {
    Message m;
    m.id = MessageId{++next_id_};
    m.conversation = conversation;
    m.from = from;
    m.to = to;
    m.body = std::move(body);
    m.sent_at = 1'800'000'000'000 + static_cast<TimeMs>(next_id_);
    m.client_msg_id = "c" + std::to_string(next_id_);
    EXPECT_TRUE(store_->put_messages(std::vector{m}).ok());
    std::vector<ports::MessageStore::InboxWrite> writes;
    for (UserId user : holders) {
      auto head = store_->inbox_head(user);
      writes.push_back({user, InboxEntry{*head + 1, m}});
    }
    EXPECT_TRUE(store_->put_inbox(writes).ok());
    EXPECT_TRUE(search_->index(std::vector{m}).ok());
    return m;
  }

  std::filesystem::path dir_;
  std::unique_ptr<embedded::RocksDirectory> directory_;
  std::unique_ptr<embedded::RocksMessageStore> store_;
  std::unique_ptr<embedded::RocksRooms> rooms_;
  std::unique_ptr<embedded::RocksSocialGraph> social_;
  std::unique_ptr<embedded::SqliteSearchIndex> search_;
  std::unique_ptr<embedded::RocksPushTokens> push_tokens_;
  embedded::MemoryStateStore state_;
  std::unique_ptr<Auth> auth_;
  std::unique_ptr<SessionService> sessions_;
  std::unique_ptr<DeletedUsers> deleted_;
  std::unique_ptr<AdminService> admin_;
  UserId alice_, bob_, carol_;
  std::uint64_t next_id_ = 1000;
};

TEST_F(AdminServiceTest, ADeletedUserLeavesTombstonesAndNothingElse) {
  // Bob: a session, a push registration, a friend, a block, a group and a
  // channel he owns, messages in a 1:1, the group and the channel.
  auto login = auth_->login("bob", "bob's password", "phone", "");
  ASSERT_TRUE(login.ok());
  ASSERT_TRUE(push_tokens_->put({bob_, "phone", ports::PushPlatform::fcm, "bobs-token", 1}).ok());
  ASSERT_TRUE(social_->request_friend(alice_, bob_).ok());
  ASSERT_TRUE(social_->accept_friend(bob_, alice_).ok());
  ASSERT_TRUE(social_->block(bob_, carol_).ok());
  const ports::RoomRef group{ports::RoomKind::group, 77};
  const ports::RoomRef channel{ports::RoomKind::channel, 78};
  ASSERT_TRUE(
      rooms_->create_room(group, "g", bob_, ports::PostPolicy::everyone, ports::Access::invite_only, {alice_, carol_})
          .ok());
  ASSERT_TRUE(rooms_->put_member(group, carol_, ports::Role::admin, 0).ok());
  ASSERT_TRUE(rooms_->create_room(channel, "c", bob_, ports::PostPolicy::everyone, ports::Access::open, {alice_}).ok());

  const std::string direct = to_string(direct_conversation(alice_, bob_));
  const std::string in_group = to_string(group_conversation(GroupId{77}));
  const std::string in_channel = to_string(channel_conversation(ChannelId{78}));
  const Message hi = say(direct, alice_, {Recipient::Kind::user, bob_.value}, "hi bob", {alice_, bob_});
  const Message secret = say(direct, bob_, {Recipient::Kind::user, alice_.value}, "pineapple secret", {alice_, bob_});
  const Message group_word =
      say(in_group, bob_, {Recipient::Kind::group, 77}, "pineapple group", {alice_, bob_, carol_});
  const Message channel_word = say(in_channel, bob_, {Recipient::Kind::channel, 78}, "pineapple channel", {});
  const Message reply =
      say(in_group, carol_, {Recipient::Kind::group, 77}, "pineapple from carol", {alice_, bob_, carol_});

  ASSERT_TRUE(admin_->remove(bob_).ok());

  // The account.
  EXPECT_EQ(directory_->find_user(bob_).error().code, ErrorCode::not_found);
  EXPECT_EQ(auth_->login("bob", "bob's password", "tablet", "").error().code, ErrorCode::unauthorized);
  EXPECT_EQ(auth_->authenticate(login->token).error().code, ErrorCode::unauthorized);
  EXPECT_EQ(auth_->register_user("bob", "another password").error().code, ErrorCode::conflict);
  EXPECT_TRUE(push_tokens_->list(bob_)->empty());
  EXPECT_TRUE(social_->friends(alice_)->empty());
  EXPECT_FALSE(social_->relation(carol_, bob_)->blocked_by);
  EXPECT_TRUE(rooms_->rooms_of(bob_)->empty());
  EXPECT_EQ(*rooms_->role_of(group, carol_), ports::Role::owner);  // the admin before the member
  EXPECT_EQ(*rooms_->role_of(channel, alice_), ports::Role::owner);

  // The messages: tombstones where others read them, in their order.
  auto tombstone = [](Message m) {
    make_tombstone(m);
    return m;
  };
  EXPECT_EQ(*store_->history(direct, MessageId{}, 10), (std::vector<Message>{tombstone(secret), hi}));
  EXPECT_EQ(*store_->history(in_group, MessageId{}, 10), (std::vector<Message>{reply, tombstone(group_word)}));
  EXPECT_EQ(*store_->history(in_channel, MessageId{}, 10), (std::vector<Message>{tombstone(channel_word)}));
  for (UserId reader : {alice_, carol_}) {
    auto inbox = store_->inbox(reader, 0, 10);
    ASSERT_TRUE(inbox.ok());
    for (const auto& entry : *inbox) {
      EXPECT_EQ(entry.message.deleted, entry.message.from == bob_) << entry.message.body;
      if (entry.message.from == bob_) {
        EXPECT_TRUE(entry.message.body.empty());
      }
    }
  }
  const std::vector<std::string> everywhere{direct, in_group, in_channel};
  EXPECT_EQ(*search_->search("pineapple", everywhere, 10), (std::vector<Message>{reply}));
  // His own inbox is gone.
  EXPECT_EQ(*store_->inbox_head(bob_), 0U);
  EXPECT_TRUE(store_->conversations_of(bob_)->empty());
  // Read paths render what the pipeline may still write as a tombstone.
  Message late = secret;
  deleted_->render(late);
  EXPECT_EQ(late, tombstone(secret));

  // Again: no error; an unknown user is not found.
  EXPECT_TRUE(admin_->remove(bob_).ok());
  EXPECT_EQ(admin_->remove(UserId{999'999}).error().code, ErrorCode::not_found);
}

// A store that fails its first erase, as an engine that is down would.
class FailingOnceStore : public ForwardingMessageStore {
 public:
  using ForwardingMessageStore::ForwardingMessageStore;
  Result<std::vector<MessageId>> erase_sent(std::string_view conversation, UserId sender,
                                            std::span<const UserId> inbox_users) override {
    if (!failed_) {
      failed_ = true;
      return make_error(ErrorCode::unavailable, "the store is down");
    }
    return inner_.erase_sent(conversation, sender, inbox_users);
  }

 private:
  bool failed_ = false;
};

TEST_F(AdminServiceTest, ADeletionThatFailedPartWayIsFinishedByTheNextOne) {
  const ports::RoomRef channel{ports::RoomKind::channel, 90};
  ASSERT_TRUE(rooms_->create_room(channel, "c", alice_, ports::PostPolicy::everyone, ports::Access::open, {bob_}).ok());
  const std::string in_channel = to_string(channel_conversation(ChannelId{90}));
  const Message said = say(in_channel, bob_, {Recipient::Kind::channel, 90}, "channel words", {});
  FailingOnceStore store(*store_);
  AdminService admin(*directory_, *sessions_,
                     AdminService::Data{.store = store, .rooms = *rooms_, .social = *social_, .search = *search_});

  auto first = admin.remove(bob_);
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.error().code, ErrorCode::unavailable);
  EXPECT_EQ(directory_->find_user(bob_).error().code, ErrorCode::not_found);  // the account went first

  ASSERT_TRUE(admin.remove(bob_).ok());  // the channel is found again: bob had not left it yet
  Message tombstone = said;
  make_tombstone(tombstone);
  EXPECT_EQ(*store_->history(in_channel, MessageId{}, 10), std::vector<Message>{tombstone});
  EXPECT_FALSE(rooms_->role_of(channel, bob_)->has_value());
}

TEST_F(AdminServiceTest, TheDeletedSetIsReadFromTheDirectory) {
  ASSERT_TRUE(admin_->remove(bob_).ok());
  DeletedUsers fresh(*directory_);  // another server, or a restart
  EXPECT_FALSE(fresh.contains(bob_));
  ASSERT_TRUE(fresh.refresh().ok());
  EXPECT_TRUE(fresh.contains(bob_));
  EXPECT_FALSE(fresh.contains(alice_));
  std::vector<Message> found(2);
  found[0].from = bob_;
  found[1].from = alice_;
  fresh.drop(found);
  ASSERT_EQ(found.size(), 1U);
  EXPECT_EQ(found.front().from, alice_);
}

}  // namespace
}  // namespace parley::services
