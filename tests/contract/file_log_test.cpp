// What FileLog promises beyond the MessageLog contract: group commit,
// topics read before their sync, retention by segment, records read back from the files once memory no
// longer holds them, recovery from a torn write, and segments kept
// zero-filled ahead of their frames. (Tests of one engine, not of the port.)

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <thread>

#include "adapters/embedded/file_log.hpp"
#include "log_helpers.hpp"
#include "temp_dir.hpp"

namespace parley::contract {
namespace {

// Small segments and little memory, so that a few records already cross
// segment files and come back from disk.
embedded::LogOptions small_options(const TempDir& dir, embedded::Durability durability) {
  embedded::LogOptions options;
  options.path = dir.sub("log");
  options.durability = durability;
  options.segment_bytes = 4096;
  options.memory_per_partition = 0;
  return options;
}

std::unique_ptr<embedded::FileLog> open_with(const embedded::LogOptions& options) {
  auto log = embedded::FileLog::open(options);
  if (!log) {
    ADD_FAILURE() << log.error().message;
    return nullptr;
  }
  return std::move(log).value();
}

std::unique_ptr<embedded::FileLog> open_log(const TempDir& dir, embedded::Durability durability) {
  embedded::LogOptions options;
  options.path = dir.sub("log");
  options.durability = durability;
  auto log = embedded::FileLog::open(options);
  if (!log) {
    ADD_FAILURE() << log.error().message;
    return nullptr;
  }
  return std::move(log).value();
}

// Many appends in flight at once share WAL syncs: the writer commits what is
// queued as one batch with one fsync.
TEST(FileLog, ConcurrentAppendsShareFsyncs) {
  TempDir dir;
  auto log = open_log(dir, embedded::Durability::fsync);
  ASSERT_NE(log, nullptr);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 125;  // 1000 appends in all
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        std::vector<std::future<Result<std::uint64_t>>> acks;
        for (int i = 0; i < kPerThread; ++i) {
          acks.push_back(append_async(*log, "burst", "k" + std::to_string(t * kPerThread + i), "v"));
        }
        for (auto& a : acks) await_offset(a);
      });
    }
  }
  EXPECT_GE(log->syncs(), 1U);
  EXPECT_LT(log->syncs(), static_cast<std::uint64_t>(kThreads * kPerThread));
  // Typically a handful; allow slack for a slow disk and the scheduler.
  EXPECT_LT(log->syncs(), 500U);
}

// A group commit that touches several topics syncs each of them (side by
// side, FileLog::Syncer): every append is acknowledged, each topic's file
// is synced, and every record is there after a restart.
TEST(FileLog, AGroupCommitAcrossTopicsSyncsEachAndLosesNothing) {
  TempDir dir;
  auto log = open_log(dir, embedded::Durability::fsync);
  ASSERT_NE(log, nullptr);
  const std::vector<std::string> topics{"conversations", "sequenced", "inboxes"};
  constexpr int kPerTopic = 200;
  {
    std::vector<std::jthread> threads;
    for (const auto& topic : topics) {
      threads.emplace_back([&, topic] {
        std::vector<std::future<Result<std::uint64_t>>> acks;
        for (int i = 0; i < kPerTopic; ++i) acks.push_back(append_async(*log, topic, "k" + std::to_string(i), "v"));
        for (auto& a : acks) await_offset(a);
      });
    }
  }
  EXPECT_GE(log->syncs(), topics.size());  // at least one sync of each file
  log.reset();
  log = open_log(dir, embedded::Durability::fsync);
  ASSERT_NE(log, nullptr);
  for (const auto& topic : topics) {
    auto consumer = log->subscribe(topic, "g");
    ASSERT_TRUE(consumer.ok());
    EXPECT_EQ(read_exactly(**consumer, kPerTopic).size(), static_cast<std::size_t>(kPerTopic)) << topic;
  }
}

TEST(FileLog, OsDurabilityDoesNotSync) {
  TempDir dir;
  auto log = open_log(dir, embedded::Durability::os);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(append_ok(*log, "t", "k", "v"), 0U);
  EXPECT_EQ(log->syncs(), 0U);
}

