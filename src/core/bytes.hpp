#pragma once
// A small binary encoding for records that Parley writes itself (log records,
// pub/sub envelopes): fixed-width little-endian integers and length-prefixed
// strings. Readers check every length, so a truncated or corrupt record is a
// clean failure, never an out-of-bounds read.

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "core/message.hpp"

namespace parley::bytes {

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u64(std::uint64_t v) {
    char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xFFU);
    out_.append(b, 8);
  }
  void i64(std::int64_t v) { u64(static_cast<std::uint64_t>(v)); }
  void str(std::string_view s) {
    u64(s.size());
    out_.append(s);
  }

 private:
  std::string& out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  [[nodiscard]] bool u8(std::uint8_t& v) {
    if (in_.size() < 1) return fail();
    v = static_cast<std::uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  [[nodiscard]] bool u64(std::uint64_t& v) {
    if (in_.size() < 8) return fail();
    v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(in_[i])) << (8 * i);
    in_.remove_prefix(8);
    return true;
  }
  [[nodiscard]] bool i64(std::int64_t& v) {
    std::uint64_t u = 0;
    if (!u64(u)) return false;
    v = static_cast<std::int64_t>(u);
    return true;
  }
  [[nodiscard]] bool str(std::string& s) {
    std::uint64_t n = 0;
    if (!u64(n) || n > in_.size()) return fail();
    s.assign(in_.substr(0, n));
    in_.remove_prefix(n);
    return true;
  }
  [[nodiscard]] bool done() const noexcept { return ok_ && in_.empty(); }
  // Bytes not read yet: what bounds a count read before its items.
  [[nodiscard]] std::size_t remaining() const noexcept { return in_.size(); }

 private:
  bool fail() {
    ok_ = false;
    return false;
  }
  std::string_view in_;
  bool ok_ = true;
};

inline void write_message(Writer& w, const Message& m) {
  w.u64(m.id.value);
  w.str(m.conversation);
  w.u64(m.from.value);
  w.u8(static_cast<std::uint8_t>(m.to.kind));
  w.u64(m.to.id);
  w.str(m.body);
  w.i64(m.sent_at);
  w.str(m.client_msg_id);
}

[[nodiscard]] inline bool read_message(Reader& r, Message& m) {
  std::uint8_t kind = 0;
  if (!(r.u64(m.id.value) && r.str(m.conversation) && r.u64(m.from.value) && r.u8(kind) && r.u64(m.to.id) &&
        r.str(m.body) && r.i64(m.sent_at) && r.str(m.client_msg_id))) {
    return false;
  }
  if (kind > static_cast<std::uint8_t>(Recipient::Kind::channel)) return false;
  m.to.kind = static_cast<Recipient::Kind>(kind);
  return true;
}

}  // namespace parley::bytes
