#include "services/rooms_service.hpp"

#include <sodium.h>

#include <set>
#include <stdexcept>

#include "core/validate.hpp"

namespace parley::services {

namespace {

Error not_a_member() { return make_error(ErrorCode::forbidden, "not a member of this conversation"); }

// A room id nobody can guess: 63 random bits (so that it fits a signed
// 64-bit column too), never 0.
std::uint64_t random_room_id() {
  std::uint64_t id = 0;
  while (id == 0) {
    randombytes_buf(&id, sizeof id);
    id >>= 1;
  }
  return id;
}

Error bad_name() {
  return make_error(ErrorCode::bad_request,
                    "name must be 1 to 200 bytes of text without control characters or bidirectional overrides");
}

}  // namespace

ports::RoomRef room_of(const ConversationRef& c) noexcept {
  return {c.kind == Recipient::Kind::channel ? ports::RoomKind::channel : ports::RoomKind::group, c.a};
}

ConversationRef conversation_of(ports::RoomRef room) noexcept {
  return room.kind == ports::RoomKind::group ? group_conversation(GroupId{room.id})
                                             : channel_conversation(ChannelId{room.id});
}

RoomsService::RoomsService(ports::Rooms& rooms, ports::Directory& directory, ports::SocialGraph& social,
                           Options options)
    : rooms_(rooms), directory_(directory), social_(social), options_(options) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
}

Result<ports::RoomRecord> RoomsService::create_room(ports::RoomKind kind, std::string_view name, UserId owner,
                                                    ports::PostPolicy policy, ports::Access access,
                                                    const std::vector<UserId>& members) {
  // Two draws meeting in 2^63 ids is so rare that a few tries are plenty;
  // more conflicts mean something else is wrong.
  for (int attempt = 0; attempt < 4; ++attempt) {
    auto made = rooms_.create_room({kind, random_room_id()}, name, owner, policy, access, members);
    if (made || made.error().code != ErrorCode::conflict) return made;
  }
  return make_error(ErrorCode::internal, "could not find a free room id");
}

Result<void> RoomsService::check_may_add(UserId actor, UserId user) {
  if (actor == user) return Ok{};
  auto relation = social_.relation(actor, user);
  if (!relation) return std::move(relation).error();
  // A block ends a friendship, so with the friends rule a blocked pair gets
  // the same answer as any other stranger; without it, the same words as a
  // 1:1 send to them. Either way, which side blocks is not said.
  if (options_.add_friends_only && !relation->friends) {
    return make_error(ErrorCode::forbidden,
                      "you can add only your friends to a group or channel; send them a friend request first");
  }
  if (relation->blocked_either_way()) return make_error(ErrorCode::forbidden, "you cannot add this user");
  return Ok{};
}

Result<std::vector<UserId>> RoomsService::without_blocks(UserId user, std::vector<UserId> users) {
  // One batched question for every member (one round trip on PostgreSQL).
  std::vector<std::pair<UserId, UserId>> pairs;
  pairs.reserve(users.size());
  for (UserId other : users) pairs.emplace_back(user, other);
  auto relations = social_.relations(pairs);
  if (!relations) return std::move(relations).error();
  std::vector<UserId> out;
  out.reserve(users.size());
  for (std::size_t i = 0; i < users.size(); ++i) {
    if (users[i] == user || !relations.value()[i].blocked_either_way()) out.push_back(users[i]);
  }
  return out;
}

Result<void> RoomsService::check_user_exists(UserId user) {
  auto found = directory_.find_user(user);
  if (found) return Ok{};
  if (found.error().code == ErrorCode::not_found) {
    return make_error(ErrorCode::not_found, "no user with id " + to_string(user));
  }
  return std::move(found).error();
}

Result<ports::Role> RoomsService::role_or_forbidden(ports::RoomRef room, UserId user) {
  auto role = rooms_.role_of(room, user);
  if (!role) return std::move(role).error();
  if (!role.value()) return not_a_member();
  return *role.value();
}

Result<ports::RoomRecord> RoomsService::create_group(UserId owner, std::string_view name,
                                                     const std::vector<UserId>& members) {
  if (!validate::display_name(name)) return bad_name();
  std::set<UserId> unique(members.begin(), members.end());
  unique.insert(owner);
  if (unique.size() > options_.max_group_members) {
    return make_error(ErrorCode::conflict, "a group holds at most " + std::to_string(options_.max_group_members) +
                                               " members, creator included");
  }
  for (UserId user : unique) {
    if (auto exists = check_user_exists(user); !exists) return std::move(exists).error();
    if (auto allowed = check_may_add(owner, user); !allowed) return std::move(allowed).error();
  }
  return create_room(ports::RoomKind::group, name, owner, ports::PostPolicy::everyone, ports::Access::invite_only,
                     members);
}

