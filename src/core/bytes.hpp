#pragma once
// Bytes in and out. Writer: the small binary encoding of the records that
// Parley writes itself (log records, pub/sub envelopes): fixed-width
// little-endian integers and length-prefixed strings; and the big-endian
// integers of the embedded engines' keys and of CQL. Reader: the one reader
// of every binary format Parley parses, which checks every length, so a
// truncated or corrupt record is a clean failure, never an out-of-bounds
// read.

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "core/message.hpp"

namespace parley::bytes {

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u32_le(std::uint32_t v) { integer<false>(v); }
  void u64_le(std::uint64_t v) { integer<false>(v); }
  void i64_le(std::int64_t v) { u64_le(static_cast<std::uint64_t>(v)); }
  // Big-endian, for the formats the Reader reads so (below): the embedded
  // engines' keys, which then sort numerically, and the CQL protocol.
  void u16_be(std::uint16_t v) { integer<true>(v); }
  void u32_be(std::uint32_t v) { integer<true>(v); }
  void u64_be(std::uint64_t v) { integer<true>(v); }
  void str_u64_le(std::string_view s) {
    u64_le(s.size());
    out_.append(s);
  }

 private:
  // The bytes built in registers and appended at once: these run for every
  // field of every key and record, where a push_back a byte was a capacity
  // check a byte.
  template <bool BigEndian, class U>
  void integer(U v) {
    char b[sizeof(U)];
    for (std::size_t i = 0; i < sizeof(U); ++i) {
      b[BigEndian ? sizeof(U) - 1 - i : i] = static_cast<char>(v & 0xFFU);
      v = static_cast<U>(v >> 8U);
    }
    out_.append(b, sizeof(U));
  }

  std::string& out_;
};

// Reads fixed-width integers and length-prefixed strings off the front of a
// byte string: Parley's own records (little-endian, above), the embedded
// engines' rows (big-endian, so that keys sort numerically), the file log's
// frames and the CQL native protocol (big-endian). Each method is named for
// what it reads (u32_be: a 32-bit big-endian unsigned integer).
//
// Every read checks the length first: a read past the end returns false,
// leaves its output alone and fails the reader, and every read after a
// failed one fails too, so a chain of reads can be checked once, at its end
// (ok(), done()). Nothing here allocates but the std::string readers, and
// bytes() hands out views into the input, which must outlive them.
class Reader {
 public:
  explicit Reader(std::string_view in) noexcept : in_(in) {}

  [[nodiscard]] bool u8(std::uint8_t& v) noexcept { return integer<false>(v); }
  [[nodiscard]] bool u16_be(std::uint16_t& v) noexcept { return integer<true>(v); }
  [[nodiscard]] bool u32_be(std::uint32_t& v) noexcept { return integer<true>(v); }
  [[nodiscard]] bool i32_be(std::int32_t& v) noexcept { return integer<true>(v); }
  [[nodiscard]] bool u64_be(std::uint64_t& v) noexcept { return integer<true>(v); }
  [[nodiscard]] bool u32_le(std::uint32_t& v) noexcept { return integer<false>(v); }
  [[nodiscard]] bool u64_le(std::uint64_t& v) noexcept { return integer<false>(v); }
  [[nodiscard]] bool i64_le(std::int64_t& v) noexcept { return integer<false>(v); }

  // The next n bytes, as a view into the input.
  [[nodiscard]] bool bytes(std::size_t n, std::string_view& v) noexcept {
    if (!ok_ || n > in_.size()) return fail();
    v = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  [[nodiscard]] bool skip(std::size_t n) noexcept {
    std::string_view ignored;
    return bytes(n, ignored);
  }

  // A string after its length: a u16_be (CQL's [string]), a u32_be (the
  // embedded engines' rows) or a u64_le (Parley's records).
  [[nodiscard]] bool str_u16_be(std::string& s) { return sized<std::uint16_t, true>(s); }
  [[nodiscard]] bool str_u32_be(std::string& s) { return sized<std::uint32_t, true>(s); }
  [[nodiscard]] bool str_u64_le(std::string& s) { return sized<std::uint64_t, false>(s); }

  // Fails the reader: for input that reads well but means nothing (a
  // negative count), so that the check at the end refuses it too.
  bool fail() noexcept {
    ok_ = false;
    return false;
  }

  // Whether every read so far succeeded.
  [[nodiscard]] bool ok() const noexcept { return ok_; }
  // Whether every read succeeded and nothing is left.
  [[nodiscard]] bool done() const noexcept { return ok_ && in_.empty(); }
  // Bytes not read yet: what bounds a count read before its items.
  [[nodiscard]] std::size_t remaining() const noexcept { return in_.size(); }
  // The bytes not read yet, left unread.
  [[nodiscard]] std::string_view rest() const noexcept { return in_; }

 private:
  template <bool BigEndian, class T>
  bool integer(T& v) noexcept {
    using U = std::make_unsigned_t<T>;
    if (!ok_ || in_.size() < sizeof(T)) return fail();
    U u = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) {
      const auto b = static_cast<U>(static_cast<unsigned char>(in_[i]));
      if constexpr (BigEndian) {
        u = static_cast<U>((u << 8U) | b);
      } else {
        u = static_cast<U>(u | (b << (8U * i)));
      }
    }
    v = static_cast<T>(u);
    in_.remove_prefix(sizeof(T));
    return true;
  }

  template <class Length, bool BigEndian>
  bool sized(std::string& s) {
    Length n = 0;
    std::string_view b;
    if (!integer<BigEndian>(n) || !bytes(n, b)) return false;
    s.assign(b);
    return true;
  }

  std::string_view in_;
  bool ok_ = true;
};

inline void write_message(Writer& w, const Message& m) {
  w.u64_le(m.id.value);
  w.str_u64_le(m.conversation);
  w.u64_le(m.from.value);
  w.u8(static_cast<std::uint8_t>(m.to.kind));
  w.u64_le(m.to.id);
  w.str_u64_le(m.body);
  w.i64_le(m.sent_at);
  w.str_u64_le(m.client_msg_id);
}

[[nodiscard]] inline bool read_message(Reader& r, Message& m) {
  std::uint8_t kind = 0;
  if (!(r.u64_le(m.id.value) && r.str_u64_le(m.conversation) && r.u64_le(m.from.value) && r.u8(kind) &&
        r.u64_le(m.to.id) && r.str_u64_le(m.body) && r.i64_le(m.sent_at) && r.str_u64_le(m.client_msg_id))) {
    return false;
  }
  if (kind > static_cast<std::uint8_t>(Recipient::Kind::channel)) return false;
  m.to.kind = static_cast<Recipient::Kind>(kind);
  return true;
}

}  // namespace parley::bytes
