#pragma once
// Minimal leveled logging to stderr, one line per call, safe from any thread
// (each line is written with one fputs, which stdio locks).

#include <string_view>

namespace parley::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

void set_level(Level level) noexcept;
[[nodiscard]] bool enabled(Level level) noexcept;
void write(Level level, std::string_view component, std::string_view message);

inline void info(std::string_view component, std::string_view message) { write(Level::info, component, message); }
inline void warn(std::string_view component, std::string_view message) { write(Level::warn, component, message); }
inline void error(std::string_view component, std::string_view message) { write(Level::error, component, message); }

}  // namespace parley::log
