#include "gateway/connection_limits.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <string_view>
#include <utility>

namespace parley::gateway {

namespace {

std::array<unsigned char, 16> address_key(const boost::asio::ip::address& a) {
  // An IPv4 client counts as itself whether it came in on an IPv4 or an
  // IPv6 (v4-mapped) socket.
  if (a.is_v4()) return boost::asio::ip::make_address_v6(boost::asio::ip::v4_mapped, a.to_v4()).to_bytes();
  auto v6 = a.to_v6();
  if (v6.is_v4_mapped()) return v6.to_bytes();
  v6.scope_id(0);
  return v6.to_bytes();
}

}  // namespace

ConnectionLimits::Slot& ConnectionLimits::Slot::operator=(Slot&& other) noexcept {
  if (this != &other) {
    release();
    owner_ = std::exchange(other.owner_, nullptr);
    kind_ = other.kind_;
    address_ = other.address_;
    user_ = other.user_;
    device_ = std::move(other.device_);
  }
  return *this;
}

void ConnectionLimits::Slot::release() noexcept {
  ConnectionLimits* owner = std::exchange(owner_, nullptr);
  if (owner == nullptr) return;
  if (kind_ == Kind::connection) {
    owner->release_connection(address_);
  } else {
    owner->release_user(user_, device_);
  }
}

std::size_t ConnectionLimits::AddressHash::operator()(const AddressKey& k) const noexcept {
  return std::hash<std::string_view>{}(std::string_view(reinterpret_cast<const char*>(k.data()), k.size()));
}

ConnectionLimits::ConnectionLimits(ConnectionLimitsOptions options) : options_(options) {
  if (options_.max_connections == 0) options_.max_connections = default_max_connections();
}

std::size_t ConnectionLimits::default_max_connections() {
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) != 0 || files.rlim_cur == RLIM_INFINITY) return 1'000'000;
  const auto limit = static_cast<std::size_t>(files.rlim_cur);
  if (limit >= 1024) return limit - 256;
  // A small limit: half of what the engines left free (their files and
  // sockets are open by the time the server is built).
  std::size_t in_use = 0;
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end; it.increment(ec)) ++in_use;
  return std::max<std::size_t>(1, (limit - std::min(in_use, limit)) / 2);
}

ConnectionLimits::Admission ConnectionLimits::admit_connection(const boost::asio::ip::address& source) {
  // Accepts come from one thread, releases from any: the add-then-check
  // can only refuse a connection that a release racing with it would have
  // let in, never admit one too many.
  if (open_.fetch_add(1, std::memory_order_relaxed) >= options_.max_connections) {
    open_.fetch_sub(1, std::memory_order_relaxed);
    return {.slot = {}, .refusal = Refusal::server_full};
  }
  const AddressKey key = address_key(source);
  AddressShard& shard = addresses_[AddressHash{}(key) % kShards];
  {
    std::lock_guard lock(shard.mutex);
    std::size_t& count = shard.counts[key];
    if (count >= options_.per_address) {
      if (count == 0) shard.counts.erase(key);
      open_.fetch_sub(1, std::memory_order_relaxed);
      return {.slot = {}, .refusal = Refusal::address_full};
    }
    ++count;
  }
  Admission admitted;
  admitted.slot.owner_ = this;
  admitted.slot.kind_ = Slot::Kind::connection;
  admitted.slot.address_ = key;
  return admitted;
}

void ConnectionLimits::release_connection(const AddressKey& address) noexcept {
  AddressShard& shard = addresses_[AddressHash{}(address) % kShards];
  {
    std::lock_guard lock(shard.mutex);
    if (auto it = shard.counts.find(address); it != shard.counts.end() && --it->second == 0) shard.counts.erase(it);
  }
  if (open_.fetch_sub(1, std::memory_order_relaxed) == 1) {
    // The last one: wake a stop waiting for it (the lock orders this after
    // the waiter's check, so the wake-up cannot be missed).
    std::lock_guard lock(none_open_mutex_);
    none_open_.notify_all();
  }
}

bool ConnectionLimits::wait_none_open(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(none_open_mutex_);
  return none_open_.wait_until(lock, deadline, [this] { return open_.load(std::memory_order_relaxed) == 0; });
}

ConnectionLimits::Admission ConnectionLimits::admit_user(UserId user, const std::string& device) {
  UserShard& shard = users_[std::hash<UserId>{}(user) % kShards];
  std::lock_guard lock(shard.mutex);
  UserEntry& entry = shard.users[user];
  const bool new_device = !entry.devices.contains(device);
  Refusal refusal = Refusal::none;
  if (entry.connections >= options_.per_user) {
    refusal = Refusal::user_full;
  } else if (new_device && entry.devices.size() >= options_.devices_per_user) {
    refusal = Refusal::devices_full;
  }
  if (refusal != Refusal::none) {
    if (entry.connections == 0) shard.users.erase(user);
    return {.slot = {}, .refusal = refusal};
  }
  ++entry.connections;
  ++entry.devices[device];
  Admission admitted;
  admitted.slot.owner_ = this;
  admitted.slot.kind_ = Slot::Kind::user;
  admitted.slot.user_ = user;
  admitted.slot.device_ = device;
  return admitted;
}

void ConnectionLimits::release_user(UserId user, const std::string& device) noexcept {
  UserShard& shard = users_[std::hash<UserId>{}(user) % kShards];
  std::lock_guard lock(shard.mutex);
  auto it = shard.users.find(user);
  if (it == shard.users.end()) return;
  UserEntry& entry = it->second;
  if (auto d = entry.devices.find(device); d != entry.devices.end() && --d->second == 0) entry.devices.erase(d);
  if (--entry.connections == 0) shard.users.erase(it);
}

Metrics::Refusal metric_label(ConnectionLimits::Refusal refusal) noexcept {
  switch (refusal) {
    case ConnectionLimits::Refusal::address_full: return Metrics::Refusal::address_full;
    case ConnectionLimits::Refusal::user_full: return Metrics::Refusal::user_full;
    case ConnectionLimits::Refusal::devices_full: return Metrics::Refusal::devices_full;
    case ConnectionLimits::Refusal::server_full:
    case ConnectionLimits::Refusal::none: break;
  }
  return Metrics::Refusal::server_full;
}

}  // namespace parley::gateway
