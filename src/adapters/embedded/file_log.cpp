#include "adapters/embedded/file_log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <limits>
#include <optional>
#include <system_error>
#include <utility>

#include "core/bytes.hpp"
#include "core/log.hpp"
#include "core/thread_name.hpp"

namespace parley::embedded {

namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kNone = std::numeric_limits<std::uint64_t>::max();
// No offset a log reaches (Kafka's are int64 too); one above this in a
// segment is corruption, and counting on from it would wrap around to 0.
constexpr std::uint64_t kMaxOffset = std::numeric_limits<std::int64_t>::max();
constexpr std::uint8_t kData = 1;
constexpr std::uint8_t kCommit = 2;
constexpr std::uint8_t kCheckpoint = 3;
constexpr std::size_t kHeader = 8;               // u32 length, u32 crc
constexpr std::uint32_t kMaxFrame = 256U << 20;  // larger than any record the servers write
constexpr std::uint64_t kIndexEvery = 64;        // records of a partition between two index points
constexpr std::size_t kReadChunk = 1U << 20;     // bytes read from a segment at a time
constexpr std::chrono::hours kMaxPollWait{24};   // the longest a single poll waits
// How long a commit waits for records to be written with, at most.
constexpr std::chrono::milliseconds kCommitDelay{50};
// How long the writer keeps waking at least every kCommitDelay after its
// last write (writer_loop), before it waits for the next record alone.
constexpr std::chrono::seconds kBusyFor{1};
// Under Durability::fsync the segment being written is kept zero-filled
// ahead of its next frame, a multiple of this at a time (see write_batch).
constexpr std::uint64_t kZeroAhead = 1U << 20;

// Topic and group names may not contain NUL (the other engines' rule).
bool valid_name(std::string_view name) noexcept { return !name.empty() && name.find('\0') == std::string_view::npos; }

// FNV-1a, 64 bit: stable across runs, builds and platforms (std::hash is not).
std::uint64_t fnv1a64(std::string_view data) noexcept {
  std::uint64_t h = 14695981039346656037ULL;
  for (const char c : data) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

void put32(std::string& out, std::uint32_t v) { bytes::Writer(out).u32_le(v); }
void put64(std::string& out, std::uint64_t v) { bytes::Writer(out).u64_le(v); }
void set32(std::string& out, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out[at + i] = static_cast<char>((v >> (8 * i)) & 0xFFU);
}

// A data frame's body: partition, offset, key, then the value (the rest).
struct DataFrame {
  std::uint32_t partition = 0;
  std::uint64_t offset = 0;
  std::string_view key;
  std::string_view value;
};
bool parse_data(std::string_view body, DataFrame& out) {
  bytes::Reader f(body);
  std::uint32_t key_length = 0;
  if (!f.u32_le(out.partition) || !f.u64_le(out.offset) || !f.u32_le(key_length) || !f.bytes(key_length, out.key)) {
    return false;
  }
  out.value = f.rest();
  return true;
}

std::uint32_t crc_of(std::string_view data) {
  return static_cast<std::uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
}

// Starts a frame of `type` at the end of `out`; end_frame() fills in its
// length and crc once the body is appended. The length covers the type byte,
// so no frame has length 0: a zero length field marks the end of a
// segment's frames and the start of its zero-filled tail.
std::size_t begin_frame(std::string& out, std::uint8_t type) {
  const std::size_t start = out.size();
  out.append(kHeader, '\0');
  out.push_back(static_cast<char>(type));
  return start;
}
void end_frame(std::string& out, std::size_t start) {
  const std::string_view content(out.data() + start + kHeader, out.size() - start - kHeader);
  set32(out, start, static_cast<std::uint32_t>(content.size()));
  set32(out, start + 4, crc_of(content));
}

std::string hex_of(std::string_view name) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (const char c : name) {
    out.push_back(kDigits[static_cast<unsigned char>(c) >> 4]);
    out.push_back(kDigits[static_cast<unsigned char>(c) & 0xF]);
  }
  return out;
}
bool name_of_hex(std::string_view hex, std::string& out) {
  if (hex.empty() || hex.size() % 2 != 0) return false;
  const auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  out.clear();
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = digit(hex[i]);
    const int lo = digit(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return true;
}

std::string segment_name(std::uint64_t number) {
  std::string digits = std::to_string(number);
  return std::string(20 - std::min<std::size_t>(20, digits.size()), '0') + digits + ".seg";
}

// The errno text, for messages that name no path of the server.
std::string os_error(int err) { return std::error_code(err, std::generic_category()).message(); }

// Logs a failed write at most once a second per topic: the first at once,
// then one line a second with how many more there were (a full disk fails
// every batch, and the pipeline retries its batches).
void log_write_failure(const std::string& topic, const std::string& line) {
  struct Seen {
    std::chrono::steady_clock::time_point last{};
    std::uint64_t left_out = 0;
  };
  static std::mutex mutex;
  static std::map<std::string, Seen, std::less<>> seen;
  const auto now = std::chrono::steady_clock::now();
  std::uint64_t left_out = 0;
  {
    std::lock_guard lock(mutex);
    Seen& s = seen[topic];
    if (s.last != std::chrono::steady_clock::time_point{} && now - s.last < std::chrono::seconds(1)) {
      ++s.left_out;
      return;
    }
    s.last = now;
    left_out = std::exchange(s.left_out, 0);
  }
  log::error("log",
             left_out == 0 ? line : line + " (and " + std::to_string(left_out) + " more failures in the last second)");
}

bool sync_dir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

// Reads the frames of one segment file in order, up to `limit` bytes.
class SegmentReader {
 public:
  SegmentReader(int fd, std::uint64_t start, std::uint64_t limit) : fd_(fd), base_(start), limit_(limit) {}

  enum class Got { frame, end, torn };

  // The next frame: its type, its body (valid until the next call) and
  // where it starts in the file. `end`: the limit, or a zero length field
  // (the zero-filled tail, see begin_frame), at `at`; what follows it is not
  // looked at. `torn`: a frame that is cut short or fails its crc, at `at`.
  Got next(std::uint8_t& type, std::string_view& body, std::uint64_t& at) {
    at = base_ + cur_;
    if (!ensure(kHeader)) {
      // Fewer bytes than a header left: a zero tail shorter than a header
      // is an end too.
      const bool zeros =
          std::all_of(buf_.begin() + static_cast<std::ptrdiff_t>(cur_), buf_.end(), [](char c) { return c == 0; });
      return zeros && !error_ ? Got::end : Got::torn;
    }
    bytes::Reader header(std::string_view(buf_.data() + cur_, kHeader));
    std::uint32_t length = 0;
    std::uint32_t crc = 0;
    (void)header.u32_le(length);
    (void)header.u32_le(crc);
    if (length == 0) return Got::end;
    if (length > kMaxFrame || !ensure(kHeader + length)) return Got::torn;
    const std::string_view content(buf_.data() + cur_ + kHeader, length);
    if (crc_of(content) != crc) return Got::torn;
    type = static_cast<std::uint8_t>(content[0]);
    body = content.substr(1);
    cur_ += kHeader + length;
    return Got::frame;
  }
  [[nodiscard]] bool failed() const noexcept { return error_; }

 private:
  [[nodiscard]] std::size_t available() const noexcept { return buf_.size() - cur_; }
  // Makes `n` bytes available from the cursor; false at the limit or on a
  // read error.
  bool ensure(std::size_t n) {
    while (available() < n) {
      if (cur_ > 0) {
        buf_.erase(0, cur_);
        base_ += cur_;
        cur_ = 0;
      }
      const std::uint64_t file_pos = base_ + buf_.size();
      if (file_pos >= limit_) return false;
      const std::size_t want = static_cast<std::size_t>(
          std::min<std::uint64_t>(std::max<std::size_t>(n - available(), kReadChunk), limit_ - file_pos));
      const std::size_t old = buf_.size();
      buf_.resize(old + want);
      const ssize_t got = ::pread(fd_, buf_.data() + old, want, static_cast<off_t>(file_pos));
      if (got < 0) {
        if (errno == EINTR) {
          buf_.resize(old);
          continue;
        }
        buf_.resize(old);
        error_ = true;
        return false;
      }
      buf_.resize(old + static_cast<std::size_t>(got));
      if (got == 0) return false;
    }
    return true;
  }

  int fd_;
  std::uint64_t base_;  // file position of buf_[0]
  std::uint64_t limit_;
  std::string buf_;
  std::size_t cur_ = 0;
  bool error_ = false;
};

// An open file descriptor, closed when it goes.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  [[nodiscard]] int get() const noexcept { return fd_; }

 private:
  int fd_;
};

// Writes all of `data` at `at`; false with errno set on failure.
bool write_all(int fd, std::string_view data, std::uint64_t at) {
  while (!data.empty()) {
    const ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(at));
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
    at += static_cast<std::uint64_t>(n);
  }
  return true;
}

