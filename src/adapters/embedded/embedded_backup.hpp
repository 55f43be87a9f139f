#pragma once
// A consistent copy of a running server's embedded data directory
// (`parleyd backup`, docs/OPERATIONS.md "Backups"), taken while it serves.
// Restoring is starting parleyd on the copy.
//
// The log is the truth: every store the pipeline steps write is made from
// it, and each step commits its offsets in the log only once its store
// holds what the records before them made. So the copy is taken in this
// order:
//
//   1. the mark (FileLog::mark_for_backup): every group's committed offsets,
//      and retention held off;
//   2. the derived stores (sequencer state, message store, push ledger,
//      search index), each a consistent copy of one moment after the mark:
//      each holds at least what the mark's offsets say was done, and
//      nothing made from a record the log has not published (the sequencer
//      state's own offsets count records it appended and saw published);
//   3. the log, as published now, with every group's offsets set back to
//      the mark's: it holds every record the copied stores were made from,
//      and a restored step replays from the mark what its store may lack
//      (each step is idempotent: a replay writes nothing twice);
//   4. the stores that requests write, not the log (users and sessions,
//      rooms and members, friendships, push tokens): after the log, so that
//      they know every user and room the copied log names.
//
// No store copied can be ahead of the copied log: a restore loses nothing
// that was acknowledged before the backup began (a send is acknowledged
// once its decision is published in the changelog, which step 3 copies).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "adapters/embedded/file_log.hpp"
#include "core/result.hpp"

namespace parley::embedded {

// One store of the data directory and how to copy it.
struct BackupPart {
  std::string name;  // its file or folder in the data directory: "store", "search.sqlite"
  // Writes a consistent copy of it at `to` (a path that does not exist yet).
  std::function<Result<void>(const std::string& to)> copy;
};

struct BackupSources {
  FileLog* log = nullptr;
  std::vector<BackupPart> derived;   // made from the log by the pipeline steps: step 2
  std::vector<BackupPart> requests;  // written by requests, not from the log: step 4
};

struct BackupReport {
  struct Part {
    std::string name;
    std::uint64_t bytes = 0;
  };
  std::vector<Part> parts;  // in the order copied, the log among them as "log"
  std::vector<FileLog::TopicCopy> log;
  std::chrono::milliseconds took{0};

  // What was copied, for people: each part's size, the log's topics with
  // their end offsets per partition, and how long it took.
  [[nodiscard]] std::string text() const;
};

// Whether `to` may take a backup: absent, or an empty folder. The error
// says why not, naming `to` (the operator's own path).
[[nodiscard]] Result<void> check_backup_target(const std::filesystem::path& to);

// Copies `sources` into `to` (check_backup_target first; created if absent)
// in the order above, then syncs every file and folder of the copy. On a
// failure what was copied is removed again, leaving `to` empty.
[[nodiscard]] Result<BackupReport> backup(const BackupSources& sources, const std::filesystem::path& to);

}  // namespace parley::embedded