// An early topic's records are read while the disk syncs them; their
// appends are answered only after the sync. Any other topic's records are
// read only once synced.
TEST(FileLog, AnEarlyTopicIsReadBeforeItsSyncAndAnsweredAfter) {
  TempDir dir;
  std::mutex mu;
  std::condition_variable cv;
  bool in_sync = false;
  bool release = false;
  embedded::LogOptions options;
  options.path = dir.sub("log");
  options.early_topics = {"early"};
  options.before_sync = [&] {
    std::unique_lock lock(mu);
    in_sync = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
  };
  auto log = open_with(options);
  ASSERT_NE(log, nullptr);
  auto early = log->subscribe("early", "g");
  auto late = log->subscribe("late", "g");
  ASSERT_TRUE(early && late);

  std::atomic<int> answered{0};
  log->append("early", "k", "e", [&](Result<std::uint64_t> r) {
    EXPECT_TRUE(r);
    ++answered;
  });
  log->append("late", "k", "l", [&](Result<std::uint64_t> r) {
    EXPECT_TRUE(r);
    ++answered;
  });
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return in_sync; }));
  }
  // Held in its sync: the early record is readable, nothing is answered,
  // and the other topic shows nothing yet.
  auto polled = early.value()->poll(std::chrono::seconds(10), 10);
  ASSERT_TRUE(polled);
  ASSERT_EQ(polled->size(), 1U);
  EXPECT_EQ(polled->front().value, "e");
  EXPECT_EQ(answered.load(), 0);
  auto nothing = late.value()->poll(std::chrono::milliseconds(50), 10);
  ASSERT_TRUE(nothing);
  EXPECT_TRUE(nothing->empty());

  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  auto after = late.value()->poll(std::chrono::seconds(10), 10);
  ASSERT_TRUE(after);
  ASSERT_EQ(after->size(), 1U);
  EXPECT_EQ(after->front().value, "l");
  log.reset();  // the destructor waits for the writer: every callback has run
  EXPECT_EQ(answered.load(), 2);
}

// A value of about a kilobyte: three or four records fill a 4 KiB segment.
std::string padded(int i) { return std::to_string(i) + std::string(1000, '.'); }

// An unsynced topic's records wait up to unsynced_linger for others to
// share their write, and no longer: with nothing else appended, each is
// written (answered, readable) by then, and many sent together share it.
TEST(FileLog, AnUnsyncedTopicsRecordsLingerForTheirLingerAtMost) {
  TempDir dir;
  auto options = small_options(dir, embedded::Durability::fsync);
  options.segment_bytes = 64ULL << 20;
  options.retention_interval = std::chrono::hours(1);  // nothing else wakes the writer
  options.unsynced_topics = {"hop"};
  options.unsynced_linger = std::chrono::milliseconds(20);
  auto log = open_with(options);
  ASSERT_NE(log, nullptr);
  auto consumer = log->subscribe("hop", "g");
  ASSERT_TRUE(consumer.ok());
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(append_ok(*log, "hop", "k", "v"), static_cast<std::uint64_t>(round));
    EXPECT_EQ(read_exactly(**consumer, 1).size(), 1U);
  }
  std::vector<std::future<Result<std::uint64_t>>> many;
  for (int i = 0; i < 100; ++i) many.push_back(append_async(*log, "hop", "k", padded(i)));
  for (auto& f : many) EXPECT_NE(await_offset(f), std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(read_exactly(**consumer, 100).size(), 100U);
}

// append_many() queues a batch at once: one group commit, one fdatasync,
// however soon the writer wakes for its first record.
TEST(FileLog, AppendManyIsOneGroupCommit) {
  TempDir dir;
  auto options = small_options(dir, embedded::Durability::fsync);
  options.segment_bytes = 64ULL << 20;
  auto log = open_with(options);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(append_ok(*log, "t", "k", "v"), 0U);
  for (int round = 0; round < 5; ++round) {
    const auto before = log->syncs();
    std::vector<std::string> values;
    for (int i = 0; i < 50; ++i) values.push_back(padded(i));
    auto acks = append_many_async(*log, "t", "k", values);
    for (auto& a : acks) EXPECT_NE(await_offset(a), std::numeric_limits<std::uint64_t>::max());
    EXPECT_EQ(log->syncs() - before, 1U) << "round " << round;
  }
}

