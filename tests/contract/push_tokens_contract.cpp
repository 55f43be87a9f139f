// The PushTokens contract: one token per (user, device), replaced on
// re-registration, owned by one device at a time, removed when dead only if
// still current, and durable across a restart.

#include "push_tokens_contract.hpp"

namespace parley::contract {
namespace {

using ports::DeviceToken;
using ports::PushPlatform;

// Users are numbered per test so that engines shared between tests keep them apart.
UserId user_for(TempDir& dir, const std::string& name) {
  return UserId{std::hash<std::string>{}(dir.unique(name)) | 1};
}

TEST_P(PushTokensContract, RegisteredTokensAreListedByDevice) {
  const UserId bob = user_for(dir_, "bob");
  ASSERT_TRUE(port_->put({bob, "tablet", PushPlatform::fcm, "fcm-token", 2}).ok());
  ASSERT_TRUE(port_->put({bob, "phone", PushPlatform::apns, "apns-token", 1}).ok());
  auto listed = port_->list(bob);
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  ASSERT_EQ(listed->size(), 2U);
  EXPECT_EQ((*listed)[0], (DeviceToken{bob, "phone", PushPlatform::apns, "apns-token", 1}));
  EXPECT_EQ((*listed)[1], (DeviceToken{bob, "tablet", PushPlatform::fcm, "fcm-token", 2}));
  EXPECT_TRUE(port_->list(user_for(dir_, "nobody"))->empty());
}

TEST_P(PushTokensContract, ReRegisteringReplacesTheDevicesToken) {
  const UserId bob = user_for(dir_, "bob");
  ASSERT_TRUE(port_->put({bob, "phone", PushPlatform::apns, "old", 1}).ok());
  ASSERT_TRUE(port_->put({bob, "phone", PushPlatform::apns, "new", 2}).ok());
  auto listed = port_->list(bob);
  ASSERT_EQ(listed->size(), 1U);
  EXPECT_EQ((*listed)[0].token, "new");
}

TEST_P(PushTokensContract, ATokenBelongsToOneDeviceAtATime) {
  const UserId bob = user_for(dir_, "bob");
  const UserId carol = user_for(dir_, "carol");
  ASSERT_TRUE(port_->put({bob, "phone", PushPlatform::apns, "shared-phone", 1}).ok());
  // The phone logs in as carol and registers the same token.
  ASSERT_TRUE(port_->put({carol, "phone", PushPlatform::apns, "shared-phone", 2}).ok());
  EXPECT_TRUE(port_->list(bob)->empty());
  ASSERT_EQ(port_->list(carol)->size(), 1U);
}

TEST_P(PushTokensContract, ADeadTokenIsRemovedOnlyIfStillCurrent) {
  const UserId bob = user_for(dir_, "bob");
  ASSERT_TRUE(port_->put({bob, "phone", PushPlatform::apns, "dead", 1}).ok());
  ASSERT_TRUE(port_->put({bob, "phone", PushPlatform::apns, "fresh", 2}).ok());
  ASSERT_TRUE(port_->remove_if_current(bob, "phone", "dead").ok());  // a late report: keeps "fresh"
  ASSERT_EQ(port_->list(bob)->size(), 1U);
  ASSERT_TRUE(port_->remove_if_current(bob, "phone", "fresh").ok());
  EXPECT_TRUE(port_->list(bob)->empty());
  EXPECT_TRUE(port_->remove_if_current(bob, "phone", "fresh").ok());  // already gone: not an error
  // The token can be registered again afterwards.
  ASSERT_TRUE(port_->put({bob, "tablet", PushPlatform::apns, "fresh", 3}).ok());
  EXPECT_EQ(port_->list(bob)->size(), 1U);
}

TEST_P(PushTokensContract, RemovingADeviceDropsItsToken) {
  const UserId bob = user_for(dir_, "bob");
  ASSERT_TRUE(port_->put({bob, "phone", PushPlatform::fcm, "t1", 1}).ok());
  ASSERT_TRUE(port_->remove_device(bob, "phone").ok());
  EXPECT_TRUE(port_->list(bob)->empty());
  EXPECT_TRUE(port_->remove_device(bob, "phone").ok());
}

TEST_P(PushTokensContract, BadRecordsAreRefused) {
  auto r = port_->put({UserId{}, "phone", PushPlatform::apns, "t", 1});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::bad_request);
  EXPECT_FALSE(port_->put({user_for(dir_, "bob"), "phone", PushPlatform::apns, "", 1}).ok());
}

TEST_P(PushTokensContract, TokensSurviveARestart) {
  const UserId bob = user_for(dir_, "bob");
  ASSERT_TRUE(port_->put({bob, "phone", PushPlatform::apns, "kept", 7}).ok());
  restart();
  auto listed = port_->list(bob);
  ASSERT_EQ(listed->size(), 1U);
  EXPECT_EQ((*listed)[0].token, "kept");
  EXPECT_EQ((*listed)[0].updated_at, 7);
}

}  // namespace
}  // namespace parley::contract
