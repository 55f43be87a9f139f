#include "adapters/embedded/rocks_common.hpp"

#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>

#include <cstring>
#include <utility>

namespace parley::embedded::rocks {

void put_be64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xFF));
}

void put_be32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xFF));
}

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
  std::string out;
  out.reserve(8);
  put_be64(out, v);
  return out;
}

void put_str(std::string& out, std::string_view s) {
  put_be32(out, static_cast<std::uint32_t>(s.size()));
  out.append(s);
}

bool Reader::u64(std::uint64_t& v) noexcept {
  if (in_.size() < 8) return false;
  v = get_be64(in_);
  in_.remove_prefix(8);
  return true;
}

bool Reader::u8(std::uint8_t& v) noexcept {
  if (in_.empty()) return false;
  v = static_cast<std::uint8_t>(in_.front());
  in_.remove_prefix(1);
  return true;
}

bool Reader::str(std::string& v) {
  if (in_.size() < 4) return false;
  const std::uint32_t n = get_be32(in_);
  in_.remove_prefix(4);
  if (in_.size() < n) return false;
  v.assign(in_.substr(0, n));
  in_.remove_prefix(n);
  return true;
}

Error to_error(const rocksdb::Status& status, std::string_view what) {
  const bool transient = status.IsIOError() || status.IsBusy() || status.IsTimedOut() || status.IsTryAgain() ||
                         status.IsIncomplete() || status.IsAborted() || status.IsNoSpace();
  std::string message(what);
  message += ": ";
  message += status.ToString();
  return make_error(transient ? ErrorCode::unavailable : ErrorCode::internal, std::move(message));
}

Database::~Database() {
  // Column family handles must go before the database that owns them.
  families.clear();
  if (db) {
    // Close() reports errors that the destructor would swallow; nothing more
    // can be done with them here, and the WAL makes acknowledged writes safe.
    (void)db->Close();
  }
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

Result<Database> open(const std::string& path, const std::vector<std::string>& families,
                      const std::map<std::string, std::shared_ptr<rocksdb::MergeOperator>>& merges) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.IncreaseParallelism(2);
  // Most point reads miss (dedupe lookups, "is this entry placed yet" on the
  // inbox path): whole-key Bloom filters in the memtable and in every table
  // file answer those without searching (docs/BENCHMARKS.md, the profile).
  options.memtable_prefix_bloom_size_ratio = 0.05;
  options.memtable_whole_key_filtering = true;
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.whole_key_filtering = true;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions(options));
  for (const auto& name : families) {
    rocksdb::ColumnFamilyOptions family(options);
    if (auto it = merges.find(name); it != merges.end()) family.merge_operator = it->second;
    descriptors.emplace_back(name, family);
  }

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status status = rocksdb::DB::Open(rocksdb::DBOptions(options), path, descriptors, &handles, &raw);
  if (!status.ok()) return to_error(status, "open " + path);

  Database out;
  out.db.reset(raw);
  // handles[0] is the default family, which the DB owns itself.
  (void)out.db->DestroyColumnFamilyHandle(handles[0]);
  for (std::size_t i = 1; i < handles.size(); ++i) out.families.emplace_back(handles[i]);
  return out;
}

}  // namespace parley::embedded::rocks
