#include "adapters/embedded/rocks_common.hpp"

#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <utility>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#include "core/bytes.hpp"
#include "core/log.hpp"
#include "core/thread_name.hpp"

namespace parley::embedded::rocks {

void put_be64(std::string& out, std::uint64_t v) { bytes::Writer(out).u64_be(v); }

void put_be32(std::string& out, std::uint32_t v) { bytes::Writer(out).u32_be(v); }

std::uint64_t get_be64(std::string_view in) noexcept {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8 && i < in.size(); ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

std::uint32_t get_be32(std::string_view in) noexcept {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4 && i < in.size(); ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

std::string be64(std::uint64_t v) {
  std::string out;  // 8 bytes: within the short-string buffer, no allocation
  put_be64(out, v);
  return out;
}

void put_str(std::string& out, std::string_view s) {
  put_be32(out, static_cast<std::uint32_t>(s.size()));
  out.append(s);
}

namespace {

using Clock = std::chrono::steady_clock;

// Logs lines at most once a second for each key: the first at once, then
// one a second with how many were left out meanwhile.
void log_throttled(log::Level level, std::string_view key, std::string_view line) {
  struct Seen {
    Clock::time_point last{};
    std::uint64_t left_out = 0;
  };
  static std::mutex mutex;
  static std::map<std::string, Seen, std::less<>> seen;
  const auto now = Clock::now();
  std::uint64_t left_out = 0;
  {
    std::lock_guard lock(mutex);
    auto it = seen.find(key);
    if (it == seen.end()) it = seen.emplace(std::string(key), Seen{}).first;
    if (it->second.last != Clock::time_point{} && now - it->second.last < std::chrono::seconds(1)) {
      ++it->second.left_out;
      return;
    }
    it->second.last = now;
    left_out = std::exchange(it->second.left_out, 0);
  }
  std::string message(line);
  if (left_out > 0) message += " (and " + std::to_string(left_out) + " more like it in the last second)";
  log::write(level, "rocksdb", message);
}

// A write to a database opened read-only (Database, after an open on a full
// disk) fails NotSupported with this text.
bool read_only_refusal(const rocksdb::Status& status) {
  return status.IsNotSupported() && status.ToString().find("read only") != std::string::npos;
}

}  // namespace

Error to_error(const rocksdb::Status& status, std::string_view what) {
  const bool full = status.IsNoSpace() || status.subcode() == rocksdb::Status::kSpaceLimit;
  const bool disk = full || status.IsIOError() || read_only_refusal(status);
  const bool busy =
      status.IsBusy() || status.IsTimedOut() || status.IsTryAgain() || status.IsIncomplete() || status.IsAborted();
  // The whole Status for the operator (it names files); a fixed sentence
  // for whoever gets the Error, which may be a client.
  log_throttled(disk || !busy ? log::Level::error : log::Level::warn, what,
                std::string(what) + ": " + status.ToString());
  std::string message(what);
  if (full) {
    message += ": the server's disk is full; writes are refused until it has room again";
  } else if (disk) {
    message += ": the server cannot write to its disk now; retry later";
  } else if (busy) {
    message += ": the storage is busy; retry later";
  } else {
    message += ": storage error";
  }
  return make_error(disk || busy ? ErrorCode::unavailable : ErrorCode::internal, std::move(message));
}

namespace {

// RocksDB's own log (what it would write to a LOG file in the database's
// folder), into parleyd's at warn and above, at most a line a second: no
// LOG files pile up beside the data, least of all while a full disk makes
// every open and resume fail.
class RocksLogger final : public rocksdb::Logger {
 public:
  explicit RocksLogger(std::string name) : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL), name_(std::move(name)) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override { Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap); }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel() || level == rocksdb::InfoLogLevel::HEADER_LEVEL) return;
    std::array<char, 1024> buffer{};
    std::vsnprintf(buffer.data(), buffer.size(), format, ap);
    // The first line: what failed (the rest is a dump, such as the
    // VersionEdit a MANIFEST write was to hold).
    std::string_view text(buffer.data());
    text = text.substr(0, text.find('\n'));
    while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
    // Every Checkpoint (a backup, Database::checkpoint) disables file
    // deletions twice over and enables them again, saying so at warn
    // ("File Deletions Disabled, but already disabled", "File Deletions
    // Enable, but not really enabled"): nothing is wrong.
    if (text.find("] File Deletions ") != std::string_view::npos) return;
    log_throttled(level >= rocksdb::InfoLogLevel::ERROR_LEVEL ? log::Level::error : log::Level::warn, "log of " + name_,
                  name_ + ": " + buffer.data());
  }

