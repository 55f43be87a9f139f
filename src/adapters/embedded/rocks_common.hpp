#pragma once
// Helpers shared by the RocksDB-backed embedded engines: order-preserving key
// encodings, opening a database with named column families, and turning a
// rocksdb::Status into a Parley Error. Internal to adapters/embedded.

#include <rocksdb/db.h>
#include <rocksdb/merge_operator.h>

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
void put_str(std::string& out, std::string_view s);

// Reads values written with put_be64 / put_str; every read fails (returns
// false / nullopt) once the input runs out, so corrupt rows are detected.
class Reader {
 public:
  explicit Reader(std::string_view in) noexcept : in_(in) {}
  [[nodiscard]] bool u64(std::uint64_t& v) noexcept;
  [[nodiscard]] bool u8(std::uint8_t& v) noexcept;
  [[nodiscard]] bool str(std::string& v);
  [[nodiscard]] bool done() const noexcept { return in_.empty(); }

 private:
  std::string_view in_;
};

// A Status that is not ok() as an Error: I/O and busy states are
// `unavailable` (retrying may help), everything else `internal`.
[[nodiscard]] Error to_error(const rocksdb::Status& status, std::string_view what);

// An open database and its column families, in the order they were asked
// for. Handles are destroyed before the database.
struct Database {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<std::unique_ptr<rocksdb::ColumnFamilyHandle>> families;

  Database() = default;
  Database(Database&&) = default;
  // No move assignment: it would close the old database before its handles.
  Database& operator=(Database&&) = delete;
  ~Database();
};

// A merge operator for rows holding one big-endian u64 (put_be64): the row
// becomes the largest value merged into it. A monotone row written this way
// costs one memtable insert and no read ("move it up to at least v").
[[nodiscard]] std::shared_ptr<rocksdb::MergeOperator> max_u64_merge();

// Opens (creating if missing) the database at `path` with the default column
// family plus `families`; result.families[i] is families[i]. `merges` names
// the families that get a merge operator.
[[nodiscard]] Result<Database> open(const std::string& path, const std::vector<std::string>& families,
                                    const std::map<std::string, std::shared_ptr<rocksdb::MergeOperator>>& merges = {});

}  // namespace parley::embedded::rocks
