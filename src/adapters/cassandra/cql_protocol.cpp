#include "adapters/cassandra/cql_protocol.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>
#include <utility>

#include "core/bytes.hpp"

namespace parley::cassandra {

namespace {

void put_u8(std::string& out, std::uint8_t v) { out.push_back(static_cast<char>(v)); }

void put_u16(std::string& out, std::uint16_t v) { bytes::Writer(out).u16_be(v); }

void put_u32(std::string& out, std::uint32_t v) { bytes::Writer(out).u32_be(v); }

void put_u64(std::string& out, std::uint64_t v) { bytes::Writer(out).u64_be(v); }

void put_string(std::string& out, std::string_view s) {
  put_u16(out, static_cast<std::uint16_t>(s.size()));
  out.append(s);
}

void put_long_string(std::string& out, std::string_view s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out.append(s);
}

void put_value(std::string& out, const CqlValue& v) {
  if (!v) {
    put_u32(out, 0xFFFFFFFFU);  // -1: null
    return;
  }
  put_long_string(out, *v);
}

// The protocol's notations (native_protocol_v4.spec, section 3), read with
// the one byte reader. A read that fails leaves the reader failed and
// returns an empty value, so a decoder reads on and checks r.ok() once.
std::uint8_t read_byte(bytes::Reader& r) {
  std::uint8_t v = 0;
  (void)r.u8(v);
  return v;
}

std::uint16_t read_short(bytes::Reader& r) {
  std::uint16_t v = 0;
  (void)r.u16_be(v);
  return v;
}

std::int32_t read_int(bytes::Reader& r) {
  std::int32_t v = 0;
  (void)r.i32_be(v);
  return v;
}

// [string] and [short bytes]: a [short] length, then the bytes.
std::string read_string(bytes::Reader& r) {
  std::string v;
  (void)r.str_u16_be(v);
  return v;
}

// [bytes]: an [int] length, then the bytes; a negative length is null.
CqlValue read_bytes(bytes::Reader& r) {
  std::int32_t n = 0;
  std::string_view v;
  if (!r.i32_be(n) || n < 0 || !r.bytes(static_cast<std::size_t>(n), v)) return std::nullopt;
  return std::string(v);
}

std::vector<std::string> read_string_list(bytes::Reader& r) {
  std::vector<std::string> out;
  const std::uint16_t n = read_short(r);
  for (std::uint16_t i = 0; i < n && r.ok(); ++i) out.push_back(read_string(r));
  return out;
}

Error malformed(const std::string& what) { return make_error(ErrorCode::internal, "cql: malformed " + what); }

// Reads one [option] type and drops its nested types.
std::uint16_t read_type(bytes::Reader& r, int depth = 0) {
  const std::uint16_t id = read_short(r);
  if (depth > 8) {
    r.fail();  // absurd nesting
    return id;
  }
  switch (id) {
    case 0x0000: read_string(r); break;  // custom: a class name
    case 0x0020:                         // list
    case 0x0022:                         // set
      read_type(r, depth + 1);
      break;
    case 0x0021:  // map
      read_type(r, depth + 1);
      read_type(r, depth + 1);
      break;
    case 0x0030: {  // UDT
      read_string(r);
      read_string(r);
      const std::uint16_t n = read_short(r);
      for (std::uint16_t i = 0; i < n && r.ok(); ++i) {
        read_string(r);
        read_type(r, depth + 1);
      }
      break;
    }
    case 0x0031: {  // tuple
      const std::uint16_t n = read_short(r);
      for (std::uint16_t i = 0; i < n && r.ok(); ++i) read_type(r, depth + 1);
      break;
    }
    default: break;
  }
  return id;
}

constexpr std::int32_t global_tables_spec = 0x0001;
constexpr std::int32_t has_more_pages = 0x0002;
constexpr std::int32_t no_metadata = 0x0004;

std::vector<ColumnSpec> read_columns(bytes::Reader& r, std::int32_t flags, std::int32_t count) {
  std::vector<ColumnSpec> out;
  std::string keyspace;
  std::string table;
  if ((flags & global_tables_spec) != 0) {
    keyspace = read_string(r);
    table = read_string(r);
  }
  for (std::int32_t i = 0; i < count && r.ok(); ++i) {
    ColumnSpec c;
    if ((flags & global_tables_spec) != 0) {
      c.keyspace = keyspace;
      c.table = table;
    } else {
      c.keyspace = read_string(r);
      c.table = read_string(r);
    }
    c.name = read_string(r);
    c.type = read_type(r);
    out.push_back(std::move(c));
  }
  return out;
}

RowsMetadata read_rows_metadata(bytes::Reader& r) {
  RowsMetadata m;
  m.flags = read_int(r);
  m.column_count = read_int(r);
  if (m.column_count < 0) r.fail();
  if ((m.flags & has_more_pages) != 0) {
    auto state = read_bytes(r);
    m.paging_state = state.value_or(std::string());
  }
  if ((m.flags & no_metadata) == 0) m.columns = read_columns(r, m.flags, m.column_count);
  return m;
}

void put_query_parameters(std::string& out, const QueryParameters& p) {
  enum : std::uint8_t {
    values = 0x01,
    skip_metadata = 0x02,
    page_size = 0x04,
    paging_state = 0x08,
    default_timestamp = 0x20
  };
  std::uint8_t flags = 0;
  if (!p.values.empty()) flags |= values;
  if (p.skip_metadata) flags |= skip_metadata;
  if (p.page_size > 0) flags |= page_size;
  if (!p.paging_state.empty()) flags |= paging_state;
  if (p.timestamp) flags |= default_timestamp;
  put_u16(out, static_cast<std::uint16_t>(p.consistency));
  put_u8(out, flags);
  if (!p.values.empty()) {
    put_u16(out, static_cast<std::uint16_t>(p.values.size()));
    for (const auto& v : p.values) put_value(out, v);
  }
  if (p.page_size > 0) put_u32(out, static_cast<std::uint32_t>(p.page_size));
  if (!p.paging_state.empty()) put_long_string(out, p.paging_state);
  if (p.timestamp) put_u64(out, static_cast<std::uint64_t>(*p.timestamp));
}

}  // namespace

std::optional<Consistency> parse_consistency(std::string_view name) noexcept {
  static constexpr std::array<std::pair<std::string_view, Consistency>, 11> names{{
      {"any", Consistency::any},
      {"one", Consistency::one},
      {"two", Consistency::two},
      {"three", Consistency::three},
      {"quorum", Consistency::quorum},
      {"all", Consistency::all},
      {"local_quorum", Consistency::local_quorum},
      {"each_quorum", Consistency::each_quorum},
      {"serial", Consistency::serial},
      {"local_serial", Consistency::local_serial},
      {"local_one", Consistency::local_one},
  }};
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const auto& [n, c] : names) {
    if (n == lower) return c;
  }
  return std::nullopt;
}