 private:
  std::string name_;
};

}  // namespace

struct Database::Instance {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<std::unique_ptr<rocksdb::ColumnFamilyHandle>> families;
  bool read_only = false;

  Instance(rocksdb::DB* raw, std::vector<rocksdb::ColumnFamilyHandle*>& handles, bool ro) : db(raw), read_only(ro) {
    // handles[0] is the default family, which the DB owns itself.
    (void)db->DestroyColumnFamilyHandle(handles[0]);
    for (std::size_t i = 1; i < handles.size(); ++i) families.emplace_back(handles[i]);
  }
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;
  ~Instance() { close(false); }

  // Closes the database (its column family handles first). `abandon`: its
  // writes are stopped by a disk error; closing would try to write out the
  // WAL writer that failed (which RocksDB's assertions stop the process
  // for), so the database is left to the process's exit instead. Nothing
  // is lost: every write it acknowledged is in the WAL already.
  void close(bool abandon) {
    if (abandon) {
#if defined(__SANITIZE_ADDRESS__)
      // Left to the process's exit on purpose: not a leak to report.
      for (auto& f : families) __lsan_ignore_object(f.get());
      __lsan_ignore_object(db.get());
#endif
      for (auto& f : families) (void)f.release();
      (void)db.release();
      return;
    }
    families.clear();
    // Close() reports errors that the destructor would swallow; nothing more
    // can be done with them here, and the WAL makes acknowledged writes safe.
    if (db) (void)db->Close();
    db.reset();
  }
};

struct Database::Shared {
  std::string path;
  std::string name;  // the folder's name, for the log
  rocksdb::Options options;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;

  // Held shared by each `db->` expression, exclusive to switch instances.
  mutable std::shared_mutex switch_mutex;
  std::atomic<Instance*> current{nullptr};
  std::vector<std::unique_ptr<Instance>> instances;  // every one opened; the last is current

  std::atomic<bool> read_only{false};  // current is a read-only instance
  std::atomic<bool> stopped{false};    // current's writes are stopped by a background error

  std::mutex recover_mutex;  // guards closing and recoverer
  std::condition_variable recover_cv;
  bool closing = false;
  std::thread recoverer;

  ~Shared() {
    {
      std::lock_guard lock(recover_mutex);
      closing = true;
    }
    recover_cv.notify_all();
    if (recoverer.joinable()) recoverer.join();
    const bool abandon = stopped.load();
    for (auto it = instances.rbegin(); it != instances.rend(); ++it) (*it)->close(abandon && it == instances.rbegin());
  }

  // Starts the recovery thread if it is not running and wakes it.
  void wake() {
    {
      std::lock_guard lock(recover_mutex);
      if (closing) return;
      if (!recoverer.joinable()) recoverer = std::thread([this] { recover(); });
    }
    recover_cv.notify_all();
  }

  void recover() {
    name_this_thread("rocks-recover");
    auto next_report = Clock::now();
    std::unique_lock lock(recover_mutex);
    while (!closing) {
      if (!read_only.load() && !stopped.load()) {
        recover_cv.wait(lock);
        continue;
      }
      // About once a second: a full disk may stay full for long, and each
      // try costs a flush or an open.
      if (recover_cv.wait_for(lock, std::chrono::seconds(1), [this] { return closing; })) break;
      lock.unlock();
      const rocksdb::Status status = read_only.load() ? open_writable() : resume();
      if (!status.ok() && !status.IsBusy() && Clock::now() >= next_report) {
        log::warn("rocksdb", name + ": still cannot write, trying again every second: " + status.ToString());
        next_report = Clock::now() + std::chrono::seconds(30);
      }
      lock.lock();
    }
  }

  // DB::Resume(): RocksDB flushes the memtables and starts a new WAL, then
  // takes writes again. Busy while RocksDB recovers by itself.
  rocksdb::Status resume() {
    rocksdb::Status status;
    {
      std::shared_lock lock(switch_mutex);
      status = current.load()->db->Resume();
    }
    if (status.ok() && stopped.exchange(false)) log::info("rocksdb", name + ": writes again");
    return status;
  }