// An unsynced topic's appends are answered and read without an fdatasync
// (a group commit of its records alone syncs nothing), across segments, and
// what was written comes back after a reopen; the other topics still sync.
TEST(FileLog, AnUnsyncedTopicIsAnsweredWithoutASyncAndKeptAcrossARestart) {
  TempDir dir;
  std::atomic<int> sync_rounds{0};
  auto options = small_options(dir, embedded::Durability::fsync);
  options.unsynced_topics = {"hop"};
  options.before_sync = [&] { ++sync_rounds; };
  constexpr int kRecords = 40;  // ten or more 4 KiB segments
  {
    auto log = open_with(options);
    ASSERT_NE(log, nullptr);
    for (int i = 0; i < kRecords; ++i) EXPECT_EQ(append_ok(*log, "hop", "k", padded(i)), static_cast<std::uint64_t>(i));
    EXPECT_EQ(log->syncs(), 0U);
    EXPECT_EQ(sync_rounds.load(), 0);
    auto consumer = log->subscribe("hop", "g");
    ASSERT_TRUE(consumer.ok());
    EXPECT_EQ(read_exactly(**consumer, kRecords).size(), static_cast<std::size_t>(kRecords));
    EXPECT_EQ(append_ok(*log, "synced", "k", "v"), 0U);
    EXPECT_EQ(log->syncs(), 1U);
  }
  auto log = open_with(options);
  ASSERT_NE(log, nullptr);
  auto consumer = log->subscribe("hop", "again");
  ASSERT_TRUE(consumer.ok());
  const auto records = read_exactly(**consumer, kRecords);
  ASSERT_EQ(records.size(), static_cast<std::size_t>(kRecords));
  for (int i = 0; i < kRecords; ++i) {
    EXPECT_EQ(records[static_cast<std::size_t>(i)].offset, static_cast<std::uint64_t>(i));
    EXPECT_EQ(records[static_cast<std::size_t>(i)].value, padded(i));
  }
}

TEST(FileLog, RetentionKeepsWhatAnyGroupStillNeeds) {
  TempDir dir;
  const auto options = small_options(dir, embedded::Durability::fsync);
  auto log = open_with(options);
  ASSERT_NE(log, nullptr);
  for (int i = 0; i < 30; ++i) append_ok(*log, "t", "k", padded(i));
  const int partition = log->partition_for("t", "k");
  const std::size_t segments = log->segment_count("t");
  ASSERT_GE(segments, 6U);
  {
    auto fast = log->subscribe("t", "fast");
    auto slow = log->subscribe("t", "slow");
    ASSERT_TRUE(fast.ok() && slow.ok());
    ASSERT_EQ(read_exactly(**fast, 30).size(), 30U);
    ASSERT_TRUE((*fast)->commit(partition, 28).ok());
    ASSERT_TRUE((*slow)->commit(partition, 12).ok());
  }
  // Commits reach the files with the writer's next batch.
  append_ok(*log, "other", "k", "v");
  ASSERT_TRUE(log->run_retention().ok());
  EXPECT_LT(log->segment_count("t"), segments);

  // The slow group still gets everything from its committed offset, read
  // back from the files.
  auto slow = log->subscribe("t", "slow");
  ASSERT_TRUE(slow.ok());
  const auto records = read_exactly(**slow, 18);
  ASSERT_EQ(records.size(), 18U);
  EXPECT_EQ(records.front().offset, 12U);
  EXPECT_EQ(records.front().value, padded(12));
  EXPECT_EQ(records.back().value, padded(29));
  ASSERT_TRUE((*slow)->commit(partition, 30).ok());
  slow->reset();

  // Now only "fast" holds records back: 28 and 29 stay, older ones may go.
  append_ok(*log, "other", "k", "v");
  ASSERT_TRUE(log->run_retention().ok());
  auto fast = log->subscribe("t", "fast");
  ASSERT_TRUE(fast.ok());
  const auto rest = read_exactly(**fast, 2);
  ASSERT_EQ(rest.size(), 2U);
  EXPECT_EQ(rest[0].value, padded(28));
  EXPECT_EQ(rest[1].value, padded(29));

  // A group that never read starts at the oldest record still kept: past
  // what retention removed, never past what "fast" needs.
  auto late = log->subscribe("t", "late");
  ASSERT_TRUE(late.ok());
  auto first = (*late)->poll(std::chrono::seconds(5), 1);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 1U);
  EXPECT_GT(first->front().offset, 12U);
  EXPECT_LE(first->front().offset, 28U);

  // And offsets and commits survive a restart with the early segments gone
  // (each segment starts with a checkpoint of every offset).
  late->reset();
  fast->reset();
  log.reset();
  log = open_with(options);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(append_ok(*log, "t", "k", padded(30)), 30U);
  auto again = log->subscribe("t", "fast");
  ASSERT_TRUE(again.ok());
  const auto resumed = read_exactly(**again, 3);
  ASSERT_EQ(resumed.size(), 3U);
  EXPECT_EQ(resumed.front().offset, 28U);
}

