#include "services/records.hpp"

#include "core/bytes.hpp"
#include "core/log.hpp"

namespace parley::records {

namespace {

constexpr std::uint8_t kVersion = 1;
// An InboxCommand for several users (kVersion's held one).
constexpr std::uint8_t kInboxUsersVersion = 2;
// A Sequenced with the offset it was appended for (kVersion's has none).
constexpr std::uint8_t kSequencedAtVersion = 3;
constexpr std::uint8_t kDeliverTag = 'D';
constexpr std::uint8_t kDeliveriesTag = 'B';
constexpr std::uint8_t kSendDoneTag = 'R';
constexpr std::uint8_t kSendDonesTag = 'S';
constexpr std::uint8_t kRoomEventTag = 'C';
constexpr std::uint8_t kMembershipTag = 'M';
constexpr std::uint8_t kSessionsEndedTag = 'E';

// A message and users (an InboxCommand's recipients, a decision's
// members) after a version byte and, if given, an offset.
std::string encode_message_users(std::uint8_t version, const Message& m, const std::vector<UserId>& users,
                                 std::optional<std::uint64_t> offset = std::nullopt) {
  std::string out;
  out.reserve(104 + m.conversation.size() + m.body.size() + m.client_msg_id.size() + 8 * users.size());
  bytes::Writer w(out);
  w.u8(version);
  if (offset) w.u64_le(*offset);
  bytes::write_message(w, m);
  w.u64_le(users.size());
  for (UserId user : users) w.u64_le(user.value);
  return out;
}

// Reads what encode_message_users wrote after the version, to the end of
// `r`: false for anything else, or for fewer than `min_users` users.
bool read_message_users(bytes::Reader& r, Message& m, std::vector<UserId>& users, std::uint64_t min_users) {
  std::uint64_t count = 0;
  if (!(bytes::read_message(r, m) && r.u64_le(count) && count >= min_users && count <= r.remaining() / 8)) {
    return false;
  }
  users.resize(count);
  for (UserId& user : users) {
    if (!r.u64_le(user.value)) return false;
  }
  return r.done();
}

}  // namespace

std::string encode(const SendCommand& c) {
  std::string out;
  out.reserve(64 + c.origin.size() + c.client_msg_id.size() + c.body.size());
  bytes::Writer w(out);
  w.u8(kVersion);
  w.str_u64_le(c.origin);
  w.u64_le(c.ticket);
  w.u64_le(c.from.value);
  w.u8(static_cast<std::uint8_t>(c.to.kind));
  w.u64_le(c.to.id);
  w.str_u64_le(c.client_msg_id);
  w.str_u64_le(c.body);
  return out;
}

std::optional<SendCommand> decode_send(std::string_view in) {
  bytes::Reader r(in);
  SendCommand c;
  std::uint8_t version = 0;
  std::uint8_t kind = 0;
  if (!(r.u8(version) && version == kVersion && r.str_u64_le(c.origin) && r.u64_le(c.ticket) &&
        r.u64_le(c.from.value) && r.u8(kind) && kind <= static_cast<std::uint8_t>(Recipient::Kind::channel) &&
        r.u64_le(c.to.id) && r.str_u64_le(c.client_msg_id) && r.str_u64_le(c.body) && r.done())) {
    return std::nullopt;
  }
  c.to.kind = static_cast<Recipient::Kind>(kind);
  return c;
}

std::string encode(const InboxCommand& c) { return encode_message_users(kInboxUsersVersion, c.message, c.users); }

std::optional<InboxCommand> decode_inbox(std::string_view in) {
  bytes::Reader r(in);
  InboxCommand c;
  std::uint8_t version = 0;
  if (!r.u8(version)) return std::nullopt;
  if (version == kVersion) {
    // One user (written before kInboxUsersVersion; still read, so that a
    // log an older server left behind is consumed).
    UserId user;
    if (!(r.u64_le(user.value) && bytes::read_message(r, c.message) && r.done())) return std::nullopt;
    c.users.push_back(user);
    return c;
  }
  if (version != kInboxUsersVersion || !read_message_users(r, c.message, c.users, 1)) return std::nullopt;
  return c;
}

std::string encode(const Sequenced& s) {
  if (!s.offset) return encode_message_users(kVersion, s.message, s.members);
  return encode_message_users(kSequencedAtVersion, s.message, s.members, s.offset);
}

std::optional<Sequenced> decode_sequenced(std::string_view in) {
  bytes::Reader r(in);
  Sequenced s;
  std::uint8_t version = 0;
  if (!r.u8(version)) return std::nullopt;
  if (version == kSequencedAtVersion) {
    std::uint64_t offset = 0;
    if (!r.u64_le(offset)) return std::nullopt;
    s.offset = offset;
  } else if (version != kVersion) {
    return std::nullopt;
  }
  if (!read_message_users(r, s.message, s.members, 0)) return std::nullopt;
  return s;
}

std::vector<Sequenced> decode_decisions(std::span<const ports::LogRecord> batch, std::string_view step,
                                        std::vector<std::size_t>* record_of) {
  std::vector<Sequenced> out;
  out.reserve(batch.size());
  if (record_of != nullptr) record_of->reserve(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto decision = decode_sequenced(batch[i].value);
    if (!decision) {
      log::error(step, "skipping an undecodable changelog record at offset " + std::to_string(batch[i].offset));
      continue;
    }
    if (!stands(*decision, batch[i])) {
      log::warn(step, "skipping a decision fenced off in changelog partition " + std::to_string(batch[i].partition) +
                          ": appended at offset " + std::to_string(batch[i].offset) +
                          " by a sequencer that meant it for " + std::to_string(*decision->offset) +
                          " (it answered nobody with it)");
      continue;
    }
    out.push_back(std::move(*decision));
    if (record_of != nullptr) record_of->push_back(i);
  }
  return out;
}

std::string server_channel(std::string_view server_id) { return "server:" + std::string(server_id); }

std::string encode(const Deliver& d) {
  std::string out;
  out.reserve(24 + d.frame.size());
  bytes::Writer w(out);
  w.u8(kDeliverTag);
  w.u64_le(d.user.value);
  w.str_u64_le(d.frame);
  return out;
}

std::string encode(const Deliveries& d) {
  std::size_t size = 16;
  for (const auto& item : d.items) size += 16 + item.frame.size();
  std::string out;
  out.reserve(size);
  bytes::Writer w(out);
  w.u8(kDeliveriesTag);
  w.u64_le(d.items.size());
  for (const auto& item : d.items) {
    w.u64_le(item.user.value);
    w.str_u64_le(item.frame);
  }
  return out;
}

namespace {

void write_send_done(bytes::Writer& w, const SendDone& d) {
  w.u64_le(d.ticket);
  if (d.result.ok()) {
    w.u8(1);
    bytes::write_message(w, d.result.value());
  } else {
    w.u8(0);
    w.u8(static_cast<std::uint8_t>(d.result.error().code));
    w.str_u64_le(d.result.error().message);
  }
}

std::optional<SendDone> read_send_done(bytes::Reader& r) {
  std::uint64_t ticket = 0;
  std::uint8_t ok = 0;
  if (!(r.u64_le(ticket) && r.u8(ok))) return std::nullopt;
  if (ok == 1) {
    Message m;
    if (!bytes::read_message(r, m)) return std::nullopt;
    return SendDone{ticket, Result<Message>(std::move(m))};
  }
  if (ok != 0) return std::nullopt;  // encode writes 1 or 0, nothing else
  std::uint8_t code = 0;
  std::string message;
  if (!(r.u8(code) && code <= static_cast<std::uint8_t>(ErrorCode::internal) && r.str_u64_le(message)))
    return std::nullopt;
  return SendDone{ticket, Result<Message>(Error{static_cast<ErrorCode>(code), std::move(message)})};
}

}  // namespace

std::string encode(const SendDone& d) {
  std::string out;
  bytes::Writer w(out);
  w.u8(kSendDoneTag);
  write_send_done(w, d);
  return out;
}

std::string encode(const SendDones& d) {
  std::string out;
  bytes::Writer w(out);
  w.u8(kSendDonesTag);
  w.u64_le(d.items.size());
  for (const auto& item : d.items) write_send_done(w, item);
  return out;
}

std::string channel_topic(ChannelId channel) { return "channel:" + to_string(channel); }

std::string encode(const RoomEvent& e) {
  std::string out;
  out.reserve(24 + e.frame.size());
  bytes::Writer w(out);
  w.u8(kRoomEventTag);
  w.u64_le(e.channel.value);
  w.u64_le(e.except.value);
  w.str_u64_le(e.frame);
  return out;
}

std::string encode(const MembershipChanged& m) {
  std::string out;
  bytes::Writer w(out);
  w.u8(kMembershipTag);
  w.u64_le(m.user.value);
  return out;
}

std::string encode(const SessionsEnded& e) {
  std::string out;
  bytes::Writer w(out);
  w.u8(kSessionsEndedTag);
  w.u64_le(e.user.value);
  w.u8(static_cast<std::uint8_t>(e.which));
  w.str_u64_le(e.key);
  w.str_u64_le(e.reason);
  return out;
}

std::optional<Envelope> decode_envelope(std::string_view in) {
  bytes::Reader r(in);
  std::uint8_t tag = 0;
  if (!r.u8(tag)) return std::nullopt;
  if (tag == kSessionsEndedTag) {
    SessionsEnded e;
    std::uint8_t which = 0;
    if (!(r.u64_le(e.user.value) && r.u8(which) &&
          which <= static_cast<std::uint8_t>(SessionsEnded::Which::all_but_session) && r.str_u64_le(e.key) &&
          r.str_u64_le(e.reason) && r.done())) {
      return std::nullopt;
    }
    e.which = static_cast<SessionsEnded::Which>(which);
    return Envelope{std::move(e)};
  }
  if (tag == kRoomEventTag) {
    RoomEvent e;
    if (!(r.u64_le(e.channel.value) && r.u64_le(e.except.value) && r.str_u64_le(e.frame) && r.done()))
      return std::nullopt;
    return Envelope{std::move(e)};
  }
  if (tag == kMembershipTag) {
    MembershipChanged m;
    if (!(r.u64_le(m.user.value) && r.done())) return std::nullopt;
    return Envelope{m};
  }
  if (tag == kDeliverTag) {
    Deliver d;
    if (!(r.u64_le(d.user.value) && r.str_u64_le(d.frame) && r.done())) return std::nullopt;
    return Envelope{std::move(d)};
  }
  if (tag == kDeliveriesTag) {
    Deliveries d;
    std::uint64_t count = 0;
    if (!(r.u64_le(count) && count <= r.remaining() / 16)) return std::nullopt;
    d.items.resize(count);
    for (auto& item : d.items) {
      if (!(r.u64_le(item.user.value) && r.str_u64_le(item.frame))) return std::nullopt;
    }
    if (!r.done()) return std::nullopt;
    return Envelope{std::move(d)};
  }
  if (tag == kSendDoneTag) {
    auto done = read_send_done(r);
    if (!done || !r.done()) return std::nullopt;
    return Envelope{std::move(*done)};
  }
  if (tag == kSendDonesTag) {
    SendDones d;
    std::uint64_t count = 0;
    // Each answer takes at least 9 bytes (ticket, ok byte).
    if (!(r.u64_le(count) && count <= r.remaining() / 9)) return std::nullopt;
    d.items.reserve(count);
    for (std::uint64_t i = 0; i < count; ++i) {
      auto done = read_send_done(r);
      if (!done) return std::nullopt;
      d.items.push_back(std::move(*done));
    }
    if (!r.done()) return std::nullopt;
    return Envelope{std::move(d)};
  }
  return std::nullopt;
}

}  // namespace parley::records
