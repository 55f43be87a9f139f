#include "adapters/embedded/embedded_backup.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <system_error>

namespace parley::embedded {

namespace fs = std::filesystem;

namespace {

// The bytes of the files under `path` (a file or a folder).
std::uint64_t size_of(const fs::path& path) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) return fs::file_size(path, ec);
  std::uint64_t total = 0;
  for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_regular_file(ec)) total += it->file_size(ec);
  }
  return total;
}

// fsync of one file or folder; false with errno set on failure.
bool sync_path(const fs::path& path, bool folder) {
  const int fd = ::open(path.c_str(), (folder ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  errno = err;
  return ok;
}

// Syncs every file and folder under `root`, and `root` itself, so that the
// copy survives a power cut once the backup says it is done.
Result<void> sync_tree(const fs::path& root) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    const bool folder = it->is_directory(ec);
    if (!sync_path(it->path(), folder)) {
      return make_error(ErrorCode::unavailable, "cannot sync " + it->path().string() + ": " +
                                                    std::error_code(errno, std::generic_category()).message());
    }
  }
  if (ec) return make_error(ErrorCode::unavailable, "cannot list " + root.string() + ": " + ec.message());
  if (!sync_path(root, true)) return make_error(ErrorCode::unavailable, "cannot sync " + root.string());
  return Ok{};
}

std::string human_bytes(std::uint64_t bytes) {
  char out[32];
  if (bytes < 1024) {
    std::snprintf(out, sizeof out, "%llu B", static_cast<unsigned long long>(bytes));
  } else if (bytes < 1024ULL * 1024) {
    std::snprintf(out, sizeof out, "%.1f KiB", static_cast<double>(bytes) / 1024);
  } else if (bytes < 1024ULL * 1024 * 1024) {
    std::snprintf(out, sizeof out, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024));
  } else {
    std::snprintf(out, sizeof out, "%.2f GiB", static_cast<double>(bytes) / (1024.0 * 1024 * 1024));
  }
  return out;
}

Result<void> copy_part(const BackupPart& part, const fs::path& to, BackupReport& report) {
  const fs::path target = to / part.name;
  if (auto copied = part.copy(target.string()); !copied) {
    return make_error(copied.error().code, part.name + ": " + copied.error().message);
  }
  report.parts.push_back({part.name, size_of(target)});
  return Ok{};
}

// Steps 1 to 4 of the header; `to` exists and is empty.
Result<void> copy_all(const BackupSources& sources, const fs::path& to, BackupReport& report) {
  const FileLog::BackupMark mark = sources.log->mark_for_backup();
  for (const auto& part : sources.derived) {
    if (auto copied = copy_part(part, to, report); !copied) return copied;
  }
  auto log = sources.log->copy_to(to / "log", mark);
  if (!log) return make_error(log.error().code, "log: " + log.error().message);
  report.log = std::move(log).value();
  report.parts.push_back({"log", size_of(to / "log")});
  for (const auto& part : sources.requests) {
    if (auto copied = copy_part(part, to, report); !copied) return copied;
  }
  return sync_tree(to);
}

}  // namespace

std::string BackupReport::text() const {
  std::string out;
  std::uint64_t total = 0;
  for (const auto& part : parts) {
    out += "  " + part.name + std::string(part.name.size() < 16 ? 16 - part.name.size() : 1, ' ') +
           human_bytes(part.bytes) + "\n";
    total += part.bytes;
  }
  out += "  total" + std::string(11, ' ') + human_bytes(total) + " in " + std::to_string(took.count()) + " ms\n";
  out += "log end offsets (per partition):\n";
  for (const auto& topic : log) {
    out += "  " + topic.name + ":";
    for (const auto end : topic.end_offsets) out += " " + std::to_string(end);
    out += "\n";
  }
  return out;
}

Result<void> check_backup_target(const fs::path& to) {
  std::error_code ec;
  const auto status = fs::status(to, ec);
  if (status.type() == fs::file_type::not_found) return Ok{};
  if (ec) return make_error(ErrorCode::bad_request, "cannot look at " + to.string() + ": " + ec.message());
  if (!fs::is_directory(status)) {
    return make_error(ErrorCode::conflict, to.string() +
                                               " exists and is not a folder: a backup goes into a new or "
                                               "empty folder");
  }
  if (!fs::is_empty(to, ec) || ec) {
    return make_error(ErrorCode::conflict,
                      to.string() +
                          " is not empty: a backup goes into a new or empty folder, so that it never mixes "
                          "with other files");
  }
  return Ok{};
}

Result<BackupReport> backup(const BackupSources& sources, const fs::path& to) {
  if (sources.log == nullptr) return make_error(ErrorCode::bad_request, "a backup needs the embedded message log");
  if (auto ok = check_backup_target(to); !ok) return std::move(ok).error();
  std::error_code ec;
  fs::create_directories(to, ec);
  if (ec) return make_error(ErrorCode::unavailable, "cannot create " + to.string() + ": " + ec.message());
  const auto started = std::chrono::steady_clock::now();
  BackupReport report;
  if (auto copied = copy_all(sources, to, report); !copied) {
    // Leave the folder empty, as it was: a half copy must not pass for a
    // backup, and the operator can try again into the same folder.
    for (auto it = fs::directory_iterator(to, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
      std::error_code ignored;
      fs::remove_all(it->path(), ignored);
    }
    return std::move(copied).error();
  }
  report.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  return report;
}

}  // namespace parley::embedded