// Writes zero bytes over [from, until); returns how far it got (`until`
// unless a write failed).
std::uint64_t write_zeros(int fd, std::uint64_t from, std::uint64_t until) {
  static const std::string zeros(64U << 10, '\0');
  while (from < until) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(until - from, zeros.size()));
    if (!write_all(fd, std::string_view(zeros).substr(0, n), from)) break;
    from += n;
  }
  return from;
}

// Whether the file holds only zero bytes in [from, until); nullopt with
// errno set if it cannot be read.
std::optional<bool> only_zeros(int fd, std::uint64_t from, std::uint64_t until) {
  std::string buf(kReadChunk, '\0');
  while (from < until) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(until - from, buf.size()));
    const ssize_t got = ::pread(fd, buf.data(), want, static_cast<off_t>(from));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return std::nullopt;
    if (got == 0) return true;  // the file is shorter than thought: nothing more to see
    if (!std::all_of(buf.begin(), buf.begin() + got, [](char c) { return c == 0; })) return false;
    from += static_cast<std::uint64_t>(got);
  }
  return true;
}

}  // namespace

struct FileLog::Entry {
  std::uint64_t offset = 0;
  std::string key;
  std::string value;
};

struct FileLog::Pending {
  enum class Kind { data, commit };
  Kind kind = Kind::data;
  std::string topic;
  int partition = 0;
  std::string key;  // the record's key; for a commit, the group
  std::string value;
  std::uint64_t next_offset = 0;  // a commit's offset
  ports::AppendCallback done;     // data only
  bool lazy = false;              // data of an unsynced topic, which may wait LogOptions::unsynced_linger
};

struct FileLog::Topic {
  struct IndexPoint {
    std::uint64_t offset = 0;
    std::uint64_t segment = 0;
    std::uint64_t position = 0;
  };
  struct Segment {
    std::uint64_t number = 0;
    std::uint64_t size = 0;                 // bytes of frames written and published (zeros may follow)
    std::vector<std::uint64_t> min_offset;  // per partition; kNone where it holds none
    std::vector<std::uint64_t> max_offset;
  };
  struct Partition {
    std::uint64_t next =
        0;                  // published records are [0, next); durable too, but an early topic's between write and sync
    std::uint64_t low = 0;  // retention removed [0, low)
    std::uint64_t assigned = 0;                       // the writer's next offset to hand out
    std::deque<std::shared_ptr<const Entry>> memory;  // records [memory_low, next)
    std::uint64_t memory_low = 0;
    std::size_t memory_bytes = 0;
    std::vector<IndexPoint> index;                                // sparse, in offset order
    std::map<std::string, std::uint64_t, std::less<>> committed;  // group → latest commit
    std::map<std::string, std::uint64_t, std::less<>> written;    // group → latest commit in a file
  };

  Topic(std::string n, bool k, bool e, bool s, fs::path d, int partition_count)
      : name(std::move(n)),
        kept(k),
        early(e),
        synced(s),
        dir(std::move(d)),
        partitions(static_cast<std::size_t>(partition_count)) {}

  const std::string name;
  const bool kept;
  const bool early;   // LogOptions::early_topics (and unsynced_topics)
  const bool synced;  // fdatasync'd with each group commit: Durability::fsync, not in LogOptions::unsynced_topics
  const fs::path dir;
  std::vector<Partition> partitions;
  std::condition_variable data_cv;  // with state_mu_: wakes this topic's polls when records arrive
  std::deque<Segment> segments;     // oldest first; the last is being written

  // The writer thread's own: the segment being written.
  Fd file;
  // The end of the frames published: where the next frame goes. Only zero
  // bytes lie between it and file_end, except while needs_cut.
  std::uint64_t file_size = 0;
  std::uint64_t file_end = 0;  // the file's size on disk
  bool needs_cut = false;      // a failed write is still to be cut off

  [[nodiscard]] fs::path segment_path(std::uint64_t number) const { return dir / segment_name(number); }

  void note_record(std::uint64_t offset, int partition, std::uint64_t position) {
    Segment& seg = segments.back();
    auto& min = seg.min_offset[static_cast<std::size_t>(partition)];
    auto& max = seg.max_offset[static_cast<std::size_t>(partition)];
    if (min == kNone) min = offset;
    max = offset;
    auto& index = partitions[static_cast<std::size_t>(partition)].index;
    if (index.empty() || index.back().segment != seg.number || offset - index.back().offset >= kIndexEvery) {
      index.push_back(IndexPoint{offset, seg.number, position});
    }
  }
};

// A member of one consumer group on one topic that owns every partition.
// poll() and commit() are for one thread at a time; wakeup() for any thread.
class FileLog::Consumer final : public ports::LogConsumer {
 public:
  Consumer(FileLog& log, std::string topic, std::string group, Topic& state, std::vector<std::uint64_t> positions)
      : log_(log),
        topic_(std::move(topic)),
        group_(std::move(group)),
        state_(state),
        positions_(std::move(positions)) {}

  Result<std::vector<ports::LogRecord>> poll(std::chrono::milliseconds timeout, std::size_t max_records) override {
    if (max_records == 0) return make_error(ErrorCode::bad_request, "poll: max_records must be positive");
    const int n = static_cast<int>(positions_.size());
    std::vector<std::uint64_t> until(positions_.size());
    {
      std::unique_lock lock(log_.state_mu_);
      const auto has_data = [&] {
        for (int p = 0; p < n; ++p) {
          if (state_.partitions[p].next > positions_[p]) return true;
        }
        return false;
      };
      const auto wait = std::clamp(timeout, std::chrono::milliseconds(0), std::chrono::milliseconds(kMaxPollWait));
      state_.data_cv.wait_for(lock, wait, [&] { return woken_ || has_data(); });
      woken_ = false;
      for (int p = 0; p < n; ++p) until[p] = state_.partitions[p].next;
    }

    // Start at a different partition each poll so a busy one cannot starve
    // the others when max_records is small.
    std::vector<ports::LogRecord> out;
    for (int k = 0; k < n && out.size() < max_records; ++k) {
      const int p = (start_ + k) % n;
      if (until[p] <= positions_[p]) continue;
      auto records = log_.read_range(state_, p, positions_[p], until[p], max_records - out.size());
      if (!records) return std::move(records).error();
      if (records->empty()) {
        // What lies below the partition's first kept record is gone to
        // retention: skip it (and read the rest next time).
        std::lock_guard lock(log_.state_mu_);
        positions_[p] = std::max(positions_[p], state_.partitions[p].low);
        continue;
      }
      positions_[p] = records->back().offset + 1;
      for (auto& r : *records) out.push_back(std::move(r));
    }
    start_ = (start_ + 1) % n;
    return out;
  }

  Result<void> commit(int partition, std::uint64_t next_offset) override {
    if (partition < 0 || partition >= static_cast<int>(positions_.size())) {
      return make_error(ErrorCode::bad_request, "commit: no partition " + std::to_string(partition));
    }
    return log_.commit(topic_, group_, partition, next_offset);
  }

  // Every partition is this member's: the records past each one's
  // committed offset.
  std::optional<std::uint64_t> lag() const override {
    std::lock_guard lock(log_.state_mu_);
    std::uint64_t behind = 0;
    for (const auto& part : state_.partitions) {
      const auto it = part.committed.find(group_);
      const std::uint64_t done = it == part.committed.end() ? 0 : it->second;
      if (part.next > done) behind += part.next - done;
    }
    return behind;
  }

