// SessionService: a logout ends its token, closes its connections and, when
// the device has no other session, forgets its push token; removing a
// device ends each of its sessions and forgets its cursor and push token
// (others stay); a password change ends every session but the caller's;
// an administrator's end_all ends them all; the device list shows each
// device once, the caller's marked. Connections are closed by a
// SessionsEnded envelope to each server holding the user's devices.

#include "services/session_service.hpp"

#include <gtest/gtest.h>

#include <mutex>

#include "adapters/embedded/rocks_push_tokens.hpp"
#include "service_fixture.hpp"

namespace parley::services {
namespace {

using testkit::Engines;
using testkit::must;

constexpr std::string_view kPassword = "correct horse battery";

class SessionServiceTest : public ::testing::Test {
 protected:
  SessionServiceTest() {
    alice_ = auth_.register_user("alice", kPassword).value().id;
    EXPECT_TRUE(engines_.state.add_route(alice_, "here").ok());  // a device of alice's connects to "here"
  }

  // A session of alice's on `device`, as the gateway sees its caller.
  ports::SessionRecord login(std::string_view device) {
    auto session = auth_.login("alice", kPassword, device);
    EXPECT_TRUE(session.ok());
    tokens_.push_back(session->token);
    return auth_.authenticate(session->token).value();
  }
  bool refused(const std::string& token) {
    auto session = auth_.authenticate(token);
    return !session && session.error().code == ErrorCode::unauthorized;
  }
  std::vector<ports::DeviceToken> push_tokens() { return push_tokens_->list(alice_).value(); }
  std::vector<records::SessionsEnded> ended() {
    std::lock_guard lock(mu_);
    return ended_;
  }

