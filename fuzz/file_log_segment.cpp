// Fuzz target: FileLog (the embedded message log) opening a folder whose
// segment files hold arbitrary bytes: a crash may leave anything at the end
// of the last segment, and a disk anything anywhere.
//
// The input is written as the segment files of topic "t" in a fresh folder.
// Its first byte chooses how: even, the rest is one segment as it is; odd,
// the rest is a list of pieces [u8 type][u16 length LE][bytes], each written
// as a frame with its length and crc32 made right (so that the fuzzer
// reaches the frame bodies), except type 0xFF, which starts the next
// segment, and 0xFE, whose bytes are written as they are (a torn or stray
// tail).
//
// Invariants: no exception escapes and nothing crashes; open() may refuse.
// When it opens: every record a partition gives back is of that partition,
// in order and below its end offset; an append gets the partition's end
// offset; and the folder, as that open left it (a torn end cut off), opens
// again with the same ends.

#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/embedded/file_log.hpp"
#include "check.hpp"
#include "core/log.hpp"

namespace fs = std::filesystem;
using namespace parley;

namespace {

constexpr int kPartitions = 8;  // the server's default, as in the seed segments
const std::string kTopic = "t";

const fs::path& work_dir() {
  static const fs::path dir = [] {
    const fs::path base = fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    return base / ("parley-fuzz-file-log-" + std::to_string(::getpid()));
  }();
  return dir;
}

void put32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFFU));
}

// The segment files' contents, from the input as the header says.
std::vector<std::string> segments_of(std::string_view in) {
  std::vector<std::string> segments(1);
  if (in.empty()) return segments;
  const bool framed = (static_cast<unsigned char>(in[0]) & 1U) != 0;
  in.remove_prefix(1);
  if (!framed) {
    segments.back() = std::string(in);
    return segments;
  }
  while (in.size() >= 3) {
    const auto type = static_cast<unsigned char>(in[0]);
    const std::size_t length =
        static_cast<unsigned char>(in[1]) | (static_cast<std::size_t>(static_cast<unsigned char>(in[2])) << 8);
    in.remove_prefix(3);
    const std::string_view bytes = in.substr(0, std::min(length, in.size()));
    in.remove_prefix(bytes.size());
    if (type == 0xFF) {
      if (segments.size() < 4) segments.emplace_back();
      continue;
    }
    std::string& out = segments.back();
    if (type == 0xFE) {
      out.append(bytes);
      continue;
    }
    std::string content(1, static_cast<char>(type));
    content.append(bytes);
    put32(out, static_cast<std::uint32_t>(content.size()));
    put32(out, static_cast<std::uint32_t>(
                   crc32(0L, reinterpret_cast<const Bytef*>(content.data()), static_cast<uInt>(content.size()))));
    out.append(content);
  }
  return segments;
}

Result<std::unique_ptr<embedded::FileLog>> open_log() {
  embedded::LogOptions options;
  options.path = work_dir().string();
  options.partitions = kPartitions;
  options.durability = embedded::Durability::os;
  options.retention_interval = std::chrono::hours(24);
  return embedded::FileLog::open(std::move(options));
}

std::vector<std::uint64_t> ends_of(embedded::FileLog& log) {
  std::vector<std::uint64_t> ends;
  for (int p = 0; p < kPartitions; ++p) {
    auto end = log.end_offset(kTopic, p);
    PARLEY_FUZZ_CHECK(end.ok());
    ends.push_back(*end);
  }
  return ends;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Above every level: each corrupt or torn segment is logged, which the
  // fuzzer's output need not show thousands of times a second.
  log::set_level(static_cast<log::Level>(static_cast<int>(log::Level::error) + 1));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fs::path& dir = work_dir();
  fs::remove_all(dir);
  const fs::path topic_dir = dir / "t-74";  // hex of "t"
  fs::create_directories(topic_dir);
  const auto segments = segments_of(std::string_view(reinterpret_cast<const char*>(data), size));
  for (std::size_t s = 0; s < segments.size(); ++s) {
    char name[32];
    std::snprintf(name, sizeof name, "%020zu.seg", s);
    std::ofstream(topic_dir / name, std::ios::binary) << segments[s];
  }

  std::vector<std::uint64_t> ends;
  {
    auto opened = open_log();
    if (!opened) return 0;  // refusing a corrupt folder is fine
    auto& log = **opened;
    ends = ends_of(log);
    for (int p = 0; p < kPartitions; ++p) {
      auto records = log.read(kTopic, p, 0, 64);
      if (!records) continue;  // unreadable (a corrupt older segment): refused, not crashed
      std::uint64_t last = 0;
      bool first = true;
      for (const auto& r : *records) {
        PARLEY_FUZZ_CHECK(r.partition == p);
        PARLEY_FUZZ_CHECK(r.offset < ends[static_cast<std::size_t>(p)]);
        PARLEY_FUZZ_CHECK(first || r.offset > last);
        last = r.offset;
        first = false;
      }
    }
    const int p = log.partition_for(kTopic, "k");
    std::promise<Result<std::uint64_t>> appended;
    log.append(kTopic, "k", "v", [&](Result<std::uint64_t> offset) { appended.set_value(std::move(offset)); });
    auto offset = appended.get_future().get();
    if (offset) {
      PARLEY_FUZZ_CHECK(*offset == ends[static_cast<std::size_t>(p)]);
      ++ends[static_cast<std::size_t>(p)];
    }
  }
  auto again = open_log();
  PARLEY_FUZZ_CHECK(again.ok());
  PARLEY_FUZZ_CHECK(ends_of(**again) == ends);
  return 0;
}
