#include "core/log.hpp"

#include <array>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace parley::log {

namespace {

std::atomic<int> g_level{static_cast<int>(Level::info)};
std::atomic<int> g_format{static_cast<int>(Format::text)};

constexpr char kHex[] = "0123456789abcdef";

// The length of the well-formed UTF-8 sequence at the start of `s`
// (Unicode Table 3-7), or 0 when it does not start with one.
std::size_t utf8_sequence(std::string_view s) noexcept {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char b0 = byte(0);
  if (b0 < 0x80) return 1;
  std::size_t n = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;  // the second byte's range; later ones are 80..BF
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    if (b0 == 0xE0) lo = 0xA0;  // overlong
    if (b0 == 0xED) hi = 0x9F;  // surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    if (b0 == 0xF0) lo = 0x90;  // overlong
    if (b0 == 0xF4) hi = 0x8F;  // past U+10FFFF
  } else {
    return 0;  // a continuation byte, C0/C1 (overlong) or F5..FF
  }
  if (s.size() < n || byte(1) < lo || byte(1) > hi) return 0;
  for (std::size_t i = 2; i < n; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
  }
  return n;
}

// Text lines: control characters escaped, so that a message holding a
// newline (a client's input, an engine's multi-line error) stays one line.
void append_text(std::string& out, std::string_view text) {
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u != 0x7F) {
      out.push_back(c);
    } else if (c == '\n') {
      out.append("\\n");
    } else if (c == '\r') {
      out.append("\\r");
    } else if (c == '\t') {
      out.append("\\t");
    } else {
      out.append("\\x").push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xF]);
    }
  }
}

void append_json_value(std::string& out, const Field& field) {
  if (const auto* s = std::get_if<std::string_view>(&field.value)) {
    append_json_string(out, *s);
    return;
  }
  std::array<char, 64> buf{};
  std::to_chars_result r{};
  if (const auto* i = std::get_if<std::int64_t>(&field.value)) {
    r = std::to_chars(buf.data(), buf.data() + buf.size(), *i);
  } else {
    const double d = std::get<double>(field.value);
    if (!std::isfinite(d)) {
      out.append("null");  // JSON has no NaN or infinity
      return;
    }
    r = std::to_chars(buf.data(), buf.data() + buf.size(), d, std::chars_format::fixed, 3);
  }
  out.append(buf.data(), r.ptr);
}

}  // namespace

void set_level(Level level) noexcept { g_level.store(static_cast<int>(level), std::memory_order_relaxed); }

void set_format(Format format) noexcept { g_format.store(static_cast<int>(format), std::memory_order_relaxed); }

bool enabled(Level level) noexcept { return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed); }

std::string_view level_name(Level level) noexcept {
  switch (level) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::error: return "error";
  }
  return "info";
}

std::optional<Level> parse_level(std::string_view name) noexcept {
  for (const Level level : {Level::debug, Level::info, Level::warn, Level::error}) {
    if (name == level_name(level)) return level;
  }
  return std::nullopt;
}

std::optional<Format> parse_format(std::string_view name) noexcept {
  if (name == "text") return Format::text;
  if (name == "json") return Format::json;
  return std::nullopt;
}

std::string timestamp(std::chrono::system_clock::time_point at) {
  using namespace std::chrono;
  const auto ms = floor<milliseconds>(at);
  const auto day = floor<days>(ms);
  const year_month_day date{day};
  const hh_mm_ss time{ms - day};
  std::array<char, 40> buf{};
  const int n =
      std::snprintf(buf.data(), buf.size(), "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(date.year()),
                    static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                    static_cast<int>(time.hours().count()), static_cast<int>(time.minutes().count()),
                    static_cast<int>(time.seconds().count()), static_cast<int>(time.subseconds().count()));
  return std::string(buf.data(), static_cast<std::size_t>(n));
}

void append_json_string(std::string& out, std::string_view text) {
  out.push_back('"');
  std::size_t i = 0;
  while (i < text.size()) {
    const auto u = static_cast<unsigned char>(text[i]);
    if (u >= 0x80) {
      const std::size_t n = utf8_sequence(text.substr(i));
      if (n == 0) {
        out.append("\\ufffd");
        ++i;
      } else {
        out.append(text.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (u) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\b': out.append("\\b"); break;
      case '\f': out.append("\\f"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default:
        if (u < 0x20) {
          out.append("\\u00").push_back(kHex[u >> 4]);
          out.push_back(kHex[u & 0xF]);
        } else {
          out.push_back(static_cast<char>(u));
        }
    }
    ++i;
  }
  out.push_back('"');
}

std::string format_line(Format format, std::chrono::system_clock::time_point at, Level level,
                        std::string_view component, std::string_view message, std::initializer_list<Field> fields) {
  std::string line;
  line.reserve(64 + component.size() + message.size());
  if (format == Format::text) {
    line.append(timestamp(at)).push_back(' ');
    line.append(level_name(level)).append(" [");
    append_text(line, component);
    line.append("] ");
    append_text(line, message);
  } else {
    line.append("{\"ts\":\"").append(timestamp(at)).append("\",\"level\":\"").append(level_name(level));
    line.append("\",\"component\":");
    append_json_string(line, component);
    line.append(",\"msg\":");
    append_json_string(line, message);
    for (const Field& field : fields) {
      line.push_back(',');
      append_json_string(line, field.key);
      line.push_back(':');
      append_json_value(line, field);
    }
    line.push_back('}');
  }
  line.push_back('\n');
  return line;
}

void write(Level level, std::string_view component, std::string_view message, std::initializer_list<Field> fields) {
  if (!enabled(level)) return;
  const auto format = static_cast<Format>(g_format.load(std::memory_order_relaxed));
  const std::string line = format_line(format, std::chrono::system_clock::now(), level, component, message, fields);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace parley::log
