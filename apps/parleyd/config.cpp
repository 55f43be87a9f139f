#include "config.hpp"

#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <utility>

#include "core/build_info.hpp"
#include "gateway/cors.hpp"

namespace parley::app {

namespace {

struct Setting {
  const char* flag;
  const char* env;
  const char* help;
  std::function<bool(Config&, const std::string&)> apply;  // false: invalid value
  // On the command line the flag alone means "on" (--verbose); a value
  // comes only after '=' (--verbose=off).
  bool alone_means_on = false;
};

template <class T>
bool parse_number(const std::string& s, T& out, T lo, T hi) {
  T v{};
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || v < lo || v > hi) return false;
  out = v;
  return true;
}

// A duration in whole milliseconds within [lo, hi].
bool parse_ms(const std::string& s, std::chrono::milliseconds& out, long lo, long hi) {
  long ms = 0;
  if (!parse_number<long>(s, ms, lo, hi)) return false;
  out = std::chrono::milliseconds(ms);
  return true;
}

// A duration as a number and a unit: ms, s, m, h or d ("30d", "12h",
// "500ms"); a bare number is seconds. Within [lo, hi].
bool parse_duration(const std::string& s, std::chrono::milliseconds& out, std::chrono::milliseconds lo,
                    std::chrono::milliseconds hi) {
  const auto digits = s.find_first_not_of("0123456789");
  const std::string number = s.substr(0, digits);
  const std::string unit = digits == std::string::npos ? "s" : s.substr(digits);
  long long n = 0;
  if (!parse_number<long long>(number, n, 0, 1'000'000'000LL)) return false;
  long long scale = 0;
  if (unit == "ms")
    scale = 1;
  else if (unit == "s")
    scale = 1000;
  else if (unit == "m")
    scale = 60'000;
  else if (unit == "h")
    scale = 3'600'000;
  else if (unit == "d")
    scale = 86'400'000;
  else
    return false;
  const std::chrono::milliseconds value(n * scale);
  if (value < lo || value > hi) return false;
  out = value;
  return true;
}

std::string lowercase(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

std::string uppercase(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return s;
}

bool parse_listen(const std::string& s, Config& c) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  std::uint16_t port = 0;
  if (!parse_number<std::uint16_t>(s.substr(colon + 1), port, 0, 65535)) return false;
  std::string host = s.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  c.gateway.host = host;
  c.gateway.port = port;
  return true;
}

const std::vector<Setting>& settings() {
  static const std::vector<Setting> all = {
      {"--listen", "PARLEY_LISTEN",
       "HOST:PORT to serve HTTP and WebSocket on (default 127.0.0.1:8080; port 0 picks one)",
       [](Config& c, const std::string& v) { return parse_listen(v, c); }},
      {"--data-dir", "PARLEY_DATA_DIR", "directory for the embedded engines' data (default ./parley-data)",
       [](Config& c, const std::string& v) {
         c.data_dir = v;
         return !v.empty();
       }},
      {"--tls-cert", "PARLEY_TLS_CERT",
       "PEM file of the server's TLS certificate chain (the server's certificate first); with --tls-key the "
       "listener serves HTTPS and WSS only (TLS 1.2 and later); SIGHUP reads both files again (default: none, "
       "plain HTTP and WS)",
       [](Config& c, const std::string& v) { return !(c.tls_cert = v).empty(); }},
      {"--tls-key", "PARLEY_TLS_KEY", "PEM file of the private key of --tls-cert's certificate (unencrypted)",
       [](Config& c, const std::string& v) { return !(c.tls_key = v).empty(); }},
      {"--cors-origins", "PARLEY_CORS_ORIGINS",
       "web origins whose pages may call the HTTP API and open WebSockets, comma-separated, each "
       "scheme://host[:port] (https://chat.example.com,http://localhost:5173); their CORS preflights are "
       "answered and their answers carry Access-Control-Allow-Origin (default: none, only the server's own)",
       [](Config& c, const std::string& v) {
         auto origins = gateway::parse_cors_origins(v);
         if (origins) c.gateway.cors_origins = std::move(*origins);
         return origins.has_value();
       }},
      {"--web-dir", "PARLEY_WEB_DIR",
       "directory of the web app's built files (clients/web/dist), served at / (default: a `web` folder next to "
       "the parleyd binary if there is one, else a small built-in page)",
       [](Config& c, const std::string& v) {
         c.web_dir = v;
         return !v.empty();
       }},
      {"--node-id", "PARLEY_NODE_ID", "this server's Snowflake node id, 0-1023 (default 0)",
       [](Config& c, const std::string& v) { return parse_number<std::uint32_t>(v, c.node_id, 0, 1023); }},
      {"--advertise", "PARLEY_ADVERTISE",
       "HOST:PORT clients reach this server on, as the server registry lists it (default: the listen address)",
       [](Config& c, const std::string& v) {
         c.gateway.advertise = v;
         return v.rfind(':') != std::string::npos && v.rfind(':') > 0 && v.rfind(':') + 1 < v.size();
       }},
      {"--server-heartbeat-ms", "PARLEY_SERVER_HEARTBEAT_MS",
       "how often this server tells the registry it is alive and its load; three missed and it counts as dead "
       "(default 2000)",
       [](Config& c, const std::string& v) { return parse_ms(v, c.gateway.server_heartbeat, 50, 600000); }},
      {"--threads", "PARLEY_THREADS", "I/O threads (default: one per core)",
       [](Config& c, const std::string& v) { return parse_number<int>(v, c.gateway.threads, 1, 256); }},
      {"--max-frame", "PARLEY_MAX_FRAME", "largest WebSocket frame in bytes; larger closes with 1009 (default 65536)",
       [](Config& c, const std::string& v) {
         return parse_number<std::size_t>(v, c.gateway.max_frame, 1024, 16 * 1024 * 1024);
       }},
      {"--max-queued-bytes", "PARLEY_MAX_QUEUED_BYTES",
       "bytes of outbound frames one connection may have waiting: past half of it its requests wait for its "
       "writes, and an event past all of it closes the connection (default 8388608)",
       [](Config& c, const std::string& v) {
         return parse_number<std::size_t>(v, c.gateway.max_queued_bytes, 64 * 1024, std::size_t{1} << 34);
       }},
      {"--max-connections", "PARLEY_MAX_CONNECTIONS",
       "open connections (HTTP and WebSocket) this server holds in all; a new one past it is answered 503 and "
       "closed at once. Default: the descriptor limit less 256 for the engines and files (below a limit of "
       "1024: half of what the engines leave free)",
       [](Config& c, const std::string& v) {
         return parse_number<std::size_t>(v, c.gateway.max_connections, 1, 100'000'000);
       }},
      {"--max-connections-per-address", "PARLEY_MAX_CONNECTIONS_PER_ADDRESS",
       "open connections from one source IP address (loopback included); a new one past it is answered 429 and "
       "closed at once (default 256)",
       [](Config& c, const std::string& v) {
         return parse_number<std::size_t>(v, c.gateway.max_connections_per_address, 1, 100'000'000);
       }},
      {"--max-connections-per-user", "PARLEY_MAX_CONNECTIONS_PER_USER",
       "WebSocket connections of one user on this server; an upgrade past it is refused with 429 rate_limited "
       "(default 64)",
       [](Config& c, const std::string& v) {
         return parse_number<std::size_t>(v, c.gateway.max_connections_per_user, 1, 100'000'000);
       }},
      {"--max-devices-per-user", "PARLEY_MAX_DEVICES_PER_USER",
       "distinct devices of one user connected to this server at once; an upgrade from another device past it "
       "is refused with 429 rate_limited (default 32)",
       [](Config& c, const std::string& v) {
         return parse_number<std::size_t>(v, c.gateway.max_devices_per_user, 1, 100'000'000);
       }},
      {"--max-body", "PARLEY_MAX_BODY", "largest message body in bytes (default 16384)",
       [](Config& c, const std::string& v) {
         return parse_number<std::size_t>(v, c.gateway.max_body, 1, 16 * 1024 * 1024);
       }},
      {"--rate-limit", "PARLEY_RATE_LIMIT", "requests per second per connection (default 100)",
       [](Config& c, const std::string& v) { return parse_number<double>(v, c.gateway.rate_limit, 0.1, 1e9); }},
      {"--rate-burst", "PARLEY_RATE_BURST", "requests a connection may send at once (default 200)",
       [](Config& c, const std::string& v) { return parse_number<double>(v, c.gateway.rate_burst, 1, 1e9); }},
      {"--user-rate-limit", "PARLEY_USER_RATE_LIMIT",
       "budget units a second per user, across all of the user's connections and servers: a ping costs 1, a "
       "1:1 send 2, a group or channel send 10, a history, search or conversations page 5, anything else 1; "
       "0: no limit (default 200)",
       [](Config& c, const std::string& v) { return parse_number<double>(v, c.gateway.user_rate_limit, 0, 1e9); }},
      {"--user-rate-burst", "PARLEY_USER_RATE_BURST", "budget units a user may spend at once (default 400)",
       [](Config& c, const std::string& v) { return parse_number<double>(v, c.gateway.user_rate_burst, 1, 1e9); }},
      {"--max-rooms-per-hour", "PARLEY_MAX_ROOMS_PER_HOUR",
       "groups and channels one user may create an hour; 0: no limit (default 50)",
       [](Config& c, const std::string& v) { return parse_number<double>(v, c.gateway.rooms_per_hour, 0, 1e9); }},
      {"--send-timeout-ms", "PARLEY_SEND_TIMEOUT_MS",
       "how long a send waits to be sequenced before 'unavailable' (default 10000)",
       [](Config& c, const std::string& v) { return parse_ms(v, c.gateway.send_timeout, 100, 600000); }},
      {"--shed-after-ms", "PARLEY_SHED_AFTER_MS",
       "refuse new sends while the oldest of 256+ waiting ones has waited this long; 0: never (default 2000)",
       [](Config& c, const std::string& v) { return parse_ms(v, c.gateway.shed_after, 0, 600000); }},
      {"--step-interval-ms", "PARLEY_STEP_INTERVAL_MS",
       "least time between two batches of the sequencer, the store writer and the inbox owner (default 5 on the "
       "embedded log, 20 on Kafka)",
       [](Config& c, const std::string& v) { return parse_ms(v, c.step_interval, 1, 1000); }},
      {"--log-partitions", "PARLEY_LOG_PARTITIONS", "partitions per log topic, fixed at the first start (default 8)",
       [](Config& c, const std::string& v) { return parse_number<int>(v, c.log_partitions, 1, 1024); }},
      // Scale-out engines (docs/ENGINES.md); unset: the embedded ones.
      {"--kafka", "PARLEY_KAFKA", "Kafka bootstrap brokers HOST:PORT,...: the message log on Kafka",
       [](Config& c, const std::string& v) { return !(c.engines.kafka = v).empty(); }},
      {"--kafka-security-protocol", "PARLEY_KAFKA_SECURITY_PROTOCOL",
       "how parleyd reaches the Kafka brokers: plaintext, sasl_plaintext (SASL login, no TLS), ssl (TLS) or "
       "sasl_ssl (both) (default plaintext)",
       [](Config& c, const std::string& v) {
         std::string protocol = lowercase(v);
         if (protocol != "plaintext" && protocol != "sasl_plaintext" && protocol != "ssl" && protocol != "sasl_ssl")
           return false;
         c.engines.kafka_security_protocol = std::move(protocol);
         return true;
       }},
      {"--kafka-sasl-mechanism", "PARLEY_KAFKA_SASL_MECHANISM",
       "the SASL mechanism for sasl_plaintext and sasl_ssl: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (default PLAIN)",
       [](Config& c, const std::string& v) {
         std::string mechanism = uppercase(v);
         if (mechanism != "PLAIN" && mechanism != "SCRAM-SHA-256" && mechanism != "SCRAM-SHA-512") return false;
         c.engines.kafka_sasl_mechanism = std::move(mechanism);
         return true;
       }},
      {"--kafka-user", "PARLEY_KAFKA_USER",
       "the SASL user to log in to Kafka as (with --kafka-security-protocol sasl_plaintext or sasl_ssl; needs "
       "--kafka-password-file)",
       [](Config& c, const std::string& v) { return !(c.engines.kafka_user = v).empty(); }},
      {"--kafka-password-file", "PARLEY_KAFKA_PASSWORD_FILE",
       "file holding the password of --kafka-user (one line; a final newline is dropped)",
       [](Config& c, const std::string& v) { return !(c.engines.kafka_password_file = v).empty(); }},
      {"--kafka-ca-file", "PARLEY_KAFKA_CA_FILE",
       "PEM file of the CA certificates the Kafka brokers' certificates must chain to (with "
       "--kafka-security-protocol ssl or sasl_ssl; default: the system's trusted CAs). The broker's host name or "
       "IP address must match its certificate",
       [](Config& c, const std::string& v) { return !(c.engines.kafka_ca_file = v).empty(); }},
      {"--redis", "PARLEY_REDIS", "Redis HOST:PORT: presence, routes and pub/sub on Redis",
       [](Config& c, const std::string& v) { return !(c.engines.redis = v).empty(); }},
      {"--redis-user", "PARLEY_REDIS_USER",
       "Redis ACL user to AUTH as (needs --redis-password-file; default: Redis's default user)",
       [](Config& c, const std::string& v) { return !(c.engines.redis_user = v).empty(); }},
      {"--redis-password-file", "PARLEY_REDIS_PASSWORD_FILE",
       "file holding the Redis password (one line; a final newline is dropped): each connection sends AUTH "
       "with it first, as the user --redis-user names if set",
       [](Config& c, const std::string& v) { return !(c.engines.redis_password_file = v).empty(); }},
      {"--redis-ca-file", "PARLEY_REDIS_CA_FILE",
       "PEM file of CA certificates: when set, parleyd speaks TLS (1.2 or later) to Redis, whose certificate "
       "must chain to them and name the host of --redis (default: plain TCP)",
       [](Config& c, const std::string& v) { return !(c.engines.redis_ca_file = v).empty(); }},
      {"--postgres", "PARLEY_POSTGRES", "PostgreSQL URL (postgresql://user@host:port/db): the directory on PostgreSQL",
       [](Config& c, const std::string& v) { return !(c.engines.postgres = v).empty(); }},
      {"--engine-namespace", "PARLEY_ENGINE_NAMESPACE",
       "Kafka topic/group prefix, Redis key prefix, PostgreSQL schema and Cassandra keyspace, [A-Za-z0-9_] "
       "(default parley)",
       [](Config& c, const std::string& v) {
         if (v.empty() || v.size() > 48) return false;
         for (char ch : v) {
           if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_') return false;
         }
         c.engines.name_space = v;
         return true;
       }},
      {"--kafka-replication", "PARLEY_KAFKA_REPLICATION",
       "replication factor of the topics parleyd creates (default: the brokers' default)",
       [](Config& c, const std::string& v) { return parse_number<int>(v, c.engines.kafka_replication, 1, 16); }},
      {"--kafka-send-timeout-ms", "PARLEY_KAFKA_SEND_TIMEOUT_MS",
       "a send Kafka has not acknowledged by then fails with 'unavailable' (default 10000)",
       [](Config& c, const std::string& v) { return parse_ms(v, c.engines.kafka_send_timeout, 100, 600000); }},
      {"--cassandra", "PARLEY_CASSANDRA",
       "Cassandra contact points HOST:PORT,...: the message store on Cassandra (keyspace: the engine namespace)",
       [](Config& c, const std::string& v) { return !(c.engines.cassandra = v).empty(); }},
      {"--cassandra-user", "PARLEY_CASSANDRA_USER",
       "Cassandra role to log in as when the nodes authenticate (PasswordAuthenticator); needs "
       "--cassandra-password-file",
       [](Config& c, const std::string& v) { return !(c.engines.cassandra_user = v).empty(); }},
      {"--cassandra-password-file", "PARLEY_CASSANDRA_PASSWORD_FILE",
       "file holding the password of --cassandra-user (one line; a final newline is dropped)",
       [](Config& c, const std::string& v) { return !(c.engines.cassandra_password_file = v).empty(); }},
      {"--cassandra-ca-file", "PARLEY_CASSANDRA_CA_FILE",
       "PEM file of CA certificates: when set, every Cassandra connection speaks TLS (1.2 or later) and each "
       "node's certificate must chain to them and name the node's IP address (default: plain TCP)",
       [](Config& c, const std::string& v) { return !(c.engines.cassandra_ca_file = v).empty(); }},
      {"--cassandra-consistency", "PARLEY_CASSANDRA_CONSISTENCY",
       "consistency level of every Cassandra statement (default LOCAL_QUORUM)",
       [](Config& c, const std::string& v) { return !(c.engines.cassandra_consistency = v).empty(); }},
      {"--cassandra-replication", "PARLEY_CASSANDRA_REPLICATION",
       "the keyspace's replication when parleyd creates it, as CQL writes it (default SimpleStrategy, RF 1)",
       [](Config& c, const std::string& v) { return !(c.engines.cassandra_replication = v).empty(); }},
      {"--postgres-pool", "PARLEY_POSTGRES_POOL", "PostgreSQL connections per server (default 8)",
       [](Config& c, const std::string& v) { return parse_number<std::size_t>(v, c.engines.postgres_pool, 1, 256); }},
      {"--durability", "PARLEY_DURABILITY",
       "fsync: a send is acknowledged after its log write is synced to disk (group commit); os: after it reached "
       "the OS (survives a crash of parleyd, not of the machine). Default fsync",
       [](Config& c, const std::string& v) {
         if (v == "fsync")
           c.durability = embedded::Durability::fsync;
         else if (v == "os")
           c.durability = embedded::Durability::os;
         else
           return false;
         return true;
       }},
      {"--log-level", "PARLEY_LOG_LEVEL", "the least severe messages logged: debug, info, warn or error (default info)",
       [](Config& c, const std::string& v) {
         const auto level = log::parse_level(v);
         if (level) c.log_level = *level;
         return level.has_value();
       }},
      {"--verbose", "PARLEY_VERBOSE",
       "on: the same as --log-level debug; off: leaves the level as it is. On the command line the flag alone "
       "is on",
       [](Config& c, const std::string& v) {
         if (v == "on")
           c.log_level = log::Level::debug;
         else if (v != "off")
           return false;
         return true;
       },
       true},
      {"--log-format", "PARLEY_LOG_FORMAT",
       "text: 'TIMESTAMP LEVEL [COMPONENT] MESSAGE' lines; json: one object per line with ts, level, component "
       "and msg (default text)",
       [](Config& c, const std::string& v) {
         const auto format = log::parse_format(v);
         if (format) c.log_format = *format;
         return format.has_value();
       }},
      {"--drain-grace-ms", "PARLEY_DRAIN_GRACE_MS",
       "after SIGTERM or SIGINT, keep serving this long with /v1/readyz answering 503 (draining) before the "
       "drain begins, so load balancers stop sending clients here; a second signal ends it early (default 0)",
       [](Config& c, const std::string& v) { return parse_ms(v, c.drain_grace, 0, 3600000); }},
      {"--pwhash-limits", "PARLEY_PWHASH_LIMITS",
       "argon2id cost: interactive (default), moderate, or min (tests only: fast and weak)",
       [](Config& c, const std::string& v) {
         if (v == "interactive")
           c.hash_cost = services::Auth::HashCost::interactive;
         else if (v == "moderate")
           c.hash_cost = services::Auth::HashCost::moderate;
         else if (v == "min")
           c.hash_cost = services::Auth::HashCost::min;
         else
           return false;
         return true;
       }},
      {"--login-failures-per-username", "PARLEY_LOGIN_FAILURES_PER_USERNAME",
       "failed logins in a row for one username before the next must wait 1 s, doubling with each further "
       "failure up to 60 s (429 rate_limited with Retry-After); a success or 15 min without a failure clears "
       "it; 0: no limit (default 5)",
       [](Config& c, const std::string& v) { return parse_number<int>(v, c.login_failures_per_username, 0, 1000000); }},
      {"--login-failures-per-address", "PARLEY_LOGIN_FAILURES_PER_ADDRESS",
       "failed logins from one source address (IPv4, or an IPv6 /64), whatever the usernames, before the next "
       "from it must wait 1 s, doubling up to 60 s (429 rate_limited with Retry-After); 15 min without a "
       "failure from it clears it, a success does not; 0: no limit (default 20)",
       [](Config& c, const std::string& v) { return parse_number<int>(v, c.login_failures_per_address, 0, 1000000); }},
      {"--session-ttl", "PARLEY_SESSION_TTL",
       "a session (a device's token) ends this long after it was last used; each use pushes the end back. A "
       "number and a unit: ms, s, m, h or d; a bare number is seconds; 1s to 3650d (default 30d)",
       [](Config& c, const std::string& v) {
         using namespace std::chrono_literals;
         return parse_duration(v, c.session_ttl, 1s, std::chrono::hours(24 * 3650));
       }},
      {"--registration", "PARLEY_REGISTRATION",
       "open: anyone may sign up (POST /v1/users); closed: sign-ups are refused with 403 forbidden and only "
       "existing accounts log in (default open)",
       [](Config& c, const std::string& v) {
         if (v != "open" && v != "closed") return false;
         c.registration_open = v == "open";
         return true;
       }},
      {"--admin-token-file", "PARLEY_ADMIN_TOKEN_FILE",
       "turns on the admin API (/v1/admin/*: list, disable, enable and delete users, server stats) for a bearer token "
       "equal to this file's content, less a trailing newline; at least 16 bytes, no whitespace (e.g. "
       "`openssl rand -hex 32 > FILE`). Default: the admin API is off (its paths answer 404)",
       [](Config& c, const std::string& v) {
         std::ifstream in(v, std::ios::binary);
         if (!in) return false;
         std::string token((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
         while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
         if (token.size() < 16 || token.size() > 4096) return false;
         for (const char ch : token) {
           if (static_cast<unsigned char>(ch) <= ' ' || ch == 0x7F) return false;
         }
         c.gateway.admin_token = std::move(token);
         return true;
       }},
      {"--presence-ttl-ms", "PARLEY_PRESENCE_TTL_MS", "presence lasts this long after a heartbeat (default 30000)",
       [](Config& c, const std::string& v) { return parse_ms(v, c.presence_ttl, 100, 3600000); }},
      {"--presence-heartbeat-ms", "PARLEY_PRESENCE_HEARTBEAT_MS",
       "how often clients are expected to ping; must be below the presence TTL (default 5000)",
       [](Config& c, const std::string& v) { return parse_ms(v, c.presence_heartbeat, 10, 3600000); }},
      {"--presence-debounce-ms", "PARLEY_PRESENCE_DEBOUNCE_MS",
       "friends hear of a status change this long after it; one reverted within it sends nothing (default 2000)",
       [](Config& c, const std::string& v) { return parse_ms(v, c.presence_debounce, 0, 600000); }},
      {"--room-add", "PARLEY_ROOM_ADD",
       "who may be put in a group or channel by another user: friends (the added user accepted a friend "
       "request from or to the adder: their consent) or anyone (but either side of a block) (default friends)",
       [](Config& c, const std::string& v) {
         if (v != "friends" && v != "anyone") return false;
         c.room_add_friends_only = v == "friends";
         return true;
       }},
      {"--max-group-members", "PARLEY_MAX_GROUP_MEMBERS",
       "most members a group holds, creator included; a group is fanned out on write, so each send to it "
       "writes one inbox entry per member (channels, fanned out on read, have no limit) (default 100)",
       [](Config& c, const std::string& v) { return parse_number<std::size_t>(v, c.max_group_members, 2, 100000); }},
      {"--typing-interval-ms", "PARLEY_TYPING_INTERVAL_MS",
       "at most one typing event per user and conversation per interval (default 2000)",
       [](Config& c, const std::string& v) { return parse_ms(v, c.typing_interval, 0, 600000); }},
      // Push notifications (docs/PUSH.md).
      {"--apns-url", "PARLEY_APNS_URL", "APNs base URL (default https://api.push.apple.com)",
       [](Config& c, const std::string& v) { return !(c.push.apns_url = v).empty(); }},
      {"--apns-key-file", "PARLEY_APNS_KEY_FILE", "the team's APNs .p8 signing key; turns APNs on",
       [](Config& c, const std::string& v) { return !(c.push.apns_key_file = v).empty(); }},
      {"--apns-key-id", "PARLEY_APNS_KEY_ID", "the .p8 key's id (the JWT kid)",
       [](Config& c, const std::string& v) { return !(c.push.apns_key_id = v).empty(); }},
      {"--apns-team-id", "PARLEY_APNS_TEAM_ID", "the Apple developer team id (the JWT iss)",
       [](Config& c, const std::string& v) { return !(c.push.apns_team_id = v).empty(); }},
      {"--apns-topic", "PARLEY_APNS_TOPIC", "the app's bundle id (apns-topic)",
       [](Config& c, const std::string& v) { return !(c.push.apns_topic = v).empty(); }},
      {"--fcm-url", "PARLEY_FCM_URL", "FCM base URL (default https://fcm.googleapis.com)",
       [](Config& c, const std::string& v) { return !(c.push.fcm_url = v).empty(); }},
      {"--fcm-token-url", "PARLEY_FCM_TOKEN_URL", "OAuth2 token endpoint (default: the service account's token_uri)",
       [](Config& c, const std::string& v) { return !(c.push.fcm_token_url = v).empty(); }},
      {"--fcm-service-account", "PARLEY_FCM_SERVICE_ACCOUNT", "the Firebase service account JSON file; turns FCM on",
       [](Config& c, const std::string& v) { return !(c.push.fcm_service_account = v).empty(); }},
      {"--fcm-project-id", "PARLEY_FCM_PROJECT_ID", "the Firebase project id (default: the service account's)",
       [](Config& c, const std::string& v) { return !(c.push.fcm_project_id = v).empty(); }},
      {"--push-ca-file", "PARLEY_PUSH_CA_FILE", "extra CA certificate (PEM) trusted for APNs and FCM (tests)",
       [](Config& c, const std::string& v) { return !(c.push.ca_file = v).empty(); }},
      {"--push-batch-window-ms", "PARLEY_PUSH_BATCH_WINDOW_MS",
       "messages for one user and conversation within this window become one push (default 2000)",
       [](Config& c, const std::string& v) { return parse_ms(v, c.push.batch_window, 0, 3600000); }},
      {"--push-pair-interval-ms", "PARLEY_PUSH_PAIR_INTERVAL_MS",
       "at most one push per sender->recipient pair per interval; later messages fold into the next (default 5000)",
       [](Config& c, const std::string& v) { return parse_ms(v, c.push.pair_interval, 0, 3600000); }},
      {"--push-retry-base-ms", "PARLEY_PUSH_RETRY_BASE_MS",
       "first backoff after a 429/5xx from APNs or FCM, doubled per retry (default 200)",
       [](Config& c, const std::string& v) { return parse_ms(v, c.push.retry_base, 1, 600000); }},
      {"--push-lease-ms", "PARLEY_PUSH_LEASE_MS",
       "a server's claim on a push batch it is sending; another server takes the batch over once the claim is "
       "this old (default 60000)",
       [](Config& c, const std::string& v) { return parse_ms(v, c.push.lease, 1000, 3600000); }},
      {"--push-previews", "PARLEY_PUSH_PREVIEWS",
       "on: alerts show the sender and the start of the body; off: a generic text (default on)",
       [](Config& c, const std::string& v) {
         if (v == "on")
           c.push.previews = true;
         else if (v == "off")
           c.push.previews = false;
         else
           return false;
         return true;
       }},
  };
  return all;
}

// The outcome of a parse that ends the program: `message` to print, and the
// exit status.
ParseOutcome exit_with(int exit_code, std::string message) {
  ParseOutcome out;
  out.exit_code = exit_code;
  out.message = std::move(message);
  return out;
}

// Settings that no longer do anything. Config files, environments and
// scripts made for an older version may still name one: it is accepted with
// any value and ignored, with a warning (ParseOutcome::warnings).
struct RetiredSetting {
  const char* flag;
  const char* env;
  const char* why;
};

const std::vector<RetiredSetting>& retired_settings() {
  static const std::vector<RetiredSetting> all = {
      {"--fanout-read-threshold", "PARLEY_FANOUT_READ_THRESHOLD",
       "a group is fanned out on write and a channel on read, whatever their size; --max-group-members bounds "
       "a group"},
  };
  return all;
}

// The retired setting a flag ("--x") names, or with names_in_file a config
// file's name ("x" or its variable).
const RetiredSetting* find_retired(const std::string& name, bool names_in_file) {
  for (const auto& r : retired_settings()) {
    if (names_in_file ? name == r.env || "--" + name == r.flag : name == r.flag) return &r;
  }
  return nullptr;
}

std::string retired_warning(const std::string& where, const RetiredSetting& r) {
  return where + ": " + r.flag + " (" + r.env + ") is no longer a setting and is ignored: " + r.why;
}

// Applies a config file: one setting per line, "name = value", where name
// is a flag without its dashes ("kafka") or its variable ("PARLEY_KAFKA");
// blank lines and lines starting with # are skipped; a retired setting adds a
// warning. The error, if any.
std::optional<std::string> apply_config_file(const std::string& path, Config& config,
                                             std::vector<std::string>& warnings) {
  std::ifstream in(path);
  if (!in) return "cannot read the config file " + path;
  auto trim = [](const std::string& t) {
    const auto b = t.find_first_not_of(" \t\r");
    const auto e = t.find_last_not_of(" \t\r");
    return b == std::string::npos ? std::string() : t.substr(b, e - b + 1);
  };
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    line = trim(line);
    if (line.empty() || line.front() == '#') continue;
    const auto eq = line.find('=');
    const std::string where = path + ":" + std::to_string(number);
    if (eq == std::string::npos) return where + ": expected name = value";
    const std::string name = trim(line.substr(0, eq));
    const std::string value = trim(line.substr(eq + 1));
    const Setting* match = nullptr;
    for (const auto& s : settings()) {
      if (name == s.env || "--" + name == s.flag) match = &s;
    }
    if (match == nullptr) {
      if (const RetiredSetting* r = find_retired(name, true)) {
        warnings.push_back(retired_warning(where, *r));
        continue;
      }
      return where + ": unknown setting '" + name + "'";
    }
    if (!match->apply(config, value)) return where + ": invalid value for " + name + ": '" + value + "'";
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> resolve_web_dir(std::string& web_dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!web_dir.empty()) {
    if (!fs::is_directory(web_dir, ec)) return "--web-dir " + web_dir + " is not a directory";
    return std::nullopt;
  }
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return std::nullopt;
  const fs::path beside = self.parent_path() / "web";
  if (fs::is_regular_file(beside / "index.html", ec)) web_dir = beside.string();
  return std::nullopt;
}

std::string usage() {
  std::string out =
      "Usage: parleyd [options]\n"
      "       parleyd backup [--data-dir DIR] --to BACKUP\n\n"
      "Parley chat server. With no options it serves HTTP and WebSocket on 127.0.0.1:8080\n"
      "with its embedded engines, keeping data in ./parley-data.\n\n"
      "Commands:\n"
      "  backup --data-dir DIR --to BACKUP\n"
      "      asks the parleyd running on DIR for a consistent copy of its embedded data in BACKUP (a new or\n"
      "      empty folder) while it serves; restore by starting parleyd with --data-dir BACKUP\n"
      "      (docs/OPERATIONS.md, \"Backups\"; parleyd backup --help)\n\n"
      "Options (each also an environment variable):\n";
  for (const auto& s : settings()) {
    out +=
        "  " + std::string(s.flag) + (s.alone_means_on ? "" : " VALUE") + "  (" + s.env + ")\n      " + s.help + "\n";
  }
  out +=
      "  --config FILE  (PARLEY_CONFIG)\n      settings from FILE, one 'name = value' a line (name: a flag without "
      "dashes, or its variable); the environment and flags override it\n";
  out +=
      "  --version  print the version, git commit and build type, and exit\n"
      "  --help     print this and exit\n";
  out += "\nRetired options (accepted with any value and ignored, with a warning):\n";
  for (const auto& r : retired_settings()) {
    out += "  " + std::string(r.flag) + " VALUE  (" + r.env + ")\n      " + r.why + "\n";
  }
  return out;
}

std::string version_text() {
  return "parleyd " + std::string(build_info::version()) + "\ncommit " + std::string(build_info::commit()) +
         "\nbuild type " + std::string(build_info::build_type()) + "\n";
}

ParseOutcome parse_config(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  Config config;
  std::map<std::string, std::string> environment;
  for (const auto& kv : env) {
    const auto eq = kv.find('=');
    if (eq != std::string::npos) environment[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  // A config file (--config FILE or PARLEY_CONFIG) comes first: the
  // environment and the flags override it.
  std::string config_file;
  if (auto it = environment.find("PARLEY_CONFIG"); it != environment.end()) config_file = it->second;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--config" && i + 1 < args.size()) config_file = args[i + 1];
    if (args[i].starts_with("--config=")) config_file = args[i].substr(9);
  }
  std::vector<std::string> warnings;
  if (!config_file.empty()) {
    if (auto failed = apply_config_file(config_file, config, warnings)) return exit_with(2, *failed);
  }
  for (const auto& s : settings()) {
    if (auto it = environment.find(s.env); it != environment.end() && !s.apply(config, it->second)) {
      return exit_with(2, std::string("invalid value for ") + s.env + ": '" + it->second + "'");
    }
  }
  for (const auto& r : retired_settings()) {
    if (environment.contains(r.env)) warnings.push_back(retired_warning("the environment", r));
  }
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (arg == "--help" || arg == "-h") return exit_with(0, usage());
    if (arg == "--version") return exit_with(0, version_text());
    if (arg == "--config" || arg.starts_with("--config=")) {  // read above
      if (arg == "--config") ++i;
      continue;
    }
    std::string value;
    bool has_value = false;
    if (const auto eq = arg.find('='); eq != std::string::npos && arg.starts_with("--")) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    const Setting* match = nullptr;
    for (const auto& s : settings()) {
      if (arg == s.flag) match = &s;
    }
    const RetiredSetting* retired = match == nullptr ? find_retired(arg, false) : nullptr;
    if (match == nullptr && retired == nullptr) {
      return exit_with(2, "unknown option '" + arg + "'\n\n" + usage());
    }
    if (!has_value && match != nullptr && match->alone_means_on) {
      value = "on";
    } else if (!has_value) {
      if (i + 1 >= args.size()) return exit_with(2, "option " + arg + " needs a value");
      value = args[++i];
    }
    if (retired != nullptr) {
      warnings.push_back(retired_warning("the command line", *retired));
      continue;
    }
    if (!match->apply(config, value)) return exit_with(2, "invalid value for " + arg + ": '" + value + "'");
  }
  if (config.tls_cert.empty() != config.tls_key.empty()) {
    return exit_with(2, config.tls_cert.empty()
                            ? "--tls-key is set but --tls-cert is not: TLS needs both the certificate and its key"
                            : "--tls-cert is set but --tls-key is not: TLS needs both the certificate and its key");
  }
  if (config.presence_heartbeat >= config.presence_ttl) {
    return exit_with(2, "--presence-heartbeat-ms (" + std::to_string(config.presence_heartbeat.count()) +
                            ") must be below --presence-ttl-ms (" + std::to_string(config.presence_ttl.count()) +
                            "): a client pinging on time would flap offline");
  }
  // The sequencer, the store writer and the inbox owner take a batch at most
  // every `--step-interval-ms`: under load each wake-up then carries more
  // records, and a batch's fixed costs are shared by more messages. Idle, a
  // record waits at most this long per step.
  //  - On the embedded log, 5 ms. Waking for every append cost 10.7 context
  //    switches a message at 4,000 messages/s (a fifth of the server's CPU in
  //    the scheduler); 2 ms brought 1:1 messages from 294 to 238 µs of server
  //    CPU, and 5 ms, with the store writer placing the inbox entries itself,
  //    to about 116 µs with p99 10-13 ms.
  //  - On Kafka, 20 ms. A batch there costs engine requests whatever its
  //    size (a produce request per partition, an offset commit, a Cassandra
  //    write whose mutations wait for a commit log sync each), and with 5 ms
  //    scale-out at 1,000 messages/s on two shared cores fell behind in its
  //    warm-up and stayed seconds behind (p99 1.6-3.0 s); with 20 ms p99 was
  //    0.3-1.4 s on the same morning, in three of four alternating pairs
  //    better (docs/BENCHMARKS.md, seventeenth round).
  if (config.step_interval.count() == 0) {
    config.step_interval = std::chrono::milliseconds(config.engines.kafka.empty() ? 5 : 20);
  }
  return {std::move(config), 0, {}, std::move(warnings)};
}

}  // namespace parley::app
