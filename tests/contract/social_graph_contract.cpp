// The SocialGraph contract: friend requests, friendships, blocks.

#include <algorithm>
#include <functional>
#include <latch>
#include <thread>

#include "contracts.hpp"

namespace parley::contract {
namespace {

using ports::RemoveOutcome;
using ports::RequestOutcome;

// Ids unique to this test's directory, for engines shared between tests.
UserId user_for(const TempDir& dir, std::uint64_t n) {
  return UserId{(std::hash<std::string>{}(dir.path()) & 0xFFFFFFFFULL) * 1000 + n};
}

TEST_P(SocialGraphContract, StrangersHaveNoRelation) {
  auto r = port_->relation(user_for(dir_, 1), user_for(dir_, 2));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->friends || r->requested || r->requested_by || r->blocks || r->blocked_by);
  EXPECT_TRUE(port_->friends(user_for(dir_, 1))->empty());
  EXPECT_TRUE(port_->requests_to(user_for(dir_, 1))->empty());
}

TEST_P(SocialGraphContract, ARequestIsPendingUntilAccepted) {
  const UserId a = user_for(dir_, 1), b = user_for(dir_, 2);
  ASSERT_EQ(port_->request_friend(a, b).value(), RequestOutcome::pending);
  EXPECT_TRUE(port_->relation(a, b)->requested);
  EXPECT_TRUE(port_->relation(b, a)->requested_by);
  EXPECT_EQ(port_->requests_to(b).value(), std::vector<UserId>{a});
  EXPECT_TRUE(port_->requests_to(a)->empty());
  EXPECT_TRUE(port_->friends(a)->empty());
  // Asking again changes nothing.
  ASSERT_EQ(port_->request_friend(a, b).value(), RequestOutcome::pending);
  EXPECT_EQ(port_->requests_to(b).value(), std::vector<UserId>{a});

  ASSERT_TRUE(port_->accept_friend(b, a).ok());
  EXPECT_TRUE(port_->relation(a, b)->friends);
  EXPECT_TRUE(port_->relation(b, a)->friends);
  EXPECT_FALSE(port_->relation(a, b)->requested);
  EXPECT_EQ(port_->friends(a).value(), std::vector<UserId>{b});
  EXPECT_EQ(port_->friends(b).value(), std::vector<UserId>{a});
  EXPECT_TRUE(port_->requests_to(b)->empty());
  EXPECT_EQ(port_->request_friend(a, b).value(), RequestOutcome::already_friends);
  EXPECT_EQ(port_->request_friend(b, a).value(), RequestOutcome::already_friends);
}

TEST_P(SocialGraphContract, CrossedRequestsMakeFriends) {
  const UserId a = user_for(dir_, 1), b = user_for(dir_, 2);
  ASSERT_EQ(port_->request_friend(a, b).value(), RequestOutcome::pending);
  ASSERT_EQ(port_->request_friend(b, a).value(), RequestOutcome::now_friends);
  EXPECT_TRUE(port_->relation(a, b)->friends);
  EXPECT_TRUE(port_->requests_to(a)->empty());
  EXPECT_TRUE(port_->requests_to(b)->empty());
}

TEST_P(SocialGraphContract, AcceptNeedsAPendingRequestFromTheOther) {
  const UserId a = user_for(dir_, 1), b = user_for(dir_, 2);
  auto none = port_->accept_friend(b, a);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, ErrorCode::not_found);
  ASSERT_EQ(port_->request_friend(a, b).value(), RequestOutcome::pending);
  auto own = port_->accept_friend(a, b);  // the requester cannot accept their own request
  ASSERT_FALSE(own.ok());
  EXPECT_EQ(own.error().code, ErrorCode::not_found);
  ASSERT_TRUE(port_->accept_friend(b, a).ok());
  auto again = port_->accept_friend(b, a);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::conflict);
}

