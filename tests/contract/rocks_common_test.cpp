// What the RocksDB helpers promise the engines built on them: an error a
// client may see never names a file of the server (a RocksDB Status names
// the file that failed), and a disk that is full or failing reads as
// `unavailable`, something to retry.

#include <gtest/gtest.h>

#include <rocksdb/write_batch.h>

#include <string>

#include "adapters/embedded/rocks_common.hpp"
#include "temp_dir.hpp"

namespace parley::contract {
namespace {

using embedded::rocks::to_error;

TEST(RocksErrors, AFullDiskIsUnavailableAndNamesNoFile) {
  const auto status =
      rocksdb::Status::NoSpace("While appending to file: /srv/parley/store/000012.log", "No space left on device");
  const Error e = to_error(status, "put_messages");
  EXPECT_EQ(e.code, ErrorCode::unavailable);
  EXPECT_EQ(e.message.find('/'), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("put_messages"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("full"), std::string::npos) << e.message;
}

TEST(RocksErrors, IoErrorsAndReadOnlyRefusalsAreUnavailableAndNameNoFile) {
  for (const auto& status : {rocksdb::Status::IOError("While fdatasync: /srv/parley/rooms/000003.log", "EIO"),
                             rocksdb::Status::NotSupported("Not supported operation in read only mode.")}) {
    const Error e = to_error(status, "create_room");
    EXPECT_EQ(e.code, ErrorCode::unavailable) << status.ToString();
    EXPECT_EQ(e.message.find('/'), std::string::npos) << e.message;
  }
}

TEST(RocksErrors, CorruptionIsInternalAndNamesNoFile) {
  const Error e =
      to_error(rocksdb::Status::Corruption("block checksum mismatch in /srv/parley/store/000009.sst"), "history");
  EXPECT_EQ(e.code, ErrorCode::internal);
  EXPECT_EQ(e.message.find('/'), std::string::npos) << e.message;
}

TEST(RocksDatabase, ServesItsFamiliesThroughTheSwitchableHandle) {
  TempDir dir;
  {
    auto db = embedded::rocks::open(dir.sub("db"), {"a", "b"});
    ASSERT_TRUE(db) << db.error().message;
    EXPECT_FALSE(db->degraded());
    rocksdb::WriteBatch wb;
    ASSERT_TRUE(wb.Put(db->cf(1), "k", "in b").ok());
    ASSERT_TRUE(db->db->Write(rocksdb::WriteOptions(), &wb).ok());
  }
  auto db = embedded::rocks::open(dir.sub("db"), {"a", "b"});
  ASSERT_TRUE(db) << db.error().message;
  std::string value;
  ASSERT_TRUE(db->db->Get(rocksdb::ReadOptions(), db->cf(1), "k", &value).ok());
  EXPECT_EQ(value, "in b");
  EXPECT_TRUE(db->db->Get(rocksdb::ReadOptions(), db->cf(0), "k", &value).IsNotFound());
}

}  // namespace
}  // namespace parley::contract
