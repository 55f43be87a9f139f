#include "services/social_service.hpp"

#include "core/log.hpp"
#include "core/validate.hpp"

namespace parley::services {

SocialService::SocialService(ports::Directory& directory, ports::SocialGraph& graph, ports::StateStore& state,
                             PresenceService& presence)
    : directory_(directory), graph_(graph), state_(state), presence_(presence) {}

Result<void> SocialService::check_other(UserId self, UserId other) {
  if (self == other) return make_error(ErrorCode::bad_request, "that is you");
  auto user = directory_.find_user(other);
  if (!user) {
    if (user.error().code == ErrorCode::not_found) {
      return make_error(ErrorCode::not_found, "no user with id " + to_string(other));
    }
    return std::move(user).error();
  }
  return Ok{};
}

Result<std::string> SocialService::username_of(UserId user) {
  auto record = directory_.find_user(user);
  if (!record) return std::move(record).error();
  return std::move(record->username);
}

Result<SocialService::Person> SocialService::find_by_username(std::string_view username) {
  if (!validate::username(username)) return make_error(ErrorCode::not_found, "no such user");
  auto user = directory_.find_user_by_name(username);
  if (!user && user.error().code == ErrorCode::not_found) return make_error(ErrorCode::not_found, "no such user");
  if (!user) return std::move(user).error();
  return Person{user->id, std::move(user->username)};
}

Result<bool> SocialService::request(UserId self, UserId other) {
  if (auto checked = check_other(self, other); !checked) return std::move(checked).error();
  auto outcome = graph_.request_friend(self, other);
  if (!outcome) return std::move(outcome).error();
  switch (outcome.value()) {
    case ports::RequestOutcome::pending:
    case ports::RequestOutcome::other_blocks:  // said to be pending: see the header
      return false;
    case ports::RequestOutcome::now_friends:
      if (auto started = presence_.friendship_started(self, other); !started) {
        log::warn("social", "presence after a new friendship: " + started.error().message);
      }
      return true;
    case ports::RequestOutcome::already_friends: return make_error(ErrorCode::conflict, "you are friends already");
    case ports::RequestOutcome::self_blocks:
      return make_error(ErrorCode::forbidden, "you block this user; unblock them first");
  }
  return make_error(ErrorCode::internal, "unknown request outcome");
}

Result<void> SocialService::accept(UserId self, UserId requester) {
  if (auto checked = check_other(self, requester); !checked) return checked;
  if (auto accepted = graph_.accept_friend(self, requester); !accepted) return accepted;
  if (auto started = presence_.friendship_started(self, requester); !started) {
    log::warn("social", "presence after a new friendship: " + started.error().message);
  }
  return Ok{};
}

Result<void> SocialService::remove(UserId self, UserId other) {
  if (auto checked = check_other(self, other); !checked) return checked;
  auto removed = graph_.remove_friend(self, other);
  if (!removed) return std::move(removed).error();
  if (removed.value() == ports::RemoveOutcome::unfriended) return presence_.friendship_ended(self, other);
  return Ok{};
}

Result<void> SocialService::block(UserId self, UserId other) {
  if (auto checked = check_other(self, other); !checked) return checked;
  auto blocked = graph_.block(self, other);
  if (!blocked) return std::move(blocked).error();
  // Also when they were not friends: a watcher entry may be in flight.
  return presence_.friendship_ended(self, other);
}

Result<void> SocialService::unblock(UserId self, UserId other) {
  if (auto checked = check_other(self, other); !checked) return checked;
  return graph_.unblock(self, other);
}

Result<SocialService::Listing> SocialService::list(UserId self) {
  auto friends = graph_.friends(self);
  if (!friends) return std::move(friends).error();
  auto states = state_.announced(friends.value());
  if (!states) return std::move(states).error();
  auto requests = graph_.requests_to(self);
  if (!requests) return std::move(requests).error();

  Listing listing;
  listing.friends.reserve(friends->size());
  for (std::size_t i = 0; i < friends->size(); ++i) {
    auto name = username_of((*friends)[i]);
    if (!name) return std::move(name).error();
    listing.friends.push_back(Friend{(*friends)[i], std::move(name.value()), (*states)[i]});
  }
  for (UserId requester : requests.value()) {
    auto name = username_of(requester);
    if (!name) return std::move(name).error();
    listing.requests.push_back(Person{requester, std::move(name.value())});
  }
  return listing;
}

}  // namespace parley::services
