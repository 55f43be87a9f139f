#include "services/session_service.hpp"

#include <algorithm>
#include <utility>

#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/validate.hpp"
#include "services/records.hpp"

namespace parley::services {

SessionService::SessionService(Auth& auth, ports::MessageStore& store, ports::StateStore& state,
                               ports::PushTokens* push_tokens)
    : auth_(auth), store_(store), state_(state), push_tokens_(push_tokens) {}

Result<std::vector<SessionService::Device>> SessionService::devices(const ports::SessionRecord& caller) {
  auto sessions = auth_.sessions_of(caller.user);
  if (!sessions) return std::move(sessions).error();
  // Ordered by device: each device's sessions are next to each other.
  std::vector<Device> out;
  for (const auto& session : *sessions) {
    if (out.empty() || out.back().device != session.device) {
      out.push_back(Device{session.device, session.created_at, session.last_used_at, session.device == caller.device});
      continue;
    }
    Device& device = out.back();
    device.created_at = std::min(device.created_at, session.created_at);
    device.last_used_at = std::max(device.last_used_at, session.last_used_at);
  }
  return out;
}

Result<void> SessionService::logout(const ports::SessionRecord& caller) {
  if (auto ended = auth_.end_session(caller.token_hash); !ended) return ended;
  close_connections(caller.user, records::SessionsEnded::Which::session, caller.token_hash, "logged out");
  if (push_tokens_ == nullptr) return Ok{};
  auto left = auth_.sessions_of(caller.user);
  if (!left) return Ok{};  // logged out all the same; the registration stays
  for (const auto& session : *left) {
    if (session.device == caller.device) return Ok{};
  }
  if (auto removed = push_tokens_->remove_device(caller.user, caller.device); !removed) {
    log::warn("sessions", "a logged-out device's push registration stays: " + removed.error().message);
  }
  return Ok{};
}

Result<void> SessionService::remove_device(const ports::SessionRecord& caller, std::string_view device) {
  if (!validate::device_id(device)) {
    return make_error(ErrorCode::bad_request, "device_id must be 1 to 64 of A-Z, a-z, 0-9, '_', '.', '-'");
  }
  auto ended = auth_.end_device(caller.user, device);
  if (!ended) return std::move(ended).error();
  close_connections(caller.user, records::SessionsEnded::Which::device, std::string(device), "device removed");
  if (auto forgotten = store_.delete_cursor(caller.user, device); !forgotten) return forgotten;
  if (push_tokens_ != nullptr) {
    if (auto removed = push_tokens_->remove_device(caller.user, device); !removed) return removed;
  }
  return Ok{};
}

Result<void> SessionService::change_password(const ports::SessionRecord& caller, std::string_view old_password,
                                             std::string_view new_password) {
  auto ended = auth_.change_password(caller, old_password, new_password);
  if (!ended) return std::move(ended).error();
  close_connections(caller.user, records::SessionsEnded::Which::all_but_session, caller.token_hash, "password changed");
  return Ok{};
}

Result<void> SessionService::end_all(UserId user, std::string reason) {
  auto sessions = auth_.sessions_of(user);
  if (!sessions) return std::move(sessions).error();
  for (const auto& session : *sessions) {
    auto ended = auth_.end_session(session.token_hash);
    if (!ended && ended.error().code != ErrorCode::not_found) return ended;  // gone already: fine
  }
  // All but no session: every connection of the user.
  close_connections(user, records::SessionsEnded::Which::all_but_session, std::string(), std::move(reason));
  if (push_tokens_ == nullptr) return Ok{};
  for (std::size_t i = 0; i < sessions->size(); ++i) {
    const std::string& device = (*sessions)[i].device;
    if (i > 0 && (*sessions)[i - 1].device == device) continue;  // listed by device
    if (auto removed = push_tokens_->remove_device(user, device); !removed) return removed;
  }
  return Ok{};
}

void SessionService::close_connections(UserId user, records::SessionsEnded::Which which, std::string key,
                                       std::string reason) {
  auto servers = state_.routes(user);
  if (!servers) {
    log::warn("sessions", "connections of ended sessions stay open: " + servers.error().message);
    return;
  }
  if (servers->empty()) return;
  const std::string envelope = records::encode(records::SessionsEnded{user, which, std::move(key), std::move(reason)});
  for (const auto& server : *servers) {
    auto published = state_.publish(records::server_channel(server), envelope);
    if (!published) log::warn("sessions", "a connection of an ended session stays open: " + published.error().message);
  }
}

Result<void> SessionService::register_push(const ports::SessionRecord& caller, ports::PushPlatform platform,
                                           std::string token) {
  if (push_tokens_ == nullptr) return make_error(ErrorCode::unavailable, "push notifications are not available");
  return push_tokens_->put({caller.user, caller.device, platform, std::move(token), now_ms()});
}

}  // namespace parley::services
