// Backups of the embedded engines (adapters/embedded/embedded_backup.hpp):
// the log's copy sets its groups' offsets back to the mark and keeps every
// record past them; each store's copy opens and holds what was written; a
// backup goes only into a new or empty folder. (Tests of one engine set,
// not of a port.)

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "adapters/embedded/embedded_backup.hpp"
#include "adapters/embedded/file_log.hpp"
#include "adapters/embedded/rocks_directory.hpp"
#include "adapters/embedded/rocks_sequencer_state.hpp"
#include "adapters/embedded/sqlite_search_index.hpp"
#include "log_helpers.hpp"
#include "temp_dir.hpp"

namespace parley::contract {
namespace {

namespace fs = std::filesystem;

template <class T>
std::unique_ptr<T> opened(Result<std::unique_ptr<T>> r) {
  if (!r) {
    ADD_FAILURE() << r.error().message;
    return nullptr;
  }
  return std::move(r).value();
}

// Small segments and no records kept in memory: the records come back from
// the copied files.
embedded::LogOptions log_options(const std::string& path) {
  embedded::LogOptions options;
  options.path = path;
  options.partitions = 1;
  options.segment_bytes = 4096;
  options.memory_per_partition = 0;
  return options;
}

// A restored consumer starts at the offset committed when the backup was
// marked, not at a later one: the stores copied after the mark may lack
// what was done after it, and the replay from the mark brings it back.
TEST(EmbeddedBackup, TheLogsCopyReplaysFromTheMarksOffsets) {
  TempDir dir;
  auto log = opened(embedded::FileLog::open(log_options(dir.sub("log"))));
  ASSERT_NE(log, nullptr);
  const std::string value(300, 'v');  // about 13 records a segment
  for (int i = 0; i < 50; ++i) append_ok(*log, "t", "k", value + std::to_string(i));
  auto consumer = opened(log->subscribe("t", "g"));
  ASSERT_NE(consumer, nullptr);
  ASSERT_EQ(read_exactly(*consumer, 50).size(), 50U);
  ASSERT_TRUE(consumer->commit(0, 20));

  const auto mark = log->mark_for_backup();
  ASSERT_TRUE(consumer->commit(0, 50));  // after the mark: the copy must not keep it
  for (int i = 50; i < 60; ++i) append_ok(*log, "t", "k", value + std::to_string(i));
  // Retention would delete the segments below offset 50 now; the mark holds
  // it off, so that the copy still finds offsets 20 to 49.
  const std::size_t segments = log->segment_count("t");
  ASSERT_GT(segments, 2U);
  ASSERT_TRUE(log->run_retention());
  EXPECT_EQ(log->segment_count("t"), segments);

  auto copied = log->copy_to(dir.sub("copy"), mark);
  ASSERT_TRUE(copied) << copied.error().message;
  ASSERT_EQ(copied->size(), 1U);
  EXPECT_EQ(copied->front().name, "t");
  EXPECT_EQ(copied->front().end_offsets, std::vector<std::uint64_t>{60});
  EXPECT_EQ(copied->front().segments, segments);

  auto restored = opened(embedded::FileLog::open(log_options(dir.sub("copy"))));
  ASSERT_NE(restored, nullptr);
  EXPECT_EQ(restored->end_offset("t", 0).value(), 60U);
  auto replay = opened(restored->subscribe("t", "g"));
  ASSERT_NE(replay, nullptr);
  const auto records = read_exactly(*replay, 40);
  ASSERT_EQ(records.size(), 40U);
  for (std::size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i].offset, 20 + i);
    EXPECT_EQ(records[i].value, value + std::to_string(20 + i));
  }
  // Appends go on in the copy after what it holds.
  EXPECT_EQ(append_ok(*restored, "t", "k", "after"), 60U);
}