TEST_P(SocialGraphContract, RemoveEndsAFriendshipOrDropsARequest) {
  const UserId a = user_for(dir_, 1), b = user_for(dir_, 2), c = user_for(dir_, 3);
  auto nothing = port_->remove_friend(a, b);
  ASSERT_FALSE(nothing.ok());
  EXPECT_EQ(nothing.error().code, ErrorCode::not_found);

  ASSERT_EQ(port_->request_friend(a, b).value(), RequestOutcome::pending);
  EXPECT_EQ(port_->remove_friend(a, b).value(), RemoveOutcome::withdrawn);  // withdrawn by the requester
  EXPECT_TRUE(port_->requests_to(b)->empty());
  ASSERT_EQ(port_->request_friend(c, b).value(), RequestOutcome::pending);
  EXPECT_EQ(port_->remove_friend(b, c).value(), RemoveOutcome::withdrawn);  // declined by the other
  EXPECT_TRUE(port_->requests_to(b)->empty());

  ASSERT_EQ(port_->request_friend(a, b).value(), RequestOutcome::pending);
  ASSERT_TRUE(port_->accept_friend(b, a).ok());
  EXPECT_EQ(port_->remove_friend(b, a).value(), RemoveOutcome::unfriended);
  EXPECT_FALSE(port_->relation(a, b)->friends);
  EXPECT_TRUE(port_->friends(a)->empty());
  EXPECT_TRUE(port_->friends(b)->empty());
}

TEST_P(SocialGraphContract, ABlockEndsEverythingAndStopsRequests) {
  const UserId a = user_for(dir_, 1), b = user_for(dir_, 2);
  ASSERT_EQ(port_->request_friend(a, b).value(), RequestOutcome::pending);
  ASSERT_TRUE(port_->accept_friend(b, a).ok());
  ASSERT_TRUE(port_->block(b, a).value());  // they were friends
  EXPECT_FALSE(port_->relation(a, b)->friends);
  EXPECT_TRUE(port_->relation(b, a)->blocks);
  EXPECT_TRUE(port_->relation(a, b)->blocked_by);
  EXPECT_TRUE(port_->relation(a, b).value().blocked_either_way());
  EXPECT_TRUE(port_->friends(a)->empty());

  // The blocked side's request is not recorded; the blocker must unblock first.
  EXPECT_EQ(port_->request_friend(a, b).value(), RequestOutcome::other_blocks);
  EXPECT_TRUE(port_->requests_to(b)->empty());
  EXPECT_FALSE(port_->relation(a, b)->requested);
  EXPECT_EQ(port_->request_friend(b, a).value(), RequestOutcome::self_blocks);
  EXPECT_TRUE(port_->requests_to(a)->empty());

  auto twice = port_->block(b, a);
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code, ErrorCode::conflict);
  // The blocked side may block back; each block is lifted on its own.
  ASSERT_FALSE(port_->block(a, b).value());
  ASSERT_TRUE(port_->unblock(b, a).ok());
  EXPECT_TRUE(port_->relation(b, a)->blocked_by);
  EXPECT_FALSE(port_->relation(b, a)->blocks);
  ASSERT_TRUE(port_->unblock(a, b).ok());
  EXPECT_FALSE(port_->relation(a, b).value().blocked_either_way());
  // Nothing the block ended comes back.
  EXPECT_FALSE(port_->relation(a, b)->friends);

  auto not_blocking = port_->unblock(a, b);
  ASSERT_FALSE(not_blocking.ok());
  EXPECT_EQ(not_blocking.error().code, ErrorCode::not_found);
  EXPECT_EQ(port_->request_friend(a, b).value(), RequestOutcome::pending);
}

TEST_P(SocialGraphContract, RelationsOfManyPairsAreEachPairsRelation) {
  const UserId a = user_for(dir_, 1), b = user_for(dir_, 2), c = user_for(dir_, 3), d = user_for(dir_, 4);
  ASSERT_EQ(port_->request_friend(a, b).value(), RequestOutcome::pending);
  ASSERT_TRUE(port_->accept_friend(b, a).ok());
  ASSERT_FALSE(port_->block(c, a).value());
  ASSERT_EQ(port_->request_friend(d, b).value(), RequestOutcome::pending);
  const std::vector<std::pair<UserId, UserId>> pairs{{a, b}, {b, a}, {a, c}, {c, a}, {b, d},
                                                     {d, b}, {c, d}, {a, a}, {a, b}};
  auto many = port_->relations(pairs);
  ASSERT_TRUE(many.ok()) << many.error().message;
  ASSERT_EQ(many->size(), pairs.size());
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const auto one = port_->relation(pairs[i].first, pairs[i].second).value();
    const auto& got = many.value()[i];
    EXPECT_EQ(got.friends, one.friends) << i;
    EXPECT_EQ(got.requested, one.requested) << i;
    EXPECT_EQ(got.requested_by, one.requested_by) << i;
    EXPECT_EQ(got.blocks, one.blocks) << i;
    EXPECT_EQ(got.blocked_by, one.blocked_by) << i;
  }
  EXPECT_TRUE(many.value()[0].friends);
  EXPECT_TRUE(many.value()[3].blocks);
  EXPECT_TRUE(many.value()[4].requested_by);
}