Result<FrameHeader> decode_header(std::string_view bytes) {
  if (bytes.size() < header_size) return malformed("frame header (short)");
  parley::bytes::Reader r(bytes.substr(0, header_size));
  FrameHeader h;
  h.version = read_byte(r);
  h.flags = read_byte(r);
  h.stream = static_cast<std::int16_t>(read_short(r));
  h.opcode = static_cast<Opcode>(read_byte(r));
  h.length = static_cast<std::uint32_t>(read_int(r));
  if (h.version != response_version) {
    return make_error(ErrorCode::internal, "cql: unexpected protocol version " + std::to_string(h.version));
  }
  if (h.length > max_body_size) return malformed("frame header (body too large)");
  return h;
}

std::string encode_frame(std::int16_t stream, Opcode opcode, std::string_view body) {
  std::string out;
  out.reserve(header_size + body.size());
  put_u8(out, request_version);
  put_u8(out, 0);
  put_u16(out, static_cast<std::uint16_t>(stream));
  put_u8(out, static_cast<std::uint8_t>(opcode));
  put_u32(out, static_cast<std::uint32_t>(body.size()));
  out.append(body);
  return out;
}

CqlValue bigint_value(std::int64_t v) {
  std::string out;
  put_u64(out, static_cast<std::uint64_t>(v));
  return out;
}

