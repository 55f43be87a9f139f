// The push dispatcher on a ledger shared by several servers: a closed batch
// is sent by the server that closed it, or by one server that takes it over
// once the closer's lease has run out; a server restarted under its id
// resumes its batches at once, skipping the devices already reached; a
// holder that keeps working on a batch renews its claim. Clocks are hand
// moved; a sender that holds its answers stands for a send in flight.

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "adapters/embedded/memory_state_store.hpp"
#include "adapters/embedded/rocks_directory.hpp"
#include "adapters/embedded/rocks_push_ledger.hpp"
#include "adapters/embedded/rocks_push_tokens.hpp"
#include "services/push_dispatcher.hpp"

namespace parley::services {
namespace {

template <typename T>
T must(Result<T> r) {
  if (!r) throw std::runtime_error(r.error().message);
  return std::move(r).value();
}

// A PushSender that records every alert it is asked to send and answers
// with `answer`, at once or, while held, when released.
class FakeSender final : public ports::PushSender {
 public:
  void send(const ports::DeviceToken& token, const ports::WakeUp& wake, ports::PushCallback done) override {
    std::unique_lock lock(mu_);
    sent_.emplace_back(wake.push_id, token.device);
    if (held_) {
      parked_.push_back(std::move(done));
      cv_.notify_all();
      return;
    }
    const ports::PushOutcome outcome = answer_;
    lock.unlock();
    done(outcome);
  }

  void answer(ports::PushOutcome outcome) {
    std::lock_guard lock(mu_);
    answer_ = std::move(outcome);
  }
  void hold() {
    std::lock_guard lock(mu_);
    held_ = true;
  }
  // Waits until `n` sends are parked (the round that made them is in
  // flight); false if they never come (the deadline only turns a broken
  // dispatcher's hang into a failure).
  [[nodiscard]] bool wait_parked(std::size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [&] { return parked_.size() >= n; });
  }
  // Answers every parked send and stops holding.
  void release() {
    std::vector<ports::PushCallback> parked;
    ports::PushOutcome outcome;
    {
      std::lock_guard lock(mu_);
      held_ = false;
      parked.swap(parked_);
      outcome = answer_;
    }
    for (auto& done : parked) done(outcome);
  }
  [[nodiscard]] std::vector<std::pair<std::string, std::string>> sent() {
    std::lock_guard lock(mu_);
    return sent_;
  }