TEST_P(SocialGraphContract, ABlockDropsPendingRequestsBothWays) {
  const UserId a = user_for(dir_, 1), b = user_for(dir_, 2);
  ASSERT_EQ(port_->request_friend(a, b).value(), RequestOutcome::pending);
  ASSERT_FALSE(port_->block(b, a).value());
  EXPECT_TRUE(port_->requests_to(b)->empty());
  ASSERT_TRUE(port_->unblock(b, a).ok());
  auto accept = port_->accept_friend(b, a);
  ASSERT_FALSE(accept.ok());
  EXPECT_EQ(accept.error().code, ErrorCode::not_found);
}

TEST_P(SocialGraphContract, AForgottenUserHasNoRelationLeft) {
  const UserId gone = user_for(dir_, 1), friend_ = user_for(dir_, 2), asker = user_for(dir_, 3),
               asked = user_for(dir_, 4), blocker = user_for(dir_, 5), blocked = user_for(dir_, 6),
               other = user_for(dir_, 7);
  ASSERT_TRUE(port_->request_friend(gone, friend_).ok());
  ASSERT_TRUE(port_->accept_friend(friend_, gone).ok());
  ASSERT_TRUE(port_->request_friend(asker, gone).ok());
  ASSERT_TRUE(port_->request_friend(gone, asked).ok());
  ASSERT_TRUE(port_->block(blocker, gone).ok());
  ASSERT_TRUE(port_->block(gone, blocked).ok());
  ASSERT_TRUE(port_->request_friend(friend_, other).ok());
  ASSERT_TRUE(port_->accept_friend(other, friend_).ok());

  ASSERT_TRUE(port_->forget(gone).ok());
  ASSERT_TRUE(port_->forget(gone).ok());  // again: nothing to do
  for (UserId u : {friend_, asker, asked, blocker, blocked}) {
    for (auto r : {port_->relation(gone, u), port_->relation(u, gone)}) {
      ASSERT_TRUE(r.ok());
      EXPECT_FALSE(r->friends || r->requested || r->requested_by || r->blocks || r->blocked_by);
    }
  }
  EXPECT_TRUE(port_->friends(gone)->empty());
  EXPECT_TRUE(port_->requests_to(gone)->empty());
  EXPECT_TRUE(port_->requests_to(asked)->empty());
  EXPECT_EQ(*port_->friends(friend_), std::vector<UserId>{other});  // the rest of the graph stays
}

TEST_P(SocialGraphContract, AUserAndThemselfAreRefused) {
  const UserId a = user_for(dir_, 1);
  EXPECT_EQ(port_->request_friend(a, a).error().code, ErrorCode::bad_request);
  EXPECT_EQ(port_->block(a, a).error().code, ErrorCode::bad_request);
  EXPECT_FALSE(port_->accept_friend(a, a).ok());
  EXPECT_FALSE(port_->remove_friend(a, a).ok());
  EXPECT_FALSE(port_->unblock(a, a).ok());
}