// A group that subscribed but never committed still holds its records
// back after a restart, before it subscribes again (the subscription is
// written down like a commit).
TEST(FileLog, AGroupThatNeverCommittedKeepsItsRecordsAcrossARestart) {
  TempDir dir;
  const auto options = small_options(dir, embedded::Durability::fsync);
  auto log = open_with(options);
  ASSERT_NE(log, nullptr);
  const int partition = log->partition_for("t", "k");
  {
    auto idle = log->subscribe("t", "idle");
    ASSERT_TRUE(idle.ok());
  }
  for (int i = 0; i < 20; ++i) append_ok(*log, "t", "k", padded(i));
  {
    auto busy = log->subscribe("t", "busy");
    ASSERT_TRUE(busy.ok());
    ASSERT_EQ(read_exactly(**busy, 20).size(), 20U);
    ASSERT_TRUE((*busy)->commit(partition, 20).ok());
  }
  log.reset();
  log = open_with(options);
  ASSERT_NE(log, nullptr);
  for (int i = 20; i < 30; ++i) append_ok(*log, "t", "k", padded(i));  // rolls segments
  ASSERT_TRUE(log->run_retention().ok());
  auto idle = log->subscribe("t", "idle");
  ASSERT_TRUE(idle.ok());
  const auto records = read_exactly(**idle, 30);
  ASSERT_EQ(records.size(), 30U);
  EXPECT_EQ(records.front().value, padded(0));
}

// A group added to a log that must begin where another group is (the push
// step's on the changelog, apps/parleyd): seeded with that group's offsets,
// kept across a restart, and never moved once the group is known.
TEST(FileLog, ASeededGroupBeginsWhereTheOtherGroupIsAndKeepsItsOwnOffsetsAfter) {
  TempDir dir;
  const auto options = small_options(dir, embedded::Durability::fsync);
  auto log = open_with(options);
  ASSERT_NE(log, nullptr);
  const int partition = log->partition_for("t", "k");
  for (int i = 0; i < 6; ++i) append_ok(*log, "t", "k", padded(i));
  // Nothing to begin from: the group is left unknown.
  ASSERT_TRUE(log->seed_group("t", "new", "nobody").ok());
  {
    auto ahead = log->subscribe("t", "ahead");
    ASSERT_TRUE(ahead.ok());
    ASSERT_EQ(read_exactly(**ahead, 6).size(), 6U);
    ASSERT_TRUE((*ahead)->commit(partition, 6).ok());
  }
  for (int i = 6; i < 10; ++i) append_ok(*log, "t", "k", padded(i));
  ASSERT_TRUE(log->seed_group("t", "new", "ahead").ok());
  log.reset();
  log = open_with(options);
  ASSERT_NE(log, nullptr);
  {
    auto seeded = log->subscribe("t", "new");
    ASSERT_TRUE(seeded.ok());
    const auto records = read_exactly(**seeded, 4);
    ASSERT_EQ(records.size(), 4U);
    EXPECT_EQ(records.front().offset, 6U);
    EXPECT_EQ(records.front().value, padded(6));
    ASSERT_TRUE((*seeded)->commit(partition, 8).ok());
  }
  // Known now: seeding again from a group further on moves nothing.
  {
    auto ahead = log->subscribe("t", "ahead");
    ASSERT_TRUE(ahead.ok());
    ASSERT_EQ(read_exactly(**ahead, 4).size(), 4U);
    ASSERT_TRUE((*ahead)->commit(partition, 10).ok());
  }
  ASSERT_TRUE(log->seed_group("t", "new", "ahead").ok());
  auto seeded = log->subscribe("t", "new");
  ASSERT_TRUE(seeded.ok());
  const auto records = read_exactly(**seeded, 2);
  ASSERT_EQ(records.size(), 2U);
  EXPECT_EQ(records.front().offset, 8U);
}

// Keys map to partitions by their count: a log written with one count is
// not opened with another (keys would change partitions, and order).
TEST(FileLog, AnotherPartitionCountIsRefused) {
  TempDir dir;
  auto options = small_options(dir, embedded::Durability::os);
  {
    auto log = open_with(options);
    ASSERT_NE(log, nullptr);
    append_ok(*log, "t", "k", "v");
  }
  options.partitions = 16;
  auto reopened = embedded::FileLog::open(options);
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.error().code, ErrorCode::bad_request);
}

// Records that memory no longer holds (a consumer far behind, or any
// record after a restart) come back from the segment files, in order, each
// partition on its own, across segment boundaries.
TEST(FileLog, RecordsComeBackFromTheFilesInOrder) {
  TempDir dir;
  const auto options = small_options(dir, embedded::Durability::os);
  auto log = open_with(options);
  ASSERT_NE(log, nullptr);
  std::map<int, std::vector<std::string>> sent;  // partition -> values in order
  for (int i = 0; i < 200; ++i) {
    const std::string key = "k" + std::to_string(i % 7);
    append_ok(*log, "t", key, padded(i));
    sent[log->partition_for("t", key)].push_back(padded(i));
  }
  ASSERT_GE(log->segment_count("t"), 20U);
  const auto check = [&](ports::MessageLog& l) {
    auto consumer = l.subscribe("t", "g");
    ASSERT_TRUE(consumer.ok());
    std::map<int, std::vector<std::string>> got;
    for (auto& r : read_exactly(**consumer, 200)) got[r.partition].push_back(r.value);
    EXPECT_EQ(got, sent);
    for (const auto& [partition, values] : sent) {
      auto middle = l.read("t", partition, values.size() / 2, 1000);
      ASSERT_TRUE(middle.ok());
      ASSERT_EQ(middle->size(), values.size() - values.size() / 2);
      EXPECT_EQ(middle->front().value, values[values.size() / 2]);
    }
  };
  check(*log);
  log.reset();
  log = open_with(options);
  ASSERT_NE(log, nullptr);
  check(*log);
}

