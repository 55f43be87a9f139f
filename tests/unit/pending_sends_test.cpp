// PendingSends: the oldest waiter found in order, and load shedding that
// refuses new sends only while many wait and the oldest has waited long.

#include "gateway/pending_sends.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gateway/connection.hpp"

namespace parley::gateway {
namespace {

using Clock = PendingSends::Clock;
using std::chrono::milliseconds;

// Waits for time itself to pass (what these tests are about), not for an
// event of another thread.
void let_pass(milliseconds d) {
  const auto until = Clock::now() + d;
  while (Clock::now() < until) {
  }
}

TEST(PendingSends, RefusesOnlyWhileManyWaitAndTheOldestIsLate) {
  PendingSends pending({.after = milliseconds(5), .min_pending = 3});
  const auto first = pending.add({}, 1);
  const auto second = pending.add({}, 2);
  ASSERT_TRUE(first && second);
  let_pass(milliseconds(10));
  // Two waiting, one late: below min_pending, a lone stuck send sheds nothing.
  const auto third = pending.add({}, 3);
  ASSERT_TRUE(third);
  // Three waiting and the oldest is late: refused, and nothing registered.
  EXPECT_FALSE(pending.add({}, 4));
  EXPECT_EQ(pending.size(), 3U);
  // The late ones answered: the oldest left is in time again.
  pending.complete(*first, make_error(ErrorCode::unavailable, "x"));
  pending.complete(*second, make_error(ErrorCode::unavailable, "x"));
  const auto fourth = pending.add({}, 5);
  ASSERT_TRUE(fourth);
  EXPECT_EQ(pending.size(), 2U);
}

TEST(PendingSends, NeverRefusesWhenSheddingIsOff) {
  PendingSends pending({.after = milliseconds(0), .min_pending = 1});
  ASSERT_TRUE(pending.add({}, 1));
  let_pass(milliseconds(2));
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(pending.add({}, i));
}

TEST(PendingSends, ExpiresTheLateOnesOnly) {
  PendingSends pending;
  const auto old1 = pending.add({}, 1);
  const auto old2 = pending.add({}, 2);
  pending.complete(*old1, make_error(ErrorCode::unavailable, "answered before it expired"));
  let_pass(milliseconds(20));
  const auto young = pending.add({}, 3);
  ASSERT_TRUE(old2 && young);
  pending.expire(milliseconds(10));
  EXPECT_EQ(pending.size(), 1U);  // old2 expired; young waits on
  pending.complete(*young, make_error(ErrorCode::unavailable, "x"));
  EXPECT_EQ(pending.size(), 0U);
}

// A connection on its own io_context that records the answers it is given.
class Recorder final : public Connection {
 public:
  explicit Recorder(boost::asio::io_context& io) : io_(io) {}
  void send(std::shared_ptr<const std::string> frame) override { others.push_back(*frame); }
  void send_reply(std::shared_ptr<const std::string> frame) override { others.push_back(*frame); }
  void close_going_away() override {}
  void close_session_ended(std::string /*reason*/) override {}
  [[nodiscard]] const ports::SessionRecord& session() const override { return session_; }
  [[nodiscard]] boost::asio::any_io_executor executor() const override { return io_.get_executor(); }
  void send_here(std::shared_ptr<const std::string> frame) override { others.push_back(*frame); }
  void send_reply_here(std::shared_ptr<const std::string> frame) override {
    EXPECT_TRUE(io_.get_executor().running_in_this_thread());
    replies.push_back(*frame);
  }

  std::vector<std::string> replies;
  std::vector<std::string> others;

 private:
  boost::asio::io_context& io_;
  ports::SessionRecord session_;
};

TEST(PendingSends, CompleteAllAnswersEachWaiterOnItsConnectionsThreadInOrder) {
  boost::asio::io_context thread_a;
  boost::asio::io_context thread_b;
  auto a = std::make_shared<Recorder>(thread_a);
  auto b = std::make_shared<Recorder>(thread_b);
  PendingSends pending;
  const auto first = pending.add(a, 1);
  const auto second = pending.add(b, 2);
  const auto third = pending.add(a, 3);
  ASSERT_TRUE(first && second && third);
  const Message m{MessageId{77}, "d:1:2", UserId{1}, Recipient{Recipient::Kind::user, 2}, "hi", 1234, "c"};
  const std::vector<std::pair<std::uint64_t, Result<Message>>> results{
      {*third, m}, {*first, m}, {*second, make_error(ErrorCode::forbidden, "blocked")}, {*third + 1000, m}};
  pending.complete_all(results);
  EXPECT_EQ(pending.size(), 0U);
  EXPECT_TRUE(a->replies.empty());  // handed to the connection's thread, not written from here
  thread_a.run();
  thread_b.run();
  ASSERT_EQ(a->replies.size(), 2U);
  EXPECT_NE(a->replies[0].find(R"("re":3)"), std::string::npos) << a->replies[0];
  EXPECT_NE(a->replies[0].find(R"("message_id":"77")"), std::string::npos) << a->replies[0];
  EXPECT_NE(a->replies[1].find(R"("re":1)"), std::string::npos) << a->replies[1];
  ASSERT_EQ(b->replies.size(), 1U);
  EXPECT_NE(b->replies[0].find(R"("re":2)"), std::string::npos) << b->replies[0];
  EXPECT_NE(b->replies[0].find("forbidden"), std::string::npos) << b->replies[0];
  EXPECT_TRUE(a->others.empty() && b->others.empty());
}

// A stopping server lets the sends in flight be answered first: the wait
// ends when the last one is (on another thread), and not before.
TEST(PendingSends, WaitDrainedEndsWhenTheLastSendIsAnswered) {
  PendingSends pending;
  EXPECT_TRUE(pending.wait_drained(Clock::now()));  // none waiting: at once
  const auto first = pending.add({}, 1);
  const auto second = pending.add({}, 2);
  ASSERT_TRUE(first && second);
  EXPECT_FALSE(pending.wait_drained(Clock::now() + milliseconds(20)));
  pending.complete(*first, make_error(ErrorCode::unavailable, "test"));
  EXPECT_FALSE(pending.wait_drained(Clock::now() + milliseconds(20)));  // one still waits
  std::thread answer([&] {
    const std::pair<std::uint64_t, Result<Message>> results[] = {{*second, make_error(ErrorCode::unavailable, "x")}};
    pending.complete_all(results);
  });
  EXPECT_TRUE(pending.wait_drained(Clock::now() + std::chrono::seconds(30)));
  EXPECT_EQ(pending.size(), 0U);
  answer.join();
}

}  // namespace
}  // namespace parley::gateway
