#pragma once
// The CQL native protocol, version 4: frames and the bodies Parley sends and
// reads, as pure functions (no I/O), so that they can be tested against
// recorded frames.
//
// A frame is a 9-byte header (version, flags, stream id, opcode, body
// length) and a body. Requests carry version 0x04, responses 0x84. Values
// travel as [bytes]: a 4-byte signed length (-1 = null) and the bytes, each
// CQL type serialized big-endian; this codec keeps values as raw bytes
// (CqlValue) and the typed helpers below convert them.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace parley::cassandra {

enum class Opcode : std::uint8_t {
  error = 0x00,
  startup = 0x01,
  ready = 0x02,
  authenticate = 0x03,
  options = 0x05,
  supported = 0x06,
  query = 0x07,
  result = 0x08,
  prepare = 0x09,
  execute = 0x0A,
  register_ = 0x0B,
  event = 0x0C,
  batch = 0x0D,
  auth_challenge = 0x0E,
  auth_response = 0x0F,
  auth_success = 0x10,
};

enum class Consistency : std::uint16_t {
  any = 0x0000,
  one = 0x0001,
  two = 0x0002,
  three = 0x0003,
  quorum = 0x0004,
  all = 0x0005,
  local_quorum = 0x0006,
  each_quorum = 0x0007,
  serial = 0x0008,
  local_serial = 0x0009,
  local_one = 0x000A,
};

// Reads a consistency name as CQL writes it ("LOCAL_QUORUM", "one", ...).
[[nodiscard]] std::optional<Consistency> parse_consistency(std::string_view name) noexcept;

// The server error codes the client acts on (the spec, section 9).
namespace error_code {
inline constexpr std::int32_t server_error = 0x0000;
inline constexpr std::int32_t protocol_error = 0x000A;
inline constexpr std::int32_t bad_credentials = 0x0100;
inline constexpr std::int32_t unavailable = 0x1000;
inline constexpr std::int32_t overloaded = 0x1001;
inline constexpr std::int32_t is_bootstrapping = 0x1002;
inline constexpr std::int32_t write_timeout = 0x1100;
inline constexpr std::int32_t read_timeout = 0x1200;
inline constexpr std::int32_t read_failure = 0x1300;
inline constexpr std::int32_t write_failure = 0x1500;
inline constexpr std::int32_t syntax_error = 0x2000;
inline constexpr std::int32_t invalid = 0x2200;
inline constexpr std::int32_t already_exists = 0x2400;
inline constexpr std::int32_t unprepared = 0x2500;
}  // namespace error_code

inline constexpr std::uint8_t request_version = 0x04;
inline constexpr std::uint8_t response_version = 0x84;
inline constexpr std::size_t header_size = 9;
// Bodies above this are refused (the server's default limit is 256 MiB; a
// page of Parley rows is far smaller).
inline constexpr std::size_t max_body_size = 256U * 1024U * 1024U;

struct FrameHeader {
  std::uint8_t version = request_version;
  std::uint8_t flags = 0;
  std::int16_t stream = 0;
  Opcode opcode = Opcode::error;
  std::uint32_t length = 0;
};

// The header of a frame from its first 9 bytes; an error when the version is
// not a v4 response or the length is out of bounds.
[[nodiscard]] Result<FrameHeader> decode_header(std::string_view bytes);

// A whole request frame: the header for `stream` and `opcode`, then `body`.
[[nodiscard]] std::string encode_frame(std::int16_t stream, Opcode opcode, std::string_view body);

// A value: nullopt is CQL null.
using CqlValue = std::optional<std::string>;

// --- typed values ---------------------------------------------------------

[[nodiscard]] CqlValue bigint_value(std::int64_t v);
[[nodiscard]] CqlValue int_value(std::int32_t v);
[[nodiscard]] CqlValue text_value(std::string_view v);  // text, varchar, ascii and blob alike
[[nodiscard]] CqlValue boolean_value(bool v);
// A bigint or timestamp column; an error for null or a bad length.
[[nodiscard]] Result<std::int64_t> as_bigint(const CqlValue& v);
[[nodiscard]] Result<std::int32_t> as_int(const CqlValue& v);
// text, blob; null reads as "".
[[nodiscard]] std::string as_text(const CqlValue& v);

