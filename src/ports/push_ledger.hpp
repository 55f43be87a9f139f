#pragma once
// PushLedger: the push step's durable memory, so that a crash neither loses
// a push nor sends one twice.
//
// Inbox entries that should wake a user are folded into one open batch per
// (user, conversation). A user's watermark (the highest seq ever folded in)
// moves in the same atomic write, so a replay of the log after a crash folds
// nothing twice. The dispatcher closes a batch when its window has passed
// (later entries open a new batch), records each device the closed batch has
// reached, and finishes it when every device is done; after a crash it
// resumes closed batches, skipping the devices already reached.
//
// Several servers may share one ledger (PostgreSQL). A closed batch then
// belongs to the server that closed it: close() records the closer and the
// time in the same atomic write, and only that server sends the batch. Its
// claim is a lease: a server renews it (take_over with its own id) while it
// works on the batch, and another server may take a batch over only once
// the claim is older than the lease (its closer has evidently died).
// take_over() is a compare-and-set, so of two servers taking over one
// orphaned batch exactly one wins.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/ids.hpp"
#include "core/result.hpp"

namespace parley::ports {

// One inbox entry that should wake its user.
struct PushCandidate {
  UserId user;
  Seq seq = 0;
  std::string conversation;
  MessageId message;
  UserId sender;
  bool group = false;
  std::string preview;  // the start of the body, for the alert text
  TimeMs at = 0;        // when the push step saw it
};

struct PushBatch {
  UserId user;
  std::string conversation;
  bool group = false;
  std::uint32_t count = 0;  // entries folded in
  Seq first_seq = 0;
  Seq last_seq = 0;
  MessageId last_message;
  UserId last_sender;
  std::string last_preview;
  TimeMs opened_at = 0;                   // `at` of the first entry
  bool closed = false;                    // taken by the dispatcher
  std::vector<std::string> done_devices;  // closed batches: devices reached (or given up on)
  std::string closed_by;                  // closed batches: the server sending it ("" for none)
  TimeMs closed_at = 0;                   // closed batches: when closed_by closed it or last renewed its claim

  friend bool operator==(const PushBatch&, const PushBatch&) = default;
};

class PushLedger {
 public:
  virtual ~PushLedger() = default;

  // Folds candidates into their open batches, skipping any whose seq is not
  // above its user's watermark, and raises the watermarks; one durable,
  // atomic write. Returns how many were folded in.
  [[nodiscard]] virtual Result<std::size_t> add(std::span<const PushCandidate> candidates) = 0;

  // Every batch, open and closed (the set is small: users with no online
  // device and unsent wake-ups).
  [[nodiscard]] virtual Result<std::vector<PushBatch>> batches() = 0;

  // Closes the open batch of (user, conversation) for server `owner` at time
  // `at` (closed_by, closed_at), in one atomic write, and returns it;
  // not_found if there is none (another caller closed it first). Entries
  // added afterwards open a new batch.
  [[nodiscard]] virtual Result<PushBatch> close(UserId user, std::string_view conversation, std::string_view owner,
                                                TimeMs at) = 0;

  // Compare-and-set on the claim of the closed batch ending at `last_seq`:
  // if it is held by `new_owner` already (a renewal, or a server restarted
  // under the same id) or its closed_at is before `stale_before` (the
  // closer's lease ran out), it becomes new_owner's as of `at` and is
  // returned (done devices as they are now); otherwise conflict (another
  // server holds it), or not_found if there is no such closed batch. Atomic:
  // of two servers taking over one stale batch, exactly one succeeds.
  [[nodiscard]] virtual Result<PushBatch> take_over(UserId user, std::string_view conversation, Seq last_seq,
                                                    std::string_view new_owner, TimeMs stale_before, TimeMs at) = 0;

  // Records that the closed batch ending at `last_seq` reached `device`.
  [[nodiscard]] virtual Result<void> mark_done(UserId user, std::string_view conversation, Seq last_seq,
                                               std::string_view device) = 0;

  // Forgets the closed batch ending at `last_seq`.
  [[nodiscard]] virtual Result<void> finish(UserId user, std::string_view conversation, Seq last_seq) = 0;
};

}  // namespace parley::ports
