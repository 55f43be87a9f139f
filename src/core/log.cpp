#include "core/log.hpp"

#include <atomic>
#include <cstdio>
#include <string>

namespace parley::log {

namespace {
std::atomic<int> g_level{static_cast<int>(Level::info)};

std::string_view name(Level level) noexcept {
  switch (level) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::error: return "error";
  }
  return "info";
}
}  // namespace

void set_level(Level level) noexcept { g_level.store(static_cast<int>(level), std::memory_order_relaxed); }

bool enabled(Level level) noexcept { return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed); }

void write(Level level, std::string_view component, std::string_view message) {
  if (!enabled(level)) return;
  std::string line;
  line.reserve(component.size() + message.size() + 16);
  line.append(name(level)).append(" [").append(component).append("] ").append(message).push_back('\n');
  std::fputs(line.c_str(), stderr);
}

}  // namespace parley::log
