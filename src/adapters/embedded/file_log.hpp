#pragma once
// FileLog: the embedded MessageLog, a partitioned append-only log in plain
// segment files, with the records that consumers still need kept in memory.
//
// Why not RocksDB: a record passes through a log once per pipeline hop, and
// RocksLog paid a memtable insert, an iterator read, an offset row and a
// range deletion for each (a quarter of the server's CPU per message in the
// direct benchmark, docs/BENCHMARKS.md). Here an append is bytes added to a
// buffer, one write(2) and one fdatasync per topic for the whole group
// commit; a poll copies records out of memory.
//
// On disk, under `path`, each topic has a folder `t-<hex of the name>` of
// segment files `<20-digit number>.seg`, written in order, each a sequence
// of frames, perhaps followed by zero bytes:
//
//   u32 length of what follows the crc · u32 crc32 of it · u8 type · body
//   data:       u32 partition · u64 offset · u32 key length · key · value
//   commit:     u32 partition · u64 next offset · group
//   checkpoint: every partition's next offset, then every group's committed
//               offsets (written first in each segment, so that deleting
//               older segments loses no offset)
//
// No frame has length 0 (the length counts the type byte), so the first
// zero length field ends a segment's frames. Under Durability::fsync the
// segment being written of a synced topic (not of unsynced_topics) is kept
// zero-filled at least half a MiB ahead of
// its next frame, extended 1 MiB at a time (never past segment_bytes), so
// that a group commit's fdatasync lands in written space and need not
// commit a new file size through the journal (a sync that grows the file
// costs nearly twice the CPU); a closed segment keeps its zero tail.
//
// Appends are group-committed: append() only queues; one writer thread
// takes everything queued, gives each record the next offset of its
// partition, writes each touched topic's frames with one write(2), syncs
// each touched file once (Durability::fsync; the files side by side, so a
// batch waits for its slowest sync, not for all of them in turn), then
// publishes the records to consumers and runs the callbacks (an early topic,
// LogOptions::early_topics, publishes once written, before its sync; an
// unsynced one, LogOptions::unsynced_topics, is not synced at all). A
// failed write or sync is cut off the file again (ftruncate, which drops the
// zeros ahead too) and its appends fail with `unavailable`; the next batch
// tries again, so a full disk refuses sends and recovers by itself once
// space returns. A failed sync of an early topic stops the process instead:
// its records may have been read already.
//
// Commits are queued like appends and written without a sync (a committed
// offset lost to a power cut only replays records the steps handle
// idempotently), with the next batch of records or within 50 ms when none
// comes, so that a commit does not cost a write(2) of its own, nor, while
// records come, a wake-up of the writer (writer_loop). Retention deletes whole segments of topics not in
// kept_topics once every group known to each partition in them has
// committed past their records, trusting only commits already written.
//
// Memory: each partition keeps the records appended in this process that
// some group has yet to commit, up to `memory_per_partition` bytes; a
// consumer further behind (after a restart, or a stuck step) reads the
// segment files through a sparse per-partition index. Opening scans every
// segment once (the kept changelog included) to rebuild offsets and the
// index, and cuts a torn frame off the end of the last one, or anything but
// zeros after its last frame (a crash may keep later pages of a write and
// lose the first: such bytes must not join a later frame that ends right
// before them).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "adapters/embedded/durability.hpp"
#include "ports/message_log.hpp"

namespace parley::embedded {

struct LogOptions {
  std::string path;
  int partitions = 8;  // every topic
  Durability durability = Durability::fsync;
  std::size_t max_batch = 4096;  // most records in one group commit
  // How often the writer thread deletes segments that every group committed
  // past. run_retention() does it on demand.
  std::chrono::milliseconds retention_interval{std::chrono::seconds(30)};
  // Topics whose records retention never deletes: a changelog that state is
  // rebuilt from must be kept whole, whatever its groups committed (as
  // Kafka's retention.ms=-1 keeps a topic).
  std::vector<std::string> kept_topics{};
  // Topics whose records consumers may read once written, before their
  // fdatasync (Durability::fsync; under `os` every topic is read once
  // written). Their appends are still answered only after the sync. For a
  // topic whose records are not yet the truth when read: a hop whose reader
  // makes its own durable record before anything is acknowledged (the
  // sequencer reads sends and acknowledges from the changelog), or whose
  // writer replays what was lost (the store writer appends inbox records
  // again until its own append is synced). A failed sync of such a topic
  // stops the process: records already read cannot be taken back.
  std::vector<std::string> early_topics{};
  // Topics never fdatasync'd (but when a segment is closed): their appends
  // are answered and read once written, as under `os`. For a hop that only
  // carries requests to a step whose own durable record is what anyone is
  // answered from (the sequencer reads sends and acknowledges from its
  // synced changelog, so a send lost with its unsynced record was never
  // acknowledged). Its records and commits survive a crash of the process,
  // not of the machine; the opening scan cuts a torn end as for any topic.
  std::vector<std::string> unsynced_topics{};
  // How long an unsynced topic's record may wait in the queue for others to
  // share its write and the writer's wake-up (0: none). A record that is
  // synced, or a batch already under way, takes it along sooner.
  std::chrono::microseconds unsynced_linger{0};
  // Tests: runs on the writer thread before each group commit's syncs (not
  // for one that has none to make).
  std::function<void()> before_sync{};
  // A topic's segment file is closed and a new one started past this size.
  std::uint64_t segment_bytes = 64ULL << 20;
  // The most bytes of records one partition keeps in memory for consumers.
  std::size_t memory_per_partition = 4U << 20;
};

class FileLog final : public ports::MessageLog {
  struct Private {
    explicit Private() = default;
  };

