#include "engines.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>

#include "adapters/cassandra/cassandra_message_store.hpp"
#include "adapters/embedded/file_log.hpp"
#include "adapters/embedded/memory_state_store.hpp"
#include "adapters/embedded/rocks_directory.hpp"
#include "adapters/embedded/rocks_message_store.hpp"
#include "adapters/embedded/rocks_push_ledger.hpp"
#include "adapters/embedded/rocks_push_tokens.hpp"
#include "adapters/embedded/rocks_rooms.hpp"
#include "adapters/embedded/rocks_sequencer_state.hpp"
#include "adapters/embedded/rocks_social_graph.hpp"
#include "adapters/embedded/sqlite_search_index.hpp"
#include "adapters/kafka/kafka_log.hpp"
#include "adapters/postgres/postgres_directory.hpp"
#include "adapters/postgres/postgres_push_ledger.hpp"
#include "adapters/postgres/postgres_push_tokens.hpp"
#include "adapters/postgres/postgres_rooms.hpp"
#include "adapters/postgres/postgres_search_index.hpp"
#include "adapters/postgres/postgres_social_graph.hpp"
#include "adapters/push/apns_client.hpp"
#include "adapters/push/fcm_client.hpp"
#include "adapters/push/log_push_sender.hpp"
#include "adapters/push/platform_router.hpp"
#include "adapters/redis/redis_state_store.hpp"
#include "services/push_step.hpp"
#include "services/records.hpp"

