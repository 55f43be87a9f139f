#include "core/message.hpp"

#include "core/validate.hpp"

#include <algorithm>

namespace parley {

std::string_view to_string(Recipient::Kind kind) noexcept {
  switch (kind) {
    case Recipient::Kind::user: return "user";
    case Recipient::Kind::group: return "group";
    case Recipient::Kind::channel: return "channel";
  }
  return "user";
}

ConversationRef direct_conversation(UserId x, UserId y) noexcept {
  return ConversationRef{Recipient::Kind::user, std::min(x.value, y.value), std::max(x.value, y.value)};
}

ConversationRef group_conversation(GroupId g) noexcept { return ConversationRef{Recipient::Kind::group, g.value, 0}; }

ConversationRef channel_conversation(ChannelId c) noexcept {
  return ConversationRef{Recipient::Kind::channel, c.value, 0};
}

ConversationRef conversation_of(UserId from, const Recipient& to) noexcept {
  switch (to.kind) {
    case Recipient::Kind::user: return direct_conversation(from, UserId{to.id});
    case Recipient::Kind::group: return group_conversation(GroupId{to.id});
    case Recipient::Kind::channel: return channel_conversation(ChannelId{to.id});
  }
  return {};
}

std::string to_string(const ConversationRef& c) {
  switch (c.kind) {
    case Recipient::Kind::user: return "d:" + std::to_string(c.a) + ":" + std::to_string(c.b);
    case Recipient::Kind::group: return "g:" + std::to_string(c.a);
    case Recipient::Kind::channel: return "c:" + std::to_string(c.a);
  }
  return {};
}

std::optional<ConversationRef> parse_conversation(std::string_view text) noexcept {
  if (text.size() < 3 || text[1] != ':') return std::nullopt;
  const std::string_view rest = text.substr(2);
  switch (text[0]) {
    case 'd': {
      const auto colon = rest.find(':');
      if (colon == std::string_view::npos) return std::nullopt;
      const auto a = validate::id_string(rest.substr(0, colon));
      const auto b = validate::id_string(rest.substr(colon + 1));
      if (!a || !b || *a > *b) return std::nullopt;
      return ConversationRef{Recipient::Kind::user, *a, *b};
    }
    case 'g':
    case 'c': {
      const auto id = validate::id_string(rest);
      if (!id) return std::nullopt;
      return ConversationRef{text[0] == 'g' ? Recipient::Kind::group : Recipient::Kind::channel, *id, 0};
    }
    default: return std::nullopt;
  }
}

bool is_direct_member(const ConversationRef& c, UserId user) noexcept {
  return c.kind == Recipient::Kind::user && (c.a == user.value || c.b == user.value);
}

}  // namespace parley