  void wakeup() override {
    {
      std::lock_guard lock(log_.state_mu_);
      woken_ = true;
    }
    state_.data_cv.notify_all();
  }

 private:
  FileLog& log_;
  const std::string topic_;
  const std::string group_;
  Topic& state_;                          // owned by log_.topics_, which never drops a topic
  std::vector<std::uint64_t> positions_;  // next offset to read, per partition
  int start_ = 0;
  bool woken_ = false;  // guarded by log_.state_mu_
};

FileLog::FileLog(Private, LogOptions options) : options_(std::move(options)) {}

Result<std::unique_ptr<FileLog>> FileLog::open(LogOptions options) {
  if (options.path.empty()) return make_error(ErrorCode::bad_request, "log: empty path");
  if (options.partitions < 1 || options.partitions > 65536) {
    return make_error(ErrorCode::bad_request, "log: partitions must be in [1, 65536]");
  }
  if (options.max_batch < 1) return make_error(ErrorCode::bad_request, "log: max_batch must be positive");
  if (options.retention_interval <= std::chrono::milliseconds(0)) {
    return make_error(ErrorCode::bad_request, "log: retention_interval must be positive");
  }
  if (options.segment_bytes < 4096) return make_error(ErrorCode::bad_request, "log: segment_bytes must be >= 4096");
  std::error_code ec;
  fs::create_directories(options.path, ec);
  if (ec) {
    log::error("log", "cannot create " + options.path + ": " + ec.message());
    return make_error(ErrorCode::unavailable, "log: cannot create its folder: " + ec.message());
  }
  auto log = std::make_unique<FileLog>(Private{}, std::move(options));
  if (auto loaded = log->load(); !loaded) return std::move(loaded).error();
  log->writer_ = std::thread([raw = log.get()] {
    name_this_thread("log-writer");
    raw->writer_loop();
  });
  return log;
}

// Finds every topic folder and rebuilds each topic from its segments.
Result<void> FileLog::load() {
  std::lock_guard lock(state_mu_);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options_.path, ec)) {
    const std::string folder = entry.path().filename().string();
    std::string name;
    if (!entry.is_directory() || folder.rfind("t-", 0) != 0 || !name_of_hex(folder.substr(2), name) ||
        !valid_name(name)) {
      continue;
    }
    if (auto loaded = load_topic(topic_locked(name)); !loaded) return loaded;
  }
  if (ec) return make_error(ErrorCode::unavailable, "log: cannot list its folder: " + ec.message());
  return Ok{};
}

// Replays a topic's segments in order: checkpoints and commits set the
// groups' offsets, data frames the partitions' ends and the index. Each
// segment's frames end at a zero length field or at its end. A torn frame
// at the end of the last segment (a crash mid-write) is cut off; anywhere
// else it is corruption. Requires state_mu_.
Result<void> FileLog::load_topic(Topic& topic) {
  std::vector<std::uint64_t> numbers;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(topic.dir, ec)) {
    const std::string file = entry.path().filename().string();
    if (file.size() != 24 || file.substr(20) != ".seg") continue;
    try {
      numbers.push_back(std::stoull(file.substr(0, 20)));
    } catch (const std::exception&) {
      continue;
    }
  }
  if (ec) return make_error(ErrorCode::unavailable, "log: cannot list a topic's folder: " + ec.message());
  std::sort(numbers.begin(), numbers.end());
  const std::size_t n = topic.partitions.size();
  const auto corrupt = [&](std::uint64_t number, const std::string& what) {
    log::error("log", "corrupt segment " + topic.segment_path(number).string() + ": " + what);
    return make_error(ErrorCode::internal, "log: a segment of topic " + topic.name + " is corrupt (" + what + ")");
  };

  for (std::size_t s = 0; s < numbers.size(); ++s) {
    const bool last = s + 1 == numbers.size();
    const fs::path path = topic.segment_path(numbers[s]);
    Fd fd(::open(path.c_str(), last ? (O_RDWR | O_CLOEXEC) : (O_RDONLY | O_CLOEXEC)));
    if (fd.get() < 0) return make_error(ErrorCode::unavailable, "log: cannot open a segment: " + os_error(errno));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return make_error(ErrorCode::unavailable, "log: " + os_error(errno));
    topic.segments.push_back(
        Topic::Segment{numbers[s], 0, std::vector<std::uint64_t>(n, kNone), std::vector<std::uint64_t>(n, kNone)});
    SegmentReader reader(fd.get(), 0, static_cast<std::uint64_t>(st.st_size));
    std::uint8_t type = 0;
    std::string_view body;
    std::uint64_t at = 0;
    bool torn = false;
    for (;;) {
      const auto got = reader.next(type, body, at);
      if (got == SegmentReader::Got::end) break;
      if (got == SegmentReader::Got::torn) {
        if (reader.failed()) return make_error(ErrorCode::unavailable, "log: cannot read a segment");
        if (!last) {
          // Only an unsynced end can tear (everything acknowledged under
          // fsync was synced before the next segment began): read up to
          // it and go on with the next segment, which carries every offset
          // in its checkpoint.
          log::warn("log", "ignoring a torn end of " + path.string() + " at byte " + std::to_string(at));
          break;
        }
        log::warn("log", "cutting a torn frame off the end of " + path.string() + " at byte " + std::to_string(at));
        torn = true;
        break;
      }
      bytes::Reader f(body);
      std::uint32_t partition = 0;
      std::uint64_t value = 0;
      if (type == kData) {
        DataFrame d;
        if (!parse_data(body, d)) return corrupt(numbers[s], "a short data frame");
        if (d.offset > kMaxOffset) return corrupt(numbers[s], "an offset out of range");
        if (d.partition >= n) {
          return make_error(ErrorCode::bad_request, "log: topic " + topic.name + " holds partition " +
                                                        std::to_string(d.partition) + ", more than configured");
        }
        auto& p = topic.partitions[d.partition];
        // The writer gives a partition's records rising offsets, each at or
        // past the segment's checkpoint: one below is corruption (a reader
        // would hand records back out of order).
        if (d.offset < p.next) return corrupt(numbers[s], "a partition's offsets out of order");
        p.next = d.offset + 1;
        topic.note_record(d.offset, static_cast<int>(d.partition), at);
      } else if (type == kCommit) {
        if (!f.u32_le(partition) || !f.u64_le(value)) return corrupt(numbers[s], "a short commit frame");
        if (value > kMaxOffset) return corrupt(numbers[s], "a committed offset out of range");
        if (partition >= n) continue;  // reported above if it held records
        const std::string group(f.rest());
        topic.partitions[partition].committed[group] = value;
        topic.partitions[partition].written[group] = value;
      } else if (type == kCheckpoint) {
        std::uint32_t count = 0;
        if (!f.u32_le(count)) return corrupt(numbers[s], "a short checkpoint");
        if (count != n) {
          return make_error(ErrorCode::bad_request, "log: topic " + topic.name + " was written with " +
                                                        std::to_string(count) + " partitions, not the " +
                                                        std::to_string(n) + " configured");
        }
        for (std::uint32_t p = 0; p < count; ++p) {
          if (!f.u64_le(value)) return corrupt(numbers[s], "a short checkpoint");
          if (value > kMaxOffset) return corrupt(numbers[s], "a checkpoint offset out of range");
          if (p < n) topic.partitions[p].next = std::max(topic.partitions[p].next, value);
        }
        std::uint32_t groups = 0;
        if (!f.u32_le(groups)) return corrupt(numbers[s], "a short checkpoint");
        for (std::uint32_t g = 0; g < groups; ++g) {
          std::uint32_t length = 0;
          std::string_view group;
          if (!f.u32_le(length) || !f.bytes(length, group)) return corrupt(numbers[s], "a short checkpoint");
          for (std::uint32_t p = 0; p < count; ++p) {
            if (!f.u64_le(value)) return corrupt(numbers[s], "a short checkpoint");
            if (p >= n || value == kNone) continue;
            if (value > kMaxOffset) return corrupt(numbers[s], "a checkpoint offset out of range");
            topic.partitions[p].committed[std::string(group)] = value;
            topic.partitions[p].written[std::string(group)] = value;
          }
        }
      } else {
        return corrupt(numbers[s], "an unknown frame type");
      }
    }
    std::uint64_t file_end = static_cast<std::uint64_t>(st.st_size);
    if (last && !torn && at < file_end) {
      // The next frame goes at `at`. Past it the file must hold only zeros:
      // bytes of a write that a crash interrupted (its first page lost,
      // later ones kept) could otherwise join a later frame that ends right
      // before them and be read back as records at the next open.
      const auto zeros = only_zeros(fd.get(), at, file_end);
      if (!zeros) return make_error(ErrorCode::unavailable, "log: cannot read a segment: " + os_error(errno));
      if (!*zeros) {
        log::warn("log",
                  "cutting stray bytes after the last frame of " + path.string() + " at byte " + std::to_string(at));
        torn = true;
      }
    }
    if (torn) {
      if (::ftruncate(fd.get(), static_cast<off_t>(at)) != 0 || ::fdatasync(fd.get()) != 0) {
        return make_error(ErrorCode::unavailable, "log: cannot repair a torn segment: " + os_error(errno));
      }
      file_end = at;
    }
    topic.segments.back().size = at;
    if (last && at == 0) {
      // A segment cut to nothing (a crash while it was being started) has
      // no checkpoint: drop it; the next write starts a new one.
      (void)::unlink(path.c_str());
      topic.segments.pop_back();
    } else if (last) {
      topic.file = std::move(fd);
      topic.file_size = at;
      topic.file_end = file_end;
    }
  }
  for (std::size_t p = 0; p < n; ++p) {
    auto& part = topic.partitions[p];
    part.low = part.next;
    for (const auto& seg : topic.segments) {
      if (seg.min_offset[p] != kNone) {
        part.low = seg.min_offset[p];
        break;
      }
    }
    part.assigned = part.next;
    part.memory_low = part.next;
  }
  return Ok{};
}