  // The full open, in place of the read-only instance.
  rocksdb::Status open_writable() {
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    rocksdb::Status status = rocksdb::DB::Open(rocksdb::DBOptions(options), path, descriptors, &handles, &raw);
    if (!status.ok()) return status;
    auto instance = std::make_unique<Instance>(raw, handles, false);
    {
      std::unique_lock lock(switch_mutex);
      instances.push_back(std::move(instance));
      current.store(instances.back().get(), std::memory_order_release);
    }
    read_only.store(false);
    log::info("rocksdb", name + ": opened for writing again; writes are taken again");
    return status;
  }
};

namespace {

// An EventListener that follows the database's background error (a failed
// write, flush or compaction stops its writes) and wakes the recovery.
class ErrorListener final : public rocksdb::EventListener {
 public:
  ErrorListener(std::atomic<bool>& stopped, std::function<void()> wake, std::string name)
      : stopped_(stopped), wake_(std::move(wake)), name_(std::move(name)) {}
  void OnBackgroundError(rocksdb::BackgroundErrorReason /*reason*/, rocksdb::Status* error) override {
    if (error == nullptr || error->ok()) return;
    if (!stopped_.exchange(true)) {
      log::error("rocksdb", name_ + ": writes stopped: " + error->ToString() +
                                "; they are refused until the disk takes them again (tried about once a second)");
    }
    wake_();
  }
  // RocksDB's own recovery from a full disk waits for its SstFileManager to
  // see a whole write buffer (64 MiB) free, checking every 5 s: on a small
  // or nearly full volume that may never come. Ours (Database::Shared::
  // recover) resumes as soon as the flush fits, trying every second.
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason /*reason*/, rocksdb::Status /*error*/,
                            bool* auto_recovery) override {
    if (auto_recovery != nullptr) *auto_recovery = false;
  }
  void OnErrorRecoveryEnd(const rocksdb::BackgroundErrorRecoveryInfo& info) override {
    if (info.new_bg_error.ok() && stopped_.exchange(false)) log::info("rocksdb", name_ + ": writes again");
  }

 private:
  std::atomic<bool>& stopped_;
  std::function<void()> wake_;
  std::string name_;
};

}  // namespace

Database::Locked::Locked(Shared& shared) : shared_(shared), db_(nullptr) {
  shared_.switch_mutex.lock_shared();
  db_ = shared_.current.load(std::memory_order_acquire)->db.get();
}

Database::Locked::~Locked() { shared_.switch_mutex.unlock_shared(); }

Database::Locked Database::Pointer::operator->() const { return Locked(*shared_); }

Database::Database() = default;
Database::Database(Database&& other) noexcept : db(other.db), shared_(std::move(other.shared_)) {
  other.db = Pointer();
}
Database::~Database() = default;

rocksdb::ColumnFamilyHandle* Database::cf(std::size_t i) const {
  return shared_->current.load(std::memory_order_acquire)->families[i].get();
}

bool Database::degraded() const noexcept { return shared_->read_only.load() || shared_->stopped.load(); }

Result<void> Database::checkpoint(const std::string& to) const {
  // Held shared: the instance may not be switched while it is copied.
  std::shared_lock lock(shared_->switch_mutex);
  if (shared_->read_only.load()) {
    return make_error(ErrorCode::unavailable, shared_->name + " is open read-only (a full disk): no checkpoint");
  }
  rocksdb::Checkpoint* raw = nullptr;
  rocksdb::Status status = rocksdb::Checkpoint::Create(shared_->current.load()->db.get(), &raw);
  const std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  if (status.ok()) status = checkpoint->CreateCheckpoint(to);
  if (!status.ok()) return to_error(status, "a checkpoint of " + shared_->name);
  return Ok{};
}
namespace {

class MaxU64Merge final : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice& /*key*/, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* merged, rocksdb::Logger* /*logger*/) const override {
    const std::string_view v(value.data(), value.size());
    if (existing == nullptr) {
      merged->assign(v);
      return true;
    }
    const std::string_view e(existing->data(), existing->size());
    // A row of another size is corrupt: keep the well-formed side, so that
    // the reader's size check reports it only if both are.
    if (e.size() != 8) {
      merged->assign(v);
    } else if (v.size() != 8) {
      merged->assign(e);
    } else {
      merged->assign(get_be64(e) >= get_be64(v) ? e : v);
    }
    return true;
  }
  const char* Name() const override { return "parley.max_u64"; }
};

}  // namespace

std::shared_ptr<rocksdb::MergeOperator> max_u64_merge() { return std::make_shared<MaxU64Merge>(); }

