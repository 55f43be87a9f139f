#pragma once
// A process's CPU time and resident memory, read from /proc/<pid>/stat and
// /proc/<pid>/status, so that the server's cost is measured from outside
// without any help from it (and the load generator's own cost alike).

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace parley::bench {

struct ProcSample {
  double cpu_s = 0;             // user + system CPU seconds since the process started
  std::uint64_t rss_bytes = 0;  // VmRSS
  std::uint64_t hwm_bytes = 0;  // VmHWM: the peak RSS
  std::uint64_t threads = 0;
  bool ok = false;
};

inline ProcSample sample_process(int pid) {
  ProcSample s;
  const std::string dir = pid > 0 ? "/proc/" + std::to_string(pid) : std::string("/proc/self");
  {
    std::ifstream in(dir + "/stat");
    std::string line;
    if (!std::getline(in, line)) return s;
    // The command name (field 2) may hold spaces; the fields after it start
    // past the last ')'. utime and stime are fields 14 and 15.
    const auto close = line.rfind(')');
    if (close == std::string::npos) return s;
    std::istringstream rest(line.substr(close + 2));
    std::string field;
    unsigned long long utime = 0;
    unsigned long long stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i == 14) utime = std::stoull(field);
      if (i == 15) stime = std::stoull(field);
    }
    const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    s.cpu_s = static_cast<double>(utime + stime) / ticks;
  }
  {
    std::ifstream in(dir + "/status");
    std::string key;
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::uint64_t value = 0;
      fields >> key >> value;
      if (key == "VmRSS:") s.rss_bytes = value * 1024;
      if (key == "VmHWM:") s.hwm_bytes = value * 1024;
      if (key == "Threads:") s.threads = value;
    }
  }
  s.ok = true;
  return s;
}

// CPU seconds of a process and everything under it: an engine may be a
// wrapper script around a JVM, or PostgreSQL's postmaster with a process
// per connection. Live descendants count their own time; children that
// already exited count through the root's cutime and cstime.
inline double tree_cpu_s(int root) {
  struct Stat {
    int ppid = 0;
    unsigned long long own = 0;       // utime + stime
    unsigned long long children = 0;  // cutime + cstime: reaped children
  };
  std::map<int, Stat> all;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "stat");
    std::string line;
    if (!std::getline(in, line)) continue;
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));  // field 3 on
    std::string field;
    Stat st;
    for (int i = 3; i <= 17 && rest >> field; ++i) {
      if (i == 4) st.ppid = std::stoi(field);
      if (i == 14 || i == 15) st.own += std::stoull(field);
      if (i == 16 || i == 17) st.children += std::stoull(field);
    }
    all[std::stoi(name)] = st;
  }
  if (!all.contains(root)) return 0;
  unsigned long long ticks = all[root].children;
  std::vector<int> todo{root};
  while (!todo.empty()) {
    const int pid = todo.back();
    todo.pop_back();
    ticks += all[pid].own;
    for (const auto& [child, st] : all) {
      if (st.ppid == pid) todo.push_back(child);
    }
  }
  return static_cast<double>(ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace parley::bench
