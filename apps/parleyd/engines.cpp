#include "engines.hpp"

#include <filesystem>

#include "adapters/embedded/memory_state_store.hpp"
#include "adapters/embedded/rocks_directory.hpp"
#include "adapters/embedded/rocks_log.hpp"
#include "adapters/embedded/rocks_message_store.hpp"
#include "adapters/embedded/rocks_push_ledger.hpp"
#include "adapters/embedded/rocks_push_tokens.hpp"
#include "adapters/embedded/rocks_social_graph.hpp"
#include "adapters/push/apns_client.hpp"
#include "adapters/push/fcm_client.hpp"
#include "adapters/push/log_push_sender.hpp"
#include "adapters/push/platform_router.hpp"

namespace parley::app {

namespace {

template <class T>
Result<std::unique_ptr<T>> named(Result<std::unique_ptr<T>> r, std::string_view what) {
  if (r) return r;
  return make_error(r.error().code, "cannot open " + std::string(what) + ": " + r.error().message);
}

// APNs and FCM clients for the platforms whose credentials are set; the log
// sink for the others.
Result<std::unique_ptr<ports::PushSender>> open_push_sender(const PushConfig& c) {
  const push::RetryPolicy retry{.base = c.retry_base};
  std::unique_ptr<ports::PushSender> apns = std::make_unique<push::LogPushSender>();
  if (!c.apns_key_file.empty()) {
    auto client = push::ApnsClient::create({.base_url = c.apns_url,
                                            .key_file = c.apns_key_file,
                                            .key_id = c.apns_key_id,
                                            .team_id = c.apns_team_id,
                                            .topic = c.apns_topic,
                                            .ca_file = c.ca_file,
                                            .retry = retry});
    if (!client) return make_error(client.error().code, "cannot set up APNs: " + client.error().message);
    apns = std::move(client).value();
  }
  std::unique_ptr<ports::PushSender> fcm = std::make_unique<push::LogPushSender>();
  if (!c.fcm_service_account.empty()) {
    auto client = push::FcmClient::create({.base_url = c.fcm_url,
                                           .token_url = c.fcm_token_url,
                                           .service_account_file = c.fcm_service_account,
                                           .project_id = c.fcm_project_id,
                                           .ca_file = c.ca_file,
                                           .retry = retry});
    if (!client) return make_error(client.error().code, "cannot set up FCM: " + client.error().message);
    fcm = std::move(client).value();
  }
  return std::unique_ptr<ports::PushSender>(std::make_unique<push::PlatformRouter>(std::move(apns), std::move(fcm)));
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

  auto push_tokens = named(embedded::RocksPushTokens::open((data / "push-tokens").string()), "the push tokens");
  if (!push_tokens) return std::move(push_tokens).error();
  engines.push_tokens = std::move(push_tokens.value());

  auto push_ledger =
      named(embedded::RocksPushLedger::open((data / "push-ledger").string(), config.durability), "the push ledger");
  if (!push_ledger) return std::move(push_ledger).error();
  engines.push_ledger = std::move(push_ledger.value());

  auto push_sender = open_push_sender(config.push);
  if (!push_sender) return std::move(push_sender).error();
  engines.push_sender = std::move(push_sender.value());

  auto social = named(embedded::RocksSocialGraph::open((data / "social").string()), "the social graph");
  if (!social) return std::move(social).error();
  engines.social = std::move(social.value());

  engines.state = std::make_unique<embedded::MemoryStateStore>();
  return engines;
}

}  // namespace parley::app