namespace {

class ThroughNul final : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "parley.ThroughNul"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    const void* nul = std::memchr(key.data(), '\0', key.size());
    return {key.data(), static_cast<std::size_t>(static_cast<const char*>(nul) - key.data()) + 1};
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return std::memchr(key.data(), '\0', key.size()) != nullptr;
  }
};

}  // namespace

std::shared_ptr<const rocksdb::SliceTransform> leading_u64() {
  static const std::shared_ptr<const rocksdb::SliceTransform> transform(rocksdb::NewFixedPrefixTransform(8));
  return transform;
}

std::shared_ptr<const rocksdb::SliceTransform> whole_key() {
  static const std::shared_ptr<const rocksdb::SliceTransform> transform(rocksdb::NewNoopTransform());
  return transform;
}

std::shared_ptr<const rocksdb::SliceTransform> through_nul() {
  static const std::shared_ptr<const rocksdb::SliceTransform> transform = std::make_shared<ThroughNul>();
  return transform;
}

Result<Database> open(const std::string& path, const std::vector<std::string>& families,
                      const std::map<std::string, std::shared_ptr<rocksdb::MergeOperator>>& merges,
                      const std::map<std::string, std::shared_ptr<const rocksdb::SliceTransform>>& hints,
                      const std::vector<std::string>& unfiltered, Journal journal) {
  Database out;
  out.shared_ = std::make_unique<Database::Shared>();
  out.db = Database::Pointer(out.shared_.get());
  Database::Shared& shared = *out.shared_;
  shared.path = path;
  shared.name = std::filesystem::path(path).filename().string();

  rocksdb::Options& options = shared.options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.IncreaseParallelism(2);
  // Most point reads miss (dedupe lookups, "is this entry placed yet" on the
  // inbox path): whole-key Bloom filters in the memtable and in every table
  // file answer those without searching (docs/BENCHMARKS.md, the profile).
  options.memtable_prefix_bloom_size_ratio = 0.05;
  options.memtable_whole_key_filtering = true;
  // Insert hints (hints, below) are used only by a memtable insert that is
  // not concurrent: one writer thread inserts a write group's batches.
  options.allow_concurrent_memtable_write = false;
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.whole_key_filtering = true;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // Without a WAL, a flush of one family alone could outlive a crash that
  // loses the others' writes made with it (Journal).
  options.atomic_flush = journal == Journal::none;
  options.info_log = std::make_shared<RocksLogger>(shared.name);
  options.listeners.push_back(std::make_shared<ErrorListener>(
      shared.stopped, [&shared] { shared.wake(); }, shared.name));

  shared.descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions(options));
  for (const auto& name : families) {
    rocksdb::ColumnFamilyOptions family(options);
    if (auto it = merges.find(name); it != merges.end()) family.merge_operator = it->second;
    if (auto it = hints.find(name); it != hints.end()) family.memtable_insert_with_hint_prefix_extractor = it->second;
    if (std::find(unfiltered.begin(), unfiltered.end(), name) != unfiltered.end()) {
      family.memtable_prefix_bloom_size_ratio = 0;
      family.memtable_whole_key_filtering = false;
    }
    shared.descriptors.emplace_back(name, family);
  }

  // The folder first: RocksDB logs not finding it as an error.
  std::error_code ec;
  std::filesystem::create_directories(path, ec);

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status status = rocksdb::DB::Open(rocksdb::DBOptions(options), path, shared.descriptors, &handles, &raw);
  bool read_only = false;
  if (!status.ok() && (status.IsNoSpace() || status.subcode() == rocksdb::Status::kSpaceLimit)) {
    // No room for what an open writes (a new MANIFEST, WAL and OPTIONS
    // file): serve reads from the database as it is, and open it in full
    // once there is room (Database). Only for a full disk: a database
    // locked by another process, or corrupt, must not start read-only.
    handles.clear();
    raw = nullptr;
    const rocksdb::Status ro =
        rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(options), path, shared.descriptors, &handles, &raw);
    if (!ro.ok()) return to_error(status, "open " + path);
    log::error("rocksdb", shared.name + ": cannot open for writing (" + status.ToString() +
                              "); opened read-only: reads are served, writes refused until the disk has room "
                              "(the full open is tried again about once a second)");
    read_only = true;
  } else if (!status.ok()) {
    return to_error(status, "open " + path);
  }
  shared.instances.push_back(std::make_unique<Database::Instance>(raw, handles, read_only));
  shared.current.store(shared.instances.back().get(), std::memory_order_release);
  if (read_only) {
    shared.read_only.store(true);
    shared.wake();
  }
  return out;
}

}  // namespace parley::embedded::rocks
