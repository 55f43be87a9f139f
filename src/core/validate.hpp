#pragma once
// Validation of the names and values clients choose (docs/PROTOCOL.md).

#include <cstdint>
#include <optional>
#include <string_view>

namespace parley::validate {

// 3-32 of [a-z0-9_.-].
[[nodiscard]] bool username(std::string_view s) noexcept;
// 1-64 of [A-Za-z0-9_.-].
[[nodiscard]] bool device_id(std::string_view s) noexcept;
// 8-256 bytes.
[[nodiscard]] bool password(std::string_view s) noexcept;
// A password a new account may take: password() and no control character
// (NUL included), not only spaces, not one character repeated.
[[nodiscard]] bool new_password(std::string_view s) noexcept;
// Whether `s`, ASCII letters lowercased, is on the list of common passwords
// (core/common_passwords.cpp) that a new account may not take.
[[nodiscard]] bool common_password(std::string_view s);
// 1-64 characters (bytes of valid UTF-8; the JSON parser checked the UTF-8).
[[nodiscard]] bool client_msg_id(std::string_view s) noexcept;
// A decimal id string: 1-20 digits, no sign, no leading zero, not zero, fits
// 64 bits.
[[nodiscard]] std::optional<std::uint64_t> id_string(std::string_view s) noexcept;
// Whether `s` is well-formed UTF-8 (RFC 3629: no overlongs, no surrogates).
[[nodiscard]] bool utf8(std::string_view s) noexcept;
// The length of the well-formed UTF-8 sequence at the start of `s`, or 0
// when it does not start with one (or is empty).
[[nodiscard]] std::size_t utf8_sequence(std::string_view s) noexcept;
// A name people see (a group's, a channel's): 1-200 bytes of UTF-8 with no
// control characters (C0, DEL, C1) and no bidirectional marks or overrides
// (U+061C, U+200E-F, U+202A-E, U+2066-9), which could disguise it.
[[nodiscard]] bool display_name(std::string_view s) noexcept;

}  // namespace parley::validate
