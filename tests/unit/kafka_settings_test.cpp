// The settings every Kafka client of the adapter gets (client_settings), and
// which librdkafka errors end a start at once (refusal): no broker needed.

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "adapters/kafka/kafka_handles.hpp"

namespace parley::kafka {
namespace {

std::map<std::string, std::string> as_map(const Settings& settings) { return {settings.begin(), settings.end()}; }

TEST(KafkaSettings, PlaintextSetsNoSaslAndNoTls) {
  KafkaOptions options;
  options.brokers = "k1:9092,k2:9092";
  const auto settings = client_settings(options, {{"group.id", "g"}});
  const auto map = as_map(settings);
  EXPECT_EQ(map.at("bootstrap.servers"), "k1:9092,k2:9092");
  EXPECT_EQ(map.at("security.protocol"), "plaintext");
  EXPECT_EQ(map.count("sasl.username"), 0U);
  EXPECT_EQ(map.count("ssl.ca.location"), 0U);
  // The client's own settings come after the shared ones.
  EXPECT_EQ(settings.back(), (std::pair<std::string, std::string>{"group.id", "g"}));
  EXPECT_TRUE(make_conf(settings).ok());
}

TEST(KafkaSettings, SaslSslSetsTheMechanismCredentialsAndCa) {
  KafkaOptions options;
  options.brokers = "k1:9094";
  options.security = {.protocol = "sasl_ssl",
                      .sasl_mechanism = "SCRAM-SHA-512",
                      .user = "chat",
                      .password = "s3cret",
                      .ca_file = "/etc/parley/kafka-ca.pem"};
  const auto map = as_map(client_settings(options, {}));
  EXPECT_EQ(map.at("security.protocol"), "sasl_ssl");
  EXPECT_EQ(map.at("sasl.mechanisms"), "SCRAM-SHA-512");
  EXPECT_EQ(map.at("sasl.username"), "chat");
  EXPECT_EQ(map.at("sasl.password"), "s3cret");
  EXPECT_EQ(map.at("ssl.ca.location"), "/etc/parley/kafka-ca.pem");
}

TEST(KafkaSettings, SslWithoutACaFileLeavesTheSystemsCas) {
  KafkaOptions options;
  options.brokers = "k1:9093";
  options.security.protocol = "ssl";
  const auto settings = client_settings(options, {});
  const auto map = as_map(settings);
  EXPECT_EQ(map.at("security.protocol"), "ssl");
  EXPECT_EQ(map.count("ssl.ca.location"), 0U);
  EXPECT_EQ(map.count("sasl.mechanisms"), 0U);
  // This librdkafka is built with TLS and SASL: it takes the settings.
  EXPECT_TRUE(make_conf(settings).ok());
}

TEST(KafkaSettings, ARefusedSettingIsNamedWithItsValueUnlessItIsAPassword) {
  auto refused = make_conf({{"no.such.setting", "x"}});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("no.such.setting=x"), std::string::npos) << refused.error().message;
  auto secret = make_conf({{"no.such.password", "s3cret"}});
  ASSERT_FALSE(secret.ok());
  EXPECT_NE(secret.error().message.find("no.such.password"), std::string::npos) << secret.error().message;
  EXPECT_EQ(secret.error().message.find("s3cret"), std::string::npos) << secret.error().message;
}

TEST(KafkaSettings, RefusalsAreAuthenticationAndTlsFailuresOnly) {
  EXPECT_EQ(refusal(RD_KAFKA_RESP_ERR__AUTHENTICATION, "b: SASL authentication error: bad"),
            "authentication failed: b: SASL authentication error: bad");
  EXPECT_EQ(refusal(RD_KAFKA_RESP_ERR__SSL, "b: SSL handshake failed"), "TLS failed: b: SSL handshake failed");
  EXPECT_EQ(refusal(RD_KAFKA_RESP_ERR__TRANSPORT, "b: Disconnected"), "");
  EXPECT_EQ(refusal(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, "1/1 brokers are down"), "");
}

}  // namespace
}  // namespace parley::kafka