// The segment files of the log at `path`, oldest first (one topic).
std::vector<std::filesystem::path> segment_files(const std::string& path) {
  std::vector<std::filesystem::path> out;
  for (const auto& topic : std::filesystem::directory_iterator(path)) {
    for (const auto& file : std::filesystem::directory_iterator(topic.path())) out.push_back(file.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string file_bytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Where each frame of a segment starts, and where the last one ends: frames
// are read by their length fields alone (u32 little-endian, then a u32 crc,
// then that many bytes) up to a zero length or the end of the file.
struct Frames {
  std::vector<std::size_t> starts;
  std::size_t end = 0;
};
Frames frames_of(const std::string& bytes) {
  Frames out;
  while (out.end + 8 <= bytes.size()) {
    std::uint32_t length = 0;
    for (int i = 0; i < 4; ++i)
      length |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[out.end + i])) << (8 * i);
    if (length == 0 || out.end + 8 + length > bytes.size()) break;
    out.starts.push_back(out.end);
    out.end += 8 + length;
  }
  return out;
}

void write_at(const std::filesystem::path& file, std::string_view data, std::size_t at) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, data.data(), data.size(), static_cast<off_t>(at)), static_cast<ssize_t>(data.size()));
  ::close(fd);
}

// Under fsync the segment being written is zero-filled ahead of its frames
// (1 MiB at a time), so that a sync does not also commit a new file size.
// Opening again finds exactly the records written, keeps the zeros, and the
// next appends go right after the last frame, into them.
TEST(FileLog, AppendsLandInAZeroFilledTailAcrossARestart) {
  TempDir dir;
  embedded::LogOptions options;
  options.path = dir.sub("log");
  auto log = open_with(options);
  ASSERT_NE(log, nullptr);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(append_ok(*log, "t", "k", std::to_string(i)), static_cast<std::uint64_t>(i));
  log.reset();

  const auto files = segment_files(options.path);
  ASSERT_EQ(files.size(), 1U);
  std::string bytes = file_bytes(files[0]);
  EXPECT_EQ(bytes.size(), 1U << 20);
  Frames frames = frames_of(bytes);
  ASSERT_EQ(frames.starts.size(), 6U);  // the checkpoint and five records
  const std::size_t end = frames.end;
  EXPECT_TRUE(
      std::all_of(bytes.begin() + static_cast<std::ptrdiff_t>(end), bytes.end(), [](char c) { return c == 0; }));

  log = open_with(options);
  ASSERT_NE(log, nullptr);
  const int partition = log->partition_for("t", "k");
  auto end_offset = log->end_offset("t", partition);
  ASSERT_TRUE(end_offset.ok());
  EXPECT_EQ(*end_offset, 5U);
  EXPECT_EQ(append_ok(*log, "t", "k", "5"), 5U);
  EXPECT_EQ(append_ok(*log, "t", "k", "6"), 6U);
  log.reset();

  bytes = file_bytes(files[0]);
  EXPECT_EQ(bytes.size(), 1U << 20);  // written inside the zeros, not past them
  frames = frames_of(bytes);
  ASSERT_EQ(frames.starts.size(), 8U);
  EXPECT_EQ(frames.starts[6], end);

  log = open_with(options);
  ASSERT_NE(log, nullptr);
  auto records = log->read("t", partition, 0, 100);  // from the file: nothing is in memory after a restart
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 7U);
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ((*records)[i].offset, static_cast<std::uint64_t>(i));
    EXPECT_EQ((*records)[i].value, std::to_string(i));
  }
  EXPECT_EQ(append_ok(*log, "t", "k", "7"), 7U);
}

