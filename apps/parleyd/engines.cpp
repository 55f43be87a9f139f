#include "engines.hpp"

#include <filesystem>

#include "adapters/embedded/memory_state_store.hpp"
#include "adapters/embedded/rocks_directory.hpp"
#include "adapters/embedded/rocks_log.hpp"
#include "adapters/embedded/rocks_message_store.hpp"

namespace parley::app {

namespace {

template <class T>
Result<std::unique_ptr<T>> named(Result<std::unique_ptr<T>> r, std::string_view what) {
  if (r) return r;
  return make_error(r.error().code, "cannot open " + std::string(what) + ": " + r.error().message);
}

}  // namespace

Result<Engines> open_engines(const Config& config) {
  std::error_code fs_error;
  std::filesystem::create_directories(config.data_dir, fs_error);
  if (fs_error) return make_error(ErrorCode::unavailable, "cannot create " + config.data_dir + ": " + fs_error.message());
  const std::filesystem::path data(config.data_dir);

  Engines engines;
  auto log = named(embedded::RocksLog::open({.path = (data / "log").string(),
                                             .partitions = config.log_partitions,
                                             .durability = config.durability}),
                   "the message log");
  if (!log) return std::move(log).error();
  engines.log = std::move(log.value());

  auto store = named(embedded::RocksMessageStore::open((data / "store").string(), config.durability), "the message store");
  if (!store) return std::move(store).error();
  engines.store = std::move(store.value());

  auto directory = named(embedded::RocksDirectory::open((data / "directory").string()), "the directory");
  if (!directory) return std::move(directory).error();
  engines.directory = std::move(directory.value());

  engines.state = std::make_unique<embedded::MemoryStateStore>();
  return engines;
}

}  // namespace parley::app
