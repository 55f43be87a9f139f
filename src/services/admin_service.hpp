#pragma once
// AdminService: what an operator does to users through the admin API
// (docs/PROTOCOL.md, "Admin API"): list and search them, disable and enable
// them. A disabled user's sessions all end (every device is logged out and
// its connections, on any server, are closed) and its logins are refused
// (Auth::login) until it is enabled again.
//
// Every call blocks (directory and engine round trips): call off the I/O
// threads.

#include <string>
#include <string_view>
#include <vector>

#include "ports/directory.hpp"
#include "services/session_service.hpp"

namespace parley::services {

class AdminService {
 public:
  AdminService(ports::Directory& directory, SessionService& sessions);

  static constexpr int kDefaultPage = 50;
  static constexpr int kMaxPage = 500;

  struct Page {
    std::vector<ports::UserRecord> users;
    bool more = false;  // another page follows the last of these
  };

  // Users whose names start with `query`, after the name `after`, in byte
  // order of their names: at most `limit` (1 to kMaxPage). bad_request for
  // a limit out of range or a query or cursor longer than a username.
  [[nodiscard]] Result<Page> users(std::string_view query, std::string_view after, int limit);

  // not_found for an unknown user. Disabling a disabled user (or enabling
  // an enabled one) is no error.
  [[nodiscard]] Result<void> disable(UserId user);
  [[nodiscard]] Result<void> enable(UserId user);

 private:
  ports::Directory& directory_;
  SessionService& sessions_;
};

}  // namespace parley::services
