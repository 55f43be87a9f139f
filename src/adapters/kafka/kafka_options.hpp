#pragma once
// Settings of the Kafka adapter (parleyd's --kafka-* settings).

#include <chrono>
#include <string>
#include <vector>

namespace parley::kafka {

// How the adapter's clients reach the brokers: librdkafka's
// security.protocol, with SASL credentials and a CA for TLS where the
// protocol takes them. Every client (producer, group consumers, the reader)
// uses the same.
struct KafkaSecurity {
  // plaintext, sasl_plaintext, ssl or sasl_ssl.
  std::string protocol = "plaintext";
  // With sasl_plaintext and sasl_ssl: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512,
  // and the user and password to log in with.
  std::string sasl_mechanism = "PLAIN";
  std::string user;
  std::string password;
  // With ssl and sasl_ssl: the CA certificates (PEM) the brokers'
  // certificates must chain to; empty: the system's trusted CAs. The
  // broker's name (or IP address) must match its certificate either way.
  std::string ca_file;
};

struct KafkaOptions {
  // Bootstrap brokers, "host:port,host:port".
  std::string brokers;
  KafkaSecurity security;
  // Put before every topic and consumer group name: keeps clusters (and
  // tests) that share brokers apart.
  std::string prefix;
  // Partitions of the topics this adapter creates. A topic that already
  // exists keeps its own count, and the adapter uses that.
  int partitions = 8;
  // Replication factor of the topics this adapter creates; -1 takes the
  // brokers' default.replication.factor.
  int replication_factor = -1;
  // A send not acknowledged by all in-sync replicas within this fails with
  // ErrorCode::unavailable (never acknowledged late).
  std::chrono::milliseconds send_timeout{10000};
  // How long an administrative request (creating a topic, reading metadata)
  // may take before it fails.
  std::chrono::milliseconds admin_timeout{15000};
  // Consumer group session timeout: a member that stops heartbeating loses
  // its partitions after this.
  std::chrono::milliseconds session_timeout{6000};
  // When set, consumers are static group members ("<instance>.<group>"): a
  // restarted server with the same instance id takes its partitions back at
  // once instead of waiting out the old member's session. Each live server
  // needs its own.
  std::string instance_id;
  // Topics (port names, without the prefix) created with retention.ms=-1
  // and retention.bytes=-1: a changelog that state is rebuilt from must be
  // kept whole. Applies only when this adapter creates the topic.
  std::vector<std::string> kept_topics{};
};

}  // namespace parley::kafka
