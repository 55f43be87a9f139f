// RocksPushLedger's stored format: a closed batch written in format 1 (before
// closed batches carried a claim) still reads, as claimed by nobody long
// ago, so the first dispatcher to see it takes it over.

#include <gtest/gtest.h>

#include <rocksdb/db.h>

#include <filesystem>
#include <random>

#include "adapters/embedded/rocks_common.hpp"
#include "adapters/embedded/rocks_push_ledger.hpp"

namespace parley::embedded {
namespace {

// A closed batch of user 7 in conversation "d:1:7", last seq 3, with the
// phone reached, as format 1 laid it out.
std::string format1_closed_batch() {
  std::string out;
  out.push_back(1);  // format
  rocks::put_be64(out, 7);
  rocks::put_str(out, "d:1:7");
  out.push_back(0);         // not a group
  rocks::put_be64(out, 2);  // entries
  rocks::put_be64(out, 2);  // first seq
  rocks::put_be64(out, 3);  // last seq
  rocks::put_be64(out, 1003);
  rocks::put_be64(out, 1);
  rocks::put_str(out, "hi");
  rocks::put_be64(out, 5000);  // opened at
  out.push_back(1);            // closed
  rocks::put_be64(out, 1);
  rocks::put_str(out, "phone");
  return out;
}

TEST(RocksPushLedger, AFormatOneClosedBatchReadsAsUnclaimedAndIsTakenOver) {
  std::random_device rd;
  const auto dir =
      std::filesystem::temp_directory_path() / ("parley-ledger-v1-" + std::to_string(rd()) + std::to_string(rd()));
  {
    auto db = rocks::open(dir.string(), {"open", "closed", "watermarks"});
    ASSERT_TRUE(db.ok()) << db.error().message;
    std::string key = rocks::be64(7);
    key.append("d:1:7");
    key.push_back('\0');
    rocks::put_be64(key, 3);
    ASSERT_TRUE(db->db->Put(rocksdb::WriteOptions(), db->cf(1), key, format1_closed_batch()).ok());
  }

  auto ledger = RocksPushLedger::open(dir.string(), Durability::os);
  ASSERT_TRUE(ledger.ok()) << ledger.error().message;
  auto all = (*ledger)->batches();
  ASSERT_TRUE(all.ok()) << all.error().message;
  ASSERT_EQ(all->size(), 1U);
  const ports::PushBatch& b = all->at(0);
  EXPECT_TRUE(b.closed);
  EXPECT_EQ(b.user, UserId{7});
  EXPECT_EQ(b.last_seq, 3U);
  EXPECT_EQ(b.last_preview, "hi");
  EXPECT_EQ(b.done_devices, std::vector<std::string>{"phone"});
  EXPECT_EQ(b.closed_by, "");
  EXPECT_EQ(b.closed_at, 0);

  auto taken = (*ledger)->take_over(UserId{7}, "d:1:7", 3, "node-1", 1, 9000);
  ASSERT_TRUE(taken.ok()) << taken.error().message;
  EXPECT_EQ(taken->closed_by, "node-1");
  EXPECT_EQ(taken->done_devices, std::vector<std::string>{"phone"});
  EXPECT_EQ((*ledger)->batches()->at(0), taken.value());  // rewritten in format 2
  ledger->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace parley::embedded