// The order of the parts, and each copy opened as the store it came from.
TEST(EmbeddedBackup, CopiesEachStoreSoThatItOpensWithItsData) {
  TempDir dir;
  const fs::path data = dir.sub("data");
  auto log = opened(embedded::FileLog::open(log_options((data / "log").string())));
  auto sequencer = opened(embedded::RocksSequencerState::open((data / "sequencer").string()));
  auto directory = opened(embedded::RocksDirectory::open((data / "directory").string()));
  auto search = opened(embedded::SqliteSearchIndex::open((data / "search.sqlite").string()));
  ASSERT_TRUE(log && sequencer && directory && search);

  const auto offset = append_ok(*log, "sequenced", "conversation", "a decision");
  const Message message{MessageId{7},  "g:1", UserId{1}, Recipient{Recipient::Kind::group, 1},
                        "kumquat jam", 1000,  "c7"};
  ASSERT_TRUE(sequencer->apply(0, std::vector<Message>{message}, offset + 1));
  ASSERT_TRUE(search->index(std::vector<Message>{message}));
  ASSERT_TRUE(directory->create_user("alice", "hash"));

  embedded::BackupSources sources;
  sources.log = log.get();
  sources.derived.push_back({"sequencer", [&](const std::string& to) { return sequencer->checkpoint(to); }});
  sources.derived.push_back({"search.sqlite", [&](const std::string& to) { return search->backup_to(to); }});
  sources.requests.push_back({"directory", [&](const std::string& to) { return directory->checkpoint(to); }});
  const fs::path to = dir.sub("backup");
  auto report = embedded::backup(sources, to);
  ASSERT_TRUE(report) << report.error().message;
  std::vector<std::string> names;
  for (const auto& part : report->parts) {
    names.push_back(part.name);
    EXPECT_GT(part.bytes, 0U) << part.name;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"sequencer", "search.sqlite", "log", "directory"}));
  EXPECT_NE(report->text().find("sequenced: 1"), std::string::npos) << report->text();

  // Writes after the backup are not in it.
  ASSERT_TRUE(directory->create_user("bob", "hash"));
  sequencer.reset();
  directory.reset();
  search.reset();
  log.reset();

  auto log_copy = opened(embedded::FileLog::open(log_options((to / "log").string())));
  auto sequencer_copy = opened(embedded::RocksSequencerState::open((to / "sequencer").string()));
  auto directory_copy = opened(embedded::RocksDirectory::open((to / "directory").string()));
  auto search_copy = opened(embedded::SqliteSearchIndex::open((to / "search.sqlite").string()));
  ASSERT_TRUE(log_copy && sequencer_copy && directory_copy && search_copy);
  EXPECT_EQ(log_copy->end_offset("sequenced", 0).value(), offset + 1);
  EXPECT_EQ(sequencer_copy->applied(0).value(), offset + 1);
  ASSERT_TRUE(sequencer_copy->find_sent("g:1", UserId{1}, "c7").value().has_value());
  EXPECT_TRUE(directory_copy->find_user_by_name("alice"));
  EXPECT_FALSE(directory_copy->find_user_by_name("bob"));
  const std::vector<std::string> conversations = {"g:1"};
  const auto found = search_copy->search("kumquat", {conversations, UserId{}}, 10);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->size(), 1U);
}

// A backup never mixes with other files: a folder that holds anything, or
// a file, is refused and left as it was.
TEST(EmbeddedBackup, GoesOnlyIntoANewOrEmptyFolder) {
  TempDir dir;
  auto log = opened(embedded::FileLog::open(log_options(dir.sub("log"))));
  ASSERT_NE(log, nullptr);
  embedded::BackupSources sources;
  sources.log = log.get();

  const fs::path full = dir.sub("full");
  fs::create_directories(full);
  std::ofstream(full / "keep.txt") << "mine";
  const auto into_full = embedded::backup(sources, full);
  ASSERT_FALSE(into_full);
  EXPECT_EQ(into_full.error().code, ErrorCode::conflict);
  EXPECT_NE(into_full.error().message.find("is not empty"), std::string::npos) << into_full.error().message;
  EXPECT_TRUE(fs::exists(full / "keep.txt"));
  EXPECT_EQ(std::distance(fs::directory_iterator(full), fs::directory_iterator()), 1);

  const fs::path file = dir.sub("file");
  std::ofstream(file) << "x";
  EXPECT_FALSE(embedded::check_backup_target(file));

  const fs::path empty = dir.sub("empty");
  fs::create_directories(empty);
  EXPECT_TRUE(embedded::backup(sources, empty));
  EXPECT_TRUE(embedded::backup(sources, dir.sub("new/folder")));
}

// A part that fails leaves the folder empty again: no half backup.
TEST(EmbeddedBackup, AFailedBackupLeavesTheFolderEmpty) {
  TempDir dir;
  auto log = opened(embedded::FileLog::open(log_options(dir.sub("log"))));
  ASSERT_NE(log, nullptr);
  append_ok(*log, "t", "k", "v");
  embedded::BackupSources sources;
  sources.log = log.get();
  sources.requests.push_back({"directory", [](const std::string&) -> Result<void> {
                                return make_error(ErrorCode::unavailable, "disk gone");
                              }});
  const fs::path to = dir.sub("backup");
  const auto report = embedded::backup(sources, to);
  ASSERT_FALSE(report);
  EXPECT_NE(report.error().message.find("directory: disk gone"), std::string::npos) << report.error().message;
  EXPECT_TRUE(fs::is_empty(to));
}

}  // namespace
}  // namespace parley::contract