 public:
  // Opens or creates the log at options.path. bad_request for options that
  // make no sense; unavailable/internal if the files cannot be read.
  [[nodiscard]] static Result<std::unique_ptr<FileLog>> open(LogOptions options);

  // Use open(); public only for std::make_unique.
  FileLog(Private, LogOptions options);

  // Writes everything queued (its callbacks still run), then stops the
  // writer thread and closes the files.
  ~FileLog() override;

  FileLog(const FileLog&) = delete;
  FileLog& operator=(const FileLog&) = delete;

  [[nodiscard]] int partitions(std::string_view topic) const override;
  [[nodiscard]] int partition_for(std::string_view topic, std::string_view key) const override;
  // Appends to `topic` (non-empty, no NUL byte; otherwise `done` gets
  // bad_request; a record over 256 MiB gets too_large). Appends keep their
  // submission order within a partition.
  void append(std::string_view topic, std::string key, std::string value, ports::AppendCallback done) override;
  // Queued under one lock with one wake-up of the writer.
  void append_many(std::string_view topic, std::vector<Record> records) override;
  // A consumer owning every partition of `topic`, starting at the group's
  // committed offsets (0 where it has none). The embedded log has one member
  // per group: subscribing the same group twice gives two members that each
  // read every partition.
  [[nodiscard]] Result<std::unique_ptr<ports::LogConsumer>> subscribe(std::string_view topic,
                                                                      std::string_view group) override;
  // Gives `group`, if this log has never known it on `topic` (no commit, no
  // subscribe), the offsets `from` has committed there, written as its
  // commits: for a group added to an existing log that must begin where
  // another one is, not at the topic's beginning (the push step's group on
  // the changelog, apps/parleyd/node.cpp). Nothing if `group` is known there
  // or `from` is not. Like every commit, written with the next group commit.
  [[nodiscard]] Result<void> seed_group(std::string_view topic, std::string_view group, std::string_view from);
  // The partition's next offset; 0 for a topic never appended to. Never
  // blocks on the writer: the end is kept in memory.
  [[nodiscard]] Result<std::uint64_t> end_offset(std::string_view topic, int partition) override;
  [[nodiscard]] Result<std::vector<ports::LogRecord>> read(std::string_view topic, int partition, std::uint64_t from,
                                                           std::size_t max) override;

  // How many group commits the writer has synced (Durability::fsync); with
  // many concurrent appends it stays far below the number of appends.
  [[nodiscard]] std::uint64_t syncs() const noexcept { return syncs_.load(std::memory_order_relaxed); }

  // Deletes every segment, oldest first, whose records every group known to
  // their partitions has committed past (in commits already written). Never
  // deletes the segment being written, one some group still needs, nor any
  // of LogOptions::kept_topics.
  [[nodiscard]] Result<void> run_retention();

  // How many segment files `topic` has on disk now (for tests).
  [[nodiscard]] std::size_t segment_count(std::string_view topic) const;

  // Backups (adapters/embedded/embedded_backup.hpp). A step commits an
  // offset only once what it made of the records before it is in its own
  // store, so stores copied after mark_for_backup() hold at least what the
  // mark's offsets say, and a log copied after them, with its groups'
  // offsets set back to the mark's, holds every record the stores were made
  // from and replays, idempotently, whatever they may lack.
  //
  // Committed offsets: topic → group → one per partition.
  using Offsets = std::map<std::string, std::map<std::string, std::vector<std::uint64_t>, std::less<>>, std::less<>>;
  struct BackupMark {
    Offsets committed;  // every group's committed offsets when the mark was made
    // Retention deletes nothing while a mark lives: the copy needs every
    // record past the mark's offsets, which the groups may commit past
    // meanwhile.
    std::shared_ptr<void> retention_held;
  };
  [[nodiscard]] BackupMark mark_for_backup();