FileLog::~FileLog() {
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

int FileLog::partitions(std::string_view /*topic*/) const { return options_.partitions; }

int FileLog::partition_for(std::string_view /*topic*/, std::string_view key) const {
  return static_cast<int>(fnv1a64(key) % static_cast<std::uint64_t>(options_.partitions));
}

namespace {

// Why a record cannot be appended, if it cannot.
std::optional<Error> refusal(std::string_view topic, const std::string& key, const std::string& value) {
  if (!valid_name(topic)) return make_error(ErrorCode::bad_request, "append: topic must be non-empty and without NUL");
  if (key.size() + value.size() + topic.size() + 64 > kMaxFrame) {
    return make_error(ErrorCode::too_large, "append: a record may hold at most 256 MiB");
  }
  return std::nullopt;
}

Error closing() { return make_error(ErrorCode::unavailable, "append: the log is closing"); }

}  // namespace

bool FileLog::lazy_topic(std::string_view topic) const {
  return options_.unsynced_linger.count() > 0 &&
         std::find(options_.unsynced_topics.begin(), options_.unsynced_topics.end(), topic) !=
             options_.unsynced_topics.end();
}

bool FileLog::enqueue(Pending* first, std::size_t n, bool lazy) {
  std::lock_guard lock(queue_mu_);
  if (stopping_) return false;
  for (std::size_t i = 0; i < n; ++i) queue_.push_back(std::move(first[i]));
  if (!lazy) {
    if ((queued_data_ += n) == n) queue_cv_.notify_one();
  } else if ((queued_lazy_ += n) == n) {
    // The first to wait: the writer takes them (and what joined them) by
    // then, or sooner with a record that may not wait.
    lazy_due_ = std::chrono::steady_clock::now() + options_.unsynced_linger;
    queue_cv_.notify_one();
  }
  return true;
}

void FileLog::append(std::string_view topic, std::string key, std::string value, ports::AppendCallback done) {
  if (auto refused = refusal(topic, key, value)) {
    done(std::move(*refused));
    return;
  }
  const bool lazy = lazy_topic(topic);
  Pending p{Pending::Kind::data,       std::string(topic),
            partition_for(topic, key), std::move(key),
            std::move(value),          0,
            std::move(done),           lazy};
  if (!enqueue(&p, 1, lazy)) p.done(closing());
}

void FileLog::append_many(std::string_view topic, std::vector<Record> records) {
  const bool lazy = lazy_topic(topic);
  std::vector<Pending> queued;
  queued.reserve(records.size());
  for (auto& r : records) {
    if (auto refused = refusal(topic, r.key, r.value)) {
      r.done(std::move(*refused));
      continue;
    }
    const int partition = partition_for(topic, r.key);
    queued.push_back(Pending{Pending::Kind::data, std::string(topic), partition, std::move(r.key), std::move(r.value),
                             0, std::move(r.done), lazy});
  }
  if (queued.empty() || enqueue(queued.data(), queued.size(), lazy)) return;
  for (auto& p : queued) p.done(closing());
}

FileLog::Syncer::~Syncer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void FileLog::Syncer::sync_all(const std::vector<int>& fds, std::vector<int>& results) {
  if (fds.empty()) return;
  {
    std::lock_guard lock(mu_);
    while (threads_.size() + 1 < fds.size()) {
      threads_.emplace_back([this] {
        name_this_thread("log-sync");
        run();
      });
    }
    for (std::size_t i = 1; i < fds.size(); ++i) jobs_.push_back(Job{fds[i], &results[i]});
    outstanding_ += fds.size() - 1;
  }
  if (fds.size() > 1) work_cv_.notify_all();
  results[0] = ::fdatasync(fds[0]) == 0 ? 0 : errno;
  std::unique_lock lock(mu_);
  done_cv_.wait(lock, [this] { return outstanding_ == 0; });
}

void FileLog::Syncer::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stopping, nothing left
    const Job job = jobs_.front();
    jobs_.pop_front();
    lock.unlock();
    const int result = ::fdatasync(job.fd) == 0 ? 0 : errno;
    lock.lock();
    *job.result = result;
    if (--outstanding_ == 0) done_cv_.notify_all();
  }
}

