#include "services/records.hpp"

#include "core/bytes.hpp"
#include "core/log.hpp"

namespace parley::records {

namespace {

constexpr std::uint8_t kVersion = 1;
constexpr std::uint8_t kDeliverTag = 'D';
constexpr std::uint8_t kSendDoneTag = 'R';
constexpr std::uint8_t kRoomEventTag = 'C';
constexpr std::uint8_t kMembershipTag = 'M';
constexpr std::uint8_t kSessionsEndedTag = 'E';

}  // namespace

std::string encode(const SendCommand& c) {
  std::string out;
  out.reserve(64 + c.origin.size() + c.client_msg_id.size() + c.body.size());
  bytes::Writer w(out);
  w.u8(kVersion);
  w.str(c.origin);
  w.u64(c.ticket);
  w.u64(c.from.value);
  w.u8(static_cast<std::uint8_t>(c.to.kind));
  w.u64(c.to.id);
  w.str(c.client_msg_id);
  w.str(c.body);
  return out;
}

std::optional<SendCommand> decode_send(std::string_view in) {
  bytes::Reader r(in);
  SendCommand c;
  std::uint8_t version = 0;
  std::uint8_t kind = 0;
  if (!(r.u8(version) && version == kVersion && r.str(c.origin) && r.u64(c.ticket) && r.u64(c.from.value) &&
        r.u8(kind) && kind <= static_cast<std::uint8_t>(Recipient::Kind::channel) && r.u64(c.to.id) &&
        r.str(c.client_msg_id) && r.str(c.body) && r.done())) {
    return std::nullopt;
  }
  c.to.kind = static_cast<Recipient::Kind>(kind);
  return c;
}

std::string encode(const InboxCommand& c) {
  std::string out;
  out.reserve(96 + c.message.conversation.size() + c.message.body.size() + c.message.client_msg_id.size());
  bytes::Writer w(out);
  w.u8(kVersion);
  w.u64(c.user.value);
  bytes::write_message(w, c.message);
  return out;
}

std::optional<InboxCommand> decode_inbox(std::string_view in) {
  bytes::Reader r(in);
  InboxCommand c;
  std::uint8_t version = 0;
  if (!(r.u8(version) && version == kVersion && r.u64(c.user.value) && bytes::read_message(r, c.message) && r.done())) {
    return std::nullopt;
  }
  return c;
}

std::string encode(const Sequenced& s) {
  std::string out;
  out.reserve(96 + s.message.conversation.size() + s.message.body.size() + s.message.client_msg_id.size() +
              8 * s.members.size());
  bytes::Writer w(out);
  w.u8(kVersion);
  bytes::write_message(w, s.message);
  w.u64(s.members.size());
  for (UserId member : s.members) w.u64(member.value);
  return out;
}

std::optional<Sequenced> decode_sequenced(std::string_view in) {
  bytes::Reader r(in);
  Sequenced s;
  std::uint8_t version = 0;
  std::uint64_t count = 0;
  if (!(r.u8(version) && version == kVersion && bytes::read_message(r, s.message) && r.u64(count) &&
        count <= in.size() / 8)) {
    return std::nullopt;
  }
  s.members.resize(count);
  for (auto& member : s.members) {
    if (!r.u64(member.value)) return std::nullopt;
  }
  if (!r.done()) return std::nullopt;
  return s;
}

std::vector<Sequenced> decode_decisions(std::span<const ports::LogRecord> batch, std::string_view step) {
  std::vector<Sequenced> out;
  out.reserve(batch.size());
  for (const auto& record : batch) {
    auto decision = decode_sequenced(record.value);
    if (!decision) {
      log::error(step, "skipping an undecodable changelog record at offset " + std::to_string(record.offset));
      continue;
    }
    out.push_back(std::move(*decision));
  }
  return out;
}

std::string server_channel(std::string_view server_id) { return "server:" + std::string(server_id); }

std::string encode(const Deliver& d) {
  std::string out;
  out.reserve(24 + d.frame.size());
  bytes::Writer w(out);
  w.u8(kDeliverTag);
  w.u64(d.user.value);
  w.str(d.frame);
  return out;
}

std::string encode(const SendDone& d) {
  std::string out;
  bytes::Writer w(out);
  w.u8(kSendDoneTag);
  w.u64(d.ticket);
  if (d.result.ok()) {
    w.u8(1);
    bytes::write_message(w, d.result.value());
  } else {
    w.u8(0);
    w.u8(static_cast<std::uint8_t>(d.result.error().code));
    w.str(d.result.error().message);
  }
  return out;
}

std::string channel_topic(ChannelId channel) { return "channel:" + to_string(channel); }

std::string encode(const RoomEvent& e) {
  std::string out;
  out.reserve(24 + e.frame.size());
  bytes::Writer w(out);
  w.u8(kRoomEventTag);
  w.u64(e.channel.value);
  w.u64(e.except.value);
  w.str(e.frame);
  return out;
}

std::string encode(const MembershipChanged& m) {
  std::string out;
  bytes::Writer w(out);
  w.u8(kMembershipTag);
  w.u64(m.user.value);
  return out;
}

std::string encode(const SessionsEnded& e) {
  std::string out;
  bytes::Writer w(out);
  w.u8(kSessionsEndedTag);
  w.u64(e.user.value);
  w.u8(static_cast<std::uint8_t>(e.which));
  w.str(e.key);
  w.str(e.reason);
  return out;
}

std::optional<Envelope> decode_envelope(std::string_view in) {
  bytes::Reader r(in);
  std::uint8_t tag = 0;
  if (!r.u8(tag)) return std::nullopt;
  if (tag == kSessionsEndedTag) {
    SessionsEnded e;
    std::uint8_t which = 0;
    if (!(r.u64(e.user.value) && r.u8(which) &&
          which <= static_cast<std::uint8_t>(SessionsEnded::Which::all_but_session) && r.str(e.key) &&
          r.str(e.reason) && r.done())) {
      return std::nullopt;
    }
    e.which = static_cast<SessionsEnded::Which>(which);
    return Envelope{std::move(e)};
  }
  if (tag == kRoomEventTag) {
    RoomEvent e;
    if (!(r.u64(e.channel.value) && r.u64(e.except.value) && r.str(e.frame) && r.done())) return std::nullopt;
    return Envelope{std::move(e)};
  }
  if (tag == kMembershipTag) {
    MembershipChanged m;
    if (!(r.u64(m.user.value) && r.done())) return std::nullopt;
    return Envelope{m};
  }
  if (tag == kDeliverTag) {
    Deliver d;
    if (!(r.u64(d.user.value) && r.str(d.frame) && r.done())) return std::nullopt;
    return Envelope{std::move(d)};
  }
  if (tag == kSendDoneTag) {
    std::uint64_t ticket = 0;
    std::uint8_t ok = 0;
    if (!(r.u64(ticket) && r.u8(ok))) return std::nullopt;
    if (ok == 1) {
      Message m;
      if (!(bytes::read_message(r, m) && r.done())) return std::nullopt;
      return Envelope{SendDone{ticket, Result<Message>(std::move(m))}};
    }
    if (ok != 0) return std::nullopt;  // encode writes 1 or 0, nothing else
    std::uint8_t code = 0;
    std::string message;
    if (!(r.u8(code) && code <= static_cast<std::uint8_t>(ErrorCode::internal) && r.str(message) && r.done())) {
      return std::nullopt;
    }
    return Envelope{SendDone{ticket, Result<Message>(Error{static_cast<ErrorCode>(code), std::move(message)})}};
  }
  return std::nullopt;
}

}  // namespace parley::records
