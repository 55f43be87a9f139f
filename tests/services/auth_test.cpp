// Auth's login throttle and sessions (expiry, logout, devices, a password
// changed), on clocks the test moves.

#include "services/auth.hpp"

#include <gtest/gtest.h>

#include <unistd.h>
#include <chrono>
#include <filesystem>
#include <optional>

#include "adapters/embedded/rocks_directory.hpp"

namespace parley::services {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

class AuthTest : public ::testing::Test {
 protected:
  AuthTest() {
    dir_ = std::filesystem::temp_directory_path() / ("parley-auth-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    directory_ = std::move(embedded::RocksDirectory::open((dir_ / "directory").string())).value();
    auth_ = std::make_unique<Auth>(
        *directory_, Auth::HashCost::min,
        Auth::Throttle{.free_failures = 3,
                       .first_delay = milliseconds(1000),
                       .max_delay = milliseconds(4000),
                       .now = [this] { return now_; }},
        Auth::Sessions{.ttl = milliseconds(100'000), .registration_open = true, .now = [this] { return wall_; }});
    EXPECT_TRUE(auth_->register_user("alice", "right password").ok());
  }
  ~AuthTest() override {
    auth_.reset();
    directory_.reset();
    std::filesystem::remove_all(dir_);
  }

  // The error code of a login as alice; nullopt when it succeeds.
  std::optional<ErrorCode> login(std::string_view password) {
    auto r = auth_->login("alice", password, "d");
    if (r) return std::nullopt;
    return r.error().code;
  }

  std::filesystem::path dir_;
  std::unique_ptr<embedded::RocksDirectory> directory_;
  std::unique_ptr<Auth> auth_;
  Clock::time_point now_ = Clock::now();
  TimeMs wall_ = 1'800'000'000'000;
};

TEST_F(AuthTest, FailuresInARowMakeTheNextAttemptWaitLongerEachTime) {
  for (int i = 0; i < 3; ++i) EXPECT_EQ(login("wrong password"), ErrorCode::unauthorized);
  // The third failure set a wait of one second: even the right password waits.
  EXPECT_EQ(login("right password"), ErrorCode::rate_limited);
  now_ += milliseconds(1000);
  EXPECT_EQ(login("wrong password"), ErrorCode::unauthorized);  // the fourth: two seconds now
  now_ += milliseconds(1999);
  EXPECT_EQ(login("right password"), ErrorCode::rate_limited);
  now_ += milliseconds(1);
  EXPECT_EQ(login("wrong password"), ErrorCode::unauthorized);  // the fifth: four seconds, the cap
  now_ += milliseconds(4000);
  EXPECT_EQ(login("wrong password"), ErrorCode::unauthorized);  // the sixth: still four
  now_ += milliseconds(3999);
  EXPECT_EQ(login("right password"), ErrorCode::rate_limited);
  now_ += milliseconds(1);
  // A success clears the count: three more failures are free again.
  EXPECT_FALSE(login("right password").has_value());
  for (int i = 0; i < 2; ++i) EXPECT_EQ(login("wrong password"), ErrorCode::unauthorized);
  EXPECT_FALSE(login("right password").has_value());
}

TEST_F(AuthTest, UnknownUsernamesAreThrottledAlikeAndOthersAreNot) {
  for (int i = 0; i < 3; ++i) EXPECT_EQ(auth_->login("nobody", "whatever1", "d").error().code, ErrorCode::unauthorized);
  EXPECT_EQ(auth_->login("nobody", "whatever1", "d").error().code, ErrorCode::rate_limited);
  EXPECT_FALSE(login("right password").has_value());
}

TEST_F(AuthTest, FailuresFifteenMinutesApartStartAgain) {
  for (int i = 0; i < 2; ++i) EXPECT_EQ(login("wrong password"), ErrorCode::unauthorized);
  now_ += std::chrono::minutes(16);
  EXPECT_EQ(login("wrong password"), ErrorCode::unauthorized);  // the first of a new run, not the third
  EXPECT_FALSE(login("right password").has_value());
}

TEST_F(AuthTest, FailuresFromOneAddressAreLimitedWhateverTheUsernames) {
  auth_ = std::make_unique<Auth>(*directory_, Auth::HashCost::min,
                                 Auth::Throttle{.free_failures = 3,
                                                .free_failures_per_address = 5,
                                                .first_delay = milliseconds(1000),
                                                .max_delay = milliseconds(4000),
                                                .now = [this] { return now_; }});
  ASSERT_TRUE(auth_->register_user("bob", "bobs password").ok());
  // Two guesses at each of several names (under the per-name limit), and a
  // malformed one: the fifth failure from the address sets its wait.
  EXPECT_EQ(auth_->login("alice", "guess one", "d", "192.0.2.1").error().code, ErrorCode::unauthorized);
  EXPECT_EQ(auth_->login("alice", "guess two", "d", "192.0.2.1").error().code, ErrorCode::unauthorized);
  EXPECT_EQ(auth_->login("carol", "guess one", "d", "192.0.2.1").error().code, ErrorCode::unauthorized);
  EXPECT_EQ(auth_->login("x", "guess one", "d", "192.0.2.1").error().code, ErrorCode::unauthorized);
  // A success from the address (the attacker's own account) clears nothing.
  EXPECT_TRUE(auth_->login("bob", "bobs password", "d", "192.0.2.1").ok());
  EXPECT_EQ(auth_->login("dave", "guess one", "d", "192.0.2.1").error().code, ErrorCode::unauthorized);

  auto refused = auth_->login("bob", "bobs password", "d", "192.0.2.1");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::rate_limited);
  EXPECT_EQ(refused.error().retry_after_s, 1U);
  EXPECT_NE(refused.error().message.find("from this address"), std::string::npos) << refused.error().message;
  // Another address, and the accounts themselves, are still served.
  EXPECT_TRUE(auth_->login("alice", "right password", "d", "198.51.100.7").ok());
  EXPECT_TRUE(auth_->login("bob", "bobs password", "d").ok());
  // The wait doubles with each further failure, as per username.
  now_ += milliseconds(1000);
  EXPECT_EQ(auth_->login("erin", "guess one", "d", "192.0.2.1").error().code, ErrorCode::unauthorized);
  now_ += milliseconds(1999);
  EXPECT_EQ(auth_->login("bob", "bobs password", "d", "192.0.2.1").error().retry_after_s, 1U);
  now_ += milliseconds(1);
  EXPECT_TRUE(auth_->login("bob", "bobs password", "d", "192.0.2.1").ok());
  // Fifteen minutes without a failure start the count again.
  now_ += std::chrono::minutes(16);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(auth_->login("frank" + std::to_string(i), "guess", "d", "192.0.2.1").error().code,
              i < 5 ? ErrorCode::unauthorized : ErrorCode::rate_limited);
  }
}

TEST_F(AuthTest, TheUsernameWaitSaysHowLong) {
  for (int i = 0; i < 3; ++i) EXPECT_EQ(login("wrong password"), ErrorCode::unauthorized);
  now_ += milliseconds(300);
  auto refused = auth_->login("alice", "right password", "d");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::rate_limited);
  EXPECT_EQ(refused.error().retry_after_s, 1U);  // 0.7 s left, rounded up
}

TEST_F(AuthTest, ASessionExpiresAfterTheTtlWithoutUse) {
  auto session = auth_->login("alice", "right password", "phone");
  ASSERT_TRUE(session.ok());
  wall_ += 99'999;
  EXPECT_TRUE(auth_->authenticate(session->token).ok());  // a use: the end moves to 199'999 from login
  wall_ += 100'000;
  auto refused = auth_->authenticate(session->token);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::unauthorized);
  EXPECT_TRUE(auth_->sessions_of(session->user)->empty());  // and it is gone
}

TEST_F(AuthTest, UsesSlideTheExpiryButAreWrittenOnlyNowAndThen) {
  auto session = auth_->login("alice", "right password", "phone");
  ASSERT_TRUE(session.ok());
  ASSERT_EQ(auth_->touch_interval(), milliseconds(10'000));  // a tenth of the TTL
  const TimeMs created = wall_;
  // Uses within the interval write nothing.
  wall_ += 9'000;
  ASSERT_TRUE(auth_->authenticate(session->token).ok());
  EXPECT_EQ(auth_->sessions_of(session->user)->front().last_used_at, created);
  // One past it writes the use.
  wall_ += 2'000;
  ASSERT_TRUE(auth_->authenticate(session->token).ok());
  EXPECT_EQ(auth_->sessions_of(session->user)->front().last_used_at, created + 11'000);
  // Used every 50 s, a session with a TTL of 100 s lives on well past it.
  for (int i = 0; i < 10; ++i) {
    wall_ += 50'000;
    ASSERT_TRUE(auth_->authenticate(session->token).ok()) << "use " << i;
  }
}

TEST_F(AuthTest, AnEndedSessionIsRefusedAndOthersAreNot) {
  auto phone = auth_->login("alice", "right password", "phone");
  auto laptop = auth_->login("alice", "right password", "laptop");
  ASSERT_TRUE(phone.ok() && laptop.ok());
  auto who = auth_->authenticate(phone->token);
  ASSERT_TRUE(who.ok());
  ASSERT_TRUE(auth_->end_session(who->token_hash).ok());
  EXPECT_EQ(auth_->authenticate(phone->token).error().code, ErrorCode::unauthorized);
  EXPECT_TRUE(auth_->authenticate(laptop->token).ok());
}

TEST_F(AuthTest, EndingADeviceEndsEachOfItsSessions) {
  auto first = auth_->login("alice", "right password", "phone");
  auto second = auth_->login("alice", "right password", "phone");
  auto laptop = auth_->login("alice", "right password", "laptop");
  ASSERT_TRUE(first.ok() && second.ok() && laptop.ok());
  auto ended = auth_->end_device(first->user, "phone");
  ASSERT_TRUE(ended.ok());
  EXPECT_EQ(ended->size(), 2U);
  EXPECT_FALSE(auth_->authenticate(first->token).ok());
  EXPECT_FALSE(auth_->authenticate(second->token).ok());
  EXPECT_TRUE(auth_->authenticate(laptop->token).ok());
  EXPECT_EQ(auth_->end_device(first->user, "phone").error().code, ErrorCode::not_found);
}

TEST_F(AuthTest, AChangedPasswordEndsEveryOtherSession) {
  auto phone = auth_->login("alice", "right password", "phone");
  auto laptop = auth_->login("alice", "right password", "laptop");
  ASSERT_TRUE(phone.ok() && laptop.ok());
  auto caller = auth_->authenticate(phone->token);
  ASSERT_TRUE(caller.ok());

  auto wrong = auth_->change_password(*caller, "not the password", "a new password");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, ErrorCode::forbidden);
  auto weak = auth_->change_password(*caller, "right password", "password1");
  ASSERT_FALSE(weak.ok());
  EXPECT_EQ(weak.error().code, ErrorCode::bad_request);  // the sign-up rules
  EXPECT_TRUE(auth_->authenticate(laptop->token).ok());  // nothing changed yet

  auto ended = auth_->change_password(*caller, "right password", "a new password");
  ASSERT_TRUE(ended.ok()) << ended.error().message;
  ASSERT_EQ(ended->size(), 1U);
  EXPECT_EQ(ended->front().device, "laptop");
  EXPECT_TRUE(auth_->authenticate(phone->token).ok());
  EXPECT_EQ(auth_->authenticate(laptop->token).error().code, ErrorCode::unauthorized);
  EXPECT_EQ(login("right password"), ErrorCode::unauthorized);
  EXPECT_TRUE(auth_->login("alice", "a new password", "tablet").ok());
}

TEST_F(AuthTest, ClosedRegistrationRefusesSignUps) {
  Auth closed(*directory_, Auth::HashCost::min, Auth::Throttle{},
              Auth::Sessions{.ttl = std::chrono::hours(1), .registration_open = false, .now = {}});
  auto refused = closed.register_user("bob", "a fine password");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::forbidden);
  EXPECT_TRUE(closed.login("alice", "right password", "d").ok());  // existing accounts still log in
}

TEST_F(AuthTest, ADisabledUserIsRefusedOnlyAfterTheRightPasswordAndLogsInOnceEnabled) {
  const UserId alice = directory_->find_user_by_name("alice")->id;
  ASSERT_TRUE(directory_->set_disabled(alice, true).ok());
  auto refused = auth_->login("alice", "right password", "d");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::forbidden);
  EXPECT_NE(refused.error().message.find("disabled"), std::string::npos);
  EXPECT_EQ(login("wrong password"), ErrorCode::unauthorized);  // says nothing about the account
  EXPECT_TRUE(auth_->sessions_of(alice)->empty());              // no session was left behind
  ASSERT_TRUE(directory_->set_disabled(alice, false).ok());
  EXPECT_EQ(login("right password"), std::nullopt);
}

}  // namespace
}  // namespace parley::services
