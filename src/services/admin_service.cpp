#include "services/admin_service.hpp"

#include <set>
#include <string>
#include <utility>

#include "services/rooms_service.hpp"

namespace parley::services {

namespace {

// A username is at most 32 bytes (core/validate.hpp); a longer query or
// cursor can match nothing, and is refused rather than scanned for.
constexpr std::size_t kMaxQuery = 64;

}  // namespace

AdminService::AdminService(ports::Directory& directory, SessionService& sessions, Data data)
    : directory_(directory), sessions_(sessions), data_(data) {}

Result<AdminService::Page> AdminService::users(std::string_view query, std::string_view after, int limit) {
  if (limit < 1 || limit > kMaxPage) {
    return make_error(ErrorCode::bad_request, "limit must be 1 to " + std::to_string(kMaxPage));
  }
  if (query.size() > kMaxQuery || after.size() > kMaxQuery) {
    return make_error(ErrorCode::bad_request, "q and after are at most " + std::to_string(kMaxQuery) + " bytes");
  }
  auto users = directory_.list_users(query, after, limit + 1);
  if (!users) return std::move(users).error();
  Page page{std::move(users).value(), false};
  if (static_cast<int>(page.users.size()) > limit) {
    page.users.pop_back();
    page.more = true;
  }
  return page;
}

Result<void> AdminService::disable(UserId user) {
  // The flag first: a login racing with this either sees it, or made its
  // session before the sessions below are ended (Auth::login looks again
  // after it made one).
  if (auto set = directory_.set_disabled(user, true); !set) return set;
  return sessions_.end_all(user, "account disabled");
}

Result<void> AdminService::enable(UserId user) { return directory_.set_disabled(user, false); }

Result<void> AdminService::remove(UserId user) {
  // The account first, as for disable: a login racing with this either
  // fails, or made its session before the sessions below are ended.
  if (auto deleted = directory_.delete_user(user); !deleted) return deleted;
  if (data_.deleted != nullptr) data_.deleted->add(user);
  if (auto ended = sessions_.end_all(user, "account deleted"); !ended) return ended;
  if (data_.push_tokens != nullptr) {
    // Devices with no session left may still hold one.
    auto tokens = data_.push_tokens->list(user);
    if (!tokens) return std::move(tokens).error();
    for (const auto& token : *tokens) {
      if (auto removed = data_.push_tokens->remove_device(user, token.device); !removed) return removed;
    }
  }
  if (auto forgotten = data_.social.forget(user); !forgotten) return forgotten;

  // The conversations it sent to: its 1:1s and groups (its inbox lists
  // them, groups it left before included) and its rooms. Erased before it
  // leaves the rooms and its inbox goes, so that a call that fails part
  // way finds them all again.
  auto memberships = data_.rooms.rooms_of(user);
  if (!memberships) return std::move(memberships).error();
  auto listed = data_.store.conversations_of(user);
  if (!listed) return std::move(listed).error();
  std::set<std::string> conversations;
  for (const auto& m : *memberships) conversations.insert(to_string(conversation_of(m.room)));
  for (auto& c : *listed) conversations.insert(std::move(c.conversation));
  for (const auto& conversation : conversations) {
    if (auto erased = erase_conversation(user, conversation); !erased) return erased;
  }
  if (auto left = leave_rooms(user, *memberships); !left) return left;
  if (auto gone = data_.store.delete_inbox(user); !gone) return gone;
  return data_.store.flush();
}

Result<void> AdminService::leave_rooms(UserId user, const std::vector<ports::Membership>& memberships) {
  for (const auto& m : memberships) {
    if (m.role == ports::Role::owner) {
      auto members = data_.rooms.members(m.room);
      if (!members) return std::move(members).error();
      // The senior admin, else the senior member (members come in id order).
      const ports::Member* heir = nullptr;
      for (const auto& member : *members) {
        if (member.user == user) continue;
        if (heir == nullptr || (member.role == ports::Role::admin && heir->role != ports::Role::admin)) heir = &member;
      }
      if (heir != nullptr) {
        if (auto put = data_.rooms.put_member(m.room, heir->user, ports::Role::owner, 0); !put) return put;
      }
    }
    if (auto removed = data_.rooms.remove_member(m.room, user); !removed) return removed;
  }
  return Ok{};
}

Result<void> AdminService::erase_conversation(UserId user, const std::string& conversation) {
  const auto ref = parse_conversation(conversation);
  if (!ref) return Ok{};        // not one of ours
  std::vector<UserId> holders;  // the inboxes that hold copies besides the user's own
  if (ref->kind == Recipient::Kind::user) {
    for (std::uint64_t id : {ref->a, ref->b}) {
      if (id != user.value) holders.push_back(UserId{id});
    }
  } else if (ref->kind == Recipient::Kind::group) {
    auto members = data_.rooms.members({ports::RoomKind::group, ref->a});
    if (!members) return std::move(members).error();
    for (const auto& member : *members) {
      if (member.user != user) holders.push_back(member.user);
    }
  }
  auto erased = data_.store.erase_sent(conversation, user, holders);
  if (!erased) return std::move(erased).error();
  return data_.search.remove(*erased);
}

}  // namespace parley::services