  Engines engines_{"parley-session-service-test"};
  std::unique_ptr<embedded::RocksPushTokens> push_tokens_ =
      must(embedded::RocksPushTokens::open(engines_.sub("push-tokens")));
  Auth auth_{*engines_.directory, Auth::HashCost::min};
  SessionService sessions_{auth_, *engines_.store, engines_.state, push_tokens_.get()};
  UserId alice_;
  std::vector<std::string> tokens_;  // in the order of login()
  std::mutex mu_;
  std::vector<records::SessionsEnded> ended_;  // what server "here" was told
  std::unique_ptr<ports::Subscription> here_ =
      must(engines_.state.subscribe(records::server_channel("here"), [this](std::string_view payload) {
        auto envelope = records::decode_envelope(payload);
        ASSERT_TRUE(envelope.has_value());
        std::lock_guard lock(mu_);
        if (auto* e = std::get_if<records::SessionsEnded>(&*envelope)) ended_.push_back(*e);
      }));
};

TEST_F(SessionServiceTest, ALogoutEndsItsTokenClosesItsConnectionsAndForgetsTheLastSessionsPushToken) {
  const auto first = login("phone");
  const auto second = login("phone");
  ASSERT_TRUE(sessions_.register_push(first, ports::PushPlatform::apns, "tok-phone").ok());

  ASSERT_TRUE(sessions_.logout(first).ok());
  EXPECT_TRUE(refused(tokens_[0]));
  EXPECT_FALSE(refused(tokens_[1]));
  ASSERT_EQ(ended().size(), 1U);
  EXPECT_EQ(ended()[0].user, alice_);
  EXPECT_EQ(ended()[0].which, records::SessionsEnded::Which::session);
  EXPECT_EQ(ended()[0].key, first.token_hash);
  EXPECT_EQ(push_tokens().size(), 1U);  // the device still has a session: it is still woken

  ASSERT_TRUE(sessions_.logout(second).ok());
  EXPECT_TRUE(refused(tokens_[1]));
  EXPECT_TRUE(push_tokens().empty());
}

TEST_F(SessionServiceTest, RemovingADeviceEndsItsSessionsCursorAndPushTokenAndNoOtherDevices) {
  login("phone");
  const auto phone = login("phone");
  const auto tablet = login("tablet");
  ASSERT_TRUE(sessions_.register_push(phone, ports::PushPlatform::fcm, "tok-phone").ok());
  ASSERT_TRUE(sessions_.register_push(tablet, ports::PushPlatform::fcm, "tok-tablet").ok());
  ASSERT_TRUE(engines_.store->advance_cursor(alice_, "phone", 7).ok());

  ASSERT_TRUE(sessions_.remove_device(tablet, "phone").ok());
  EXPECT_TRUE(refused(tokens_[0]));
  EXPECT_TRUE(refused(tokens_[1]));
  EXPECT_FALSE(refused(tokens_[2]));
  EXPECT_EQ(engines_.store->cursor(alice_, "phone").value(), 0U);
  ASSERT_EQ(push_tokens().size(), 1U);
  EXPECT_EQ(push_tokens()[0].device, "tablet");
  ASSERT_EQ(ended().size(), 1U);
  EXPECT_EQ(ended()[0].which, records::SessionsEnded::Which::device);
  EXPECT_EQ(ended()[0].key, "phone");

  EXPECT_EQ(sessions_.remove_device(tablet, "phone").error().code, ErrorCode::not_found);  // no session left
  EXPECT_EQ(sessions_.remove_device(tablet, "not a device!").error().code, ErrorCode::bad_request);
}

TEST_F(SessionServiceTest, TheDeviceListShowsEachDeviceOnceAndMarksTheCallers) {
  login("phone");
  login("phone");
  const auto tablet = login("tablet");
  auto devices = sessions_.devices(tablet);
  ASSERT_TRUE(devices.ok());
  ASSERT_EQ(devices->size(), 2U);
  EXPECT_EQ((*devices)[0].device, "phone");
  EXPECT_FALSE((*devices)[0].current);
  EXPECT_EQ((*devices)[1].device, "tablet");
  EXPECT_TRUE((*devices)[1].current);
  EXPECT_LE((*devices)[0].created_at, (*devices)[0].last_used_at);
}

TEST_F(SessionServiceTest, APasswordChangeEndsEverySessionButTheCallers) {
  const auto phone = login("phone");
  login("tablet");
  ASSERT_TRUE(sessions_.change_password(phone, kPassword, "a whole new password").ok());
  EXPECT_FALSE(refused(tokens_[0]));
  EXPECT_TRUE(refused(tokens_[1]));
  ASSERT_EQ(ended().size(), 1U);
  EXPECT_EQ(ended()[0].which, records::SessionsEnded::Which::all_but_session);
  EXPECT_EQ(ended()[0].key, phone.token_hash);

  EXPECT_EQ(sessions_.change_password(phone, kPassword, "yet another password").error().code,
            ErrorCode::forbidden);  // the old password is no longer the password
}

TEST_F(SessionServiceTest, EndingEverySessionClosesEveryConnectionAndForgetsEveryPushToken) {
  const auto phone = login("phone");
  const auto tablet = login("tablet");
  ASSERT_TRUE(sessions_.register_push(phone, ports::PushPlatform::apns, "tok-phone").ok());
  ASSERT_TRUE(sessions_.register_push(tablet, ports::PushPlatform::fcm, "tok-tablet").ok());

  ASSERT_TRUE(sessions_.end_all(alice_, "disabled by an administrator").ok());
  EXPECT_TRUE(refused(tokens_[0]));
  EXPECT_TRUE(refused(tokens_[1]));
  EXPECT_TRUE(push_tokens().empty());
  ASSERT_EQ(ended().size(), 1U);
  EXPECT_EQ(ended()[0].which, records::SessionsEnded::Which::all_but_session);
  EXPECT_EQ(ended()[0].key, "");  // no session spared
  EXPECT_EQ(ended()[0].reason, "disabled by an administrator");
}

TEST_F(SessionServiceTest, APushTokenReplacesTheDevicesPreviousOne) {
  const auto phone = login("phone");
  ASSERT_TRUE(sessions_.register_push(phone, ports::PushPlatform::apns, "old").ok());
  ASSERT_TRUE(sessions_.register_push(phone, ports::PushPlatform::fcm, "new").ok());
  ASSERT_EQ(push_tokens().size(), 1U);
  EXPECT_EQ(push_tokens()[0].token, "new");
  EXPECT_EQ(push_tokens()[0].platform, ports::PushPlatform::fcm);
}

}  // namespace
}  // namespace parley::services