// Closed segments keep their zero tails and never grow past segment_bytes;
// their records still come back from the files, and a restart finds them
// all.
TEST(FileLog, ClosedSegmentsWithZeroTailsAreReadBack) {
  TempDir dir;
  const auto options = small_options(dir, embedded::Durability::fsync);
  auto log = open_with(options);
  ASSERT_NE(log, nullptr);
  for (int i = 0; i < 20; ++i) append_ok(*log, "t", "k", padded(i));
  const int partition = log->partition_for("t", "k");
  const auto check = [&](embedded::FileLog& l) {
    auto records = l.read("t", partition, 0, 100);
    ASSERT_TRUE(records.ok());
    ASSERT_EQ(records->size(), 20U);
    for (int i = 0; i < 20; ++i) EXPECT_EQ((*records)[i].value, padded(i));
  };
  check(*log);
  log.reset();
  const auto files = segment_files(options.path);
  ASSERT_GE(files.size(), 5U);
  for (const auto& file : files) {
    const std::string bytes = file_bytes(file);
    EXPECT_EQ(bytes.size(), options.segment_bytes) << file;
    EXPECT_LT(frames_of(bytes).end, bytes.size()) << file;
  }
  log = open_with(options);
  ASSERT_NE(log, nullptr);
  check(*log);
  EXPECT_EQ(append_ok(*log, "t", "k", padded(20)), 20U);
}

// A crash can keep later pages of a write and lose its first, leaving what
// looks like whole frames after the zeros that follow the last frame.
// Opening must drop them: otherwise a later append that ends right where
// they start would make them part of the log at the next open.
TEST(FileLog, StaleFramesAfterTheLastFrameAreNotRevived) {
  TempDir dir;
  embedded::LogOptions options;
  options.path = dir.sub("log");

  // A previous life of the same log that got further: records 0 to 6, the
  // last one "stale" (offset 6).
  std::string stale;
  std::size_t five = 0;  // the length of record 5's frame
  {
    embedded::LogOptions other = options;
    other.path = dir.sub("other");
    auto log = open_with(other);
    ASSERT_NE(log, nullptr);
    for (int i = 0; i < 6; ++i) append_ok(*log, "t", "k", std::to_string(i));
    EXPECT_EQ(append_ok(*log, "t", "k", "stale"), 6U);
    log.reset();
    const std::string bytes = file_bytes(segment_files(other.path).at(0));
    const Frames frames = frames_of(bytes);
    ASSERT_EQ(frames.starts.size(), 8U);
    stale = bytes.substr(frames.starts[7], frames.end - frames.starts[7]);
    five = frames.starts[7] - frames.starts[6];
  }

  auto log = open_with(options);
  ASSERT_NE(log, nullptr);
  for (int i = 0; i < 5; ++i) append_ok(*log, "t", "k", std::to_string(i));
  log.reset();
  const auto file = segment_files(options.path).at(0);
  const std::size_t end = frames_of(file_bytes(file)).end;
  // Where the stale frame would follow record 5, with zeros before it.
  write_at(file, stale, end + five);

  log = open_with(options);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(append_ok(*log, "t", "k", "5"), 5U);
  log.reset();
  log = open_with(options);
  ASSERT_NE(log, nullptr);
  const int partition = log->partition_for("t", "k");
  auto records = log->read("t", partition, 0, 100);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 6U);
  for (int i = 0; i < 6; ++i) EXPECT_EQ((*records)[i].value, std::to_string(i));
  EXPECT_EQ(append_ok(*log, "t", "k", "6"), 6U);
  auto last = log->read("t", partition, 6, 100);
  ASSERT_TRUE(last.ok());
  ASSERT_EQ(last->size(), 1U);
  EXPECT_EQ(last->front().value, "6");
}

// A torn frame right after the last whole one, inside the zero-filled tail,
// is cut off as at the end of a file; appends go on from there.
TEST(FileLog, ATornFrameBeforeTheZeroTailIsCutOff) {
  TempDir dir;
  embedded::LogOptions options;
  options.path = dir.sub("log");
  auto log = open_with(options);
  ASSERT_NE(log, nullptr);
  for (int i = 0; i < 5; ++i) append_ok(*log, "t", "k", std::to_string(i));
  log.reset();
  const auto file = segment_files(options.path).at(0);
  const std::size_t end = frames_of(file_bytes(file)).end;
  write_at(file, std::string_view("\x40\x00\x00\x00garbage", 11), end);  // promises 64 bytes; the crc fails

  log = open_with(options);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(std::filesystem::file_size(file), end);  // cut there
  EXPECT_EQ(append_ok(*log, "t", "k", "5"), 5U);
  log.reset();
  log = open_with(options);
  ASSERT_NE(log, nullptr);
  auto records = log->read("t", log->partition_for("t", "k"), 0, 100);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 6U);
  for (int i = 0; i < 6; ++i) EXPECT_EQ((*records)[i].value, std::to_string(i));
}