namespace parley::app {

namespace {

template <class T>
Result<std::unique_ptr<T>> named(Result<std::unique_ptr<T>> r, std::string_view what) {
  if (r) return r;
  return make_error(r.error().code, "cannot open " + std::string(what) + ": " + r.error().message);
}

// A secret kept in a file (an engine's password): the file's content less
// one final line break. An error names the flag and the file, never the
// content.
Result<std::string> read_secret_file(const std::string& path, std::string_view flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::bad_request, std::string(flag) + ": cannot read " + path);
  std::string secret((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (secret.ends_with('\n')) secret.pop_back();
  if (secret.ends_with('\r')) secret.pop_back();
  if (secret.empty()) return make_error(ErrorCode::bad_request, std::string(flag) + ": " + path + " is empty");
  return secret;
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

// How parleyd reaches the Kafka brokers, from the --kafka-* settings: the
// password read from its file, the settings that only make sense together
// checked together.
Result<kafka::KafkaSecurity> kafka_security(const EnginesConfig& engines) {
  kafka::KafkaSecurity security;
  security.protocol = engines.kafka_security_protocol;
  const bool sasl = security.protocol.starts_with("sasl_");
  const bool tls = security.protocol.ends_with("ssl");
  if (sasl) {
    if (engines.kafka_user.empty() || engines.kafka_password_file.empty()) {
      return make_error(ErrorCode::bad_request, "--kafka-security-protocol " + security.protocol +
                                                    " needs --kafka-user and --kafka-password-file");
    }
    auto password = read_secret_file(engines.kafka_password_file, "--kafka-password-file");
    if (!password) return std::move(password).error();
    security.sasl_mechanism = engines.kafka_sasl_mechanism;
    security.user = engines.kafka_user;
    security.password = std::move(password).value();
  } else if (!engines.kafka_user.empty() || !engines.kafka_password_file.empty()) {
    return make_error(ErrorCode::bad_request,
                      "--kafka-user and --kafka-password-file need --kafka-security-protocol sasl_plaintext or "
                      "sasl_ssl");
  }
  if (!engines.kafka_ca_file.empty()) {
    if (!tls) {
      return make_error(ErrorCode::bad_request, "--kafka-ca-file needs --kafka-security-protocol ssl or sasl_ssl");
    }
    if (!std::ifstream(engines.kafka_ca_file)) {
      return make_error(ErrorCode::bad_request, "--kafka-ca-file: cannot read " + engines.kafka_ca_file);
    }
    security.ca_file = engines.kafka_ca_file;
  }
  return security;
}

// The message log: Kafka when --kafka names brokers, else the embedded log.
// parleyd's topics are created at open so that no send waits for that.
Result<std::unique_ptr<ports::MessageLog>> open_log(const Config& config, const std::filesystem::path& data,
                                                    std::vector<services::EngineProbe>& probes) {
  if (config.engines.kafka.empty()) {
    auto log = embedded::FileLog::open({.path = (data / "log").string(),
                                        .partitions = config.log_partitions,
                                        .durability = config.durability,
                                        .kept_topics = {std::string(records::kSequencedTopic)},
                                        // Read before its sync. No step writes it on this log any
                                        // more (the store writer places the entries, node.cpp); an
                                        // earlier version's records are read once, first.
                                        .early_topics = {std::string(records::kInboxesTopic)},
                                        // Never synced: the sequencer acknowledges from its changelog,
                                        // which is, so a send lost with its record was not answered.
                                        .unsynced_topics = {std::string(records::kConversationsTopic)},
                                        // Sends wait up to 1 ms to share a write: the sequencer takes
                                        // a batch at most every 5 ms by default (--step-interval-ms) anyway.
                                        .unsynced_linger = std::chrono::milliseconds(1)});
    if (!log) return std::move(log).error();
    // On this log the push step reads the changelog (node.cpp); a server
    // upgraded from one where it read "inboxes" begins there where the store
    // writer is: what lies before was made into inbox records, which the
    // step reads first.
    if (auto seeded =
            log.value()->seed_group(records::kSequencedTopic, services::kPushGroup, records::kStoreWriterGroup);
        !seeded) {
      return std::move(seeded).error();
    }
    return std::unique_ptr<ports::MessageLog>(std::move(log).value());
  }
  kafka::KafkaOptions options;
  options.brokers = config.engines.kafka;
  auto security = kafka_security(config.engines);
  if (!security) return std::move(security).error();
  options.security = std::move(security).value();
  options.prefix = config.engines.name_space + ".";
  options.partitions = config.log_partitions;
  options.replication_factor = config.engines.kafka_replication;
  options.send_timeout = config.engines.kafka_send_timeout;
  // Static group membership: a restarted server takes its partitions back
  // at once. Node ids are unique per live server (Snowflake ids need that).
  options.instance_id = "node-" + std::to_string(config.node_id);
  // The sequencer's changelog is kept forever: a server rebuilds its
  // sequencer state from it (ports/sequencer_state.hpp).
  options.kept_topics = {std::string(records::kSequencedTopic)};
  auto log =
      kafka::KafkaLog::open(options, {std::string(records::kConversationsTopic), std::string(records::kSequencedTopic),
                                      std::string(records::kInboxesTopic)});
  if (!log) return std::move(log).error();
  kafka::KafkaLog* kafka = log.value().get();
  probes.push_back({"kafka", [kafka](std::chrono::milliseconds timeout) { return kafka->probe(timeout); }});
  return std::unique_ptr<ports::MessageLog>(std::move(log).value());
}

// The state store: Redis when --redis names one, else in-process maps.
Result<std::unique_ptr<ports::StateStore>> open_state(const Config& config,
                                                      std::vector<services::EngineProbe>& probes) {
  if (config.engines.redis.empty())
    return std::unique_ptr<ports::StateStore>(std::make_unique<embedded::MemoryStateStore>());
  const auto colon = config.engines.redis.rfind(':');
  redis::RedisStateStoreOptions options;
  options.redis.host = config.engines.redis.substr(0, colon);
  if (colon != std::string::npos) {
    try {
      options.redis.port = std::stoi(config.engines.redis.substr(colon + 1));
    } catch (const std::exception&) {
      return make_error(ErrorCode::bad_request, "--redis wants HOST:PORT, not " + config.engines.redis);
    }
  }
  if (!config.engines.redis_password_file.empty()) {
    auto password = read_secret_file(config.engines.redis_password_file, "--redis-password-file");
    if (!password) return std::move(password).error();
    options.redis.password = std::move(password).value();
    options.redis.user = config.engines.redis_user;
  } else if (!config.engines.redis_user.empty()) {
    return make_error(ErrorCode::bad_request, "--redis-user needs --redis-password-file");
  }
  options.redis.ca_file = config.engines.redis_ca_file;
  options.prefix = config.engines.name_space + ":";
  auto state = redis::RedisStateStore::open(std::move(options));
  if (!state) return std::move(state).error();
  redis::RedisStateStore* redis = state.value().get();
  probes.push_back({"redis", [redis](std::chrono::milliseconds) { return redis->probe(); }});
  return std::unique_ptr<ports::StateStore>(std::move(state).value());
}

// A port of the directory's engine (DESIGN.md: users, friendships, rooms,
// push tokens; here also the push ledger and the search index): PostgreSQL
// when --postgres names one, so that every server shares it, else the
// embedded adapter that `embedded()` opens under the data directory.
template <class Port, class Postgres, class OpenEmbedded>
Result<std::unique_ptr<Port>> directory_engine(const Config& config, OpenEmbedded embedded) {
  auto upcast = [](auto opened) -> Result<std::unique_ptr<Port>> {
    if (!opened) return std::move(opened).error();
    return std::unique_ptr<Port>(std::move(opened).value());
  };
  if (config.engines.postgres.empty()) return upcast(embedded());
  return upcast(Postgres::open({.conninfo = config.engines.postgres,
                                .schema = config.engines.name_space,
                                .size = config.engines.postgres_pool}));
}

// The directory also stands for PostgreSQL in readiness: every port there
// shares the one server.
Result<std::unique_ptr<ports::Directory>> open_directory(const Config& config, const std::filesystem::path& data,
                                                         std::vector<services::EngineProbe>& probes) {
  auto directory = directory_engine<ports::Directory, postgres::PostgresDirectory>(
      config, [&] { return embedded::RocksDirectory::open((data / "directory").string()); });
  if (directory && !config.engines.postgres.empty()) {
    auto* postgres = static_cast<postgres::PostgresDirectory*>(directory.value().get());
    probes.push_back({"postgres", [postgres](std::chrono::milliseconds) { return postgres->probe(); }});
  }
  return directory;
}

Result<std::unique_ptr<ports::Rooms>> open_rooms(const Config& config, const std::filesystem::path& data) {
  return directory_engine<ports::Rooms, postgres::PostgresRooms>(
      config, [&] { return embedded::RocksRooms::open((data / "rooms").string()); });
}

Result<std::unique_ptr<ports::SocialGraph>> open_social(const Config& config, const std::filesystem::path& data) {
  return directory_engine<ports::SocialGraph, postgres::PostgresSocialGraph>(
      config, [&] { return embedded::RocksSocialGraph::open((data / "social").string()); });
}

Result<std::unique_ptr<ports::PushTokens>> open_push_tokens(const Config& config, const std::filesystem::path& data) {
  return directory_engine<ports::PushTokens, postgres::PostgresPushTokens>(
      config, [&] { return embedded::RocksPushTokens::open((data / "push-tokens").string()); });
}

// Shared by every server's push step and dispatcher on PostgreSQL; embedded,
// under the server's durability policy.
Result<std::unique_ptr<ports::PushLedger>> open_push_ledger(const Config& config, const std::filesystem::path& data) {
  return directory_engine<ports::PushLedger, postgres::PostgresPushLedger>(
      config, [&] { return embedded::RocksPushLedger::open((data / "push-ledger").string(), config.durability); });
}

// PostgreSQL full-text search (one index for every server), else SQLite FTS5.
Result<std::unique_ptr<ports::SearchIndex>> open_search(const Config& config, const std::filesystem::path& data) {
  return directory_engine<ports::SearchIndex, postgres::PostgresSearchIndex>(
      config, [&] { return embedded::SqliteSearchIndex::open((data / "search.sqlite").string()); });
}

// The message store: Cassandra when --cassandra names contact points, else
// RocksDB.
Result<std::unique_ptr<ports::MessageStore>> open_store(const Config& config, const std::filesystem::path& data,
                                                        std::vector<services::EngineProbe>& probes) {
  if (config.engines.cassandra.empty()) {
    auto store = embedded::RocksMessageStore::open((data / "store").string(), config.durability);
    if (!store) return std::move(store).error();
    return std::unique_ptr<ports::MessageStore>(std::move(store).value());
  }
  cassandra::CassandraStoreOptions options;
  options.cql.contact_points.clear();
  for (std::size_t start = 0; start <= config.engines.cassandra.size();) {
    const auto comma = std::min(config.engines.cassandra.find(',', start), config.engines.cassandra.size());
    if (comma > start) options.cql.contact_points.push_back(config.engines.cassandra.substr(start, comma - start));
    start = comma + 1;
  }
  const auto consistency = cassandra::parse_consistency(config.engines.cassandra_consistency);
  if (!consistency) {
    return make_error(ErrorCode::bad_request, "unknown Cassandra consistency " + config.engines.cassandra_consistency);
  }
  options.cql.consistency = *consistency;
  if (config.engines.cassandra_user.empty() != config.engines.cassandra_password_file.empty()) {
    return make_error(ErrorCode::bad_request, "--cassandra-user and --cassandra-password-file go together");
  }
  if (!config.engines.cassandra_user.empty()) {
    auto password = read_secret_file(config.engines.cassandra_password_file, "--cassandra-password-file");
    if (!password) return std::move(password).error();
    options.cql.credentials = {.user = config.engines.cassandra_user, .password = std::move(password).value()};
  }
  options.cql.ca_file = config.engines.cassandra_ca_file;
  options.keyspace = config.engines.name_space;
  options.replication = config.engines.cassandra_replication;
  auto store = cassandra::CassandraMessageStore::open(options);
  if (!store) return std::move(store).error();
  cassandra::CassandraMessageStore* cassandra = store.value().get();
  probes.push_back({"cassandra", [cassandra](std::chrono::milliseconds timeout) { return cassandra->probe(timeout); }});
  return std::unique_ptr<ports::MessageStore>(std::move(store).value());
}

}  // namespace

Result<Engines> open_engines(const Config& config) {
  std::error_code fs_error;
  std::filesystem::create_directories(config.data_dir, fs_error);
  if (fs_error)
    return make_error(ErrorCode::unavailable, "cannot create " + config.data_dir + ": " + fs_error.message());
  const std::filesystem::path data(config.data_dir);

  Engines engines;
  auto log = named(open_log(config, data, engines.probes), "the message log");
  if (!log) return std::move(log).error();
  engines.log = std::move(log.value());

  // The sequencer's state is the server's own, beside whichever log holds
  // its changelog: one directory per log, so that state built from one log
  // is never taken for another's.
  const std::string sequencer_dir =
      config.engines.kafka.empty() ? "sequencer" : "sequencer-kafka-" + config.engines.name_space;
  auto sequencer_state =
      named(embedded::RocksSequencerState::open((data / sequencer_dir).string()), "the sequencer state");
  if (!sequencer_state) return std::move(sequencer_state).error();
  engines.sequencer_state = std::move(sequencer_state.value());

  auto store = named(open_store(config, data, engines.probes), "the message store");
  if (!store) return std::move(store).error();
  engines.store = std::move(store.value());

  auto directory = named(open_directory(config, data, engines.probes), "the directory");
  if (!directory) return std::move(directory).error();
  engines.directory = std::move(directory.value());

  auto rooms = named(open_rooms(config, data), "the rooms directory");
  if (!rooms) return std::move(rooms).error();
  engines.rooms = std::move(rooms.value());

  auto social = named(open_social(config, data), "the social graph");
  if (!social) return std::move(social).error();
  engines.social = std::move(social.value());

  auto push_tokens = named(open_push_tokens(config, data), "the push tokens");
  if (!push_tokens) return std::move(push_tokens).error();
  engines.push_tokens = std::move(push_tokens.value());

  auto push_ledger = named(open_push_ledger(config, data), "the push ledger");
  if (!push_ledger) return std::move(push_ledger).error();
  engines.push_ledger = std::move(push_ledger.value());

  auto search = named(open_search(config, data), "the search index");
  if (!search) return std::move(search).error();
  engines.search = std::move(search.value());

  auto push_sender = open_push_sender(config.push);
  if (!push_sender) return std::move(push_sender).error();
  engines.push_sender = std::move(push_sender.value());

  auto state = named(open_state(config, engines.probes), "the state store");
  if (!state) return std::move(state).error();
  engines.state = std::move(state.value());
  return engines;
}

namespace {

// A part of the backup if `engine` is the embedded adapter T, else its name
// in `elsewhere`.
template <class T, class Port, class Copy>
void add_part(std::vector<embedded::BackupPart>& parts, std::vector<std::string>& elsewhere, const std::string& name,
              const Port* engine, Copy copy) {
  if (const auto* embedded = dynamic_cast<const T*>(engine)) {
    parts.push_back({name, [embedded, copy](const std::string& to) { return copy(*embedded, to); }});
  } else {
    elsewhere.push_back(name);
  }
}

}  // namespace

std::optional<BackupPlan> backup_plan(const Engines& engines) {
  auto* log = dynamic_cast<embedded::FileLog*>(engines.log.get());
  if (log == nullptr) return std::nullopt;
  BackupPlan plan;
  plan.sources.log = log;
  auto& derived = plan.sources.derived;
  auto& requests = plan.sources.requests;
  const auto checkpoint = [](const auto& db, const std::string& to) { return db.checkpoint(to); };
  // The folder names are those open_engines gives them: a restore opens the
  // copy as a data directory.
  add_part<embedded::RocksSequencerState>(derived, plan.elsewhere, "sequencer", engines.sequencer_state.get(),
                                          checkpoint);
  add_part<embedded::RocksMessageStore>(derived, plan.elsewhere, "store", engines.store.get(), checkpoint);
  add_part<embedded::RocksPushLedger>(derived, plan.elsewhere, "push-ledger", engines.push_ledger.get(), checkpoint);
  add_part<embedded::SqliteSearchIndex>(derived, plan.elsewhere, "search.sqlite", engines.search.get(),
                                        [](const auto& index, const std::string& to) { return index.backup_to(to); });
  add_part<embedded::RocksDirectory>(requests, plan.elsewhere, "directory", engines.directory.get(), checkpoint);
  add_part<embedded::RocksRooms>(requests, plan.elsewhere, "rooms", engines.rooms.get(), checkpoint);
  add_part<embedded::RocksSocialGraph>(requests, plan.elsewhere, "social", engines.social.get(), checkpoint);
  add_part<embedded::RocksPushTokens>(requests, plan.elsewhere, "push-tokens", engines.push_tokens.get(), checkpoint);
  return plan;
}

}  // namespace parley::app