 private:
  std::mutex mu_;  // guards the members below
  std::condition_variable cv_;
  ports::PushOutcome answer_ = ports::PushOutcome::ok();
  bool held_ = false;
  std::vector<ports::PushCallback> parked_;
  std::vector<std::pair<std::string, std::string>> sent_;  // (push_id, device)
};

constexpr std::chrono::milliseconds kWindow{100};
constexpr std::chrono::milliseconds kLease{60000};

class PushDispatcherTest : public ::testing::Test {
 protected:
  PushDispatcherTest() {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() / ("parley-push-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(dir_);
    ledger_ = must(embedded::RocksPushLedger::open((dir_ / "ledger").string(), embedded::Durability::os));
    tokens_ = must(embedded::RocksPushTokens::open((dir_ / "tokens").string()));
    directory_ = must(embedded::RocksDirectory::open((dir_ / "directory").string()));
  }
  ~PushDispatcherTest() override {
    ledger_.reset();
    tokens_.reset();
    directory_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A dispatcher of server `id` on the shared ledger, on the test's clock.
  std::unique_ptr<PushDispatcher> dispatcher(const std::string& id, FakeSender& sender) {
    return std::make_unique<PushDispatcher>(
        *ledger_, *tokens_, sender, state_, *directory_,
        PushPolicy({.batch_window = kWindow, .pair_interval = std::chrono::milliseconds(0)}),
        PushDispatcher::Options{.clock = [this] { return now_.load(); }, .server_id = id, .lease = kLease});
  }

  // Users 1..n, each with a phone and a tablet and one message waiting
  // (seen at time 0).
  void offline_users(int n) {
    for (int u = 1; u <= n; ++u) {
      const UserId user{static_cast<std::uint64_t>(u)};
      for (const char* device : {"phone", "tablet"}) {
        ASSERT_TRUE(
            tokens_->put({user, device, ports::PushPlatform::apns, "tok-" + std::to_string(u) + "-" + device, 0}).ok());
      }
      const ports::PushCandidate c{user, 1, "d:900:" + std::to_string(u), MessageId{100}, UserId{900}, false, "hi", 0};
      ASSERT_EQ(ledger_->add(std::span(&c, 1)).value(), 1U);
    }
  }

  // How often each (push_id, device) was sent, over every sender.
  static std::map<std::pair<std::string, std::string>, int> counts(std::initializer_list<FakeSender*> senders) {
    std::map<std::pair<std::string, std::string>, int> out;
    for (auto* s : senders) {
      for (const auto& sent : s->sent()) ++out[sent];
    }
    return out;
  }

  std::filesystem::path dir_;
  std::unique_ptr<embedded::RocksPushLedger> ledger_;
  std::unique_ptr<embedded::RocksPushTokens> tokens_;
  std::unique_ptr<embedded::RocksDirectory> directory_;
  embedded::MemoryStateStore state_;
  std::atomic<TimeMs> now_{1000};  // every batch is due
};

// The duplicate this guards against: server A closed batches and is
// sending them when server B's round reads the ledger.
TEST_F(PushDispatcherTest, ABatchInFlightOnOneServerIsNotSentByAnother) {
  constexpr int kUsers = 5;
  offline_users(kUsers);
  FakeSender sender_a, sender_b;
  auto a = dispatcher("node-1", sender_a);
  auto b = dispatcher("node-2", sender_b);

  sender_a.hold();
  std::thread round_a([&] { a->round(); });
  EXPECT_TRUE(sender_a.wait_parked(2 * kUsers));  // A closed every batch; its sends are in flight
  now_ += 500;
  b->round();
  EXPECT_TRUE(sender_b.sent().empty());
  sender_a.release();
  round_a.join();

  now_ += 500;
  b->round();
  a->round();
  const auto sent = counts({&sender_a, &sender_b});
  EXPECT_EQ(sent.size(), 2U * kUsers);
  for (const auto& [key, n] : sent) EXPECT_EQ(n, 1) << key.first << " " << key.second;
  EXPECT_TRUE(sender_b.sent().empty());
  EXPECT_TRUE(ledger_->batches()->empty());
}

// Two servers running rounds at once while entries keep arriving: every
// batch reaches every device once, whichever server closes it.
TEST_F(PushDispatcherTest, TwoDispatchersRacingSendEachBatchOnce) {
  constexpr int kUsers = 8;
  constexpr int kRounds = 30;
  offline_users(kUsers);
  FakeSender sender_a, sender_b;
  auto a = dispatcher("node-1", sender_a);
  auto b = dispatcher("node-2", sender_b);

  std::atomic<bool> go{false};
  auto rounds = [&](PushDispatcher* d) {
    while (!go.load()) {
    }
    for (int i = 0; i < kRounds; ++i) d->round();
  };
  std::thread ta(rounds, a.get());
  std::thread tb(rounds, b.get());
  go = true;
  // More entries while they run; each opens a new batch once the last one
  // closed, or folds into the open one.
  for (Seq seq = 2; seq <= 20; ++seq) {
    for (int u = 1; u <= kUsers; ++u) {
      const ports::PushCandidate c{UserId{static_cast<std::uint64_t>(u)},
                                   seq,
                                   "d:900:" + std::to_string(u),
                                   MessageId{100 + seq},
                                   UserId{900},
                                   false,
                                   "hi",
                                   now_.load()};
      ASSERT_EQ(ledger_->add(std::span(&c, 1)).value(), 1U);
    }
    now_ += 60;
  }
  ta.join();
  tb.join();
  now_ += 1000;  // the last batches are due
  a->round();
  b->round();

  EXPECT_TRUE(ledger_->batches()->empty());
  const auto sent = counts({&sender_a, &sender_b});
  EXPECT_GE(sent.size(), 2U * kUsers);
  for (const auto& [key, n] : sent) EXPECT_EQ(n, 1) << key.first << " " << key.second;
}

// A server that died after closing batches: nobody sends them until its
// lease runs out, then exactly one of the others takes each over, with
// the devices it had reached skipped.
TEST_F(PushDispatcherTest, AnOrphanedBatchIsTakenOverOnceTheLeaseRunsOut) {
  constexpr int kUsers = 3;
  offline_users(kUsers);
  for (int u = 1; u <= kUsers; ++u) {
    ASSERT_TRUE(
        ledger_->close(UserId{static_cast<std::uint64_t>(u)}, "d:900:" + std::to_string(u), "node-dead", 1000).ok());
  }
  ASSERT_TRUE(ledger_->mark_done(UserId{1}, "d:900:1", 1, "phone").ok());
  FakeSender sender_a, sender_b;
  auto a = dispatcher("node-1", sender_a);
  auto b = dispatcher("node-2", sender_b);

  now_ = 1000 + kLease.count();  // not yet stale
  a->round();
  b->round();
  EXPECT_TRUE(sender_a.sent().empty());
  EXPECT_TRUE(sender_b.sent().empty());

  now_ += 1;
  sender_a.hold();
  std::thread round_a([&] { a->round(); });
  EXPECT_TRUE(sender_a.wait_parked(2 * kUsers - 1));
  b->round();  // A's take-over is fresh: B leaves the batches alone
  sender_a.release();
  round_a.join();
  b->round();

  const auto sent = counts({&sender_a, &sender_b});
  EXPECT_EQ(sent.size(), 2U * kUsers - 1);
  for (const auto& [key, n] : sent) EXPECT_EQ(n, 1) << key.first << " " << key.second;
  EXPECT_TRUE(sender_b.sent().empty());
  for (const auto& [key, n] : sent) {
    EXPECT_FALSE(key.first == PushPolicy::push_id(UserId{1}, "d:900:1", 1, "alert") && key.second == "phone");
  }
  EXPECT_TRUE(ledger_->batches()->empty());
}

// Crash and restart under the same id: the server's own batches resume at
// once (no lease to wait out), skipping the devices already reached.
TEST_F(PushDispatcherTest, AServerRestartedUnderItsIdResumesItsBatchesAtOnce) {
  offline_users(1);
  ASSERT_TRUE(ledger_->close(UserId{1}, "d:900:1", "node-1", 1000).ok());
  ASSERT_TRUE(ledger_->mark_done(UserId{1}, "d:900:1", 1, "phone").ok());
  FakeSender sender_other, sender_restarted;
  auto other = dispatcher("node-2", sender_other);
  auto restarted = dispatcher("node-1", sender_restarted);

  now_ = 1500;
  other->round();
  restarted->round();
  EXPECT_TRUE(sender_other.sent().empty());
  EXPECT_EQ(sender_restarted.sent(), (std::vector<std::pair<std::string, std::string>>{
                                         {PushPolicy::push_id(UserId{1}, "d:900:1", 1, "alert"), "tablet"}}));
  EXPECT_TRUE(ledger_->batches()->empty());
}

// A holder that keeps retrying a batch for longer than the lease renews its
// claim each half lease, so no other server takes the batch over.
TEST_F(PushDispatcherTest, AHolderStillWorkingOnABatchKeepsIt) {
  offline_users(1);
  FakeSender sender_a, sender_b;
  auto a = dispatcher("node-1", sender_a);
  auto b = dispatcher("node-2", sender_b);
  sender_a.answer({.status = ports::PushOutcome::Status::retry_later,
                   .retry_after = std::chrono::milliseconds(5000),
                   .detail = "throttled"});

  for (int i = 0; i < 10; ++i) {  // 10 × 20 s: over three leases
    a->round();
    now_ += 20000;
    b->round();
  }
  EXPECT_TRUE(sender_b.sent().empty());
  const auto all = ledger_->batches().value();
  ASSERT_EQ(all.size(), 1U);
  EXPECT_EQ(all[0].closed_by, "node-1");

  sender_a.answer(ports::PushOutcome::ok());
  a->round();
  EXPECT_TRUE(ledger_->batches()->empty());
  EXPECT_TRUE(sender_b.sent().empty());
}

}  // namespace
}  // namespace parley::services
