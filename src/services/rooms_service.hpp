#pragma once
// Groups and channels: who may create, join, add, remove and change roles,
// who is a member of a conversation, and who may send to whom: the one
// authorizer the other services and the sequencer ask.
//
// Rules:
//  - the creator is the owner; owners and admins add and remove others;
//    anyone removes themselves (leaves), except the owner;
//  - only the owner makes or unmakes admins; nobody removes the owner;
//  - a group holds at most `max_group_members` members (adding one more is
//    `conflict`); channels have no limit;
//  - anyone may join an open channel given its id; a private (invite-only)
//    channel is joined only by being added by its owner or an admin, and to
//    anyone else joining it looks like a channel that does not exist
//    (`forbidden`);
//  - room ids are drawn at random (63 bits from libsodium's CSPRNG), so no
//    room id can be guessed from another;
//  - a channel's post policy says whether everyone or only owner and admins
//    may post;
//  - to a non-member, a room that exists and one that does not look the
//    same (`forbidden`), so nobody learns which groups exist;
//  - nobody adds to a group or channel (or creates a group with) someone
//    who blocks them or whom they block (`forbidden`), as a block stops 1:1
//    messages (docs/ROOMS.md).

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "core/message.hpp"
#include "ports/directory.hpp"
#include "ports/rooms.hpp"
#include "ports/social_graph.hpp"
#include "services/deleted_users.hpp"

namespace parley::services {

class RoomsService {
 public:
  struct Options {
    std::size_t max_group_members = 100;
    // Consent: whether someone may be put in a group or channel by another
    // user only if the two are friends (the added user accepted a friend
    // request, so agreed to hear from the adder). Off: anyone not on
    // either side of a block.
    bool add_friends_only = true;
    // The users an administrator deleted (null: none): a 1:1 send to one
    // is refused `not_found`, like a send to nobody, although the lookups
    // of a long-lived caller (the sequencer) found the user before.
    const DeletedUsers* deleted = nullptr;
  };

  RoomsService(ports::Rooms& rooms, ports::Directory& directory, ports::SocialGraph& social, Options options);

  [[nodiscard]] Result<ports::RoomRecord> create_group(UserId owner, std::string_view name,
                                                       const std::vector<UserId>& members);
  [[nodiscard]] Result<ports::RoomRecord> create_channel(UserId owner, std::string_view name, ports::PostPolicy policy,
                                                         ports::Access access);
  // Adds `user` to `room` (a group: by an owner or admin; a channel: anyone
  // joining an open channel themselves, or an owner or admin adding
  // someone).
  [[nodiscard]] Result<void> add(UserId actor, ports::RoomRef room, UserId user);
  [[nodiscard]] Result<void> remove(UserId actor, ports::RoomRef room, UserId user);
  [[nodiscard]] Result<void> set_role(UserId actor, ports::RoomRef room, UserId user, ports::Role role);

  // A send refused for good: the sender is answered with `error`
  // (not_found: no such user; forbidden: not a member, a block, a channel
  // where only admins post). Not an engine failing, which is an error of
  // the Result and worth asking again.
  struct Refusal {
    Error error;
  };
  // Who gets an inbox entry for a message of `from` to `to` (only the
  // sender and the recipient for 1:1, every member for a group, nobody for
  // a channel post, which is fanned out on read), or its refusal.
  using SendVerdict = std::variant<std::vector<UserId>, Refusal>;
  // What deciding many sends in a row remembers, so that it costs no round
  // trip per send: the users found (users never disappear), and the
  // relations of 1:1 pairs read ahead (read_relations).
  struct SendLookups {
    std::unordered_set<UserId> known_users;
    std::map<std::pair<std::uint64_t, std::uint64_t>, ports::Relation> relations;  // (from, to)
  };
  [[nodiscard]] Result<SendVerdict> authorize_send(UserId from, const Recipient& to, SendLookups& lookups);
  // Reads the relations of the (sender, recipient) pairs at once into
  // `lookups.relations`, replacing those it held.
  [[nodiscard]] Result<void> read_relations(std::span<const std::pair<UserId, UserId>> pairs, SendLookups& lookups);

  // Ok if `user` takes part in the conversation, `forbidden` otherwise.
  [[nodiscard]] Result<void> check_member(const ConversationRef& conversation, UserId user);
  // The users of a 1:1 pair or a group (not for channels).
  [[nodiscard]] Result<std::vector<UserId>> members(const ConversationRef& conversation);
  // The channels `user` is a member of (the channels a server follows for
  // the user's devices).
  [[nodiscard]] Result<std::vector<ChannelId>> channels_of(UserId user);

  // Of `users`, those with no block between them and `user` either way
  // (for events a block stops: typing, receipts); `user` itself stays.
  [[nodiscard]] Result<std::vector<UserId>> without_blocks(UserId user, std::vector<UserId> users);

  [[nodiscard]] std::size_t max_group_members() const noexcept { return options_.max_group_members; }

 private:
  [[nodiscard]] Result<ports::Role> role_or_forbidden(ports::RoomRef room, UserId user);
  [[nodiscard]] Result<void> check_user_exists(UserId user);
  // forbidden if `actor` and `user` block each other either way.
  // Whether `actor` may put `user` in a room: not on either side of a
  // block and, with Options::add_friends_only, friends.
  [[nodiscard]] Result<void> check_may_add(UserId actor, UserId user);
  // Creates a room under a fresh random id (drawing again on the rare id
  // already taken).
  [[nodiscard]] Result<ports::RoomRecord> create_room(ports::RoomKind kind, std::string_view name, UserId owner,
                                                      ports::PostPolicy policy, ports::Access access,
                                                      const std::vector<UserId>& members);

  ports::Rooms& rooms_;
  ports::Directory& directory_;
  ports::SocialGraph& social_;
  Options options_;
};

[[nodiscard]] ports::RoomRef room_of(const ConversationRef& c) noexcept;
[[nodiscard]] ConversationRef conversation_of(ports::RoomRef room) noexcept;

}  // namespace parley::services