Result<ports::RoomRecord> RoomsService::create_channel(UserId owner, std::string_view name, ports::PostPolicy policy,
                                                       ports::Access access) {
  if (!validate::display_name(name)) return bad_name();
  return create_room(ports::RoomKind::channel, name, owner, policy, access, {});
}

Result<void> RoomsService::add(UserId actor, ports::RoomRef room, UserId user) {
  const std::size_t limit = room.kind == ports::RoomKind::group ? options_.max_group_members : 0;
  if (room.kind == ports::RoomKind::channel && actor == user) {
    // Joining a channel: anyone, given its id, if it is open. A private one
    // answers a stranger as a channel that does not exist would.
    auto found = rooms_.find_room(room);
    if (!found) return found.error().code == ErrorCode::not_found ? not_a_member() : std::move(found).error();
    auto role = rooms_.role_of(room, user);
    if (!role) return std::move(role).error();
    if (role.value()) return Ok{};  // already a member: keep the role
    if (found->access == ports::Access::invite_only) return not_a_member();
    return rooms_.put_member(room, user, ports::Role::member, limit);
  }
  auto actor_role = role_or_forbidden(room, actor);
  if (!actor_role) return std::move(actor_role).error();
  if (actor_role.value() == ports::Role::member) {
    return make_error(ErrorCode::forbidden, "only the owner and admins add members");
  }
  if (auto exists = check_user_exists(user); !exists) return exists;
  if (auto allowed = check_may_add(actor, user); !allowed) return allowed;
  auto existing = rooms_.role_of(room, user);
  if (!existing) return std::move(existing).error();
  if (existing.value()) return Ok{};  // already a member
  auto put = rooms_.put_member(room, user, ports::Role::member, limit);
  if (!put && put.error().code == ErrorCode::conflict) {
    return make_error(ErrorCode::conflict, "the group is full: it holds at most " + std::to_string(limit) + " members");
  }
  return put;
}

Result<void> RoomsService::remove(UserId actor, ports::RoomRef room, UserId user) {
  auto actor_role = role_or_forbidden(room, actor);
  if (!actor_role) return std::move(actor_role).error();
  if (actor == user) {
    if (actor_role.value() == ports::Role::owner) {
      return make_error(ErrorCode::conflict, "the owner cannot leave; make someone else owner first");
    }
    return rooms_.remove_member(room, user);
  }
  if (actor_role.value() == ports::Role::member) {
    return make_error(ErrorCode::forbidden, "only the owner and admins remove members");
  }
  auto target = rooms_.role_of(room, user);
  if (!target) return std::move(target).error();
  if (!target.value()) return make_error(ErrorCode::not_found, "that user is not a member");
  if (*target.value() == ports::Role::owner ||
      (*target.value() == ports::Role::admin && actor_role.value() != ports::Role::owner)) {
    return make_error(ErrorCode::forbidden, "only the owner removes admins, and nobody removes the owner");
  }
  return rooms_.remove_member(room, user);
}

Result<void> RoomsService::set_role(UserId actor, ports::RoomRef room, UserId user, ports::Role role) {
  auto actor_role = role_or_forbidden(room, actor);
  if (!actor_role) return std::move(actor_role).error();
  if (actor_role.value() != ports::Role::owner) return make_error(ErrorCode::forbidden, "only the owner sets roles");
  auto target = rooms_.role_of(room, user);
  if (!target) return std::move(target).error();
  if (!target.value()) return make_error(ErrorCode::not_found, "that user is not a member");
  if (user == actor) return make_error(ErrorCode::conflict, "the owner's own role does not change this way");
  if (role == ports::Role::owner) {
    // Handing over ownership: the old owner becomes an admin.
    if (auto put = rooms_.put_member(room, user, ports::Role::owner, 0); !put) return put;
    return rooms_.put_member(room, actor, ports::Role::admin, 0);
  }
  return rooms_.put_member(room, user, role, 0);
}