// A crash mid-write leaves a torn frame at the end of the last segment: the
// next open cuts it off and keeps every whole record before it.
TEST(FileLog, ATornTailIsCutOffOnOpen) {
  TempDir dir;
  embedded::LogOptions options;
  options.path = dir.sub("log");
  auto log = open_with(options);
  ASSERT_NE(log, nullptr);
  for (int i = 0; i < 5; ++i) append_ok(*log, "t", "k", std::to_string(i));
  log.reset();

  std::filesystem::path segment;
  for (const auto& topic : std::filesystem::directory_iterator(options.path)) {
    for (const auto& file : std::filesystem::directory_iterator(topic.path())) segment = file.path();
  }
  ASSERT_FALSE(segment.empty());
  {
    std::ofstream out(segment, std::ios::binary | std::ios::app);
    out.write("\x40\x00\x00\x00garbage", 11);  // a header promising 64 bytes, then too few
  }
  log = open_with(options);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(append_ok(*log, "t", "k", "5"), 5U);
  auto consumer = log->subscribe("t", "g");
  ASSERT_TRUE(consumer.ok());
  const auto records = read_exactly(**consumer, 6);
  ASSERT_EQ(records.size(), 6U);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(records[i].value, std::to_string(i));
}

// A kept topic (a changelog) stays whole however far its groups committed;
// other topics are cut as usual, and read() skips what retention removed.
TEST(FileLog, RetentionKeepsAKeptTopic) {
  TempDir dir;
  auto options = small_options(dir, embedded::Durability::fsync);
  options.kept_topics = {"changelog"};
  auto log = open_with(options);
  ASSERT_NE(log, nullptr);
  const int partition = log->partition_for("changelog", "k");
  for (const char* topic : {"changelog", "t"}) {
    for (int i = 0; i < 20; ++i) append_ok(*log, topic, "k", padded(i));
    auto consumer = log->subscribe(topic, "g");
    ASSERT_TRUE(consumer.ok());
    ASSERT_EQ(read_exactly(**consumer, 20).size(), 20U);
    ASSERT_TRUE((*consumer)->commit(partition, 20).ok());
  }
  append_ok(*log, "other", "k", "v");  // the commits reach the files
  ASSERT_TRUE(log->run_retention().ok());

  auto kept = log->read("changelog", partition, 0, 100);
  ASSERT_TRUE(kept.ok());
  ASSERT_EQ(kept->size(), 20U);
  EXPECT_EQ(kept->front().offset, 0U);
  EXPECT_EQ(kept->back().value, padded(19));

  auto cut = log->read("t", partition, 0, 100);
  ASSERT_TRUE(cut.ok());
  ASSERT_FALSE(cut->empty());  // the segment being written stays
  EXPECT_GT(cut->front().offset, 0U);
  EXPECT_EQ(cut->back().offset, 19U);
  auto end = log->end_offset("t", partition);
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(*end, 20U);
  EXPECT_EQ(append_ok(*log, "t", "k", padded(20)), 20U);
}

TEST(FileLog, CommitPastTheEndIsRejected) {
  TempDir dir;
  auto log = open_log(dir, embedded::Durability::fsync);
  ASSERT_NE(log, nullptr);
  append_ok(*log, "t", "k", "v");
  auto consumer = log->subscribe("t", "g");
  ASSERT_TRUE(consumer.ok());
  auto result = (*consumer)->commit(log->partition_for("t", "k"), 2);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::bad_request);
}

// A consumer's lag (GET /metrics) is the records its group has not
// committed, over every partition, and falls as the group commits.
TEST(FileLog, ALagCountsWhatTheGroupHasNotCommitted) {
  TempDir dir;
  auto log = open_log(dir, embedded::Durability::os);
  ASSERT_NE(log, nullptr);
  auto consumer = log->subscribe("t", "g");
  ASSERT_TRUE(consumer.ok());
  EXPECT_EQ((*consumer)->lag(), std::optional<std::uint64_t>(0));
  append_ok(*log, "t", "a", "1");
  append_ok(*log, "t", "a", "2");
  append_ok(*log, "t", "b", "3");
  EXPECT_EQ((*consumer)->lag(), std::optional<std::uint64_t>(3));
  ASSERT_TRUE((*consumer)->commit(log->partition_for("t", "a"), 2).ok());
  EXPECT_EQ((*consumer)->lag(), std::optional<std::uint64_t>(1));
  auto other = log->subscribe("t", "another-group");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ((*other)->lag(), std::optional<std::uint64_t>(3));  // each group's own commits
}

