// The PushLedger contract: entries folded into one open batch per (user,
// conversation), each once however often it is replayed; closing, marking
// devices and finishing; bytes of previews kept exactly; durability across a
// restart; concurrent callers (two servers) folding each entry once; and
// closed batches' claims: who closed them, taken over only when stale, and
// of two racing take-overs exactly one wins.

#include <algorithm>
#include <latch>
#include <thread>

#include "push_ledger_contract.hpp"

namespace parley::contract {
namespace {

using ports::PushBatch;
using ports::PushCandidate;

// Users unique to this test's directory, for engines shared between tests.
UserId user_for(const TempDir& dir, std::uint64_t n) {
  return UserId{(std::hash<std::string>{}(dir.path()) & 0xFFFFFFFFULL) * 1000 + n};
}

PushCandidate candidate(UserId user, Seq seq, std::string conversation, std::string preview = "hi") {
  return PushCandidate{user,       seq,   std::move(conversation), MessageId{1000 + seq},
                       UserId{77}, false, std::move(preview),      static_cast<TimeMs>(5000 + seq)};
}

// Every batch, in one order whatever the engine's.
std::vector<PushBatch> sorted(std::vector<PushBatch> all) {
  std::sort(all.begin(), all.end(), [](const PushBatch& a, const PushBatch& b) {
    return std::tie(a.closed, a.user, a.conversation, a.last_seq) <
           std::tie(b.closed, b.user, b.conversation, b.last_seq);
  });
  return all;
}

TEST_P(PushLedgerContract, EntriesFoldIntoOneOpenBatchPerConversation) {
  const UserId u = user_for(dir_, 1);
  std::vector<PushCandidate> in = {candidate(u, 1, "d:1:2", "first"), candidate(u, 2, "g:9", "group one"),
                                   candidate(u, 3, "d:1:2", "third")};
  in[1].group = true;
  ASSERT_EQ(port_->add(in).value(), 3U);
  EXPECT_TRUE(port_->add(std::vector<PushCandidate>{}).ok());

  const auto all = sorted(port_->batches().value());
  ASSERT_EQ(all.size(), 2U);
  const PushBatch& direct = all[0];
  EXPECT_EQ(direct.user, u);
  EXPECT_EQ(direct.conversation, "d:1:2");
  EXPECT_FALSE(direct.group);
  EXPECT_EQ(direct.count, 2U);
  EXPECT_EQ(direct.first_seq, 1U);
  EXPECT_EQ(direct.last_seq, 3U);
  EXPECT_EQ(direct.last_message, MessageId{1003});
  EXPECT_EQ(direct.last_sender, UserId{77});
  EXPECT_EQ(direct.last_preview, "third");
  EXPECT_EQ(direct.opened_at, 5001);  // when the first entry was seen
  EXPECT_FALSE(direct.closed);
  EXPECT_TRUE(direct.done_devices.empty());
  EXPECT_EQ(all[1].conversation, "g:9");
  EXPECT_TRUE(all[1].group);
  EXPECT_EQ(all[1].count, 1U);
}

TEST_P(PushLedgerContract, EntriesAtOrBelowTheWatermarkAreNotFoldedAgain) {
  const UserId u = user_for(dir_, 1), v = user_for(dir_, 2);
  ASSERT_EQ(port_->add(std::vector{candidate(u, 1, "d:1:2"), candidate(u, 2, "d:1:2")}).value(), 2U);
  // A replay of the log folds nothing twice; a new entry of the same batch
  // of records is folded, and so is another user's.
  EXPECT_EQ(port_->add(std::vector{candidate(u, 1, "d:1:2"), candidate(u, 2, "d:1:2")}).value(), 0U);
  EXPECT_EQ(
      port_->add(std::vector{candidate(u, 2, "d:1:2"), candidate(u, 3, "d:1:2"), candidate(v, 1, "d:1:2")}).value(),
      2U);
  // Within one call too: seqs not above the last one folded are skipped.
  EXPECT_EQ(
      port_->add(std::vector{candidate(u, 5, "d:1:2"), candidate(u, 4, "d:1:2"), candidate(u, 5, "d:1:2")}).value(),
      1U);
  const auto all = sorted(port_->batches().value());
  ASSERT_EQ(all.size(), 2U);
  EXPECT_EQ(all[0].user, u);
  EXPECT_EQ(all[0].count, 4U);
  EXPECT_EQ(all[0].last_seq, 5U);
  EXPECT_EQ(all[1].user, v);
  EXPECT_EQ(all[1].count, 1U);
}

TEST_P(PushLedgerContract, ClosingTakesTheBatchAndLaterEntriesOpenANewOne) {
  const UserId u = user_for(dir_, 1);
  ASSERT_EQ(port_->add(std::vector{candidate(u, 1, "d:1:2"), candidate(u, 2, "d:1:2")}).value(), 2U);
  auto closed = port_->close(u, "d:1:2", "node-1", 9000);
  ASSERT_TRUE(closed.ok()) << closed.error().message;
  EXPECT_TRUE(closed->closed);
  EXPECT_EQ(closed->closed_by, "node-1");
  EXPECT_EQ(closed->closed_at, 9000);
  EXPECT_EQ(closed->count, 2U);
  EXPECT_EQ(closed->last_seq, 2U);
  EXPECT_EQ(port_->close(u, "d:1:2", "node-1", 9000).error().code, ErrorCode::not_found);
  EXPECT_EQ(port_->close(u, "d:9:9", "node-1", 9000).error().code, ErrorCode::not_found);

  ASSERT_EQ(port_->add(std::vector{candidate(u, 3, "d:1:2")}).value(), 1U);
  const auto all = sorted(port_->batches().value());
  ASSERT_EQ(all.size(), 2U);
  EXPECT_FALSE(all[0].closed);
  EXPECT_EQ(all[0].closed_by, "");
  EXPECT_EQ(all[0].closed_at, 0);
  EXPECT_EQ(all[0].first_seq, 3U);
  EXPECT_EQ(all[0].count, 1U);
  EXPECT_EQ(all[1], closed.value());
}

TEST_P(PushLedgerContract, DevicesAreMarkedOnceAndFinishForgetsTheBatch) {
  const UserId u = user_for(dir_, 1);
  ASSERT_EQ(port_->add(std::vector{candidate(u, 1, "d:1:2")}).value(), 1U);
  ASSERT_TRUE(port_->close(u, "d:1:2", "node-1", 9000).ok());
  ASSERT_TRUE(port_->mark_done(u, "d:1:2", 1, "phone").ok());
  ASSERT_TRUE(port_->mark_done(u, "d:1:2", 1, "tablet").ok());
  ASSERT_TRUE(port_->mark_done(u, "d:1:2", 1, "phone").ok());
  EXPECT_EQ(port_->mark_done(u, "d:1:2", 7, "phone").error().code, ErrorCode::not_found);
  auto all = port_->batches().value();
  ASSERT_EQ(all.size(), 1U);
  EXPECT_EQ(all[0].done_devices, (std::vector<std::string>{"phone", "tablet"}));

  ASSERT_TRUE(port_->finish(u, "d:1:2", 1).ok());
  EXPECT_TRUE(port_->batches()->empty());
  EXPECT_TRUE(port_->finish(u, "d:1:2", 1).ok());  // finishing twice is harmless
  EXPECT_EQ(port_->mark_done(u, "d:1:2", 1, "phone").error().code, ErrorCode::not_found);
}

TEST_P(PushLedgerContract, PreviewsKeepTheirBytes) {
  const UserId u = user_for(dir_, 1);
  // A preview is cut at a byte count: it may end inside a UTF-8 sequence,
  // and a body may hold a NUL.
  const std::string preview = std::string("caf\xC3", 4) + std::string(1, '\0') + "'\\\"";
  ASSERT_EQ(port_->add(std::vector{candidate(u, 1, "d:1:2", preview)}).value(), 1U);
  EXPECT_EQ(port_->batches()->at(0).last_preview, preview);
  EXPECT_EQ(port_->close(u, "d:1:2", "node-1", 9000)->last_preview, preview);
}

TEST_P(PushLedgerContract, EverythingSurvivesARestart) {
  const UserId u = user_for(dir_, 1);
  ASSERT_EQ(port_->add(std::vector{candidate(u, 1, "d:1:2"), candidate(u, 2, "g:3")}).value(), 2U);
  ASSERT_TRUE(port_->close(u, "d:1:2", "node-1", 9000).ok());
  ASSERT_TRUE(port_->mark_done(u, "d:1:2", 1, "phone").ok());
  const auto before = sorted(port_->batches().value());
  restart();
  EXPECT_EQ(sorted(port_->batches().value()), before);
  EXPECT_EQ(port_->add(std::vector{candidate(u, 2, "g:3")}).value(), 0U);  // the watermark too
  const auto closed = std::find_if(before.begin(), before.end(), [](const PushBatch& b) { return b.closed; });
  ASSERT_NE(closed, before.end());
  EXPECT_EQ(closed->closed_by, "node-1");  // the claim too
  EXPECT_EQ(closed->closed_at, 9000);
}

// A closed batch is its closer's until the claim is older than the lease
// (the caller's stale_before): then another server may take it over, with
// the devices already reached; the holder may always renew.
TEST_P(PushLedgerContract, AClosedBatchIsTakenOverOnlyWhenItsClaimIsStale) {
  const UserId u = user_for(dir_, 1);
  ASSERT_EQ(port_->add(std::vector{candidate(u, 1, "d:1:2"), candidate(u, 2, "d:1:2")}).value(), 2U);
  ASSERT_TRUE(port_->close(u, "d:1:2", "node-1", 10000).ok());
  ASSERT_TRUE(port_->mark_done(u, "d:1:2", 2, "phone").ok());

  // Claimed at 10000: not stale for a lease ending at or before it.
  auto early = port_->take_over(u, "d:1:2", 2, "node-2", 10000, 10500);
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.error().code, ErrorCode::conflict);
  // The holder renews its claim whenever it likes (or resumes it after a
  // restart under the same id).
  auto renewed = port_->take_over(u, "d:1:2", 2, "node-1", 0, 12000);
  ASSERT_TRUE(renewed.ok()) << renewed.error().message;
  EXPECT_EQ(renewed->closed_by, "node-1");
  EXPECT_EQ(renewed->closed_at, 12000);
  EXPECT_EQ(port_->take_over(u, "d:1:2", 2, "node-2", 11000, 13000).error().code, ErrorCode::conflict);

