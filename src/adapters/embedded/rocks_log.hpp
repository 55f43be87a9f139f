#pragma once
// RocksLog: the embedded MessageLog, a partitioned append-only log kept in one
// RocksDB database inside the process.
//
// Appends are group-committed: append() only queues the record; one writer
// thread takes everything queued, gives each record the next offset of its
// topic-partition, writes the lot as one WriteBatch (one WAL sync under
// Durability::fsync) and then runs every callback. Consumers wait on a
// condition variable that the writer signals, so a poll returns as soon as a
// record is durable, with no busy polling.
//
// Keys (default column family): topic '\0' partition(BE32) offset(BE64), so
// iteration is offset order. Column family "meta": topic '\0' partition →
// the partition's next offset (written in the same batch as the records, so a
// restart continues where the log stopped even after retention deleted
// everything). Column family "groups": topic '\0' group '\0' partition →
// committed offset.
//
// Every topic has `LogOptions::partitions` partitions; topics exist from their
// first use (append, subscribe, end_offset or read). The log must outlive its
// consumers.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "adapters/embedded/durability.hpp"
#include "adapters/embedded/rocks_common.hpp"
#include "ports/message_log.hpp"

namespace parley::embedded {

struct LogOptions {
  std::string path;
  int partitions = 8;  // every topic
  Durability durability = Durability::fsync;
  std::size_t max_batch = 4096;  // most records in one WriteBatch
  // How often the writer thread deletes records that every group committed
  // past. run_retention() does it on demand.
  std::chrono::milliseconds retention_interval{std::chrono::seconds(30)};
  // Topics whose records retention never deletes: a changelog that state is
  // rebuilt from must be kept whole, whatever its groups committed (as
  // Kafka's retention.ms=-1 keeps a topic).
  std::vector<std::string> kept_topics{};
};

class RocksLog final : public ports::MessageLog {
  struct Private {
    explicit Private() = default;
  };

 public:
  // Opens or creates the log at options.path. bad_request for options that
  // make no sense; unavailable/internal if RocksDB cannot open the path.
  [[nodiscard]] static Result<std::unique_ptr<RocksLog>> open(LogOptions options);

  // Use open(); public only for std::make_unique.
  RocksLog(Private, LogOptions options, rocks::Database db);

  // Flushes everything queued (its callbacks still run), then stops the
  // writer thread and closes the database.
  ~RocksLog() override;

  RocksLog(const RocksLog&) = delete;
  RocksLog& operator=(const RocksLog&) = delete;

  [[nodiscard]] int partitions(std::string_view topic) const override;
  [[nodiscard]] int partition_for(std::string_view topic, std::string_view key) const override;
  // Appends to `topic` (non-empty, no NUL byte; otherwise `done` gets
  // bad_request). Appends keep their submission order within a partition.
  void append(std::string_view topic, std::string key, std::string value, ports::AppendCallback done) override;
  // A consumer owning every partition of `topic`, starting at the group's
  // committed offsets (0 where it has none). The embedded log has one member
  // per group: subscribing the same group twice gives two members that each
  // read every partition.
  [[nodiscard]] Result<std::unique_ptr<ports::LogConsumer>> subscribe(std::string_view topic,
                                                                      std::string_view group) override;
  // The partition's next offset; 0 for a topic never appended to. Never
  // blocks on the writer: the end is kept in memory.
  [[nodiscard]] Result<std::uint64_t> end_offset(std::string_view topic, int partition) override;
  [[nodiscard]] Result<std::vector<ports::LogRecord>> read(std::string_view topic, int partition, std::uint64_t from,
                                                           std::size_t max) override;

  // How many synced WAL writes the writer has made (group commits under
  // Durability::fsync); with many concurrent appends it stays far below the
  // number of appends.
  [[nodiscard]] std::uint64_t syncs() const noexcept { return syncs_.load(std::memory_order_relaxed); }

  // Deletes, in every partition, the records below the lowest offset that
  // every group known to the partition (committed or subscribed) has
  // committed past. Never deletes a record some such group still needs, nor
  // any record of LogOptions::kept_topics.
  [[nodiscard]] Result<void> run_retention();

 private:
  class Consumer;

  // One topic-partition as seen by the writer and by consumers.
  struct PartitionState {
    std::uint64_t next = 0;           // durable records are [0, next); guarded by state_mu_
    std::uint64_t deleted_below = 0;  // retention already removed [0, deleted_below); guarded by state_mu_
    std::map<std::string, std::uint64_t, std::less<>> committed;  // group → committed offset; guarded by state_mu_
  };
  struct TopicState {
    std::vector<PartitionState> partitions;
  };

  struct Pending {
    std::string topic;
    int partition = 0;
    std::string key;
    std::string value;
    ports::AppendCallback done;
  };

  [[nodiscard]] Result<void> load();
  void writer_loop();
  void write_batch(std::vector<Pending>& batch);
  // The state of `topic`, created on first use. Requires state_mu_.
  TopicState& topic_locked(std::string_view topic);
  // Whether retention must leave `topic` whole (LogOptions::kept_topics).
  [[nodiscard]] bool kept(std::string_view topic) const;
  // bad_request unless `topic` is a valid name and `partition` one of its.
  [[nodiscard]] Result<void> check_partition(std::string_view topic, int partition) const;
  [[nodiscard]] Result<void> commit_offset(const std::string& topic, const std::string& group, int partition,
                                           std::uint64_t next_offset);
  // Reads durable records of one partition in [from, until), at most `max`.
  [[nodiscard]] Result<std::vector<ports::LogRecord>> read_range(const std::string& topic, int partition,
                                                                 std::uint64_t from, std::uint64_t until,
                                                                 std::size_t max);

  [[nodiscard]] rocksdb::ColumnFamilyHandle* records_cf() const { return db_.db->DefaultColumnFamily(); }
  [[nodiscard]] rocksdb::ColumnFamilyHandle* meta_cf() const { return db_.families[0].get(); }
  [[nodiscard]] rocksdb::ColumnFamilyHandle* groups_cf() const { return db_.families[1].get(); }

  const LogOptions options_;
  rocks::Database db_;

  // Guards queue_ and stopping_; queue_cv_ wakes the writer.
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Pending> queue_;
  bool stopping_ = false;

  // Guards topics_ and every PartitionState in it; data_cv_ wakes polls when
  // a batch becomes durable or a consumer is woken up.
  mutable std::mutex state_mu_;
  std::condition_variable data_cv_;
  std::map<std::string, std::unique_ptr<TopicState>, std::less<>> topics_;

  // Serialises group commits, so that the committed offsets in memory (which
  // retention trusts) are always ones already persisted, in the same order.
  std::mutex commit_mu_;

  // Serialises retention runs (the writer's periodic one and run_retention()).
  std::mutex retention_mu_;

  std::atomic<std::uint64_t> syncs_{0};
  std::thread writer_;  // last: starts after everything above exists
};

}  // namespace parley::embedded
