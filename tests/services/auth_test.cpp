// Auth's login throttle, on a clock the test moves.

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
    auth_ = std::make_unique<Auth>(*directory_, Auth::HashCost::min,
                                   Auth::Throttle{.free_failures = 3,
                                                  .first_delay = milliseconds(1000),
                                                  .max_delay = milliseconds(4000),
                                                  .now = [this] { return now_; }});
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

}  // namespace
}  // namespace parley::services
