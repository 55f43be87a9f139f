#include "adapters/embedded/rocks_log.hpp"

#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <limits>
#include <utility>

namespace parley::embedded {

namespace {

// Topic and group names become key prefixes ending in NUL, so they may not
// contain one.
bool valid_name(std::string_view name) noexcept { return !name.empty() && name.find('\0') == std::string_view::npos; }

std::string partition_prefix(std::string_view topic, int partition) {
  std::string key;
  key.reserve(topic.size() + 1 + 4 + 8);
  key.append(topic);
  key.push_back('\0');
  rocks::put_be32(key, static_cast<std::uint32_t>(partition));
  return key;
}

std::string record_key(std::string_view topic, int partition, std::uint64_t offset) {
  std::string key = partition_prefix(topic, partition);
  rocks::put_be64(key, offset);
  return key;
}

std::string group_key(std::string_view topic, std::string_view group, int partition) {
  std::string key;
  key.reserve(topic.size() + group.size() + 2 + 4);
  key.append(topic);
  key.push_back('\0');
  key.append(group);
  key.push_back('\0');
  rocks::put_be32(key, static_cast<std::uint32_t>(partition));
  return key;
}

// A record's value: the record key, length-prefixed, then the value.
std::string encode_record(std::string_view key, std::string_view value) {
  std::string out;
  out.reserve(4 + key.size() + value.size());
  rocks::put_str(out, key);
  out.append(value);
  return out;
}

bool decode_record(std::string_view in, std::string& key, std::string& value) {
  if (in.size() < 4) return false;
  const std::uint32_t n = rocks::get_be32(in);
  in.remove_prefix(4);
  if (in.size() < n) return false;
  key.assign(in.substr(0, n));
  value.assign(in.substr(n));
  return true;
}

// FNV-1a, 64 bit: stable across runs, builds and platforms (std::hash is not).
std::uint64_t fnv1a64(std::string_view data) noexcept {
  std::uint64_t h = 14695981039346656037ULL;
  for (const char c : data) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

// The longest a single poll waits, whatever timeout it is given.
constexpr std::chrono::hours kMaxPollWait{24};

}  // namespace

// A member of one consumer group on one topic that owns every partition.
// poll() and commit() are for one thread at a time; wakeup() for any thread.
class RocksLog::Consumer final : public ports::LogConsumer {
 public:
  Consumer(RocksLog& log, std::string topic, std::string group, TopicState& state, std::vector<std::uint64_t> positions)
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
      // Clamped so that now() + timeout cannot overflow.
      const auto wait = std::clamp(timeout, std::chrono::milliseconds(0), std::chrono::milliseconds(kMaxPollWait));
      log_.data_cv_.wait_for(lock, wait, [&] { return woken_ || has_data(); });
      woken_ = false;
      for (int p = 0; p < n; ++p) until[p] = state_.partitions[p].next;
    }

