#include "services/deleted_users.hpp"

#include <algorithm>
#include <utility>

#include "core/log.hpp"
#include "core/thread_name.hpp"

namespace parley::services {

DeletedUsers::DeletedUsers(ports::Directory& directory) : directory_(directory) {}

DeletedUsers::~DeletedUsers() { stop(); }

Result<void> DeletedUsers::refresh() {
  auto users = directory_.deleted_users();
  if (!users) return std::move(users).error();
  std::unordered_set<std::uint64_t> fresh;
  for (UserId user : *users) fresh.insert(user.value);
  std::unique_lock lock(mu_);
  // Keeps what add() put in meanwhile: the directory had it already, or
  // will on the next read.
  for (std::uint64_t user : users_) fresh.insert(user);
  users_ = std::move(fresh);
  if (!users_.empty()) any_.store(true, std::memory_order_release);
  return Ok{};
}

void DeletedUsers::start(std::chrono::milliseconds interval) {
  refresher_ = std::thread([this, interval] {
    name_this_thread("deleted-users");
    std::unique_lock lock(stop_mu_);
    while (!stop_cv_.wait_for(lock, interval, [this] { return stopping_; })) {
      lock.unlock();
      if (auto done = refresh(); !done)
        log::warn("admin", "the deleted users were not read again: " + done.error().message);
      lock.lock();
    }
  });
}

void DeletedUsers::stop() {
  {
    std::lock_guard lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (refresher_.joinable()) refresher_.join();
}

void DeletedUsers::add(UserId user) {
  std::unique_lock lock(mu_);
  users_.insert(user.value);
  any_.store(true, std::memory_order_release);
}

bool DeletedUsers::contains(UserId user) const {
  if (!any_.load(std::memory_order_acquire)) return false;
  std::shared_lock lock(mu_);
  return users_.contains(user.value);
}

void DeletedUsers::render(Message& message) const {
  if (!message.deleted && contains(message.from)) make_tombstone(message);
}

void DeletedUsers::render(std::vector<Message>& messages) const {
  if (!any_.load(std::memory_order_acquire)) return;
  std::shared_lock lock(mu_);
  if (users_.empty()) return;
  for (auto& m : messages) {
    if (!m.deleted && users_.contains(m.from.value)) make_tombstone(m);
  }
}

void DeletedUsers::render(std::vector<InboxEntry>& entries) const {
  if (!any_.load(std::memory_order_acquire)) return;
  std::shared_lock lock(mu_);
  if (users_.empty()) return;
  for (auto& e : entries) {
    if (!e.message.deleted && users_.contains(e.message.from.value)) make_tombstone(e.message);
  }
}

void DeletedUsers::drop(std::vector<Message>& messages) const {
  if (!any_.load(std::memory_order_acquire)) return;
  std::shared_lock lock(mu_);
  std::erase_if(messages, [this](const Message& m) { return m.deleted || users_.contains(m.from.value); });
}

}  // namespace parley::services
