#pragma once
// Names the calling thread for `top -H`, `perf` and debuggers (Linux keeps
// the first 15 bytes).

#include <pthread.h>

#include <string>
#include <string_view>

namespace parley {

inline void name_this_thread(std::string_view name) {
  const std::string shown(name.substr(0, 15));
  (void)pthread_setname_np(pthread_self(), shown.c_str());
}

}  // namespace parley
