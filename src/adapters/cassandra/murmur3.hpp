#pragma once
// The token Cassandra's Murmur3Partitioner gives a partition key: the first
// 64 bits of MurmurHash3_x64_128 (seed 0) over the serialized key, as
// Cassandra computes it. Cassandra's Java port sign-extends the bytes of the
// tail (the last length % 16 bytes), so keys with a tail byte >= 0x80 hash
// differently from the reference C implementation; this follows Cassandra.

#include <cstdint>
#include <string_view>

namespace parley::cassandra {

// The token of a routing key (see routing_key in cql_protocol.hpp). The
// minimum int64 is never a token: Cassandra maps it to the maximum.
[[nodiscard]] std::int64_t murmur3_token(std::string_view key) noexcept;

}  // namespace parley::cassandra
