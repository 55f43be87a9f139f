#pragma once
// parleyd's settings: defaults, then environment variables (PARLEY_*), then
// command-line flags, each overriding the one before.

#include <optional>
#include <string>
#include <vector>

#include "adapters/embedded/durability.hpp"
#include "gateway/context.hpp"
#include "services/auth.hpp"

namespace parley::app {

struct Config {
  gateway::GatewayOptions gateway;
  std::string data_dir = "./parley-data";
  std::uint32_t node_id = 0;
  int log_partitions = 8;
  embedded::Durability durability = embedded::Durability::fsync;
  services::Auth::HashCost hash_cost = services::Auth::HashCost::interactive;
  std::chrono::milliseconds presence_ttl{30000};
  bool verbose = false;
};

struct ParseOutcome {
  std::optional<Config> config;  // empty: exit with `exit_code` after printing `message`
  int exit_code = 0;
  std::string message;
};

// Reads the environment (`env` as "NAME=value" strings) and the arguments.
[[nodiscard]] ParseOutcome parse_config(const std::vector<std::string>& args, const std::vector<std::string>& env);

[[nodiscard]] std::string usage();

}  // namespace parley::app
