#pragma once
// The push policies, as pure decisions over explicit times so that tests can
// drive them with a hand-moved clock:
//
// - batching: entries for one (user, conversation) that arrive within
//   `batch_window` of the first become one push that says how many;
// - per-pair rate limit: a push caused by sender S to recipient R waits
//   until `pair_interval` has passed since the last push from S to R (the
//   entries keep folding into it meanwhile, so nothing is lost);
// - priority: high for 1:1, low for groups;
// - alert text: the sender's name and the first `preview_chars` characters
//   of the body, or a generic text when previews are off.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "ports/push_ledger.hpp"
#include "ports/push_sender.hpp"

namespace parley::services {

class PushPolicy {
 public:
  struct Options {
    std::chrono::milliseconds batch_window{2000};
    std::chrono::milliseconds pair_interval{5000};
    bool previews = true;
    std::size_t preview_chars = 100;
  };

  explicit PushPolicy(Options options) : options_(options) {}

  [[nodiscard]] const Options& options() const noexcept { return options_; }

  // When an open batch should be sent (ms since the epoch).
  [[nodiscard]] TimeMs due_at(const ports::PushBatch& batch) const;
  // Records that a push from `sender` to `recipient` went out at `now`.
  void record_push(UserId sender, UserId recipient, TimeMs now);
  // Forgets pairs whose interval has passed (keeps the map small).
  void prune(TimeMs now);

  // The alert a closed batch becomes; `sender_name` may be empty (unknown).
  [[nodiscard]] ports::WakeUp alert(const ports::PushBatch& batch, std::string_view sender_name) const;
  // The silent push that clears the badge on a user's other devices.
  [[nodiscard]] static ports::WakeUp clear_badge(UserId user, std::uint64_t nonce);

  // At most `chars` UTF-8 characters of `body` (never cut inside one),
  // with "…" when cut.
  [[nodiscard]] static std::string preview(std::string_view body, std::size_t chars);
  // A UUID (the apns-id) that is the same for every resend of one batch.
  [[nodiscard]] static std::string push_id(UserId user, std::string_view conversation, Seq last_seq,
                                           std::string_view kind);

 private:
  Options options_;
  std::map<std::pair<std::uint64_t, std::uint64_t>, TimeMs> last_pair_push_;  // (sender, recipient) -> time
};

}  // namespace parley::services