// The writer thread: takes batches off the queue until it is empty and the
// log is stopping, and runs retention every retention_interval.
void FileLog::writer_loop() {
  using Clock = std::chrono::steady_clock;
  auto next_retention = Clock::now() + options_.retention_interval;
  std::unique_lock lock(queue_mu_);
  // Records are written at once; an unsynced topic's wait until lazy_due_
  // and commits alone until commit_due_, so that each does not cost a
  // write (and a wake-up of this thread) of its own.
  const auto due = [](const std::optional<Clock::time_point>& at) { return at && Clock::now() >= *at; };
  const auto ready = [&] { return stopping_ || queued_data_ > 0 || due(lazy_due_) || due(commit_due_); };
  auto last_write = Clock::time_point{};
  for (;;) {
    auto until = next_retention;
    if (commit_due_) until = std::min(until, *commit_due_);
    if (lazy_due_) until = std::min(until, *lazy_due_);
    // While records come, wake at least every kCommitDelay: a commit queued
    // during this wait is then taken in time without waking this thread
    // (commit()). Each pipeline step commits after every batch, and on two
    // cores a wake-up of a waiting thread (a futex, often an interrupt to
    // the other core) costs more than the commit it carries.
    const auto now = Clock::now();
    if (now - last_write < kBusyFor) until = std::min(until, now + kCommitDelay);
    // No predicate: a wake-up (a record that set lazy_due_ or commit_due_)
    // must come back here to wait for the new deadline.
    if (!ready()) {
      writer_until_ = until;
      queue_cv_.wait_until(lock, until);
      writer_until_.reset();
    }
    if (!queue_.empty() && ready()) {
      std::vector<Pending> batch;
      const std::size_t n = std::min(queue_.size(), options_.max_batch);
      batch.reserve(n);
      for (std::size_t i = 0; i < n; ++i) {
        if (queue_.front().kind == Pending::Kind::data) --(queue_.front().lazy ? queued_lazy_ : queued_data_);
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      if (queued_lazy_ == 0) lazy_due_.reset();
      if (queue_.size() == queued_data_ + queued_lazy_) commit_due_.reset();  // no commit left queued
      lock.unlock();
      write_batch(batch);
      last_write = Clock::now();
      lock.lock();
    } else if (stopping_) {
      return;
    }
    if (Clock::now() >= next_retention) {
      lock.unlock();
      // A failed run is retried at the next interval; nothing depends on it.
      (void)run_retention();
      lock.lock();
      next_retention = Clock::now() + options_.retention_interval;
    }
  }
}

// Gives each record of `batch` the next offset of its partition, writes each
// topic's frames with one write and one sync, then publishes the records to
// consumers and runs the callbacks. Only the writer thread calls this.
void FileLog::write_batch(std::vector<Pending>& batch) {
  struct Work {
    Topic* topic = nullptr;
    std::string bytes;
    std::vector<std::size_t> items;        // indexes into batch, in order
    std::vector<std::uint64_t> positions;  // each item's frame start in `bytes`
    bool has_data = false;
    bool rolled = false;  // a new segment was started for it
    std::optional<Error> failure;
    // Written, waiting for the sync phase: where its bytes start, and the
    // errno of its write or sync (0: none).
    bool written = false;
    std::uint64_t before = 0;
    int err = 0;
    bool early = false;  // published before the sync (Topic::early)
  };
  std::vector<Work> work;
  std::vector<std::uint64_t> offsets(batch.size(), 0);
  std::vector<std::size_t> work_of(batch.size());  // each pending's entry in `work`
  {
    std::lock_guard lock(state_mu_);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      Topic& topic = topic_locked(batch[i].topic);
      auto it = std::find_if(work.begin(), work.end(), [&](const Work& w) { return w.topic == &topic; });
      if (it == work.end()) {
        it = work.emplace(work.end());
        it->topic = &topic;
      }
      work_of[i] = static_cast<std::size_t>(it - work.begin());
      it->items.push_back(i);
      if (batch[i].kind == Pending::Kind::data) {
        offsets[i] = topic.partitions[static_cast<std::size_t>(batch[i].partition)].assigned++;
        it->has_data = true;
      }
    }
  }

  // Makes a written topic's records and commits readable: offsets, memory,
  // index. Requires state_mu_.
  auto publish = [&](Work& w) {
    Topic& topic = *w.topic;
    topic.segments.back().size = topic.file_size;
    for (std::size_t k = 0; k < w.items.size(); ++k) {
      Pending& p = batch[w.items[k]];
      auto& part = topic.partitions[static_cast<std::size_t>(p.partition)];
      if (p.kind == Pending::Kind::commit) {
        part.written[p.key] = p.next_offset;
        continue;
      }
      const std::uint64_t offset = offsets[w.items[k]];
      topic.note_record(offset, p.partition, w.positions[k]);
      part.memory_bytes += p.key.size() + p.value.size() + sizeof(Entry);
      part.memory.push_back(std::make_shared<const Entry>(Entry{offset, std::move(p.key), std::move(p.value)}));
      part.next = offset + 1;
    }
    for (std::size_t p = 0; p < topic.partitions.size(); ++p) trim_memory(topic, static_cast<int>(p));
  };

  std::unique_lock files(files_mu_);
  for (Work& w : work) {
    Topic& topic = *w.topic;
    for (const std::size_t i : w.items) {
      const Pending& p = batch[i];
      w.positions.push_back(w.bytes.size());
      if (p.kind == Pending::Kind::data) {
        const std::size_t start = begin_frame(w.bytes, kData);
        put32(w.bytes, static_cast<std::uint32_t>(p.partition));
        put64(w.bytes, offsets[i]);
        put32(w.bytes, static_cast<std::uint32_t>(p.key.size()));
        w.bytes.append(p.key);
        w.bytes.append(p.value);
        end_frame(w.bytes, start);
      } else {
        const std::size_t start = begin_frame(w.bytes, kCommit);
        put32(w.bytes, static_cast<std::uint32_t>(p.partition));
        put64(w.bytes, p.next_offset);
        w.bytes.append(p.key);
        end_frame(w.bytes, start);
      }
    }

    // A write that failed earlier is cut off first, before anything else
    // goes to this file or a new segment follows it.
    if (topic.needs_cut) {
      if (::ftruncate(topic.file.get(), static_cast<off_t>(topic.file_size)) != 0 ||
          (options_.durability == Durability::fsync && ::fdatasync(topic.file.get()) != 0)) {
        const int err = errno;
        w.failure = make_error(ErrorCode::unavailable, "the message log cannot write to disk: " + os_error(err));
        continue;
      }
      topic.needs_cut = false;
      topic.file_end = topic.file_size;
    }

    // A new segment when there is none yet or this one is full: its first
    // frame is a checkpoint of every offset written so far. The one closed
    // keeps its zero-filled tail (its frames end at the first zero length).
    if (topic.file.get() < 0 || topic.file_size + w.bytes.size() > options_.segment_bytes) {
      std::string checkpoint;
      std::uint64_t number = 0;
      {
        std::lock_guard lock(state_mu_);
        number = topic.segments.empty() ? 0 : topic.segments.back().number + 1;
        const std::size_t start = begin_frame(checkpoint, kCheckpoint);
        put32(checkpoint, static_cast<std::uint32_t>(topic.partitions.size()));
        std::map<std::string_view, std::vector<std::uint64_t>> groups;
        for (std::size_t p = 0; p < topic.partitions.size(); ++p) {
          put64(checkpoint, topic.partitions[p].next);
          for (const auto& [group, offset] : topic.partitions[p].written) {
            auto [g, _] = groups.try_emplace(group, topic.partitions.size(), kNone);
            g->second[p] = offset;
          }
        }
        put32(checkpoint, static_cast<std::uint32_t>(groups.size()));
        for (const auto& [group, per_partition] : groups) {
          put32(checkpoint, static_cast<std::uint32_t>(group.size()));
          checkpoint.append(group);
          for (const std::uint64_t offset : per_partition) put64(checkpoint, offset);
        }
        end_frame(checkpoint, start);
      }
      // The segment being closed is synced first, so that only the last
      // segment can ever end torn.
      if (topic.file.get() >= 0 && options_.durability == Durability::fsync && ::fdatasync(topic.file.get()) != 0) {
        const int err = errno;
        log_write_failure(topic.name, "cannot sync topic " + topic.name + " before a new segment: " + os_error(err));
        w.failure = make_error(ErrorCode::unavailable, "the message log cannot write to disk: " + os_error(err));
        continue;
      }
      std::error_code ec;
      fs::create_directories(topic.dir, ec);
      const fs::path path = topic.segment_path(number);
      Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
      if (ec || fd.get() < 0 || !write_all(fd.get(), checkpoint, 0)) {
        const int err = ec ? ec.value() : errno;
        log_write_failure(topic.name, "cannot start segment " + path.string() + ": " + os_error(err));
        w.failure = make_error(ErrorCode::unavailable, "the message log cannot write to disk: " + os_error(err));
        if (fd.get() >= 0) (void)::unlink(path.c_str());
        continue;
      }
      if (options_.durability == Durability::fsync &&
          (::fdatasync(fd.get()) != 0 || !sync_dir(topic.dir) || !sync_dir(topic.dir.parent_path()))) {
        // The new file and its place in the folder must survive a power cut
        // before anything acknowledged is written to it.
        const int err = errno;
        log_write_failure(topic.name, "cannot sync the new segment " + path.string() + ": " + os_error(err));
        w.failure = make_error(ErrorCode::unavailable, "the message log cannot write to disk: " + os_error(err));
        (void)::unlink(path.c_str());
        continue;
      }
      topic.file = std::move(fd);
      topic.file_size = checkpoint.size();
      topic.file_end = topic.file_size;
      w.rolled = true;
      std::lock_guard lock(state_mu_);
      const std::size_t n = topic.partitions.size();
      topic.segments.push_back(Topic::Segment{number, topic.file_size, std::vector<std::uint64_t>(n, kNone),
                                              std::vector<std::uint64_t>(n, kNone)});
    }

    const std::uint64_t before = topic.file_size;
    const std::uint64_t after = before + w.bytes.size();
    bool ok = write_all(topic.file.get(), w.bytes, before);
    int err = ok ? 0 : errno;
    if (ok) topic.file_end = std::max(topic.file_end, after);
    if (ok && topic.synced && topic.file_end < std::min(after + kZeroAhead / 2, options_.segment_bytes)) {
      // Zeros written ahead of the next frames, at least kZeroAhead / 2: an
      // fdatasync of a write that grows the file must also commit the new
      // size through the file system's journal, nearly twice the CPU and
      // wall time of one that lands in written space. Extended to the next
      // kZeroAhead boundary with this batch's sync, only one sync in each
      // kZeroAhead of frames pays that. Real zeros, not fallocate(), whose
      // unwritten extents cost journal work again when first written. If
      // they fail (a nearly full disk), the next frames grow the file as
      // they would without them.
      const std::uint64_t ahead = std::min<std::uint64_t>(
          (after + kZeroAhead / 2 + kZeroAhead - 1) / kZeroAhead * kZeroAhead, options_.segment_bytes);
      topic.file_end = write_zeros(topic.file.get(), topic.file_end, ahead);
    }
    w.written = true;
    w.before = before;
    w.err = ok ? 0 : err;
    if (ok && topic.early) {
      // Readable now, before the sync: its consumers work while the disk
      // syncs (LogOptions::early_topics); its appends are answered after.
      topic.file_size = after;
      for (auto& pos : w.positions) pos += before;
      {
        std::lock_guard lock(state_mu_);
        publish(w);
      }
      if (w.has_data) topic.data_cv.notify_all();
      w.early = true;
    }
  }

  // Sync every topic written with records at once: one fdatasync each, run
  // side by side (syncer_), so that a group commit touching three topics
  // waits for the slowest sync rather than for the three in turn.
  if (options_.durability == Durability::fsync) {
    std::vector<int> fds;
    std::vector<int*> errs;
    for (Work& w : work) {
      if (w.written && w.err == 0 && w.has_data && w.topic->synced) {
        fds.push_back(w.topic->file.get());
        errs.push_back(&w.err);
      }
    }
    if (options_.before_sync && !fds.empty()) options_.before_sync();
    std::vector<int> results(fds.size(), 0);
    syncer_.sync_all(fds, results);
    for (std::size_t i = 0; i < fds.size(); ++i) {
      *errs[i] = results[i];
      if (results[i] == 0) syncs_.fetch_add(1, std::memory_order_relaxed);
    }
  }

  for (Work& w : work) {
    if (!w.written) continue;
    Topic& topic = *w.topic;
    const std::uint64_t before = w.before;
    const int err = w.err;
    if (err != 0 && w.early) {
      // Consumers have read these records already and may have acted on
      // them; they cannot be taken back, and after a failed fdatasync the
      // kernel may have dropped the pages it could not write, so nothing
      // later in this file could be trusted either. Stop, as PostgreSQL
      // does: the restart recovers the log from what the disk holds.
      log::error("log", "syncing topic " + topic.name + " failed after its records were read: " + os_error(err) +
                            "; stopping, the restart recovers from the disk");
      std::abort();
    }
    if (err != 0) {
      // Cut the failed write off again, so that the file holds exactly what
      // was published; the batch's appends fail and the next batch tries
      // again (a full disk recovers by itself once space returns).
      log_write_failure(topic.name, "writing topic " + topic.name + " failed: " + os_error(err));
      w.failure = make_error(ErrorCode::unavailable, "the message log cannot write to disk: " + os_error(err));
      // The zeros ahead go with it; the next batch writes them again.
      if (::ftruncate(topic.file.get(), static_cast<off_t>(before)) != 0 ||
          (options_.durability == Durability::fsync && ::fdatasync(topic.file.get()) != 0)) {
        // Cut it before the next write instead; until then nothing is
        // published from this file.
        log_write_failure(topic.name + " cut",
                          "cannot cut a failed write off topic " + topic.name + ": " + os_error(errno));
        topic.needs_cut = true;
      } else {
        topic.file_end = before;
      }
      continue;
    }
    if (w.early) continue;  // file_size and positions were set then
    topic.file_size = before + w.bytes.size();
    for (auto& pos : w.positions) pos += before;
  }
  files.unlock();

  // Publish: offsets, memory, index; then wake consumers and answer. Topics
  // visible before their sync were published above already.
  {
    std::lock_guard lock(state_mu_);
    for (Work& w : work) {
      Topic& topic = *w.topic;
      if (w.early) continue;
      if (w.failure) {
        for (auto& p : topic.partitions) p.assigned = p.next;
        continue;
      }
      publish(w);
    }
  }
  // Consumers wait for records of their own topic: a batch of commits
  // alone wakes nobody, and a topic's records wake only its own polls.
  for (const Work& w : work) {
    if (w.has_data && !w.failure && !w.early) w.topic->data_cv.notify_all();
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    Pending& p = batch[i];
    if (p.kind != Pending::Kind::data) continue;
    if (const Work& w = work[work_of[i]]; w.failure) {
      p.done(*w.failure);
    } else {
      p.done(offsets[i]);
    }
  }
  for (const Work& w : work) {
    if (w.rolled && !w.topic->kept) {
      (void)run_retention();
      break;
    }
  }
}

