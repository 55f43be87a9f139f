#include "core/validate.hpp"

#include <algorithm>
#include <charconv>

namespace parley::validate {

namespace {

bool is_lower_name_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

bool is_device_char(char c) noexcept { return is_lower_name_char(c) || (c >= 'A' && c <= 'Z'); }

}  // namespace

bool username(std::string_view s) noexcept {
  return s.size() >= 3 && s.size() <= 32 && std::all_of(s.begin(), s.end(), is_lower_name_char);
}

bool device_id(std::string_view s) noexcept {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), is_device_char);
}

bool password(std::string_view s) noexcept { return s.size() >= 8 && s.size() <= 256; }

bool new_password(std::string_view s) noexcept {
  if (!password(s)) return false;
  bool all_spaces = true;
  bool one_char = true;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7F) return false;
    all_spaces = all_spaces && c == ' ';
    one_char = one_char && c == static_cast<unsigned char>(s.front());
  }
  return !all_spaces && !one_char;
}

bool client_msg_id(std::string_view s) noexcept {
  if (s.empty()) return false;
  // Count code points, not bytes: a continuation byte starts no character.
  std::size_t chars = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0U) != 0x80U) ++chars;
  }
  return chars <= 64;
}

std::optional<std::uint64_t> id_string(std::string_view s) noexcept {
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s.front() == '0')) return std::nullopt;
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || v == 0) return std::nullopt;
  return v;
}

namespace {

// Decodes the code point at the start of `s` into `cp`; its length in
// bytes, or 0 when `s` does not start with well-formed UTF-8 (RFC 3629: no
// overlongs, no surrogates, nothing past U+10FFFF).
std::size_t decode_one(std::string_view s, std::uint32_t& cp) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const unsigned char c = p[0];
  if (c < 0x80) {
    cp = c;
    return 1;
  }
  std::size_t len = 0;
  if ((c & 0xE0U) == 0xC0U) {
    len = 2;
    cp = c & 0x1FU;
  } else if ((c & 0xF0U) == 0xE0U) {
    len = 3;
    cp = c & 0x0FU;
  } else if ((c & 0xF8U) == 0xF0U) {
    len = 4;
    cp = c & 0x07U;
  } else {
    return 0;
  }
  if (s.size() < len) return 0;
  for (std::size_t i = 1; i < len; ++i) {
    if ((p[i] & 0xC0U) != 0x80U) return 0;
    cp = (cp << 6) | (p[i] & 0x3FU);
  }
  const bool overlong = (len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
  if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

// Walks the code points of `s`, handing each to `f` (false stops the walk);
// false for malformed UTF-8 or when `f` refused one.
template <class F>
bool each_code_point(std::string_view s, F&& f) noexcept {
  while (!s.empty()) {
    std::uint32_t cp = 0;
    const std::size_t len = decode_one(s, cp);
    if (len == 0 || !f(cp)) return false;
    s.remove_prefix(len);
  }
  return true;
}

}  // namespace

std::size_t utf8_sequence(std::string_view s) noexcept {
  std::uint32_t cp = 0;
  return s.empty() ? 0 : decode_one(s, cp);
}

bool utf8(std::string_view s) noexcept {
  return each_code_point(s, [](std::uint32_t) { return true; });
}

bool display_name(std::string_view s) noexcept {
  if (s.empty() || s.size() > 200) return false;
  return each_code_point(s, [](std::uint32_t cp) {
    const bool control = cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
    // Marks and overrides that reorder what is shown around them.
    const bool bidi = cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
                      (cp >= 0x2066 && cp <= 0x2069);
    return !control && !bidi;
  });
}

}  // namespace parley::validate
