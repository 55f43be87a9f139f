// Fuzz target: a frame from a Cassandra node, read as the CQL client reads
// it: the 9-byte header (cassandra::decode_header), then the body
// (decode_response) for the header's opcode and flags, then the routing key
// of a PREPARED result's partition key over the first row of values.
//
// Invariants: no exception escapes (a bad_alloc from a length the frame
// lies about included); an accepted header is a v4 response within the
// body limit; an accepted ROWS result has as many values in each row as it
// names columns.

#include <cstdint>
#include <string_view>

#include "adapters/cassandra/cql_protocol.hpp"
#include "check.hpp"

using namespace parley::cassandra;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  if (in.size() < header_size) return 0;
  auto header = decode_header(in);
  if (!header) return 0;
  PARLEY_FUZZ_CHECK(header->version == response_version);
  PARLEY_FUZZ_CHECK(header->length <= max_body_size);
  // The body as the connection hands it over: what follows the header, at
  // most `length` bytes (a short read never reaches the decoder).
  std::string_view body = in.substr(header_size);
  if (body.size() > header->length) body = body.substr(0, header->length);
  auto response = decode_response(header->opcode, header->flags, body);
  if (!response) return 0;
  if (response->kind == Response::Kind::rows) {
    const auto& rows = response->rows;
    PARLEY_FUZZ_CHECK(rows.metadata.column_count >= 0);
    for (const auto& row : rows.rows) {
      PARLEY_FUZZ_CHECK(row.size() == static_cast<std::size_t>(rows.metadata.column_count));
    }
    if (!rows.rows.empty()) {
      for (const auto& v : rows.rows.front()) {
        (void)as_bigint(v);
        (void)as_int(v);
        (void)as_text(v);
      }
    }
  }
  if (response->kind == Response::Kind::prepared) {
    const auto& p = response->prepared;
    PARLEY_FUZZ_CHECK(p.partition_key_indexes.size() <= p.bind_columns.size());
    std::vector<CqlValue> values;
    for (std::size_t i = 0; i < p.bind_columns.size() && i < 64; ++i) values.push_back(std::string(i, 'x'));
    (void)routing_key(p.partition_key_indexes, values);
  }
  return 0;
}