FileLog::Topic& FileLog::topic_locked(std::string_view name) {
  auto it = topics_.find(name);
  if (it == topics_.end()) {
    const bool kept =
        std::find(options_.kept_topics.begin(), options_.kept_topics.end(), name) != options_.kept_topics.end();
    const auto listed = [name](const std::vector<std::string>& topics) {
      return std::find(topics.begin(), topics.end(), name) != topics.end();
    };
    const bool synced = options_.durability == Durability::fsync && !listed(options_.unsynced_topics);
    const bool early = options_.durability == Durability::fsync && (!synced || listed(options_.early_topics));
    auto topic = std::make_unique<Topic>(std::string(name), kept, early, synced,
                                         fs::path(options_.path) / ("t-" + hex_of(name)), options_.partitions);
    it = topics_.emplace(std::string(name), std::move(topic)).first;
  }
  return *it->second;
}

Result<std::unique_ptr<ports::LogConsumer>> FileLog::subscribe(std::string_view topic, std::string_view group) {
  if (!valid_name(topic) || !valid_name(group)) {
    return make_error(ErrorCode::bad_request, "subscribe: topic and group must be non-empty and without NUL");
  }
  std::vector<std::uint64_t> positions(static_cast<std::size_t>(options_.partitions));
  std::vector<int> fresh;  // partitions where the group is new
  Topic* state = nullptr;
  {
    std::lock_guard lock(state_mu_);
    state = &topic_locked(topic);
    for (std::size_t p = 0; p < positions.size(); ++p) {
      // A group that has never committed is known from now on at offset 0,
      // so retention keeps what it has yet to read.
      auto [it, inserted] = state->partitions[p].committed.try_emplace(std::string(group), 0);
      positions[p] = it->second;
      if (inserted) fresh.push_back(static_cast<int>(p));
    }
  }
  // Written like a commit, so that after a restart retention still knows
  // the group before it subscribes again.
  if (!fresh.empty()) {
    std::lock_guard lock(queue_mu_);
    if (stopping_) return make_error(ErrorCode::unavailable, "subscribe: the log is closing");
    for (const int p : fresh) {
      queue_.push_back(Pending{Pending::Kind::commit, std::string(topic), p, std::string(group), {}, 0, {}});
    }
    queue_cv_.notify_one();
  }
  return std::unique_ptr<ports::LogConsumer>(
      std::make_unique<Consumer>(*this, std::string(topic), std::string(group), *state, std::move(positions)));
}

Result<void> FileLog::check_partition(std::string_view topic, int partition) const {
  if (!valid_name(topic)) return make_error(ErrorCode::bad_request, "log: topic must be non-empty and without NUL");
  if (partition < 0 || partition >= options_.partitions) {
    return make_error(ErrorCode::bad_request,
                      "log: " + std::string(topic) + " has no partition " + std::to_string(partition));
  }
  return Ok{};
}