TEST(FileLog, DestructorFlushesQueuedAppends) {
  TempDir dir;
  std::vector<std::future<Result<std::uint64_t>>> acks;
  {
    auto log = open_log(dir, embedded::Durability::os);
    ASSERT_NE(log, nullptr);
    for (int i = 0; i < 100; ++i) acks.push_back(append_async(*log, "t", "k", std::to_string(i)));
  }
  for (std::size_t i = 0; i < acks.size(); ++i) {
    ASSERT_EQ(acks[i].wait_for(std::chrono::seconds(0)), std::future_status::ready);
    EXPECT_EQ(await_offset(acks[i]), i);
  }
  auto log = open_log(dir, embedded::Durability::os);
  ASSERT_NE(log, nullptr);
  auto consumer = log->subscribe("t", "g");
  ASSERT_TRUE(consumer.ok());
  EXPECT_EQ(read_exactly(**consumer, 100).size(), 100U);
}

TEST(FileLog, BadOptionsAndNamesAreRejected) {
  TempDir dir;
  embedded::LogOptions options;
  options.path = dir.sub("log");
  options.partitions = 0;
  auto bad = embedded::FileLog::open(options);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::bad_request);

  auto log = open_log(dir, embedded::Durability::os);
  ASSERT_NE(log, nullptr);
  auto ack = append_async(*log, "", "k", "v");
  auto result = ack.get();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::bad_request);
  EXPECT_FALSE(log->subscribe("t", std::string("a\0b", 3)).ok());
}

// Found by fuzz/file_log_segment.cpp: a checkpoint (with a right crc)
// claiming next offset 2^64-1 was taken, the next append got that offset
// and the partition's end wrapped around to 0. An offset no log reaches is
// corruption, refused on open.
TEST(FileLog, OffsetsNoLogReachesAreRefused) {
  const auto frame = [](std::uint8_t type, const std::string& body) {
    const std::string content = static_cast<char>(type) + body;
    std::string out;
    const auto put32 = [&out](std::uint32_t v) {
      for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFFU));
    };
    put32(static_cast<std::uint32_t>(content.size()));
    put32(static_cast<std::uint32_t>(
        crc32(0L, reinterpret_cast<const Bytef*>(content.data()), static_cast<uInt>(content.size()))));
    return out + content;
  };
  const auto u64 = [](std::uint64_t v) {
    std::string out;
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFFU));
    return out;
  };
  const std::string four_partitions("\x04\x00\x00\x00", 4);
  const std::string no_groups(4, '\0');
  const std::string checkpoint = four_partitions + u64(0) + u64(0) + u64(0) + u64(0) + no_groups;
  const std::string data_header = std::string("\x01\x00\x00\x00", 4);  // partition 1
  const std::map<std::string, std::string> segments = {
      {"checkpoint next", frame(3, four_partitions + u64(0) + u64(~0ULL) + u64(0) + u64(0) + no_groups)},
      {"data offset", frame(3, checkpoint) + frame(1, data_header + u64(1ULL << 63) + std::string(4, '\0') + "v")},
      {"commit", frame(3, checkpoint) + frame(2, data_header + u64(~0ULL - 1) + "group")},
      // Found the same way: two records of one partition with one offset
      // were read back as given, not in order.
      {"offsets out of order", frame(3, checkpoint) + frame(1, data_header + u64(5) + std::string(4, '\0') + "v") +
                                   frame(1, data_header + u64(5) + std::string(4, '\0') + "w")},
      {"offset below the checkpoint", frame(3, four_partitions + u64(0) + u64(9) + u64(0) + u64(0) + no_groups) +
                                          frame(1, data_header + u64(3) + std::string(4, '\0') + "v")},
  };
  for (const auto& [what, bytes] : segments) {
    TempDir dir;
    auto options = small_options(dir, embedded::Durability::os);
    options.partitions = 4;
    const auto topic = std::filesystem::path(options.path) / "t-74";  // "t"
    std::filesystem::create_directories(topic);
    std::ofstream(topic / "00000000000000000000.seg", std::ios::binary) << bytes;
    auto log = embedded::FileLog::open(options);
    ASSERT_FALSE(log.ok()) << what;
    EXPECT_EQ(log.error().code, ErrorCode::internal) << what;
  }
  // The same segment with offsets in range opens.
  TempDir dir;
  auto options = small_options(dir, embedded::Durability::os);
  options.partitions = 4;
  const auto topic = std::filesystem::path(options.path) / "t-74";
  std::filesystem::create_directories(topic);
  std::ofstream(topic / "00000000000000000000.seg", std::ios::binary)
      << frame(3, checkpoint) + frame(1, data_header + u64(7) + std::string(4, '\0') + "v");
  auto log = open_with(options);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->end_offset("t", 1).value(), 8U);
}

}  // namespace
}  // namespace parley::contract
