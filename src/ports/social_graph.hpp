#pragma once
// SocialGraph: friendships, friend requests and blocks between users (part of
// DESIGN.md's Directory role; one engine may implement this port and
// Directory both).
//
// Each operation is one atomic step on the pair it names, so that the rules
// below hold however requests from the two sides interleave:
//
//   - a friendship is symmetric and excludes pending requests and blocks;
//   - a request is pending from one side until the other accepts it, or
//     either side removes it;
//   - a block is one-sided; it ends the pair's friendship and pending
//     requests, and while it stands no request between the two is recorded.
//
// The port does not check that users exist; callers do (the Directory knows).

#include <span>
#include <utility>
#include <vector>

#include "core/ids.hpp"
#include "core/result.hpp"

namespace parley::ports {

// How `self` stands with `other`.
struct Relation {
  bool friends = false;
  bool requested = false;     // self asked other; pending
  bool requested_by = false;  // other asked self; pending
  bool blocks = false;        // self blocks other
  bool blocked_by = false;    // other blocks self

  // Either side blocks the other: no messages, no presence, no requests.
  [[nodiscard]] bool blocked_either_way() const noexcept { return blocks || blocked_by; }
};

enum class RequestOutcome {
  pending,          // recorded (or already was): other may accept it
  now_friends,      // other had asked self already: the two are friends now
  already_friends,  // nothing changed
  self_blocks,      // self blocks other: nothing recorded
  other_blocks,     // other blocks self: nothing recorded (callers must not say so)
};

enum class RemoveOutcome {
  unfriended,  // the friendship ended
  withdrawn,   // a pending request (either way) was dropped
};

class SocialGraph {
 public:
  virtual ~SocialGraph() = default;

  // `from` asks `to` to be friends. bad_request when from == to.
  [[nodiscard]] virtual Result<RequestOutcome> request_friend(UserId from, UserId to) = 0;

  // `self` accepts the pending request of `requester`. not_found when there
  // is none; conflict when the two are friends already.
  [[nodiscard]] virtual Result<void> accept_friend(UserId self, UserId requester) = 0;

  // Ends the friendship of `self` and `other`, or drops a pending request
  // between them (withdrawing one's own or declining the other's).
  // not_found when there is neither.
  [[nodiscard]] virtual Result<RemoveOutcome> remove_friend(UserId self, UserId other) = 0;

  // `self` blocks `other`: their friendship and pending requests end. Returns
  // whether they were friends. conflict when self blocks other already;
  // bad_request when self == other.
  [[nodiscard]] virtual Result<bool> block(UserId self, UserId other) = 0;

  // Lifts the block; nothing that the block ended comes back. not_found when
  // self does not block other.
  [[nodiscard]] virtual Result<void> unblock(UserId self, UserId other) = 0;

  // Drops everything between `user` and anyone (the account was deleted):
  // friendships, pending requests both ways, blocks both ways. Idempotent.
  [[nodiscard]] virtual Result<void> forget(UserId user) = 0;

  // How `self` stands with `other` (all false for strangers).
  [[nodiscard]] virtual Result<Relation> relation(UserId self, UserId other) = 0;
  // relation() of each (self, other), in order: one round trip where the
  // graph has them (PostgreSQL); this default asks one by one.
  [[nodiscard]] virtual Result<std::vector<Relation>> relations(std::span<const std::pair<UserId, UserId>> pairs) {
    std::vector<Relation> out;
    out.reserve(pairs.size());
    for (const auto& [self, other] : pairs) {
      auto r = relation(self, other);
      if (!r) return std::move(r).error();
      out.push_back(r.value());
    }
    return out;
  }

  // The friends of `user`, in id order.
  [[nodiscard]] virtual Result<std::vector<UserId>> friends(UserId user) = 0;

  // Users whose request to `user` is pending, in id order.
  [[nodiscard]] virtual Result<std::vector<UserId>> requests_to(UserId user) = 0;
};

}  // namespace parley::ports
