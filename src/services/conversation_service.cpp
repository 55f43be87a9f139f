#include "services/conversation_service.hpp"

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <set>

#include "core/codec_ops.hpp"
#include "services/live_events.hpp"

namespace parley::services {

namespace json = boost::json;

namespace {

Result<ConversationRef> parse(std::string_view conversation) {
  auto ref = parse_conversation(conversation);
  if (!ref) return make_error(ErrorCode::bad_request, "conversation is not a conversation id");
  return *ref;
}

}  // namespace

ConversationService::ConversationService(ports::MessageStore& store, ports::Rooms& rooms, RoomsService& access,
                                         ports::StateStore& state, Options options)
    : store_(store), rooms_(rooms), access_(access), state_(state), options_(options) {}

Result<std::optional<Message>> ConversationService::newest(const std::string& conversation) {
  auto page = store_.history(conversation, MessageId{}, 1);
  if (!page) return std::move(page).error();
  if (page->empty()) return std::optional<Message>{};
  if (options_.deleted != nullptr) options_.deleted->render(page->front());
  return std::optional<Message>{std::move(page->front())};
}

Result<std::vector<ConversationService::Entry>> ConversationService::list(UserId user, std::size_t limit) {
  // Candidates: 1:1 and group conversations from the inbox index, plus every
  // room the user belongs to (a new group or a channel has no inbox entry).
  struct Candidate {
    std::string conversation;
    MessageId last;
    TimeMs order_hint = 0;
  };
  auto indexed = store_.conversations_of(user);
  if (!indexed) return std::move(indexed).error();
  auto rooms = rooms_.rooms_of(user);
  if (!rooms) return std::move(rooms).error();

  std::set<std::string> member_rooms;
  std::vector<Candidate> candidates;
  for (const auto& m : rooms.value()) {
    std::string name = to_string(conversation_of(m.room));
    member_rooms.insert(name);
    MessageId last;
    if (m.room.kind == ports::RoomKind::channel) {
      auto newest_message = newest(name);
      if (!newest_message) return std::move(newest_message).error();
      if (newest_message.value()) last = newest_message.value()->id;
    }
    candidates.push_back({std::move(name), last, static_cast<TimeMs>(m.room.id)});
  }
  for (auto& c : indexed.value()) {
    const auto ref = parse_conversation(c.conversation);
    if (!ref) continue;
    if (ref->kind == Recipient::Kind::group) {
      // A group the user has left keeps its inbox entries but leaves the list.
      if (!member_rooms.contains(c.conversation)) continue;
      for (auto& candidate : candidates) {
        if (candidate.conversation == c.conversation) candidate.last = std::max(candidate.last, c.last_message);
      }
      continue;
    }
    candidates.push_back({std::move(c.conversation), c.last_message, 0});
  }
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& x, const Candidate& y) {
    if (x.last != y.last) return x.last > y.last;
    if (x.order_hint != y.order_hint) return x.order_hint > y.order_hint;
    return x.conversation < y.conversation;
  });
  if (candidates.size() > limit) candidates.resize(limit);

  std::vector<Entry> out;
  out.reserve(candidates.size());
  for (auto& c : candidates) {
    Entry e;
    e.kind = parse_conversation(c.conversation)->kind;
    if (c.last.valid()) {
      auto newest_message = newest(c.conversation);
      if (!newest_message) return std::move(newest_message).error();
      e.last_message = std::move(newest_message.value());
      auto position = store_.read_position(user, c.conversation);
      if (!position) return std::move(position).error();
      auto unread = store_.count_unread(c.conversation, position.value(), user, options_.unread_cap);
      if (!unread) return std::move(unread).error();
      e.unread = unread.value();
    }
    e.conversation = std::move(c.conversation);
    out.push_back(std::move(e));
  }
  return out;
}

Result<void> ConversationService::read(UserId user, std::string_view conversation, MessageId message) {
  auto ref = parse(conversation);
  if (!ref) return std::move(ref).error();
  if (auto member = access_.check_member(ref.value(), user); !member) return member;
  if (!message.valid()) return make_error(ErrorCode::bad_request, "message_id is required");
  auto last = store_.last_message_id(conversation);
  if (!last) return std::move(last).error();
  if (message > last.value()) {
    return make_error(ErrorCode::bad_request, "message_id is not a message of this conversation");
  }
  auto before = store_.read_position(user, conversation);
  if (!before) return std::move(before).error();
  auto after = store_.advance_read_position(user, conversation, message);
  if (!after) return std::move(after).error();
  if (after.value() <= before.value()) return Ok{};  // did not move: nothing to tell

  const std::string frame = codec::event_receipt(conversation, user, after.value());
  if (ref->kind == Recipient::Kind::channel) {
    send_to_user(state_, user, frame);  // in a channel, only the reader's own devices
    return Ok{};
  }
  // A block stops receipts both ways; the reader's own devices still sync.
  auto members = access_.members(ref.value());
  if (!members) return std::move(members).error();
  auto told = access_.without_blocks(user, std::move(members).value());
  if (!told) return std::move(told).error();
  for (UserId member : told.value()) send_to_user(state_, member, frame);
  return Ok{};
}

Result<void> ConversationService::typing(UserId user, std::string_view conversation, Clock::time_point now) {
  auto ref = parse(conversation);
  if (!ref) return std::move(ref).error();
  if (auto member = access_.check_member(ref.value(), user); !member) return member;
  {
    std::lock_guard lock(typing_mu_);
    std::string key = to_string(user);
    key.push_back(' ');
    key.append(conversation);
    auto [it, inserted] = last_typing_.try_emplace(std::move(key), now);
    if (!inserted) {
      if (now - it->second < options_.typing_interval) return Ok{};  // throttled: the last one still stands
      it->second = now;
    }
    if (last_typing_.size() > 100000) {
      std::erase_if(last_typing_, [&](const auto& kv) { return now - kv.second >= options_.typing_interval; });
    }
  }
  std::string frame = codec::event_typing(conversation, user);
  if (ref->kind == Recipient::Kind::channel) {
    send_to_channel(state_, ChannelId{ref->a}, user, std::move(frame));
    return Ok{};
  }
  // A block stops typing both ways, in groups as in 1:1.
  auto members = access_.members(ref.value());
  if (!members) return std::move(members).error();
  auto told = access_.without_blocks(user, std::move(members).value());
  if (!told) return std::move(told).error();
  for (UserId member : told.value()) {
    if (member != user) send_to_user(state_, member, frame);
  }
  return Ok{};
}

}  // namespace parley::services