// --- request bodies -------------------------------------------------------

// STARTUP with CQL_VERSION 3.0.0 and no compression.
[[nodiscard]] std::string startup_body();

// A user and password for nodes that authenticate (PasswordAuthenticator,
// SASL PLAIN); empty: none (a node that asks for them is then refused).
struct CqlCredentials {
  std::string user;
  std::string password;
};

// AUTH_RESPONSE carrying a SASL token (the spec, section 4.1.2).
[[nodiscard]] std::string auth_response_body(std::string_view token);
// The SASL PLAIN token of PasswordAuthenticator: "\0user\0password".
[[nodiscard]] std::string plain_sasl_token(std::string_view user, std::string_view password);

// The query parameters of QUERY and EXECUTE.
struct QueryParameters {
  Consistency consistency = Consistency::local_quorum;
  std::vector<CqlValue> values;
  bool skip_metadata = false;             // EXECUTE only: the client has the result metadata
  std::int32_t page_size = 0;             // 0: no paging
  std::string paging_state;               // from the previous page; empty: the first page
  std::optional<std::int64_t> timestamp;  // client-side write timestamp (microseconds)
};

[[nodiscard]] std::string query_body(std::string_view cql, const QueryParameters& p);
[[nodiscard]] std::string prepare_body(std::string_view cql);
[[nodiscard]] std::string execute_body(std::string_view prepared_id, const QueryParameters& p);

enum class BatchType : std::uint8_t { logged = 0, unlogged = 1, counter = 2 };

struct BatchStatement {
  std::string prepared_id;  // an EXECUTE of this id (kind 1)
  std::vector<CqlValue> values;
};

[[nodiscard]] std::string batch_body(BatchType type, const std::vector<BatchStatement>& statements,
                                     Consistency consistency);

// --- responses --------------------------------------------------------------

// A column type, as the result metadata gives it: the id and, for
// collections, UDTs and tuples, the nested types (read and dropped: Parley's
// schema uses only native types).
struct ColumnSpec {
  std::string keyspace;
  std::string table;
  std::string name;
  std::uint16_t type = 0;
};

struct RowsMetadata {
  std::int32_t flags = 0;
  std::int32_t column_count = 0;
  std::string paging_state;  // empty when this is the last page
  std::vector<ColumnSpec> columns;
};

struct Rows {
  RowsMetadata metadata;
  std::vector<std::vector<CqlValue>> rows;
};

struct Prepared {
  std::string id;
  std::vector<std::uint16_t> partition_key_indexes;  // the bind markers making up the partition key, in order
  std::vector<ColumnSpec> bind_columns;
  RowsMetadata result;
};

struct ServerError {
  std::int32_t code = 0;
  std::string message;
  std::string unprepared_id;  // for error_code::unprepared
};

// What a response body says: a RESULT, an ERROR, or a step of the
// connection's start (READY, AUTHENTICATE, AUTH_CHALLENGE, AUTH_SUCCESS).
struct Response {
  enum class Kind {
    ready,
    void_,
    rows,
    set_keyspace,
    prepared,
    schema_change,
    error,
    supported,
    authenticate,
    auth_challenge,
    auth_success,
    other
  };
  Kind kind = Kind::other;
  std::string authenticator;  // AUTHENTICATE: the server's authenticator class
  std::string sasl_token;     // AUTH_CHALLENGE and AUTH_SUCCESS: the token (null reads as "")
  Rows rows;
  Prepared prepared;
  ServerError error;
  std::vector<std::string> warnings;
};

// Reads a response body of `opcode`, given the header flags (tracing id,
// warnings and custom payload come first when flagged). An error only when
// the body is malformed: a server ERROR is a Response of kind error.
[[nodiscard]] Result<Response> decode_response(Opcode opcode, std::uint8_t flags, std::string_view body);

// The routing key of a statement: the serialized partition key as
// Cassandra hashes it. One component is its bytes; several are each
// component as [short length][bytes][0x00]. nullopt when a component is
// null or an index is out of range.
[[nodiscard]] std::optional<std::string> routing_key(const std::vector<std::uint16_t>& partition_key_indexes,
                                                     const std::vector<CqlValue>& values);

}  // namespace parley::cassandra