    // Start at a different partition each poll so a busy one cannot starve
    // the others when max_records is small.
    std::vector<ports::LogRecord> out;
    for (int k = 0; k < n && out.size() < max_records; ++k) {
      const int p = (start_ + k) % n;
      if (until[p] <= positions_[p]) continue;
      auto records = log_.read_range(topic_, p, positions_[p], until[p], max_records - out.size());
      if (!records) return std::move(records).error();
      if (records->empty()) {
        // Everything in [position, until) is gone to retention: skip it.
        positions_[p] = until[p];
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
    return log_.commit_offset(topic_, group_, partition, next_offset);
  }

  void wakeup() override {
    {
      std::lock_guard lock(log_.state_mu_);
      woken_ = true;
    }
    log_.data_cv_.notify_all();
  }

 private:
  RocksLog& log_;
  const std::string topic_;
  const std::string group_;
  TopicState& state_;                     // owned by log_.topics_, which never drops a topic
  std::vector<std::uint64_t> positions_;  // next offset to read, per partition
  int start_ = 0;
  bool woken_ = false;  // guarded by log_.state_mu_
};

RocksLog::RocksLog(Private, LogOptions options, rocks::Database db)
    : options_(std::move(options)), db_(std::move(db)) {}

Result<std::unique_ptr<RocksLog>> RocksLog::open(LogOptions options) {
  if (options.path.empty()) return make_error(ErrorCode::bad_request, "log: empty path");
  if (options.partitions < 1 || options.partitions > 65536) {
    return make_error(ErrorCode::bad_request, "log: partitions must be in [1, 65536]");
  }
  if (options.max_batch < 1) return make_error(ErrorCode::bad_request, "log: max_batch must be positive");
  if (options.retention_interval <= std::chrono::milliseconds(0)) {
    return make_error(ErrorCode::bad_request, "log: retention_interval must be positive");
  }
  auto db = rocks::open(options.path, {"meta", "groups"});
  if (!db) return std::move(db).error();
  auto log = std::make_unique<RocksLog>(Private{}, std::move(options), std::move(db).value());
  if (auto loaded = log->load(); !loaded) return std::move(loaded).error();
  log->writer_ = std::thread(&RocksLog::writer_loop, log.get());
  return log;
}

// Reads each partition's next offset and each group's committed offsets.
Result<void> RocksLog::load() {
  std::lock_guard lock(state_mu_);
  {
    std::unique_ptr<rocksdb::Iterator> it(db_.db->NewIterator(rocksdb::ReadOptions(), meta_cf()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string_view key(it->key().data(), it->key().size());
      const auto nul = key.find('\0');
      if (nul == std::string_view::npos || key.size() != nul + 5 || it->value().size() != 8) {
        return make_error(ErrorCode::internal, "log: corrupt meta row");
      }
      const auto partition = static_cast<int>(rocks::get_be32(key.substr(nul + 1)));
      if (partition >= options_.partitions) {
        return make_error(ErrorCode::bad_request, "log: " + options_.path + " holds partition " +
                                                      std::to_string(partition) + ", more than configured");
      }
      topic_locked(key.substr(0, nul)).partitions[partition].next =
          rocks::get_be64(std::string_view(it->value().data(), it->value().size()));
    }
    if (!it->status().ok()) return rocks::to_error(it->status(), "log: read meta");
  }
  std::unique_ptr<rocksdb::Iterator> it(db_.db->NewIterator(rocksdb::ReadOptions(), groups_cf()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view key(it->key().data(), it->key().size());
    const auto nul = key.find('\0');
    if (nul == std::string_view::npos || key.size() < nul + 7 || key[key.size() - 5] != '\0' ||
        it->value().size() != 8) {
      return make_error(ErrorCode::internal, "log: corrupt group row");
    }
    const auto partition = static_cast<int>(rocks::get_be32(key.substr(key.size() - 4)));
    if (partition >= options_.partitions) continue;  // reported above if it held records
    const std::string_view group = key.substr(nul + 1, key.size() - 5 - (nul + 1));
    topic_locked(key.substr(0, nul)).partitions[partition].committed[std::string(group)] =
        rocks::get_be64(std::string_view(it->value().data(), it->value().size()));
  }
  if (!it->status().ok()) return rocks::to_error(it->status(), "log: read groups");
  return Ok{};
}

RocksLog::~RocksLog() {
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

int RocksLog::partitions(std::string_view /*topic*/) const { return options_.partitions; }

int RocksLog::partition_for(std::string_view /*topic*/, std::string_view key) const {
  return static_cast<int>(fnv1a64(key) % static_cast<std::uint64_t>(options_.partitions));
}

void RocksLog::append(std::string_view topic, std::string key, std::string value, ports::AppendCallback done) {
  if (!valid_name(topic)) {
    done(make_error(ErrorCode::bad_request, "append: topic must be non-empty and without NUL"));
    return;
  }
  const int partition = partition_for(topic, key);
  {
    std::lock_guard lock(queue_mu_);
    if (!stopping_) {
      queue_.push_back(Pending{std::string(topic), partition, std::move(key), std::move(value), std::move(done)});
      queue_cv_.notify_one();
      return;
    }
  }
  done(make_error(ErrorCode::unavailable, "append: the log is closing"));
}

// The writer thread: takes batches off the queue until it is empty and the
// log is stopping, and runs retention every retention_interval.
void RocksLog::writer_loop() {
  using Clock = std::chrono::steady_clock;
  auto next_retention = Clock::now() + options_.retention_interval;
  std::unique_lock lock(queue_mu_);
  for (;;) {
    queue_cv_.wait_until(lock, next_retention, [&] { return stopping_ || !queue_.empty(); });
    if (!queue_.empty()) {
      std::vector<Pending> batch;
      const std::size_t n = std::min(queue_.size(), options_.max_batch);
      batch.reserve(n);
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      lock.unlock();
      write_batch(batch);
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

// Gives each record of `batch` the next offset of its partition, writes them
// and the partitions' new next offsets in one WriteBatch, then publishes the
// new ends to consumers and runs the callbacks. Only the writer thread calls
// this, so reading `next` and writing it back later cannot race.
void RocksLog::write_batch(std::vector<Pending>& batch) {
  struct Touched {
    std::string_view topic;
    int partition = 0;
    PartitionState* state = nullptr;
    std::uint64_t next = 0;
  };
  std::vector<Touched> touched;
  std::map<PartitionState*, std::size_t> index;  // state → position in touched
  std::vector<std::uint64_t> offsets(batch.size());
  {
    std::lock_guard lock(state_mu_);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      PartitionState& ps = topic_locked(batch[i].topic).partitions[batch[i].partition];
      auto [it, inserted] = index.try_emplace(&ps, touched.size());
      if (inserted) touched.push_back(Touched{batch[i].topic, batch[i].partition, &ps, ps.next});
      offsets[i] = touched[it->second].next++;
    }
  }

  rocksdb::WriteBatch wb;
  rocksdb::Status status;
  for (std::size_t i = 0; i < batch.size() && status.ok(); ++i) {
    status = wb.Put(records_cf(), record_key(batch[i].topic, batch[i].partition, offsets[i]),
                    encode_record(batch[i].key, batch[i].value));
  }
  for (const auto& t : touched) {
    if (!status.ok()) break;
    status = wb.Put(meta_cf(), partition_prefix(t.topic, t.partition), rocks::be64(t.next));
  }
  if (status.ok()) {
    rocksdb::WriteOptions wo;
    wo.sync = options_.durability == Durability::fsync;
    status = db_.db->Write(wo, &wb);
    if (status.ok() && wo.sync) syncs_.fetch_add(1, std::memory_order_relaxed);
  }

  if (!status.ok()) {
    // Nothing of the batch was written (a WriteBatch is atomic) and `next`
    // was never moved, so the offsets will be handed out again.
    const Error error = rocks::to_error(status, "append");
    for (auto& p : batch) p.done(error);
    return;
  }
  {
    std::lock_guard lock(state_mu_);
    for (const auto& t : touched) t.state->next = t.next;
  }
  data_cv_.notify_all();
  for (std::size_t i = 0; i < batch.size(); ++i) batch[i].done(offsets[i]);
}

RocksLog::TopicState& RocksLog::topic_locked(std::string_view topic) {
  auto it = topics_.find(topic);
  if (it == topics_.end()) {
    auto state = std::make_unique<TopicState>();
    state->partitions.resize(static_cast<std::size_t>(options_.partitions));
    it = topics_.emplace(std::string(topic), std::move(state)).first;
  }
  return *it->second;
}

Result<std::unique_ptr<ports::LogConsumer>> RocksLog::subscribe(std::string_view topic, std::string_view group) {
  if (!valid_name(topic) || !valid_name(group)) {
    return make_error(ErrorCode::bad_request, "subscribe: topic and group must be non-empty and without NUL");
  }
  std::vector<std::uint64_t> positions(static_cast<std::size_t>(options_.partitions));
  TopicState* state = nullptr;
  {
    std::lock_guard lock(state_mu_);
    state = &topic_locked(topic);
    for (std::size_t p = 0; p < positions.size(); ++p) {
      // A group that has never committed is known from now on at offset 0,
      // so retention keeps what it has yet to read.
      auto [it, inserted] = state->partitions[p].committed.try_emplace(std::string(group), 0);
      positions[p] = it->second;
    }
  }
  return std::unique_ptr<ports::LogConsumer>(
      std::make_unique<Consumer>(*this, std::string(topic), std::string(group), *state, std::move(positions)));
}

bool RocksLog::kept(std::string_view topic) const {
  return std::find(options_.kept_topics.begin(), options_.kept_topics.end(), topic) != options_.kept_topics.end();
}

Result<void> RocksLog::check_partition(std::string_view topic, int partition) const {
  if (!valid_name(topic)) return make_error(ErrorCode::bad_request, "log: topic must be non-empty and without NUL");
  if (partition < 0 || partition >= options_.partitions) {
    return make_error(ErrorCode::bad_request,
                      "log: " + std::string(topic) + " has no partition " + std::to_string(partition));
  }
  return Ok{};
}

Result<std::uint64_t> RocksLog::end_offset(std::string_view topic, int partition) {
  if (auto checked = check_partition(topic, partition); !checked) return std::move(checked).error();
  std::lock_guard lock(state_mu_);
  return topic_locked(topic).partitions[partition].next;
}

// Reads up to the end published when it starts: records the writer is
// still making durable are not there yet, and the next read gets them.
Result<std::vector<ports::LogRecord>> RocksLog::read(std::string_view topic, int partition, std::uint64_t from,
                                                     std::size_t max) {
  if (auto checked = check_partition(topic, partition); !checked) return std::move(checked).error();
  std::uint64_t until = 0;
  {
    std::lock_guard lock(state_mu_);
    const PartitionState& ps = topic_locked(topic).partitions[partition];
    until = ps.next;
    // Records below deleted_below are gone; starting there skips the
    // tombstones of the deleted range instead of seeking through them.
    from = std::max(from, ps.deleted_below);
  }
  if (from >= until || max == 0) return std::vector<ports::LogRecord>{};
  return read_range(std::string(topic), partition, from, until, max);
}

Result<void> RocksLog::commit_offset(const std::string& topic, const std::string& group, int partition,
                                     std::uint64_t next_offset) {
  std::lock_guard commit_lock(commit_mu_);
  {
    std::lock_guard lock(state_mu_);
    if (next_offset > topic_locked(topic).partitions[partition].next) {
      return make_error(ErrorCode::bad_request, "commit: offset " + std::to_string(next_offset) +
                                                    " is past the end of partition " + std::to_string(partition));
    }
  }
  // Not synced: a committed offset lost to a power cut only replays records
  // the steps handle idempotently, and the WAL recovers a prefix, so a
  // record the retention dropped after this commit cannot outlive it. The
  // fdatasync per commit was 10 % of the server's CPU in the direct
  // benchmark (docs/BENCHMARKS.md).
  rocksdb::WriteOptions wo;
  wo.sync = false;
  const rocksdb::Status status =
      db_.db->Put(wo, groups_cf(), group_key(topic, group, partition), rocks::be64(next_offset));
  if (!status.ok()) return rocks::to_error(status, "commit");
  std::lock_guard lock(state_mu_);
  topic_locked(topic).partitions[partition].committed[group] = next_offset;
  return Ok{};
}

Result<std::vector<ports::LogRecord>> RocksLog::read_range(const std::string& topic, int partition, std::uint64_t from,
                                                           std::uint64_t until, std::size_t max) {
  const std::string upper = record_key(topic, partition, until);
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_.db->NewIterator(ro, records_cf()));
  const std::size_t prefix = topic.size() + 1 + 4;
  std::vector<ports::LogRecord> out;
  for (it->Seek(record_key(topic, partition, from)); it->Valid() && out.size() < max; it->Next()) {
    ports::LogRecord record;
    record.topic = topic;
    record.partition = partition;
    record.offset = rocks::get_be64(std::string_view(it->key().data(), it->key().size()).substr(prefix));
    if (!decode_record(std::string_view(it->value().data(), it->value().size()), record.key, record.value)) {
      return make_error(ErrorCode::internal, "log: corrupt record in " + topic);
    }
    out.push_back(std::move(record));
  }
  if (!it->status().ok()) return rocks::to_error(it->status(), "log: read " + topic);
  return out;
}

Result<void> RocksLog::run_retention() {
  std::lock_guard retention_lock(retention_mu_);
  struct Cut {
    std::string topic;
    int partition = 0;
    std::uint64_t to = 0;
    PartitionState* state = nullptr;
  };
  std::vector<Cut> cuts;
  std::vector<std::uint64_t> froms;
  {
    std::lock_guard lock(state_mu_);
    for (auto& [topic, state] : topics_) {
      if (kept(topic)) continue;
      for (std::size_t p = 0; p < state->partitions.size(); ++p) {
        PartitionState& ps = state->partitions[p];
        if (ps.committed.empty()) continue;  // nobody has read anything: keep all
        std::uint64_t low = ps.next;
        for (const auto& [group, offset] : ps.committed) low = std::min(low, offset);
        if (low <= ps.deleted_below) continue;
        cuts.push_back(Cut{topic, static_cast<int>(p), low, &ps});
        froms.push_back(ps.deleted_below);
      }
    }
  }
  if (cuts.empty()) return Ok{};
  rocksdb::WriteBatch wb;
  for (std::size_t i = 0; i < cuts.size(); ++i) {
    const rocksdb::Status status = wb.DeleteRange(records_cf(), record_key(cuts[i].topic, cuts[i].partition, froms[i]),
                                                  record_key(cuts[i].topic, cuts[i].partition, cuts[i].to));
    if (!status.ok()) return rocks::to_error(status, "retention");
  }
  // Deletions need no sync: losing one only keeps records a little longer.
  const rocksdb::Status status = db_.db->Write(rocksdb::WriteOptions(), &wb);
  if (!status.ok()) return rocks::to_error(status, "retention");
  std::lock_guard lock(state_mu_);
  for (const auto& cut : cuts) cut.state->deleted_below = std::max(cut.state->deleted_below, cut.to);
  return Ok{};
}

}  // namespace parley::embedded
