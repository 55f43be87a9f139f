#pragma once
// The connection limits of one server (docs/OPERATIONS.md, "Limits"): open
// connections in all (HTTP and WebSocket together), open connections per
// source address, and WebSocket connections and distinct devices per user.
//
// Every admitted connection holds a Slot for its life; the Slot gives its
// place back when it is destroyed, on whatever thread that happens, so the
// counts stay exact however the connection ends (a peer close, a timeout, an
// abort, the server stopping). The total is one atomic; the per-address and
// per-user counts live in 64 shards, each with its own mutex, so connections
// on different I/O threads rarely meet on a lock and never on a global one.

#include <array>
#include <atomic>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "core/ids.hpp"
#include "core/metrics.hpp"

namespace parley::gateway {

struct ConnectionLimitsOptions {
  std::size_t max_connections = 0;   // open connections in all
  std::size_t per_address = 0;       // open connections from one source address
  std::size_t per_user = 0;          // WebSocket connections of one user
  std::size_t devices_per_user = 0;  // distinct device ids of one user connected at once
};

class ConnectionLimits {
 public:
  // Why a connection was not admitted.
  enum class Refusal { none, server_full, address_full, user_full, devices_full };

  // A place held under the limits; moved, never copied. An empty Slot holds
  // nothing. Must not outlive the ConnectionLimits that made it.
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& other) noexcept { *this = std::move(other); }
    Slot& operator=(Slot&& other) noexcept;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { release(); }

    explicit operator bool() const noexcept { return owner_ != nullptr; }
    // Gives the place back now (idempotent).
    void release() noexcept;

   private:
    friend class ConnectionLimits;
    enum class Kind { connection, user };
    ConnectionLimits* owner_ = nullptr;
    Kind kind_ = Kind::connection;
    std::array<unsigned char, 16> address_{};  // Kind::connection: the source, as IPv6
    UserId user_{};                            // Kind::user
    std::string device_;                       // Kind::user
  };

  struct Admission {
    Slot slot;  // empty when refused
    Refusal refusal = Refusal::none;
  };

  explicit ConnectionLimits(ConnectionLimitsOptions options);
  ConnectionLimits(const ConnectionLimits&) = delete;
  ConnectionLimits& operator=(const ConnectionLimits&) = delete;

  // Admits a newly accepted connection from `source` under the server-wide
  // and the per-address limits, or says which one it would break.
  [[nodiscard]] Admission admit_connection(const boost::asio::ip::address& source);
  // Admits a WebSocket of `device` of `user` under the per-user limits: the
  // user's connections, and the user's distinct devices (another connection
  // of a device already connected adds no device).
  [[nodiscard]] Admission admit_user(UserId user, const std::string& device);

  [[nodiscard]] const ConnectionLimitsOptions& options() const noexcept { return options_; }
  // Connections open now (admitted and not yet released).
  [[nodiscard]] std::size_t open() const noexcept { return open_.load(std::memory_order_relaxed); }
  // Waits until no connection is open (every slot given back) or the
  // deadline passes; true when none is.
  bool wait_none_open(std::chrono::steady_clock::time_point deadline);

  // The default server-wide limit: the process's descriptor limit (its soft
  // RLIMIT_NOFILE) less a reserve for the engines' files and connections:
  // 256 descriptors; below a limit of 1,024, half of the descriptors not
  // open when it is called (after the engines opened). At least 1.
  [[nodiscard]] static std::size_t default_max_connections();

 private:
  using AddressKey = std::array<unsigned char, 16>;
  struct AddressHash {
    std::size_t operator()(const AddressKey& k) const noexcept;
  };
  struct UserEntry {
    std::size_t connections = 0;
    std::unordered_map<std::string, std::size_t> devices;  // device id -> its connections
  };
  static constexpr std::size_t kShards = 64;
  struct AddressShard {
    std::mutex mutex;  // guards counts
    std::unordered_map<AddressKey, std::size_t, AddressHash> counts;
  };
  struct UserShard {
    std::mutex mutex;  // guards users
    std::unordered_map<UserId, UserEntry> users;
  };

  void release_connection(const AddressKey& address) noexcept;
  void release_user(UserId user, const std::string& device) noexcept;

  ConnectionLimitsOptions options_;
  std::atomic<std::size_t> open_{0};
  std::mutex none_open_mutex_;         // with none_open_: wait_none_open()
  std::condition_variable none_open_;  // notified when open_ falls to 0
  std::array<AddressShard, kShards> addresses_;
  std::array<UserShard, kShards> users_;
};

// The label a refusal is counted under in GET /metrics
// (parley_connections_refused_total); `none` is no refusal.
[[nodiscard]] Metrics::Refusal metric_label(ConnectionLimits::Refusal refusal) noexcept;

}  // namespace parley::gateway