CqlValue int_value(std::int32_t v) {
  std::string out;
  put_u32(out, static_cast<std::uint32_t>(v));
  return out;
}

CqlValue text_value(std::string_view v) { return std::string(v); }

CqlValue boolean_value(bool v) { return std::string(1, v ? '\x01' : '\x00'); }

Result<std::int64_t> as_bigint(const CqlValue& v) {
  std::uint64_t out = 0;
  if (!v || v->size() != 8 || !bytes::Reader(*v).u64_be(out)) return malformed("bigint value");
  return static_cast<std::int64_t>(out);
}

Result<std::int32_t> as_int(const CqlValue& v) {
  std::int32_t out = 0;
  if (!v || v->size() != 4 || !bytes::Reader(*v).i32_be(out)) return malformed("int value");
  return out;
}

std::string as_text(const CqlValue& v) { return v.value_or(std::string()); }

std::string startup_body() {
  std::string out;
  put_u16(out, 1);
  put_string(out, "CQL_VERSION");
  put_string(out, "3.0.0");
  return out;
}

std::string auth_response_body(std::string_view token) {
  std::string out;
  put_value(out, std::string(token));
  return out;
}

std::string plain_sasl_token(std::string_view user, std::string_view password) {
  std::string out;
  out += '\0';
  out += user;
  out += '\0';
  out += password;
  return out;
}

std::string query_body(std::string_view cql, const QueryParameters& p) {
  std::string out;
  put_long_string(out, cql);
  put_query_parameters(out, p);
  return out;
}

std::string prepare_body(std::string_view cql) {
  std::string out;
  put_long_string(out, cql);
  return out;
}

std::string execute_body(std::string_view prepared_id, const QueryParameters& p) {
  std::string out;
  put_string(out, prepared_id);
  put_query_parameters(out, p);
  return out;
}

std::string batch_body(BatchType type, const std::vector<BatchStatement>& statements, Consistency consistency) {
  std::string out;
  put_u8(out, static_cast<std::uint8_t>(type));
  put_u16(out, static_cast<std::uint16_t>(statements.size()));
  for (const auto& s : statements) {
    put_u8(out, 1);  // a prepared statement's id
    put_string(out, s.prepared_id);
    put_u16(out, static_cast<std::uint16_t>(s.values.size()));
    for (const auto& v : s.values) put_value(out, v);
  }
  put_u16(out, static_cast<std::uint16_t>(consistency));
  put_u8(out, 0);  // no serial consistency, timestamp or names
  return out;
}

