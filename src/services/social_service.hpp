#pragma once
// Friendships and blocks as docs/PROTOCOL.md's ops see them: the rules of the
// SocialGraph port plus the users' existence (Directory), the protocol's
// refusals, and the presence side effects of a friendship starting or ending.
//
// Refusals: a user and themself is bad_request; an unknown user not_found.
// A request to someone who blocks the requester is answered exactly as a
// request that was recorded and is still pending, so that nobody learns
// from the reply that they are blocked.
//
// Every call blocks (directory and store reads): call off I/O threads.

#include <string>
#include <string_view>
#include <vector>

#include "ports/directory.hpp"
#include "ports/social_graph.hpp"
#include "ports/state_store.hpp"
#include "services/presence_service.hpp"

namespace parley::services {

class SocialService {
 public:
  struct Friend {
    UserId id;
    std::string username;
    ports::PresenceState presence;  // what the friend's friends were last told
  };
  struct Person {
    UserId id;
    std::string username;
  };
  struct Listing {
    std::vector<Friend> friends;
    std::vector<Person> requests;  // pending requests to the caller
  };

  SocialService(ports::Directory& directory, ports::SocialGraph& graph, ports::StateStore& state,
                PresenceService& presence);

  // Returns whether the two are friends now (the other had asked already).
  [[nodiscard]] Result<bool> request(UserId self, UserId other);
  [[nodiscard]] Result<void> accept(UserId self, UserId requester);
  [[nodiscard]] Result<void> remove(UserId self, UserId other);
  [[nodiscard]] Result<void> block(UserId self, UserId other);
  [[nodiscard]] Result<void> unblock(UserId self, UserId other);
  [[nodiscard]] Result<Listing> list(UserId self);
  // The user with this username (GET /v1/users/by-name/…): not_found
  // "no such user" for a name nobody has, or one no user could have.
  [[nodiscard]] Result<Person> find_by_username(std::string_view username);

 private:
  // not_found for an unknown user, bad_request for self.
  [[nodiscard]] Result<void> check_other(UserId self, UserId other);
  [[nodiscard]] Result<std::string> username_of(UserId user);

  ports::Directory& directory_;
  ports::SocialGraph& graph_;
  ports::StateStore& state_;
  PresenceService& presence_;
};

}  // namespace parley::services
