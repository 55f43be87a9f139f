// Murmur3 tokens against the values Cassandra 5.0.4 itself gave
// (SELECT token(k) ...) for bigint, text and composite partition keys.

#include <gtest/gtest.h>

#include "adapters/cassandra/cql_protocol.hpp"
#include "adapters/cassandra/murmur3.hpp"

namespace parley::cassandra {
namespace {

std::int64_t token(const std::vector<std::uint16_t>& key, const std::vector<CqlValue>& values) {
  return murmur3_token(routing_key(key, values).value());
}

TEST(CqlMurmur3, BigintKeys) {
  EXPECT_EQ(token({0}, {bigint_value(1)}), 6292367497774912474LL);
  EXPECT_EQ(token({0}, {bigint_value(-1)}), 7071048584287372947LL);
  EXPECT_EQ(token({0}, {bigint_value(1234567890123)}), 8056999751681019901LL);
}

TEST(CqlMurmur3, TextKeysIncludingSignExtendedTailBytes) {
  EXPECT_EQ(token({0}, {text_value("a")}), -8839064797231613815LL);
  EXPECT_EQ(token({0}, {text_value("hello world, parley!")}), 4611217046233584580LL);
  // 19 bytes: a 3-byte tail of 0xc3 0xbf ... (bytes >= 0x80).
  EXPECT_EQ(token({0}, {text_value("\xc3\xa9\xe2\x82\xac tail bytes \xc3\xbf")}), 6228218352486952966LL);
}

TEST(CqlMurmur3, CompositeKeys) {
  EXPECT_EQ(token({0, 1}, {text_value("g:42"), bigint_value(7)}), -6882140467489873000LL);
}

}  // namespace
}  // namespace parley::cassandra