  // Stale: node-2 takes it over with what node-1 did so far.
  auto taken = port_->take_over(u, "d:1:2", 2, "node-2", 12001, 20000);
  ASSERT_TRUE(taken.ok()) << taken.error().message;
  EXPECT_TRUE(taken->closed);
  EXPECT_EQ(taken->closed_by, "node-2");
  EXPECT_EQ(taken->closed_at, 20000);
  EXPECT_EQ(taken->last_seq, 2U);
  EXPECT_EQ(taken->count, 2U);
  EXPECT_EQ(taken->done_devices, std::vector<std::string>{"phone"});
  // node-1 lost it: its renewal fails until node-2's claim is stale too.
  EXPECT_EQ(port_->take_over(u, "d:1:2", 2, "node-1", 19000, 21000).error().code, ErrorCode::conflict);
  const auto all = port_->batches().value();
  ASSERT_EQ(all.size(), 1U);
  EXPECT_EQ(all[0], taken.value());

  EXPECT_EQ(port_->take_over(u, "d:1:2", 7, "node-2", 99999, 21000).error().code, ErrorCode::not_found);
  EXPECT_EQ(port_->take_over(u, "d:9:9", 2, "node-2", 99999, 21000).error().code, ErrorCode::not_found);
  ASSERT_TRUE(port_->finish(u, "d:1:2", 2).ok());
  EXPECT_EQ(port_->take_over(u, "d:1:2", 2, "node-2", 99999, 21000).error().code, ErrorCode::not_found);
}

// Two servers that both find a batch orphaned: each batch goes to exactly
// one of them.
TEST_P(PushLedgerContract, OfTwoRacingTakeOversExactlyOneWins) {
  constexpr int kBatches = 40;
  const UserId u = user_for(dir_, 1);
  for (int n = 0; n < kBatches; ++n) {
    const std::string conversation = "d:1:" + std::to_string(n);
    ASSERT_EQ(port_->add(std::vector{candidate(u, static_cast<Seq>(n + 1), conversation)}).value(), 1U);
    ASSERT_TRUE(port_->close(u, conversation, "node-dead", 1000).ok());
  }
  std::latch start(2);
  auto take_all = [&](std::string owner, std::vector<int>& won) {
    start.arrive_and_wait();
    for (int n = 0; n < kBatches; ++n) {
      auto taken = port_->take_over(u, "d:1:" + std::to_string(n), static_cast<Seq>(n + 1), owner, 5000, 6000);
      if (taken) {
        won.push_back(n);
      } else {
        EXPECT_EQ(taken.error().code, ErrorCode::conflict) << taken.error().message;
      }
    }
  };
  std::vector<int> won_a, won_b;
  std::thread a(take_all, "node-a", std::ref(won_a));
  std::thread b(take_all, "node-b", std::ref(won_b));
  a.join();
  b.join();
  EXPECT_EQ(won_a.size() + won_b.size(), static_cast<std::size_t>(kBatches));
  const auto batches = port_->batches();  // a named result: a range-for over a temporary's value() dangles
  ASSERT_TRUE(batches.ok());
  for (const auto& batch : batches.value()) {
    const int n = static_cast<int>(batch.last_seq) - 1;
    const bool by_a = std::find(won_a.begin(), won_a.end(), n) != won_a.end();
    const bool by_b = std::find(won_b.begin(), won_b.end(), n) != won_b.end();
    EXPECT_NE(by_a, by_b) << "batch " << n;
    EXPECT_EQ(batch.closed_by, by_a ? "node-a" : "node-b");
    EXPECT_EQ(batch.closed_at, 6000);
  }
}

// Two servers closing one due batch: one gets it, claimed by it.
TEST_P(PushLedgerContract, OfTwoRacingClosesOneGetsTheBatchAndItsClaim) {
  constexpr int kConversations = 30;
  const UserId u = user_for(dir_, 1);
  for (int n = 0; n < kConversations; ++n) {
    ASSERT_EQ(port_->add(std::vector{candidate(u, static_cast<Seq>(n + 1), "d:1:" + std::to_string(n))}).value(), 1U);
  }
  std::latch start(2);
  auto close_all = [&](std::string owner, int& won) {
    start.arrive_and_wait();
    for (int n = 0; n < kConversations; ++n) {
      auto closed = port_->close(u, "d:1:" + std::to_string(n), owner, 7000);
      if (closed) {
        EXPECT_EQ(closed->closed_by, owner);
        ++won;
      } else {
        EXPECT_EQ(closed.error().code, ErrorCode::not_found);
      }
    }
  };
  int won_a = 0, won_b = 0;
  std::thread a(close_all, "node-a", std::ref(won_a));
  std::thread b(close_all, "node-b", std::ref(won_b));
  a.join();
  b.join();
  EXPECT_EQ(won_a + won_b, kConversations);
  const auto all = port_->batches().value();
  ASSERT_EQ(all.size(), static_cast<std::size_t>(kConversations));
  EXPECT_EQ(std::count_if(all.begin(), all.end(), [](const PushBatch& batch) { return batch.closed_by == "node-a"; }),
            won_a);
}

// Two servers replaying the same records (a pipeline partition moving
// between them) fold each entry once.
TEST_P(PushLedgerContract, ConcurrentAddsFoldEachEntryOnce) {
  constexpr int kUsers = 4;
  constexpr Seq kSeqs = 30;
  std::latch start(2);
  auto replay = [&](std::size_t& added) {
    start.arrive_and_wait();
    for (Seq s = 1; s <= kSeqs; ++s) {
      std::vector<PushCandidate> batch;
      for (int n = 1; n <= kUsers; ++n) batch.push_back(candidate(user_for(dir_, n), s, "d:1:2"));
      added += port_->add(batch).value();
    }
  };
  std::size_t added_a = 0, added_b = 0;
  std::thread a(replay, std::ref(added_a));
  std::thread b(replay, std::ref(added_b));
  a.join();
  b.join();
  EXPECT_EQ(added_a + added_b, kUsers * kSeqs);
  const auto all = port_->batches().value();
  ASSERT_EQ(all.size(), static_cast<std::size_t>(kUsers));
  for (const auto& batch : all) {
    EXPECT_EQ(batch.count, kSeqs);
    EXPECT_EQ(batch.first_seq, 1U);
    EXPECT_EQ(batch.last_seq, kSeqs);
  }
}

// A close racing adds: every entry ends up in exactly one batch, and the
// batches of one conversation follow each other without overlap.
TEST_P(PushLedgerContract, AnEntryIsInTheClosedBatchOrTheNextOne) {
  const UserId u = user_for(dir_, 1);
  constexpr Seq kSeqs = 60;
  std::latch start(2);
  std::vector<PushBatch> taken;
  std::thread adder([&] {
    start.arrive_and_wait();
    for (Seq s = 1; s <= kSeqs; ++s) ASSERT_EQ(port_->add(std::vector{candidate(u, s, "d:1:2")}).value(), 1U);
  });
  std::thread closer([&] {
    start.arrive_and_wait();
    for (int i = 0; i < 40; ++i) {
      auto b = port_->close(u, "d:1:2", "node-1", 9000);
      if (b) taken.push_back(std::move(b).value());
    }
  });
  adder.join();
  closer.join();
  const auto rest = port_->batches().value();
  // Every batch close() returned is still in the ledger, closed.
  EXPECT_EQ(std::count_if(rest.begin(), rest.end(), [](const PushBatch& b) { return b.closed; }),
            static_cast<std::ptrdiff_t>(taken.size()));
  std::vector<PushBatch> all = taken;
  for (const auto& b : rest) {
    if (!b.closed) all.push_back(b);
  }
  std::sort(all.begin(), all.end(), [](const PushBatch& a, const PushBatch& b) { return a.first_seq < b.first_seq; });
  Seq next = 1;
  for (const auto& b : all) {
    EXPECT_EQ(b.first_seq, next);
    EXPECT_EQ(b.count, b.last_seq - b.first_seq + 1);
    next = b.last_seq + 1;
  }
  EXPECT_EQ(next, kSeqs + 1);
}

}  // namespace
}  // namespace parley::contract