Result<void> RoomsService::read_relations(std::span<const std::pair<UserId, UserId>> pairs, SendLookups& lookups) {
  lookups.relations.clear();
  if (pairs.empty()) return Ok{};
  auto found = social_.relations(pairs);
  if (!found) return std::move(found).error();
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    lookups.relations[{pairs[i].first.value, pairs[i].second.value}] = found.value()[i];
  }
  return Ok{};
}

Result<RoomsService::SendVerdict> RoomsService::authorize_send(UserId from, const Recipient& to, SendLookups& lookups) {
  const auto refuse = [](Error e) -> Result<SendVerdict> { return SendVerdict{Refusal{std::move(e)}}; };
  switch (to.kind) {
    case Recipient::Kind::user: {
      const UserId user{to.id};
      if (options_.deleted != nullptr && options_.deleted->contains(user)) {
        lookups.known_users.erase(user);
        return refuse(make_error(ErrorCode::not_found, "no user with id " + to_string(user)));
      }
      if (!lookups.known_users.contains(user)) {
        if (auto exists = check_user_exists(user); !exists) {
          if (exists.error().code == ErrorCode::not_found) return refuse(std::move(exists).error());
          return std::move(exists).error();
        }
        lookups.known_users.insert(user);
      }
      if (user == from) return SendVerdict{std::vector<UserId>{from}};
      // A block stops 1:1 messages both ways; the sender is not told which
      // side blocks.
      const auto known = lookups.relations.find({from.value, user.value});
      auto relation =
          known != lookups.relations.end() ? Result<ports::Relation>(known->second) : social_.relation(from, user);
      if (!relation) return std::move(relation).error();
      if (relation->blocked_either_way())
        return refuse(make_error(ErrorCode::forbidden, "you cannot message this user"));
      return SendVerdict{std::vector<UserId>{from, user}};
    }
    case Recipient::Kind::group: {
      const ports::RoomRef group{ports::RoomKind::group, to.id};
      auto role = rooms_.role_of(group, from);
      if (!role) return std::move(role).error();
      if (!role.value()) return refuse(not_a_member());  // or no such group: the same to a stranger
      auto members = rooms_.members(group);
      if (!members) return std::move(members).error();
      std::vector<UserId> out;
      out.reserve(members->size());
      for (const auto& m : members.value()) out.push_back(m.user);
      return SendVerdict{std::move(out)};
    }
    case Recipient::Kind::channel: {
      const ports::RoomRef channel{ports::RoomKind::channel, to.id};
      auto role = rooms_.role_of(channel, from);
      if (!role) return std::move(role).error();
      if (!role.value()) return refuse(not_a_member());
      if (*role.value() == ports::Role::member) {
        auto room = rooms_.find_room(channel);
        if (!room) {
          // Gone since the role was read: as to a stranger.
          if (room.error().code == ErrorCode::not_found) return refuse(not_a_member());
          return std::move(room).error();
        }
        if (room->post_policy == ports::PostPolicy::admins) {
          return refuse(make_error(ErrorCode::forbidden, "only the owner and admins post in this channel"));
        }
      }
      return SendVerdict{std::vector<UserId>{}};  // fan-out on read: no inbox entries
    }
  }
  return refuse(make_error(ErrorCode::bad_request, "unknown recipient kind"));
}

Result<void> RoomsService::check_member(const ConversationRef& conversation, UserId user) {
  if (conversation.kind == Recipient::Kind::user) {
    return is_direct_member(conversation, user) ? Result<void>{} : Result<void>{not_a_member()};
  }
  auto role = role_or_forbidden(room_of(conversation), user);
  if (!role) return std::move(role).error();
  return Ok{};
}

Result<std::vector<ChannelId>> RoomsService::channels_of(UserId user) {
  auto memberships = rooms_.rooms_of(user);
  if (!memberships) return std::move(memberships).error();
  std::vector<ChannelId> out;
  for (const auto& m : memberships.value()) {
    if (m.room.kind == ports::RoomKind::channel) out.push_back(ChannelId{m.room.id});
  }
  return out;
}

Result<std::vector<UserId>> RoomsService::members(const ConversationRef& conversation) {
  if (conversation.kind == Recipient::Kind::user) {
    if (conversation.a == conversation.b) return std::vector<UserId>{UserId{conversation.a}};
    return std::vector<UserId>{UserId{conversation.a}, UserId{conversation.b}};
  }
  auto list = rooms_.members(room_of(conversation));
  if (!list) return std::move(list).error();
  std::vector<UserId> out;
  out.reserve(list->size());
  for (const auto& m : list.value()) out.push_back(m.user);
  return out;
}

}  // namespace parley::services
