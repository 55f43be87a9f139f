#pragma once
// AdminService: what an operator does to users through the admin API
// (docs/PROTOCOL.md, "Admin API"): list and search them, disable and enable
// them, delete them. A disabled user's sessions all end (every device is
// logged out and its connections, on any server, are closed) and its logins
// are refused (Auth::login) until it is enabled again. A deleted user is
// gone for good, with its data (remove()).
//
// Every call blocks (directory and engine round trips): call off the I/O
// threads.

#include <string>
#include <string_view>
#include <vector>

#include "ports/directory.hpp"
#include "ports/message_store.hpp"
#include "ports/push_tokens.hpp"
#include "ports/rooms.hpp"
#include "ports/search_index.hpp"
#include "ports/social_graph.hpp"
#include "services/deleted_users.hpp"
#include "services/session_service.hpp"

namespace parley::services {

class AdminService {
 public:
  // Where a deleted user's data lives, for remove(); push_tokens and
  // deleted may be null (no push service; no read-time tombstones).
  struct Data {
    ports::MessageStore& store;
    ports::Rooms& rooms;
    ports::SocialGraph& social;
    ports::SearchIndex& search;
    ports::PushTokens* push_tokens = nullptr;
    DeletedUsers* deleted = nullptr;
  };

  AdminService(ports::Directory& directory, SessionService& sessions, Data data);

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

  // Deletes the user and their data (docs/PROTOCOL.md, "Admin API"):
  // - the account: lookups answer not_found from now on, logins fail, the
  //   username stays taken (Directory::delete_user);
  // - every session ends and every connection closes (4001, "account
  //   deleted"); every push registration goes;
  // - friendships, requests and blocks both ways; memberships of groups
  //   and channels (a room it owned passes to its senior admin, else its
  //   senior member: the lowest user id);
  // - the messages it sent, in every 1:1, group and channel it is in, turn
  //   into tombstones in the history and in the current members' inboxes,
  //   and leave the search index;
  // - its own inbox, cursors and read positions.
  // not_found for a user that never existed. Deleting a deleted user runs
  // the same steps again (each is idempotent), so a call that failed part
  // way is finished by calling again.
  [[nodiscard]] Result<void> remove(UserId user);

 private:
  // Leaves each of the user's rooms, handing over those it owns.
  [[nodiscard]] Result<void> leave_rooms(UserId user, const std::vector<ports::Membership>& memberships);
  // Erases what the user sent in `conversation` (erase_sent, then the
  // search index).
  [[nodiscard]] Result<void> erase_conversation(UserId user, const std::string& conversation);

  ports::Directory& directory_;
  SessionService& sessions_;
  Data data_;
};

}  // namespace parley::services