TEST_P(SocialGraphContract, ListsAreInIdOrderAndSurviveARestart) {
  const UserId me = user_for(dir_, 500);
  std::vector<UserId> expected;
  for (std::uint64_t n : {7, 3, 9, 1}) {
    const UserId other = user_for(dir_, n);
    ASSERT_EQ(port_->request_friend(other, me).value(), RequestOutcome::pending);
    ASSERT_TRUE(port_->accept_friend(me, other).ok());
    expected.push_back(other);
  }
  ASSERT_EQ(port_->request_friend(user_for(dir_, 20), me).value(), RequestOutcome::pending);
  ASSERT_TRUE(port_->block(me, user_for(dir_, 30)).ok());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(port_->friends(me).value(), expected);

  restart();
  EXPECT_EQ(port_->friends(me).value(), expected);
  EXPECT_EQ(port_->requests_to(me).value(), std::vector<UserId>{user_for(dir_, 20)});
  EXPECT_TRUE(port_->relation(me, user_for(dir_, 30))->blocks);
}

// The two sides of many pairs act at once (on a shared engine: from
// different connections, as different servers would). Each operation is
// one step on its pair, so every interleaving ends in a state some order of
// the operations explains.
TEST_P(SocialGraphContract, CrossedRequestsAtOnceMakeFriendsExactlyOnce) {
  constexpr std::uint64_t kPairs = 40;
  std::vector<RequestOutcome> forward(kPairs), backward(kPairs);
  std::latch start(2);
  auto side = [&](bool from_low, std::vector<RequestOutcome>& out) {
    start.arrive_and_wait();
    for (std::uint64_t i = 0; i < kPairs; ++i) {
      const UserId low = user_for(dir_, 2 * i + 1), high = user_for(dir_, 2 * i + 2);
      out[i] = from_low ? port_->request_friend(low, high).value() : port_->request_friend(high, low).value();
    }
  };
  std::thread a(side, true, std::ref(forward));
  std::thread b(side, false, std::ref(backward));
  a.join();
  b.join();
  for (std::uint64_t i = 0; i < kPairs; ++i) {
    const UserId low = user_for(dir_, 2 * i + 1), high = user_for(dir_, 2 * i + 2);
    std::vector<RequestOutcome> both{forward[i], backward[i]};
    std::sort(both.begin(), both.end());
    EXPECT_EQ(both, (std::vector<RequestOutcome>{RequestOutcome::pending, RequestOutcome::now_friends}))
        << "pair " << i;
    EXPECT_TRUE(port_->relation(low, high)->friends) << "pair " << i;
    EXPECT_EQ(port_->friends(low).value(), std::vector<UserId>{high});
    EXPECT_TRUE(port_->requests_to(low)->empty());
    EXPECT_TRUE(port_->requests_to(high)->empty());
  }
}

TEST_P(SocialGraphContract, ABlockRacingAnAcceptLeavesNoFriendship) {
  constexpr std::uint64_t kPairs = 40;
  for (std::uint64_t i = 0; i < kPairs; ++i) {
    ASSERT_EQ(port_->request_friend(user_for(dir_, 2 * i + 1), user_for(dir_, 2 * i + 2)).value(),
              RequestOutcome::pending);
  }
  std::vector<char> accepted(kPairs), were_friends(kPairs);
  std::latch start(2);
  std::thread accepter([&] {
    start.arrive_and_wait();
    for (std::uint64_t i = 0; i < kPairs; ++i) {
      accepted[i] = port_->accept_friend(user_for(dir_, 2 * i + 2), user_for(dir_, 2 * i + 1)).ok();
    }
  });
  std::thread blocker([&] {
    start.arrive_and_wait();
    for (std::uint64_t i = 0; i < kPairs; ++i) {
      were_friends[i] = port_->block(user_for(dir_, 2 * i + 1), user_for(dir_, 2 * i + 2)).value();
    }
  });
  accepter.join();
  blocker.join();
  for (std::uint64_t i = 0; i < kPairs; ++i) {
    const UserId requester = user_for(dir_, 2 * i + 1), other = user_for(dir_, 2 * i + 2);
    // The block ended the friendship if the accept came first; else the
    // accept found no request.
    EXPECT_EQ(accepted[i], were_friends[i]) << "pair " << i;
    const auto r = port_->relation(requester, other).value();
    EXPECT_TRUE(r.blocks && !r.friends && !r.requested && !r.requested_by && !r.blocked_by) << "pair " << i;
    EXPECT_TRUE(port_->friends(other)->empty());
  }
}

}  // namespace
}  // namespace parley::contract