Result<Response> decode_response(Opcode opcode, std::uint8_t flags, std::string_view body) {
  constexpr std::uint8_t tracing = 0x02;
  constexpr std::uint8_t custom_payload = 0x04;
  constexpr std::uint8_t warning = 0x08;
  bytes::Reader r(body);
  Response out;
  if ((flags & tracing) != 0) (void)r.skip(16);
  if ((flags & warning) != 0) out.warnings = read_string_list(r);
  if ((flags & custom_payload) != 0) {
    const std::uint16_t n = read_short(r);
    for (std::uint16_t i = 0; i < n && r.ok(); ++i) {
      read_string(r);
      read_bytes(r);
    }
  }
  switch (opcode) {
    case Opcode::ready: out.kind = Response::Kind::ready; break;
    case Opcode::supported: out.kind = Response::Kind::supported; break;
    case Opcode::authenticate:
      out.kind = Response::Kind::authenticate;
      out.authenticator = read_string(r);
      if (!r.ok()) return malformed("AUTHENTICATE body");
      return out;
    case Opcode::auth_challenge:
    case Opcode::auth_success:
      out.kind = opcode == Opcode::auth_challenge ? Response::Kind::auth_challenge : Response::Kind::auth_success;
      out.sasl_token = as_text(read_bytes(r));
      if (!r.ok()) return malformed("AUTH_CHALLENGE or AUTH_SUCCESS body");
      return out;
    case Opcode::error: {
      out.kind = Response::Kind::error;
      out.error.code = read_int(r);
      out.error.message = read_string(r);
      if (out.error.code == error_code::unprepared) out.error.unprepared_id = read_string(r);
      // Other codes carry more fields, which the client does not need.
      if (!r.ok()) return malformed("ERROR body");
      return out;
    }
    case Opcode::result: {
      const std::int32_t kind = read_int(r);
      switch (kind) {
        case 1: out.kind = Response::Kind::void_; break;
        case 2: {
          out.kind = Response::Kind::rows;
          out.rows.metadata = read_rows_metadata(r);
          const std::int32_t count = read_int(r);
          if (!r.ok() || count < 0) return malformed("rows");
          const auto columns = static_cast<std::size_t>(out.rows.metadata.column_count);
          // Each value is at least 4 bytes: a count beyond that is a lie.
          // Rows of no columns take no bytes at all, so their count cannot
          // be checked that way; no query of Parley's selects no column.
          if (static_cast<std::size_t>(count) * columns * 4 > r.remaining() || (columns == 0 && count > 0)) {
            return malformed("rows (count)");
          }
          out.rows.rows.reserve(static_cast<std::size_t>(count));
          for (std::int32_t i = 0; i < count && r.ok(); ++i) {
            std::vector<CqlValue> row;
            row.reserve(columns);
            for (std::size_t c = 0; c < columns && r.ok(); ++c) row.push_back(read_bytes(r));
            out.rows.rows.push_back(std::move(row));
          }
          break;
        }
        case 3:
          out.kind = Response::Kind::set_keyspace;
          read_string(r);
          break;
        case 4: {
          out.kind = Response::Kind::prepared;
          out.prepared.id = read_string(r);
          const std::int32_t meta_flags = read_int(r);
          const std::int32_t columns = read_int(r);
          const std::int32_t pk_count = read_int(r);
          if (!r.ok() || columns < 0 || pk_count < 0 || pk_count > columns) return malformed("PREPARED metadata");
          for (std::int32_t i = 0; i < pk_count && r.ok(); ++i)
            out.prepared.partition_key_indexes.push_back(read_short(r));
          out.prepared.bind_columns = read_columns(r, meta_flags, columns);
          out.prepared.result = read_rows_metadata(r);
          break;
        }
        case 5:
          out.kind = Response::Kind::schema_change;
          // change type, target and its options: not needed.
          break;
        default: return malformed("RESULT kind " + std::to_string(kind));
      }
      break;
    }
    default: out.kind = Response::Kind::other; break;
  }
  if (!r.ok()) return malformed("response body");
  return out;
}

std::optional<std::string> routing_key(const std::vector<std::uint16_t>& partition_key_indexes,
                                       const std::vector<CqlValue>& values) {
  if (partition_key_indexes.empty()) return std::nullopt;
  for (const auto i : partition_key_indexes) {
    if (i >= values.size() || !values[i]) return std::nullopt;
  }
  if (partition_key_indexes.size() == 1) return *values[partition_key_indexes.front()];
  std::string out;
  for (const auto i : partition_key_indexes) {
    const auto& v = *values[i];
    if (v.size() > std::numeric_limits<std::uint16_t>::max()) return std::nullopt;
    put_u16(out, static_cast<std::uint16_t>(v.size()));
    out.append(v);
    out.push_back('\0');
  }
  return out;
}

}  // namespace parley::cassandra
