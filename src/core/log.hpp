#pragma once
// Leveled logging to stderr, one line per call, safe from any thread (each
// line is written with one fwrite, which stdio locks).
//
// Every line carries a UTC timestamp (RFC 3339, milliseconds) and the level,
// in one of two formats (--log-format):
//
//   text  2026-11-30T08:15:02.123Z info [gateway] message
//         (control characters in the component and message are escaped, so
//         that one call is always one line)
//   json  {"ts":"2026-11-30T08:15:02.123Z","level":"info","component":"gateway","msg":"message"}
//         plus any fields the call adds; valid JSON for any text (strings
//         escaped, invalid UTF-8 replaced by U+FFFD)
//
// write() checks the level first; a caller that builds its message on a hot
// path checks enabled() before building it.

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace parley::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };
enum class Format { text, json };

void set_level(Level level) noexcept;
void set_format(Format format) noexcept;
[[nodiscard]] bool enabled(Level level) noexcept;

// A named value a line carries besides its message: a field of its own in
// json lines (the access log's method, path, status, duration); text lines
// show the message only, which says the same in words.
struct Field {
  std::string_view key;
  std::variant<std::string_view, std::int64_t, double> value;
};

void write(Level level, std::string_view component, std::string_view message, std::initializer_list<Field> fields = {});

inline void debug(std::string_view component, std::string_view message) { write(Level::debug, component, message); }
inline void info(std::string_view component, std::string_view message) { write(Level::info, component, message); }
inline void warn(std::string_view component, std::string_view message) { write(Level::warn, component, message); }
inline void error(std::string_view component, std::string_view message) { write(Level::error, component, message); }

// "debug", "info", "warn", "error" and back; nothing for another word.
[[nodiscard]] std::string_view level_name(Level level) noexcept;
[[nodiscard]] std::optional<Level> parse_level(std::string_view name) noexcept;
// "text", "json" and back.
[[nodiscard]] std::optional<Format> parse_format(std::string_view name) noexcept;

// --- the formatting, public for its tests ----------------------------------

// RFC 3339 in UTC with milliseconds: "2026-11-30T08:15:02.123Z".
[[nodiscard]] std::string timestamp(std::chrono::system_clock::time_point at);

// Appends `text` as a JSON string, quotes included: '"', '\' and control
// characters escaped, valid UTF-8 copied as it is, and each byte that does
// not begin a valid UTF-8 sequence (a stray continuation byte, a truncated,
// overlong or surrogate sequence, a code point past U+10FFFF) written as
// U+FFFD, so that the result is valid JSON whatever `text` holds.
void append_json_string(std::string& out, std::string_view text);

// One whole line, newline included.
[[nodiscard]] std::string format_line(Format format, std::chrono::system_clock::time_point at, Level level,
                                      std::string_view component, std::string_view message,
                                      std::initializer_list<Field> fields = {});

}  // namespace parley::log
