#include "core/log.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/string_view.hpp>

#include <array>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "core/validate.hpp"

namespace parley::log {

namespace {

std::atomic<int> g_level{static_cast<int>(Level::info)};
std::atomic<int> g_format{static_cast<int>(Format::text)};

constexpr char kHex[] = "0123456789abcdef";

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
  if (validate::utf8(text)) {
    out += boost::json::serialize(boost::json::string_view(text));
    return;
  }
  // Boost.JSON's serializer passes malformed UTF-8 through: each byte that
  // starts no well-formed sequence becomes U+FFFD first.
  std::string clean;
  clean.reserve(text.size() + 8);
  while (!text.empty()) {
    const std::size_t n = validate::utf8_sequence(text);
    if (n == 0) {
      clean.append("\xef\xbf\xbd");
      text.remove_prefix(1);
    } else {
      clean.append(text.substr(0, n));
      text.remove_prefix(n);
    }
  }
  out += boost::json::serialize(boost::json::string_view(clean));
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
