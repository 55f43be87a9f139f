#include "config.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace parley::app {
namespace {

TEST(Config, DefaultsServeTheEmbeddedEnginesOnLoopback8080) {
  auto out = parse_config({}, {});
  ASSERT_TRUE(out.config.has_value());
  EXPECT_EQ(out.config->gateway.host, "127.0.0.1");
  EXPECT_EQ(out.config->gateway.port, 8080);
  EXPECT_EQ(out.config->data_dir, "./parley-data");
  EXPECT_EQ(out.config->gateway.max_frame, 65536U);
  EXPECT_EQ(out.config->durability, embedded::Durability::fsync);
}

TEST(Config, FlagsOverrideEnvironment) {
  auto out = parse_config({"--listen", "0.0.0.0:9000", "--node-id=12"},
                          {"PARLEY_LISTEN=127.0.0.1:7000", "PARLEY_DATA_DIR=/tmp/x", "PARLEY_NODE_ID=4"});
  ASSERT_TRUE(out.config.has_value()) << out.message;
  EXPECT_EQ(out.config->gateway.host, "0.0.0.0");
  EXPECT_EQ(out.config->gateway.port, 9000);
  EXPECT_EQ(out.config->data_dir, "/tmp/x");
  EXPECT_EQ(out.config->node_id, 12U);
}

TEST(Config, BadValuesAreRefusedWithAMessage) {
  for (auto args : std::vector<std::vector<std::string>>{
           {"--node-id", "1024"}, {"--listen", "nohost"}, {"--durability", "maybe"}, {"--bogus"}, {"--threads"}}) {
    auto out = parse_config(args, {});
    EXPECT_FALSE(out.config.has_value()) << args[0];
    EXPECT_EQ(out.exit_code, 2);
    EXPECT_FALSE(out.message.empty());
  }
  auto env = parse_config({}, {"PARLEY_MAX_FRAME=abc"});
  EXPECT_FALSE(env.config.has_value());
}

TEST(Config, PushLeaseDefaultsToAMinuteAndRefusesLessThanASecond) {
  EXPECT_EQ(parse_config({}, {}).config->push.lease, std::chrono::milliseconds(60000));
  auto set = parse_config({"--push-lease-ms", "15000"}, {});
  ASSERT_TRUE(set.config.has_value()) << set.message;
  EXPECT_EQ(set.config->push.lease, std::chrono::milliseconds(15000));
  EXPECT_EQ(parse_config({}, {"PARLEY_PUSH_LEASE_MS=20000"}).config->push.lease, std::chrono::milliseconds(20000));
  EXPECT_FALSE(parse_config({"--push-lease-ms", "10"}, {}).config.has_value());
}

// The pipeline steps' interval: 5 ms on the embedded log, 20 ms on Kafka
// (a batch there costs engine requests whatever its size), unless given.
TEST(Config, StepIntervalDefaultsByTheLogAndIsAFlagAndAVariable) {
  EXPECT_EQ(parse_config({}, {}).config->step_interval, std::chrono::milliseconds(5));
  EXPECT_EQ(parse_config({"--kafka", "127.0.0.1:9092"}, {}).config->step_interval, std::chrono::milliseconds(20));
  auto set = parse_config({"--kafka", "127.0.0.1:9092", "--step-interval-ms", "7"}, {});
  ASSERT_TRUE(set.config.has_value()) << set.message;
  EXPECT_EQ(set.config->step_interval, std::chrono::milliseconds(7));
  EXPECT_EQ(parse_config({}, {"PARLEY_STEP_INTERVAL_MS=12"}).config->step_interval, std::chrono::milliseconds(12));
  EXPECT_FALSE(parse_config({"--step-interval-ms", "0"}, {}).config.has_value());
  EXPECT_FALSE(parse_config({"--step-interval-ms", "1001"}, {}).config.has_value());
}

TEST(Config, LogLevelIsAFlagAVariableAndAConfigNameAndVerboseIsDebug) {
  EXPECT_EQ(parse_config({}, {}).config->log_level, log::Level::info);
  EXPECT_EQ(parse_config({"--log-level", "warn"}, {}).config->log_level, log::Level::warn);
  EXPECT_EQ(parse_config({}, {"PARLEY_LOG_LEVEL=error"}).config->log_level, log::Level::error);
  EXPECT_EQ(parse_config({"--verbose"}, {"PARLEY_LOG_LEVEL=error"}).config->log_level, log::Level::debug);
  EXPECT_FALSE(parse_config({"--log-level", "loud"}, {}).config.has_value());
}

// --verbose, like every other setting, is also a variable and a config
// file name; on the command line the flag alone is on.
TEST(Config, VerboseIsAFlagAVariableAndAConfigName) {
  EXPECT_EQ(parse_config({}, {"PARLEY_VERBOSE=on"}).config->log_level, log::Level::debug);
  EXPECT_EQ(parse_config({}, {"PARLEY_VERBOSE=off"}).config->log_level, log::Level::info);
  EXPECT_EQ(parse_config({"--verbose=on"}, {}).config->log_level, log::Level::debug);
  EXPECT_EQ(parse_config({"--verbose=off", "--log-level", "warn"}, {}).config->log_level, log::Level::warn);
  // The flag alone takes no value: what follows it is the next option.
  auto alone = parse_config({"--verbose", "--log-format", "json"}, {});
  ASSERT_TRUE(alone.config.has_value()) << alone.message;
  EXPECT_EQ(alone.config->log_level, log::Level::debug);
  EXPECT_EQ(alone.config->log_format, log::Format::json);
  EXPECT_FALSE(parse_config({}, {"PARLEY_VERBOSE=loud"}).config.has_value());

  const auto path = std::filesystem::temp_directory_path() / ("parley-verbose-config-" + std::to_string(::getpid()));
  {
    std::ofstream file(path);
    file << "verbose = on\n";
  }
  auto from_file = parse_config({"--config", path.string()}, {});
  ASSERT_TRUE(from_file.config.has_value()) << from_file.message;
  EXPECT_EQ(from_file.config->log_level, log::Level::debug);
  std::filesystem::remove(path);
  EXPECT_NE(usage().find("--verbose  (PARLEY_VERBOSE)"), std::string::npos);
}

TEST(Config, LogFormatIsAFlagAVariableAndAConfigName) {
  EXPECT_EQ(parse_config({}, {}).config->log_format, log::Format::text);
  EXPECT_EQ(parse_config({"--log-format", "json"}, {}).config->log_format, log::Format::json);
  EXPECT_EQ(parse_config({}, {"PARLEY_LOG_FORMAT=json"}).config->log_format, log::Format::json);
  EXPECT_EQ(parse_config({"--log-format=text"}, {"PARLEY_LOG_FORMAT=json"}).config->log_format, log::Format::text);
  EXPECT_FALSE(parse_config({"--log-format", "xml"}, {}).config.has_value());

  // The config file takes either name; the environment overrides it.
  const auto path = std::filesystem::temp_directory_path() / ("parley-log-config-" + std::to_string(::getpid()));
  {
    std::ofstream file(path);
    file << "log-format = json\nPARLEY_LOG_LEVEL = warn\n";
  }
  auto from_file = parse_config({"--config", path.string()}, {});
  ASSERT_TRUE(from_file.config.has_value()) << from_file.message;
  EXPECT_EQ(from_file.config->log_format, log::Format::json);
  EXPECT_EQ(from_file.config->log_level, log::Level::warn);
  EXPECT_EQ(parse_config({"--config", path.string()}, {"PARLEY_LOG_FORMAT=text"}).config->log_format,
            log::Format::text);
  std::filesystem::remove(path);
}

TEST(Config, ConnectionLimitsAreFlagsAndVariablesWithDefaults) {
  auto defaults = parse_config({}, {});
  ASSERT_TRUE(defaults.config.has_value());
  EXPECT_EQ(defaults.config->gateway.max_connections, 0U);  // derived from the descriptor limit at start
  EXPECT_EQ(defaults.config->gateway.max_connections_per_address, 256U);
  EXPECT_EQ(defaults.config->gateway.max_connections_per_user, 64U);
  EXPECT_EQ(defaults.config->gateway.max_devices_per_user, 32U);
  auto out = parse_config({"--max-connections", "1000", "--max-connections-per-user=3"},
                          {"PARLEY_MAX_CONNECTIONS_PER_ADDRESS=10", "PARLEY_MAX_DEVICES_PER_USER=2"});
  ASSERT_TRUE(out.config.has_value()) << out.message;
  EXPECT_EQ(out.config->gateway.max_connections, 1000U);
  EXPECT_EQ(out.config->gateway.max_connections_per_address, 10U);
  EXPECT_EQ(out.config->gateway.max_connections_per_user, 3U);
  EXPECT_EQ(out.config->gateway.max_devices_per_user, 2U);
  EXPECT_FALSE(parse_config({"--max-connections", "0"}, {}).config.has_value());
  EXPECT_NE(usage().find("--max-connections-per-address"), std::string::npos);
}

// --fanout-read-threshold once only bounded --max-group-members; a config
// file, environment or script that still names it keeps working, and says so.
TEST(Config, ARetiredSettingIsAcceptedAndIgnoredWithAWarning) {
  EXPECT_TRUE(parse_config({}, {}).warnings.empty());

  auto flag = parse_config({"--fanout-read-threshold", "50", "--max-group-members=80"}, {});
  ASSERT_TRUE(flag.config.has_value()) << flag.message;
  EXPECT_EQ(flag.config->max_group_members, 80U);  // once refused: above the threshold
  ASSERT_EQ(flag.warnings.size(), 1U);
  EXPECT_NE(flag.warnings[0].find("--fanout-read-threshold"), std::string::npos) << flag.warnings[0];
  EXPECT_NE(flag.warnings[0].find("ignored"), std::string::npos) << flag.warnings[0];
  EXPECT_EQ(parse_config({"--fanout-read-threshold=anything"}, {}).warnings.size(), 1U);
  EXPECT_FALSE(parse_config({"--fanout-read-threshold"}, {}).config.has_value());  // a flag still needs a value

  auto env = parse_config({}, {"PARLEY_FANOUT_READ_THRESHOLD=100"});
  ASSERT_TRUE(env.config.has_value()) << env.message;
  EXPECT_EQ(env.warnings.size(), 1U);

  const auto path = std::filesystem::temp_directory_path() / ("parley-retired-config-" + std::to_string(::getpid()));
  {
    std::ofstream file(path);
    file << "fanout-read-threshold = 100\nPARLEY_FANOUT_READ_THRESHOLD = 100\nmax-group-members = 50\n";
  }
  auto file = parse_config({"--config", path.string()}, {});
  std::filesystem::remove(path);
  ASSERT_TRUE(file.config.has_value()) << file.message;
  EXPECT_EQ(file.config->max_group_members, 50U);
  ASSERT_EQ(file.warnings.size(), 2U);
  EXPECT_NE(file.warnings[0].find(path.string() + ":1"), std::string::npos) << file.warnings[0];

  EXPECT_NE(usage().find("--fanout-read-threshold"), std::string::npos);  // --help says it is retired
}

TEST(Config, DrainGraceDefaultsToNone) {
  EXPECT_EQ(parse_config({}, {}).config->drain_grace, std::chrono::milliseconds(0));
  EXPECT_EQ(parse_config({"--drain-grace-ms", "15000"}, {}).config->drain_grace, std::chrono::milliseconds(15000));
  EXPECT_FALSE(parse_config({"--drain-grace-ms", "-1"}, {}).config.has_value());
}

TEST(Config, SessionTtlTakesAUnitAndRegistrationIsOpenOrClosed) {
  using std::chrono::hours;
  using std::chrono::milliseconds;
  const auto defaults = parse_config({}, {});
  EXPECT_EQ(defaults.config->session_ttl, hours(24 * 30));
  EXPECT_TRUE(defaults.config->registration_open);
  EXPECT_EQ(parse_config({"--session-ttl", "12h"}, {}).config->session_ttl, hours(12));
  EXPECT_EQ(parse_config({"--session-ttl=90"}, {}).config->session_ttl, milliseconds(90'000));  // seconds
  EXPECT_EQ(parse_config({}, {"PARLEY_SESSION_TTL=1500ms"}).config->session_ttl, milliseconds(1500));
  EXPECT_EQ(parse_config({}, {"PARLEY_SESSION_TTL=7d"}).config->session_ttl, hours(24 * 7));
  for (const char* bad : {"", "0", "500ms", "3w", "-1d", "d", "99999d"}) {
    EXPECT_FALSE(parse_config({"--session-ttl", bad}, {}).config.has_value()) << bad;
  }
  EXPECT_FALSE(parse_config({"--registration", "closed"}, {}).config->registration_open);
  EXPECT_TRUE(parse_config({}, {"PARLEY_REGISTRATION=open"}).config->registration_open);
  EXPECT_FALSE(parse_config({"--registration", "invite"}, {}).config.has_value());
  EXPECT_NE(usage().find("--session-ttl"), std::string::npos);
  EXPECT_NE(usage().find("--registration"), std::string::npos);
}

TEST(Config, TlsNeedsBothTheCertificateAndTheKey) {
  const auto plain = parse_config({}, {});
  EXPECT_TRUE(plain.config->tls_cert.empty());
  EXPECT_TRUE(plain.config->tls_key.empty());
  const auto both = parse_config({"--tls-cert", "/etc/parley/cert.pem"}, {"PARLEY_TLS_KEY=/etc/parley/key.pem"});
  ASSERT_TRUE(both.config.has_value()) << both.message;
  EXPECT_EQ(both.config->tls_cert, "/etc/parley/cert.pem");
  EXPECT_EQ(both.config->tls_key, "/etc/parley/key.pem");
  // One without the other stops the start, naming the one missing.
  const auto no_key = parse_config({"--tls-cert", "cert.pem"}, {});
  EXPECT_FALSE(no_key.config.has_value());
  EXPECT_EQ(no_key.exit_code, 2);
  EXPECT_NE(no_key.message.find("--tls-key is not"), std::string::npos) << no_key.message;
  const auto no_cert = parse_config({}, {"PARLEY_TLS_KEY=key.pem"});
  EXPECT_FALSE(no_cert.config.has_value());
  EXPECT_NE(no_cert.message.find("--tls-cert is not"), std::string::npos) << no_cert.message;
  EXPECT_NE(usage().find("--tls-cert"), std::string::npos);
  EXPECT_NE(usage().find("--tls-key"), std::string::npos);
}

TEST(Config, CorsOriginsAreOriginsWithoutPaths) {
  EXPECT_TRUE(parse_config({}, {}).config->gateway.cors_origins.empty());
  const auto two = parse_config({"--cors-origins", "https://Chat.Example.com, http://localhost:5173"}, {});
  ASSERT_TRUE(two.config.has_value()) << two.message;
  EXPECT_EQ(two.config->gateway.cors_origins,
            (std::vector<std::string>{"https://chat.example.com", "http://localhost:5173"}));
  EXPECT_EQ(parse_config({}, {"PARLEY_CORS_ORIGINS=https://a.example"}).config->gateway.cors_origins,
            (std::vector<std::string>{"https://a.example"}));
  for (const char* bad : {"", ",", "chat.example.com", "https://", "https://a.example/", "https://a.example/app",
                          "ftp://a.example", "https://user@a.example", "https://a .example"}) {
    EXPECT_FALSE(parse_config({"--cors-origins", bad}, {}).config.has_value()) << bad;
  }
  EXPECT_NE(usage().find("--cors-origins"), std::string::npos);
}

TEST(Config, VersionPrintsTheVersionCommitAndBuildTypeAndExitsZero) {
  auto out = parse_config({"--listen", "127.0.0.1:0", "--version"}, {});
  EXPECT_FALSE(out.config.has_value());
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_EQ(out.message, version_text());
  EXPECT_TRUE(out.message.starts_with("parleyd ")) << out.message;
  EXPECT_NE(out.message.find("\ncommit "), std::string::npos) << out.message;
  EXPECT_NE(out.message.find("\nbuild type "), std::string::npos) << out.message;
}

TEST(Config, HelpExitsZero) {
  auto out = parse_config({"--help"}, {});
  EXPECT_FALSE(out.config.has_value());
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_NE(out.message.find("--data-dir"), std::string::npos);
}

TEST(Config, EngineCredentialsAreFlagsVariablesAndConfigNamesOfFiles) {
  auto out = parse_config({"--redis-user", "parley", "--cassandra-password-file=/run/secrets/cass"},
                          {"PARLEY_REDIS_PASSWORD_FILE=/run/secrets/redis", "PARLEY_CASSANDRA_USER=chat"});
  ASSERT_TRUE(out.config.has_value()) << out.message;
  EXPECT_EQ(out.config->engines.redis_user, "parley");
  EXPECT_EQ(out.config->engines.redis_password_file, "/run/secrets/redis");
  EXPECT_EQ(out.config->engines.cassandra_user, "chat");
  EXPECT_EQ(out.config->engines.cassandra_password_file, "/run/secrets/cass");
  // TLS to Redis and Cassandra: a CA file each turns it on.
  auto tls = parse_config({"--redis-ca-file", "/etc/parley/redis-ca.pem"},
                          {"PARLEY_CASSANDRA_CA_FILE=/etc/parley/cassandra-ca.pem"});
  ASSERT_TRUE(tls.config.has_value()) << tls.message;
  EXPECT_EQ(tls.config->engines.redis_ca_file, "/etc/parley/redis-ca.pem");
  EXPECT_EQ(tls.config->engines.cassandra_ca_file, "/etc/parley/cassandra-ca.pem");
  // A password is never a setting's value: only the file it is in.
  EXPECT_FALSE(parse_config({"--redis-password", "x"}, {}).config.has_value());
  EXPECT_FALSE(parse_config({"--cassandra-password", "x"}, {}).config.has_value());
  const std::string help = usage();
  for (const char* flag : {"--redis-user", "--redis-password-file", "--redis-ca-file", "--cassandra-user",
                           "--cassandra-password-file", "--cassandra-ca-file"}) {
    EXPECT_NE(help.find(flag), std::string::npos) << flag;
  }
}

}  // namespace
}  // namespace parley::app