Result<std::uint64_t> FileLog::end_offset(std::string_view topic, int partition) {
  if (auto checked = check_partition(topic, partition); !checked) return std::move(checked).error();
  std::lock_guard lock(state_mu_);
  return topic_locked(topic).partitions[static_cast<std::size_t>(partition)].next;
}

Result<std::vector<ports::LogRecord>> FileLog::read(std::string_view topic, int partition, std::uint64_t from,
                                                    std::size_t max) {
  if (auto checked = check_partition(topic, partition); !checked) return std::move(checked).error();
  Topic* state = nullptr;
  std::uint64_t until = 0;
  {
    std::lock_guard lock(state_mu_);
    state = &topic_locked(topic);
    until = state->partitions[static_cast<std::size_t>(partition)].next;
  }
  // read_range stops where the files end and memory begins: go on until
  // `max` or the end, as the port promises.
  std::vector<ports::LogRecord> out;
  while (from < until && out.size() < max) {
    auto part = read_range(*state, partition, from, until, max - out.size());
    if (!part) return std::move(part).error();
    if (part->empty()) break;
    from = part->back().offset + 1;
    if (out.empty()) {
      out = std::move(part).value();
    } else {
      for (auto& r : *part) out.push_back(std::move(r));
    }
  }
  return out;
}

Result<void> FileLog::seed_group(std::string_view topic, std::string_view group, std::string_view from) {
  if (!valid_name(topic) || !valid_name(group) || !valid_name(from)) {
    return make_error(ErrorCode::bad_request, "seed_group: topic and groups must be non-empty and without NUL");
  }
  std::vector<std::uint64_t> offsets;  // `from`'s, per partition
  {
    std::lock_guard lock(state_mu_);
    const Topic& state = topic_locked(topic);
    bool from_known = false;
    for (const auto& part : state.partitions) {
      if (part.committed.contains(group)) return Ok{};
      from_known = from_known || part.committed.contains(from);
    }
    if (!from_known) return Ok{};
    for (const auto& part : state.partitions) {
      const auto it = part.committed.find(from);
      offsets.push_back(it == part.committed.end() ? 0 : it->second);
    }
  }
  // At startup, before anyone subscribes `group`: nothing moves it between
  // the check above and these commits.
  const std::string name(topic);
  const std::string seeded(group);
  for (std::size_t p = 0; p < offsets.size(); ++p) {
    if (auto committed = commit(name, seeded, static_cast<int>(p), offsets[p]); !committed) return committed;
  }
  return Ok{};
}

Result<void> FileLog::commit(const std::string& topic, const std::string& group, int partition,
                             std::uint64_t next_offset) {
  {
    std::lock_guard lock(state_mu_);
    Topic& state = topic_locked(topic);
    auto& part = state.partitions[static_cast<std::size_t>(partition)];
    if (next_offset > part.next) {
      return make_error(ErrorCode::bad_request, "commit: offset " + std::to_string(next_offset) +
                                                    " is past the end of partition " + std::to_string(partition));
    }
    part.committed[group] = next_offset;
    trim_memory(state, partition);
  }
  // Written by the writer with the next batch of records, or within
  // kCommitDelay if none comes; not synced (see the header).
  std::lock_guard lock(queue_mu_);
  if (stopping_) return make_error(ErrorCode::unavailable, "commit: the log is closing");
  queue_.push_back(Pending{Pending::Kind::commit, topic, partition, group, {}, next_offset, {}});
  if (!commit_due_) {
    commit_due_ = std::chrono::steady_clock::now() + kCommitDelay;
    // The writer at work looks at commit_due_ before it waits again, and
    // one waiting no later than that wakes by itself (writer_loop): only a
    // writer asleep past it, idle for a while, is woken.
    if (writer_until_ && *writer_until_ > *commit_due_) queue_cv_.notify_one();
  }
  return Ok{};
}

void FileLog::trim_memory(Topic& topic, int partition) const {
  auto& part = topic.partitions[static_cast<std::size_t>(partition)];
  std::uint64_t needed = part.next;
  if (part.committed.empty()) needed = 0;
  for (const auto& [group, offset] : part.committed) needed = std::min(needed, offset);
  while (!part.memory.empty() &&
         (part.memory.front()->offset < needed || part.memory_bytes > options_.memory_per_partition)) {
    const Entry& e = *part.memory.front();
    part.memory_bytes -= e.key.size() + e.value.size() + sizeof(Entry);
    part.memory.pop_front();
    ++part.memory_low;
  }
  if (part.memory.empty()) part.memory_low = part.next;
}

Result<std::vector<ports::LogRecord>> FileLog::read_range(Topic& topic, int partition, std::uint64_t from,
                                                          std::uint64_t until, std::size_t max) {
  std::vector<ports::LogRecord> out;
  const auto make = [&](const Entry& e) {
    ports::LogRecord r;
    r.topic = topic.name;
    r.partition = partition;
    r.offset = e.offset;
    r.key = e.key;
    r.value = e.value;
    out.push_back(std::move(r));
  };

  // From memory where it still holds the records.
  std::vector<std::shared_ptr<const Entry>> held;
  struct Source {
    std::uint64_t number = 0;
    std::uint64_t size = 0;
  };
  std::vector<Source> segments;
  std::uint64_t start_position = 0;
  std::uint64_t disk_until = 0;
  {
    std::lock_guard lock(state_mu_);
    auto& part = topic.partitions[static_cast<std::size_t>(partition)];
    from = std::max(from, part.low);  // retention removed what lies below
    until = std::min(until, part.next);
    if (from >= until) return out;
    if (from >= part.memory_low) {
      const std::size_t first = static_cast<std::size_t>(from - part.memory_low);
      const std::size_t count = std::min<std::uint64_t>(max, until - from);
      held.reserve(count);
      for (std::size_t i = first; i < first + count && i < part.memory.size(); ++i) held.push_back(part.memory[i]);
    } else {
      // From the segment files: start at the index point at or before
      // `from` (or the partition's first).
      disk_until = std::min(until, part.memory_low);
      auto point = std::upper_bound(part.index.begin(), part.index.end(), from,
                                    [](std::uint64_t o, const Topic::IndexPoint& ip) { return o < ip.offset; });
      if (point != part.index.begin()) --point;
      if (point == part.index.end()) return out;
      start_position = point->position;
      for (const auto& seg : topic.segments) {
        if (seg.number >= point->segment) segments.push_back(Source{seg.number, seg.size});
      }
    }
  }
  if (!held.empty() || disk_until == 0) {
    out.reserve(held.size());
    for (const auto& e : held) make(*e);
    return out;
  }

  for (std::size_t s = 0; s < segments.size() && out.size() < max; ++s) {
    const fs::path path = topic.segment_path(segments[s].number);
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
      if (errno == ENOENT) continue;  // retention took it meanwhile
      return make_error(ErrorCode::unavailable, "log: cannot open a segment: " + os_error(errno));
    }
    SegmentReader reader(fd.get(), s == 0 ? start_position : 0, segments[s].size);
    std::uint8_t type = 0;
    std::string_view body;
    std::uint64_t at = 0;
    for (;;) {
      const auto got = reader.next(type, body, at);
      // Frames run up to the segment's size: zeros (or the file's end)
      // before it mean the file changed under us.
      if (got == SegmentReader::Got::end && at >= segments[s].size) break;
      if (got != SegmentReader::Got::frame) {
        return make_error(ErrorCode::internal, "log: a segment of topic " + topic.name + " cannot be read back");
      }
      if (type != kData) continue;
      DataFrame d;
      if (!parse_data(body, d)) {
        return make_error(ErrorCode::internal, "log: a segment of topic " + topic.name + " is corrupt");
      }
      if (static_cast<int>(d.partition) != partition || d.offset < from) continue;
      if (d.offset >= disk_until) return out;
      ports::LogRecord r;
      r.topic = topic.name;
      r.partition = partition;
      r.offset = d.offset;
      r.key.assign(d.key);
      r.value.assign(d.value);
      out.push_back(std::move(r));
      if (out.size() >= max || d.offset + 1 >= disk_until) return out;
    }
  }
  return out;
}

