#include "services/admin_service.hpp"

#include <string>
#include <utility>

namespace parley::services {

namespace {

// A username is at most 32 bytes (core/validate.hpp); a longer query or
// cursor can match nothing, and is refused rather than scanned for.
constexpr std::size_t kMaxQuery = 64;

}  // namespace

AdminService::AdminService(ports::Directory& directory, SessionService& sessions)
    : directory_(directory), sessions_(sessions) {}

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

}  // namespace parley::services
