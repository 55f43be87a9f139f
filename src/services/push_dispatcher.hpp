#pragma once
// The push dispatcher: the thread that turns the ledger's batches into
// wake-ups.
//
// Each round it reads the ledger; an open batch whose window (and pair
// interval) has passed is closed, then dropped if the user has a device
// online by now (that device has or will sync the messages), else sent to
// every registered device of the user not yet reached. Sends run
// concurrently; each outcome is recorded before the next round:
//   ok → the device is marked done in the ledger;
//   token invalid → the token is removed, the device marked done;
//   retry later → the device is tried again after the provider's delay;
//   failed → logged, the device marked done (retrying would not help).
// A closed batch is finished once every device is done. After a crash,
// closed batches resume with the devices not yet marked: a device can get
// one wake-up twice only if the crash fell between the service's answer and
// the mark, and then the resend carries the same apns-id / push_id and
// collapse key, so the device shows one notification.
//
// Several servers may share one ledger. A dispatcher sends only the closed
// batches it holds: those it closed (the ledger records the closer, under
// Options::server_id), renewing its claim once half the lease has passed,
// and those whose holder's claim is older than the lease (that server has
// evidently died), which it takes over first with the ledger's
// compare-and-set. A server restarted under the same id resumes its own
// batches at once. So each batch is sent by one server at a time; the lease
// must exceed the longest round (a round waits for its sends, the sender's
// retries included) plus the clock skew between servers.
//
// on_read() sends the silent badge-clearing push to the user's other
// devices if the user got an alert since its last read (best effort, not
// durable).

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "ports/directory.hpp"
#include "ports/push_ledger.hpp"
#include "ports/push_sender.hpp"
#include "ports/push_tokens.hpp"
#include "ports/state_store.hpp"
#include "services/push_policy.hpp"

namespace parley::services {

class PushDispatcher {
 public:
  struct Options {
    std::chrono::milliseconds max_idle{1000};  // longest sleep between rounds
    std::function<TimeMs()> clock{};           // wall clock (ms); tests inject one
    // This server's id, recorded as the holder of the batches it closes;
    // unique among the servers sharing a ledger, the same across restarts.
    std::string server_id = "local";
    // How long a claim on a closed batch lasts without renewal before
    // another server may take the batch over.
    std::chrono::milliseconds lease{60000};
  };

  PushDispatcher(ports::PushLedger& ledger, ports::PushTokens& tokens, ports::PushSender& sender,
                 ports::StateStore& state, ports::Directory& directory, PushPolicy policy, Options options);
  ~PushDispatcher();
  PushDispatcher(const PushDispatcher&) = delete;
  PushDispatcher& operator=(const PushDispatcher&) = delete;

  void start();
  // Finishes the round in hand and joins the thread.
  void stop();
  // There may be new work (the push step folded entries in). Thread-safe.
  void notify();
  // A device of `user` read up to here (acknowledged its inbox). Thread-safe.
  void on_read(UserId user, std::string_view device);

  // One round, on the caller's thread (the thread runs these; tests call it
  // directly). Returns when every send of the round has an outcome.
  void round();

 private:
  struct Send {
    ports::DeviceToken token;
    ports::WakeUp wake;
    ports::PushBatch* batch = nullptr;  // null for silent pushes
    ports::PushOutcome outcome;
  };

  void run();
  [[nodiscard]] TimeMs now() const { return options_.clock(); }
  // The closed batches of `all` this dispatcher holds at `t`: its own
  // (renewed when half the lease has passed) and stale ones it took over.
  [[nodiscard]] std::vector<ports::PushBatch> held(const std::vector<ports::PushBatch>& all, TimeMs t);
  // Sends everything in `sends` concurrently and waits for every outcome.
  void send_all(std::vector<Send>& sends);
  [[nodiscard]] std::string sender_name(UserId user);

  ports::PushLedger& ledger_;
  ports::PushTokens& tokens_;
  ports::PushSender& sender_;
  ports::StateStore& state_;
  ports::Directory& directory_;
  PushPolicy policy_;  // dispatcher thread only
  Options options_;

  // Dispatcher thread only: devices to try again no earlier than the time
  // ((user, conversation, last_seq, device) -> ms).
  std::map<std::tuple<std::uint64_t, std::string, Seq, std::string>, TimeMs> retry_at_;
  std::map<std::uint64_t, std::string> names_;  // sender name cache; dispatcher thread only

  std::mutex mu_;  // guards the members below
  std::condition_variable cv_;
  bool stopping_ = false;
  bool work_ = false;
  std::set<std::uint64_t> badged_;                     // users alerted since their last read
  std::vector<std::pair<UserId, std::string>> reads_;  // (user, reading device) not yet handled
  std::uint64_t read_nonce_ = 0;
  std::thread thread_;
};

}  // namespace parley::services