Result<void> FileLog::run_retention() {
  if (retention_holds_.load() > 0) return Ok{};  // a backup is copying: see mark_for_backup
  std::lock_guard files(files_mu_);
  std::vector<fs::path> doomed;
  std::vector<Topic*> touched;
  {
    std::lock_guard lock(state_mu_);
    for (auto& [name, topic] : topics_) {
      if (topic->kept || topic->segments.size() < 2) continue;
      const std::size_t n = topic->partitions.size();
      std::vector<std::uint64_t> low(n);
      bool any = false;
      for (std::size_t p = 0; p < n; ++p) {
        const auto& part = topic->partitions[p];
        // Nobody has read anything: keep all. A group known only from
        // subscribe counts at offset 0.
        low[p] = part.committed.empty() ? 0 : part.next;
        for (const auto& [group, _] : part.committed) {
          const auto w = part.written.find(group);
          low[p] = std::min(low[p], w == part.written.end() ? 0 : w->second);
        }
      }
      while (topic->segments.size() > 1) {
        const auto& seg = topic->segments.front();
        bool needed = false;
        for (std::size_t p = 0; p < n && !needed; ++p) {
          needed = seg.max_offset[p] != kNone && seg.max_offset[p] >= low[p];
        }
        if (needed) break;
        doomed.push_back(topic->segment_path(seg.number));
        topic->segments.pop_front();
        any = true;
      }
      if (!any) continue;
      touched.push_back(topic.get());
      const std::uint64_t first = topic->segments.front().number;
      for (std::size_t p = 0; p < n; ++p) {
        auto& part = topic->partitions[p];
        part.low = part.next;
        for (const auto& seg : topic->segments) {
          if (seg.min_offset[p] != kNone) {
            part.low = seg.min_offset[p];
            break;
          }
        }
        std::erase_if(part.index, [&](const Topic::IndexPoint& ip) { return ip.segment < first; });
      }
    }
  }
  if (doomed.empty()) return Ok{};
  // The commits that allowed this are written; make sure they outlive the
  // segments they free (only the writer thread writes these files).
  if (options_.durability == Durability::fsync) {
    for (Topic* topic : touched) {
      if (topic->file.get() >= 0 && ::fdatasync(topic->file.get()) != 0) {
        // The segments stay on disk; the in-memory view already moved on,
        // which only keeps some files longer than needed.
        return make_error(ErrorCode::unavailable, "log: retention could not sync: " + os_error(errno));
      }
    }
  }
  for (const auto& path : doomed) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      log::warn("log", "retention could not delete " + path.string() + ": " + os_error(errno));
    }
  }
  return Ok{};
}

FileLog::BackupMark FileLog::mark_for_backup() {
  // Held first: a retention run that began before it decided from commits
  // no later than the ones read below, so it deletes nothing past them.
  ++retention_holds_;
  BackupMark mark;
  mark.retention_held = std::shared_ptr<void>(nullptr, [this](void*) { --retention_holds_; });
  std::lock_guard lock(state_mu_);
  for (const auto& [name, topic] : topics_) {
    auto& groups = mark.committed[name];
    for (std::size_t p = 0; p < topic->partitions.size(); ++p) {
      for (const auto& [group, offset] : topic->partitions[p].committed) {
        auto [it, _] = groups.try_emplace(group, topic->partitions.size(), 0);
        it->second[p] = offset;
      }
    }
  }
  return mark;
}

namespace {

// Copies [0, length) of `from` into the new file `to`; the errno on failure.
int copy_prefix(int from, const fs::path& to, std::uint64_t length) {
  Fd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (out.get() < 0) return errno;
  std::string buf(kReadChunk, '\0');
  for (std::uint64_t at = 0; at < length;) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(length - at, buf.size()));
    const ssize_t got = ::pread(from, buf.data(), want, static_cast<off_t>(at));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return errno;
    if (got == 0) return EIO;  // shorter than its published frames: it changed under us
    if (!write_all(out.get(), std::string_view(buf.data(), static_cast<std::size_t>(got)), at)) return errno;
    at += static_cast<std::uint64_t>(got);
  }
  return 0;
}

}  // namespace

Result<std::vector<FileLog::TopicCopy>> FileLog::copy_to(const fs::path& to, const BackupMark& mark) {
  struct Source {
    std::uint64_t number = 0;
    std::uint64_t size = 0;  // bytes of published frames
    Fd fd;
  };
  struct Plan {
    std::string name;
    fs::path dir;
    std::vector<Source> segments;  // oldest first; the last is being written
    std::vector<std::uint64_t> ends;
    std::vector<std::string> groups;  // every group known now
  };
  std::vector<Plan> plans;
  {
    // One consistent view of every topic: its segments and how far their
    // published frames go. Each is opened here, so that nothing deletes it
    // before it is copied (retention is held too, see mark_for_backup).
    std::lock_guard lock(state_mu_);
    for (const auto& [name, topic] : topics_) {
      if (topic->segments.empty()) continue;  // nothing written: nothing to restore
      Plan plan{name, topic->dir, {}, {}, {}};
      for (const auto& seg : topic->segments) {
        Fd fd(::open(topic->segment_path(seg.number).c_str(), O_RDONLY | O_CLOEXEC));
        if (fd.get() < 0) return make_error(ErrorCode::unavailable, "log: cannot open a segment: " + os_error(errno));
        plan.segments.push_back(Source{seg.number, seg.size, std::move(fd)});
      }
      for (const auto& part : topic->partitions) {
        plan.ends.push_back(part.next);
        for (const auto& [group, _] : part.committed) {
          if (std::find(plan.groups.begin(), plan.groups.end(), group) == plan.groups.end()) {
            plan.groups.push_back(group);
          }
        }
      }
      plans.push_back(std::move(plan));
    }
  }

  std::vector<TopicCopy> out;
  for (Plan& plan : plans) {
    const fs::path dir = to / plan.dir.filename();
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return make_error(ErrorCode::unavailable, "log: cannot create the copy's folder: " + ec.message());
    TopicCopy copy{plan.name, plan.segments.size(), 0, plan.ends};
    for (std::size_t s = 0; s < plan.segments.size(); ++s) {
      const Source& seg = plan.segments[s];
      const bool last = s + 1 == plan.segments.size();
      const fs::path target = dir / segment_name(seg.number);
      // A closed segment never changes again: a hard link is a copy. Where
      // it cannot be linked (another file system, or retention deleted it
      // before the hold), its bytes are copied from the open file.
      if (!last && ::link((plan.dir / segment_name(seg.number)).c_str(), target.c_str()) == 0) {
        copy.bytes += seg.size;
        continue;
      }
      if (const int err = copy_prefix(seg.fd.get(), target, seg.size); err != 0) {
        return make_error(ErrorCode::unavailable, "log: cannot copy a segment: " + os_error(err));
      }
      copy.bytes += seg.size;
      if (!last) continue;
      // Every group's offsets back to the mark's, after everything else in
      // the copy: the last commit frame of a partition is its offset.
      const auto marked = mark.committed.find(plan.name);
      std::string frames;
      for (std::size_t p = 0; p < plan.ends.size(); ++p) {
        for (const auto& group : plan.groups) {
          std::uint64_t offset = 0;
          if (marked != mark.committed.end()) {
            const auto g = marked->second.find(group);
            if (g != marked->second.end() && p < g->second.size()) offset = std::min(g->second[p], plan.ends[p]);
          }
          const std::size_t start = begin_frame(frames, kCommit);
          put32(frames, static_cast<std::uint32_t>(p));
          put64(frames, offset);
          frames.append(group);
          end_frame(frames, start);
        }
      }
      Fd out_fd(::open(target.c_str(), O_WRONLY | O_CLOEXEC));
      if (out_fd.get() < 0 || !write_all(out_fd.get(), frames, seg.size)) {
        return make_error(ErrorCode::unavailable, "log: cannot write the copy's offsets: " + os_error(errno));
      }
      copy.bytes += frames.size();
    }
    out.push_back(std::move(copy));
  }
  return out;
}

std::size_t FileLog::segment_count(std::string_view topic) const {
  std::lock_guard lock(state_mu_);
  auto it = topics_.find(topic);
  return it == topics_.end() ? 0 : it->second->segments.size();
}

}  // namespace parley::embedded
