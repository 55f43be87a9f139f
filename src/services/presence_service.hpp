#pragma once
// Presence: who is online, away or offline, and telling their friends.
//
// A user is online while at least one of their connections is open and has
// shown life (a request) within the TTL; `away` is a flag the user sets; the
// last connection closing or the TTL running out makes them offline and
// records last_seen. The live state lives in the StateStore (so that it is
// shared by every server); this service turns its transitions into
// `presence` events:
//
//   - Debounce and batch: a transition does not notify at once; the user is
//     due `debounce` later, and then the store's announce() compares the live
//     status with what friends were last told. A change reverted within the
//     window (a reconnect) sends nothing; a burst sends its final state once.
//   - Who hears: watchers(user) in the store, the user's online friends. A
//     user registers with each friend's watchers when they come online and
//     leaves them when they go offline, so a status change costs
//     O(online friends); each watcher is checked against the social graph
//     before it is told, so a stale entry (a friendship that just ended)
//     never leaks a status.
//
// Connection events are queued and applied in order on one presence thread
// (so a heartbeat can never overtake the disconnect that follows it); the
// same thread expires TTLs and sends due announcements every `tick`.
// The apply_* and run_due methods are the synchronous core, public for
// benchmarks and for tests that drive the clock themselves.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "core/clock.hpp"
#include "ports/social_graph.hpp"
#include "ports/state_store.hpp"

namespace parley::services {

class PresenceService {
 public:
  struct Options {
    std::chrono::milliseconds ttl{30000};       // presence lasts this long after the last sign of life
    std::chrono::milliseconds heartbeat{5000};  // how often clients are expected to ping
    std::chrono::milliseconds debounce{2000};   // how long a change waits before friends hear of it
    std::chrono::milliseconds tick{0};          // 0: derived from ttl and debounce (see tick_interval)
  };

  // Work done, for benchmarks and logs.
  struct Stats {
    std::uint64_t transitions = 0;       // live status changes seen
    std::uint64_t watcher_updates = 0;   // watcher-set entries added or removed
    std::uint64_t announcements = 0;     // status changes announced to friends
    std::uint64_t watchers_checked = 0;  // watchers looked at for those announcements
    std::uint64_t events = 0;            // presence events published (one per watcher server)
  };

  using WallClock = std::function<TimeMs()>;

  PresenceService(ports::StateStore& state, ports::SocialGraph& social, Options options, WallClock clock = now_ms);
  ~PresenceService();
  PresenceService(const PresenceService&) = delete;
  PresenceService& operator=(const PresenceService&) = delete;

  // Starts / stops the presence thread. stop() applies what is queued.
  void start();
  void stop();

  // Connection events: queued, never block. `device` names one connection
  // and must be unique among the user's connections on all servers. A
  // heartbeat does not wake the presence thread: it is applied at its next
  // tick (tick_interval), or with the next event that wakes it, in order; it
  // only extends a presence that lasts ttl, and the gateway sends one a
  // connection every refresh_interval (800 wake-ups a second for 2,000
  // connections, each dearer on two cores than the heartbeat itself).
  void connected(UserId user, std::string device);
  void heartbeat(UserId user, std::string device);
  void disconnected(UserId user, std::string device);

  // Whether the state store took the last presence write or sweep: false
  // while it does not answer (presence is degraded; `ping` says so).
  [[nodiscard]] bool available() const noexcept { return available_.load(std::memory_order_relaxed); }

  // Sets `online` or `away` (bad_request for anything else). Blocks until the
  // presence thread has applied it: call off I/O threads.
  [[nodiscard]] Result<void> set_status(UserId user, ports::PresenceStatus status);

  // A friendship began: each side that is online starts watching the other
  // and hears the other's announced status now unless it is offline.
  // Blocking; any thread.
  [[nodiscard]] Result<void> friendship_started(UserId a, UserId b);
  // A friendship ended (removed or blocked): neither side hears of the other
  // again. Blocking; any thread.
  [[nodiscard]] Result<void> friendship_ended(UserId a, UserId b);

  // --- synchronous core (presence thread, or a benchmark without start()) --
  [[nodiscard]] Result<void> apply_touch(UserId user, const std::string& device);
  [[nodiscard]] Result<void> apply_remove(UserId user, const std::string& device);
  [[nodiscard]] Result<void> apply_status(UserId user, ports::PresenceStatus status);
  // Expires TTLs and announces every user due by `now`.
  [[nodiscard]] Result<void> run_due(TimeMs now);

  [[nodiscard]] const Options& options() const noexcept { return options_; }
  [[nodiscard]] std::chrono::milliseconds tick_interval() const noexcept;
  // How often a connection needs to report a sign of life: often enough that
  // a client pinging on time never lapses, rarely enough that a busy
  // connection does not queue one per request.
  [[nodiscard]] std::chrono::milliseconds refresh_interval() const noexcept {
    return std::min(options_.heartbeat / 2, options_.ttl / 8);
  }
  // A copy of the counters (presence thread's work so far).
  [[nodiscard]] Stats stats();

  // {"ev":"presence","user":id,"status":s,"last_seen":ms}
  [[nodiscard]] static std::string event_frame(UserId user, const ports::PresenceState& state);
  [[nodiscard]] static std::string_view to_string(ports::PresenceStatus status) noexcept;

 private:
  [[nodiscard]] Result<void> on_transition(UserId user, ports::PresenceTransition t);
  [[nodiscard]] Result<void> announce(UserId user, TimeMs now);
  // Sends `frame` to every connected device of `to`, on whichever servers.
  [[nodiscard]] Result<void> deliver(UserId to, const std::string& frame);
  // Queues `job` for the presence thread; `wake`: now, else at its next tick.
  void enqueue(std::function<void()> job, bool wake = true);
  void touch(UserId user, std::string device, bool wake);
  void run();

  ports::StateStore& state_;
  ports::SocialGraph& social_;
  const Options options_;
  const WallClock clock_;

  // Users with a transition not yet announced → when they are due. Touched
  // only by the thread running the synchronous core.
  std::unordered_map<UserId, TimeMs> due_;

  std::mutex stats_mu_;  // guards stats_
  Stats stats_;

  std::mutex mu_;  // guards jobs_ and stopping_
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::thread thread_;
  std::atomic<bool> available_{true};
};

}  // namespace parley::services
