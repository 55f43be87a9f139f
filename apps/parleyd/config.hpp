#pragma once
// parleyd's settings: defaults, then environment variables (PARLEY_*), then
// command-line flags, each overriding the one before.

#include <optional>
#include <string>
#include <vector>

#include "adapters/embedded/durability.hpp"
#include "core/log.hpp"
#include "gateway/context.hpp"
#include "services/auth.hpp"

namespace parley::app {

// Push notifications (docs/PUSH.md). A platform whose credentials are not
// set is served by the log sink.
struct PushConfig {
  std::string apns_url = "https://api.push.apple.com";
  std::string apns_key_file;  // the team's .p8 key; set: APNs is on
  std::string apns_key_id;
  std::string apns_team_id;
  std::string apns_topic;
  std::string fcm_url = "https://fcm.googleapis.com";
  std::string fcm_token_url;        // empty: the service account's token_uri
  std::string fcm_service_account;  // the service account JSON; set: FCM is on
  std::string fcm_project_id;       // empty: the service account's project_id
  std::string ca_file;              // extra trust anchor for both services (tests)
  std::chrono::milliseconds batch_window{2000};
  std::chrono::milliseconds pair_interval{5000};
  std::chrono::milliseconds retry_base{200};
  std::chrono::milliseconds lease{60000};  // a closed batch's claim, before another server may take it over
  bool previews = true;
};

// The scale-out engines (docs/ENGINES.md). An engine whose address is empty
// is served by its embedded counterpart.
struct EnginesConfig {
  std::string kafka;  // bootstrap brokers, "host:port,host:port": the message log
  // How to reach the brokers (docs/OPERATIONS.md, "Engine credentials"):
  // librdkafka's security.protocol, the SASL mechanism and credentials for
  // sasl_*, the CA for ssl and sasl_ssl.
  std::string kafka_security_protocol = "plaintext";  // plaintext|sasl_plaintext|ssl|sasl_ssl
  std::string kafka_sasl_mechanism = "PLAIN";         // PLAIN|SCRAM-SHA-256|SCRAM-SHA-512
  std::string kafka_user;
  std::string kafka_password_file;  // the SASL password, read from this file at start
  std::string kafka_ca_file;        // PEM CA certificates for the brokers'; empty: the system's
  std::string redis;                // "host:port": the state store (presence, routes, pub/sub)
  std::string redis_user;           // Redis AUTH user; empty: the default user
  std::string redis_password_file;  // Redis AUTH password, read from this file at start; empty: no AUTH
  std::string redis_ca_file;        // set: TLS to Redis, checked against these CAs (PEM)
  std::string postgres;             // a libpq URL or key=value string: the directory
  // Keeps deployments sharing engines apart: Kafka topic and group prefix,
  // Redis key prefix, PostgreSQL schema.
  std::string name_space = "parley";
  int kafka_replication = -1;                           // for topics parleyd creates; -1: the brokers' default
  std::chrono::milliseconds kafka_send_timeout{10000};  // an unacknowledged send fails after this
  std::size_t postgres_pool = 8;                        // connections per server
  // "host:port,host:port": Cassandra contact points (the message store); the
  // keyspace is name_space.
  std::string cassandra;
  std::string cassandra_user;           // PasswordAuthenticator role; empty: no credentials
  std::string cassandra_password_file;  // its password, read from this file at start
  std::string cassandra_ca_file;        // set: TLS to every node, checked against these CAs (PEM)
  std::string cassandra_consistency = "LOCAL_QUORUM";
  std::string cassandra_replication = "{'class': 'SimpleStrategy', 'replication_factor': 1}";
};

struct Config {
  gateway::GatewayOptions gateway;
  std::string data_dir = "./parley-data";
  std::uint32_t node_id = 0;
  int log_partitions = 8;
  // The least time between two batches of the sequencer, the store writer
  // and the inbox owner: --step-interval-ms, else what parse_config settles
  // for the log (5 ms embedded, 20 ms on Kafka; config.cpp says why).
  std::chrono::milliseconds step_interval{0};
  embedded::Durability durability = embedded::Durability::fsync;
  services::Auth::HashCost hash_cost = services::Auth::HashCost::interactive;
  // Failed logins before the backoff, per username and per source address
  // (services/auth.hpp; 0: no limit).
  int login_failures_per_username = 5;
  int login_failures_per_address = 20;
  // A session ends this long after its token was last used (sliding).
  std::chrono::milliseconds session_ttl{std::chrono::hours(24 * 30)};
  bool registration_open = true;  // --registration open|closed
  std::chrono::milliseconds presence_ttl{30000};
  std::chrono::milliseconds presence_heartbeat{5000};  // the ping interval clients are expected to keep
  std::chrono::milliseconds presence_debounce{2000};   // a status change reverted within this sends nothing
  std::size_t max_group_members = 100;                 // a group holds at most this many members
  bool room_add_friends_only = true;                   // --room-add friends|anyone
  std::chrono::milliseconds typing_interval{2000};
  PushConfig push;
  EnginesConfig engines;
  log::Level log_level = log::Level::info;  // --log-level; --verbose is --log-level debug
  log::Format log_format = log::Format::text;
  // After SIGTERM or SIGINT, how long to keep serving, with /v1/readyz
  // answering 503 "draining", before the drain begins: time for load
  // balancers to stop sending new clients. A second signal ends it early.
  std::chrono::milliseconds drain_grace{0};
  // TLS (docs/OPERATIONS.md, "TLS"): the certificate chain and private key,
  // PEM; both set: the listener serves HTTPS and WSS only. Neither: plain.
  std::string tls_cert;
  std::string tls_key;
  // The web app's built files, served at `/` (gateway::set_web_dir); empty:
  // the built-in page. resolve_web_dir fills in the default.
  std::string web_dir;
};

struct ParseOutcome {
  std::optional<Config> config;  // empty: exit with `exit_code` after printing `message`
  int exit_code = 0;
  std::string message;
  // Settings given that no longer do anything (retired: accepted, ignored):
  // one line each, for the server to log once logging is set up.
  std::vector<std::string> warnings;
};

// Reads the environment (`env` as "NAME=value" strings) and the arguments.
[[nodiscard]] ParseOutcome parse_config(const std::vector<std::string>& args, const std::vector<std::string>& env);

[[nodiscard]] std::string usage();

// Settles the web app's folder to serve (Config::web_dir): the one
// given (--web-dir) if it is a directory, else a `web` folder with an
// index.html next to this binary if there is one, else "" (the built-in
// page). Returns an error message when the folder given is no directory.
[[nodiscard]] std::optional<std::string> resolve_web_dir(std::string& web_dir);

// What --version prints: the version, the git commit and the build type.
[[nodiscard]] std::string version_text();

}  // namespace parley::app
