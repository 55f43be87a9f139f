#pragma once
// Helpers shared by the RocksDB-backed embedded engines: order-preserving key
// encodings, opening a database with named column families, and turning a
// rocksdb::Status into a Parley Error. Internal to adapters/embedded.

#include <rocksdb/db.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/slice_transform.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace parley::embedded::rocks {

// Big-endian encodings, so that RocksDB's bytewise order is numeric order.
void put_be64(std::string& out, std::uint64_t v);
void put_be32(std::string& out, std::uint32_t v);
[[nodiscard]] std::uint64_t get_be64(std::string_view in) noexcept;  // reads the first 8 bytes
[[nodiscard]] std::uint32_t get_be32(std::string_view in) noexcept;  // reads the first 4 bytes
[[nodiscard]] std::string be64(std::uint64_t v);

// Length-prefixed (32-bit big-endian) string, for compact value encodings.
// Rows written with put_be64 / put_str are read with core/bytes.hpp's Reader
// (u64_be, str_u32_be).
void put_str(std::string& out, std::string_view s);

// A Status that is not ok() as an Error: I/O and busy states are
// `unavailable` (retrying may help), everything else `internal`. The
// message is `what` and a fixed sentence: a Status's text names the
// server's files (a client must never see those), so the full text is
// logged here instead, at most once a second for each `what`.
[[nodiscard]] Error to_error(const rocksdb::Status& status, std::string_view what);

// Whether a database's writes go through its write-ahead log (`open`'s
// `journal`). `none` is for a database that is a view of a log kept
// elsewhere and records in itself how far it has applied it (the sequencer
// state, of the changelog): its writes then cost a memtable insert and no
// WAL append (written with rocksdb::WriteOptions::disableWAL, which every
// writer of it must set), its column families are flushed together
// (atomic_flush), and a crash loses the writes since the last flush, all
// column families alike, so what survives is a consistent earlier state
// that the owner brings up to date from the log. Closing it flushes.
enum class Journal { wal, none };

// An open database and its column families, and what keeps it serving when
// its disk fills up or fails:
//
// - A write that fails stops the database's writes (RocksDB's background
//   error); every write is refused `unavailable` from then on, and reads
//   go on. A thread of the database's own (`rocks-recover`, started the
//   first time it is needed) calls DB::Resume() about once a second until
//   the database writes again (RocksDB flushes its memtables and starts a
//   new WAL), so a full disk recovers by itself once space returns.
// - An open that fails on a disk error (no space for the new MANIFEST, the
//   WAL, the OPTIONS file) opens the database read-only instead: the
//   server starts and serves reads, every write is refused `unavailable`,
//   and the same thread tries the full open again about once a second,
//   then switches to it. The read-only instance stays open beside it until
//   the database closes (an iterator taken from it may still be in use).
//
// `db->` locks out that switch for one expression (a shared lock held until
// the end of the full expression); `cf(i)` is the column family handle of
// the instance serving now, families[i] of the list open() was given.
class Database {
  struct Shared;
  struct Instance;

 public:
  // What `db->` returns: the database, with the switch held off until the
  // end of the full expression.
  class Locked {
   public:
    explicit Locked(Shared& shared);
    Locked(const Locked&) = delete;
    Locked& operator=(const Locked&) = delete;
    ~Locked();
    [[nodiscard]] rocksdb::DB* operator->() const noexcept { return db_; }

   private:
    Shared& shared_;
    rocksdb::DB* db_;
  };
  class Pointer {
   public:
    explicit Pointer(Shared* shared = nullptr) noexcept : shared_(shared) {}
    [[nodiscard]] Locked operator->() const;

   private:
    Shared* shared_;
  };

  Database();
  Database(Database&& other) noexcept;
  // No move assignment: nothing needs it.
  Database& operator=(Database&&) = delete;
  ~Database();

  [[nodiscard]] rocksdb::ColumnFamilyHandle* cf(std::size_t i) const;
  // Whether writes are refused now (read-only, or stopped by a failed write).
  [[nodiscard]] bool degraded() const noexcept;

  // A consistent copy of the database, as of one moment while it keeps
  // serving, in the folder `to` (which must not exist yet): RocksDB's
  // Checkpoint, which flushes the memtables, then hard-links the table files
  // (copies them where `to` is on another file system) and copies the small
  // rest (MANIFEST, OPTIONS, the live WAL). Opening `to` opens that copy.
  // Fails while the database is read-only (docs/OPERATIONS.md "Full disk").
  [[nodiscard]] Result<void> checkpoint(const std::string& to) const;

  Pointer db;

 private:
  friend Result<Database> open(const std::string& path, const std::vector<std::string>& families,
                               const std::map<std::string, std::shared_ptr<rocksdb::MergeOperator>>& merges,
                               const std::map<std::string, std::shared_ptr<const rocksdb::SliceTransform>>& hints,
                               const std::vector<std::string>& unfiltered, Journal journal);
  std::unique_ptr<Shared> shared_;
};

// A merge operator for rows holding one big-endian u64 (put_be64): the row
// becomes the largest value merged into it. A monotone row written this way
// costs one memtable insert and no read ("move it up to at least v").
[[nodiscard]] std::shared_ptr<rocksdb::MergeOperator> max_u64_merge();

// Insert hints (`open`'s `hints`): a family whose keys are written in runs
// that share a prefix (a user's inbox rows: the user, then an increasing
// seq) names how to cut that prefix, and the memtable remembers where the
// prefix's last key went. The next key of the run is inserted from there
// instead of being searched for from the top of the skip list, which on a
// big memtable is a cache miss per level (the inbox owner's largest cost in
// the profile, docs/BENCHMARKS.md).
//
// The first 8 bytes: a big-endian user id (pair_key, user_conversation_key).
[[nodiscard]] std::shared_ptr<const rocksdb::SliceTransform> leading_u64();
// Everything up to and including the first NUL: a conversation name ended by
// NUL (history_key). A key without NUL gets no hint.
[[nodiscard]] std::shared_ptr<const rocksdb::SliceTransform> through_nul();
// The whole key: a row rewritten again and again (a max-merge operand each
// time, or a Put), whose next version goes beside its last one.
[[nodiscard]] std::shared_ptr<const rocksdb::SliceTransform> whole_key();

// Opens (creating if missing) the database at `path` with the default column
// family plus `families`; result.cf(i) is families[i]. `merges` names the
// families that get a merge operator, `hints` those that get insert hints
// (above), and `unfiltered` those whose memtable keeps no Bloom filter:
// families read by iterators, or by point reads that mostly find their row,
// where the filter answers no read but costs every insert about a quarter
// of its time (a hinted insert: ~0.9 µs without, ~1.2 µs with, on this
// machine). On a disk error it opens an existing database
// read-only instead (see Database); a database that does not exist yet
// cannot be opened without room for it.
[[nodiscard]] Result<Database> open(
    const std::string& path, const std::vector<std::string>& families,
    const std::map<std::string, std::shared_ptr<rocksdb::MergeOperator>>& merges = {},
    const std::map<std::string, std::shared_ptr<const rocksdb::SliceTransform>>& hints = {},
    const std::vector<std::string>& unfiltered = {}, Journal journal = Journal::wal);

}  // namespace parley::embedded::rocks