  // What copy_to copied of one topic.
  struct TopicCopy {
    std::string name;
    std::size_t segments = 0;
    std::uint64_t bytes = 0;
    std::vector<std::uint64_t> end_offsets;  // per partition: the copy holds its records below these
  };
  // Copies the log as it is now into the folder `to` (created if missing)
  // while appends go on: each topic's closed segments (hard links where `to`
  // is on the same file system, else copies), then the frames of the one
  // being written, up to its last published frame (an early topic's may not
  // be synced yet: the copy holds what the stores may have been made from),
  // followed by commit frames that set every group's offsets back to
  // `mark`'s (0 for a group the mark does not know). The copied files are
  // not synced here.
  [[nodiscard]] Result<std::vector<TopicCopy>> copy_to(const std::filesystem::path& to, const BackupMark& mark);

 private:
  class Consumer;
  struct Entry;
  struct Topic;
  struct Pending;

  [[nodiscard]] Result<void> load();
  [[nodiscard]] Result<void> load_topic(Topic& topic);
  void writer_loop();
  void write_batch(std::vector<Pending>& batch);
  // Whether `topic`'s records may wait LogOptions::unsynced_linger.
  [[nodiscard]] bool lazy_topic(std::string_view topic) const;
  // Queues the `n` records of one topic at `first` under one lock and wakes
  // the writer once; false, with nothing moved, once the log is closing.
  bool enqueue(Pending* first, std::size_t n, bool lazy);
  // The state of `topic`, created on first use. Requires state_mu_.
  Topic& topic_locked(std::string_view topic);
  [[nodiscard]] Result<void> check_partition(std::string_view topic, int partition) const;
  [[nodiscard]] Result<void> commit(const std::string& topic, const std::string& group, int partition,
                                    std::uint64_t next_offset);
  // Records of one partition in [from, until), at most `max`: from memory
  // where it still holds them, else from the segment files.
  [[nodiscard]] Result<std::vector<ports::LogRecord>> read_range(Topic& topic, int partition, std::uint64_t from,
                                                                 std::uint64_t until, std::size_t max);
  // Drops from a partition's memory what every group committed past, and
  // the oldest records while it holds more than memory_per_partition.
  // Requires state_mu_.
  void trim_memory(Topic& topic, int partition) const;

  const LogOptions options_;

  // Guards queue_, queued_data_, queued_lazy_, lazy_due_, commit_due_,
  // writer_until_ and stopping_; queue_cv_ wakes the writer.
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Pending> queue_;
  std::size_t queued_data_ = 0;                                      // records (not commits) in queue_, but lazy ones
  std::size_t queued_lazy_ = 0;                                      // records that may wait (Pending::lazy)
  std::optional<std::chrono::steady_clock::time_point> lazy_due_;    // set while a lazy record is queued
  std::optional<std::chrono::steady_clock::time_point> commit_due_;  // set while a commit is queued
  // Set while the writer waits on queue_cv_: when that wait ends by itself.
  // Unset while it writes (it looks at the deadlines before it waits again).
  std::optional<std::chrono::steady_clock::time_point> writer_until_;
  bool stopping_ = false;

  // Guards topics_ and everything in them but the writer's own file state;
  // each topic's data_cv wakes its polls when a batch becomes durable or a
  // consumer is woken up.
  mutable std::mutex state_mu_;
  std::map<std::string, std::unique_ptr<Topic>, std::less<>> topics_;

  // Guards the topics' open segment files: held by the writer while it
  // writes and by retention while it syncs them.
  std::mutex files_mu_;

  // Runs several fdatasync calls side by side for the writer: one on the
  // calling thread, the others on helper threads kept for it (started as
  // needed, one fewer than the most files synced at once).
  class Syncer {
   public:
    Syncer() = default;
    Syncer(const Syncer&) = delete;
    Syncer& operator=(const Syncer&) = delete;
    ~Syncer();
    // results[i] = 0, or the errno of fdatasync(fds[i]).
    void sync_all(const std::vector<int>& fds, std::vector<int>& results);

   private:
    struct Job {
      int fd;
      int* result;
    };
    void run();
    std::mutex mu_;
    std::condition_variable work_cv_;
    std::condition_variable done_cv_;
    std::deque<Job> jobs_;
    std::size_t outstanding_ = 0;  // jobs handed out and not yet done
    bool stopping_ = false;
    std::vector<std::thread> threads_;
  };

  std::atomic<std::uint64_t> syncs_{0};
  std::atomic<int> retention_holds_{0};  // live BackupMarks: run_retention() deletes nothing while above 0
  Syncer syncer_;                        // outlives writer_, its only user
  std::thread writer_;                   // last: starts after everything above exists
};

}  // namespace parley::embedded
