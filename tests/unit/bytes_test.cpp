#include "core/bytes.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace parley {
namespace {

using namespace std::string_view_literals;

TEST(Bytes, IntegersAreReadInTheByteOrderTheirNameSays) {
  const std::string_view in = "\x01\x02\x03\x04\x05\x06\x07\x08"sv;
  std::uint64_t be = 0;
  std::uint64_t le = 0;
  ASSERT_TRUE(bytes::Reader(in).u64_be(be));
  ASSERT_TRUE(bytes::Reader(in).u64_le(le));
  EXPECT_EQ(be, 0x0102030405060708U);
  EXPECT_EQ(le, 0x0807060504030201U);

  bytes::Reader r(in);
  std::uint16_t u16 = 0;
  std::uint32_t u32 = 0;
  std::uint8_t u8 = 0;
  ASSERT_TRUE(r.u16_be(u16) && r.u32_le(u32) && r.u8(u8));
  EXPECT_EQ(u16, 0x0102U);
  EXPECT_EQ(u32, 0x06050403U);
  EXPECT_EQ(u8, 0x07U);
  EXPECT_EQ(r.remaining(), 1U);
  EXPECT_FALSE(r.done());
}

TEST(Bytes, SignedIntegersKeepTheirSign) {
  std::int32_t i32 = 0;
  std::int64_t i64 = 0;
  ASSERT_TRUE(bytes::Reader("\xFF\xFF\xFF\xFE"sv).i32_be(i32));
  ASSERT_TRUE(bytes::Reader("\xFE\xFF\xFF\xFF\xFF\xFF\xFF\xFF"sv).i64_le(i64));
  EXPECT_EQ(i32, -2);
  EXPECT_EQ(i64, -2);
}

TEST(Bytes, WhatTheWriterWritesTheReaderReads) {
  std::string out;
  bytes::Writer w(out);
  w.u8(7);
  w.u64_le(std::uint64_t{1} << 40U);
  w.i64_le(-5);
  w.str_u64_le("hello");
  bytes::Reader r(out);
  std::uint8_t u8 = 0;
  std::uint64_t u64 = 0;
  std::int64_t i64 = 0;
  std::string s;
  ASSERT_TRUE(r.u8(u8) && r.u64_le(u64) && r.i64_le(i64) && r.str_u64_le(s));
  EXPECT_TRUE(r.done());
  EXPECT_EQ(u8, 7U);
  EXPECT_EQ(u64, std::uint64_t{1} << 40U);
  EXPECT_EQ(i64, -5);
  EXPECT_EQ(s, "hello");
}

// The embedded engines' keys sort by these bytes, so the order is exact.
TEST(Bytes, IntegersAreWrittenInTheByteOrderTheirNameSays) {
  std::string out;
  bytes::Writer w(out);
  w.u16_be(0x0102U);
  w.u32_be(0x03040506U);
  w.u64_be(0x0708090A0B0C0D0EU);
  w.u32_le(0x14131211U);
  EXPECT_EQ(out, "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0A\x0B\x0C\x0D\x0E\x11\x12\x13\x14"sv);
  bytes::Reader r(out);
  std::uint16_t u16 = 0;
  std::uint32_t u32 = 0;
  std::uint64_t u64 = 0;
  std::uint32_t le = 0;
  ASSERT_TRUE(r.u16_be(u16) && r.u32_be(u32) && r.u64_be(u64) && r.u32_le(le));
  EXPECT_TRUE(r.done());
  EXPECT_EQ(u64, 0x0708090A0B0C0D0EU);
  EXPECT_EQ(le, 0x14131211U);
}

// Each string form: its length, then that many bytes.
TEST(Bytes, StringsAreReadAfterTheirLength) {
  std::string a;
  std::string b;
  std::string c;
  ASSERT_TRUE(bytes::Reader("\x00\x02hi"sv).str_u16_be(a));
  ASSERT_TRUE(bytes::Reader("\x00\x00\x00\x03hey"sv).str_u32_be(b));
  ASSERT_TRUE(bytes::Reader("\x00\x00\x00\x00\x00\x00\x00\x00"sv).str_u64_le(c));
  EXPECT_EQ(a, "hi");
  EXPECT_EQ(b, "hey");
  EXPECT_EQ(c, "");
}

// A read past the end fails, leaves its output as it was and consumes
// nothing; so does every read after it, even one that would fit.
TEST(Bytes, AReadPastTheEndFailsAndSoDoesEveryReadAfterIt) {
  bytes::Reader r("\x01\x02\x03"sv);
  std::uint32_t u32 = 99;
  EXPECT_FALSE(r.u32_be(u32));
  EXPECT_EQ(u32, 99U);
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(r.done());
  EXPECT_EQ(r.remaining(), 3U);
  std::uint8_t u8 = 42;
  EXPECT_FALSE(r.u8(u8));
  EXPECT_EQ(u8, 42U);
  std::string_view view;
  EXPECT_FALSE(r.bytes(1, view));
  EXPECT_FALSE(r.ok());
}

TEST(Bytes, AnEmptyInputFailsEveryFixedWidthRead) {
  std::uint8_t u8 = 0;
  std::uint16_t u16 = 0;
  std::uint32_t u32 = 0;
  std::int32_t i32 = 0;
  std::uint64_t u64 = 0;
  std::int64_t i64 = 0;
  EXPECT_FALSE(bytes::Reader(std::string_view()).u8(u8));
  EXPECT_FALSE(bytes::Reader(std::string_view()).u16_be(u16));
  EXPECT_FALSE(bytes::Reader(std::string_view()).u32_be(u32));
  EXPECT_FALSE(bytes::Reader(std::string_view()).u32_le(u32));
  EXPECT_FALSE(bytes::Reader(std::string_view()).i32_be(i32));
  EXPECT_FALSE(bytes::Reader(std::string_view()).u64_be(u64));
  EXPECT_FALSE(bytes::Reader(std::string_view()).u64_le(u64));
  EXPECT_FALSE(bytes::Reader(std::string_view()).i64_le(i64));
  EXPECT_TRUE(bytes::Reader(std::string_view()).done());
}

// A length that claims more bytes than are left (a corrupt or hostile
// record) fails without reading them, however large it is.
TEST(Bytes, AStringLongerThanWhatIsLeftFails) {
  std::string s = "unchanged";
  EXPECT_FALSE(bytes::Reader("\x00\x05hi"sv).str_u16_be(s));
  EXPECT_FALSE(bytes::Reader("\xFF\xFF\xFF\xFFhi"sv).str_u32_be(s));
  EXPECT_FALSE(bytes::Reader("\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFFhi"sv).str_u64_le(s));
  EXPECT_FALSE(bytes::Reader("\x00"sv).str_u16_be(s));  // not even the length
  EXPECT_EQ(s, "unchanged");
  std::string_view view;
  bytes::Reader r("abc"sv);
  EXPECT_FALSE(r.bytes(4, view));
  EXPECT_FALSE(r.skip(1));
}

TEST(Bytes, BytesAndRestAreViewsOfTheInput) {
  const std::string in = "headbody";
  bytes::Reader r(in);
  std::string_view head;
  ASSERT_TRUE(r.bytes(4, head));
  EXPECT_EQ(head, "head");
  EXPECT_EQ(head.data(), in.data());
  EXPECT_EQ(r.rest(), "body");
  EXPECT_EQ(r.rest().data(), in.data() + 4);
  ASSERT_TRUE(r.skip(4));
  EXPECT_TRUE(r.done());
}

// fail(): bytes that read well but mean nothing fail the whole read.
TEST(Bytes, FailMarksTheReaderFailed) {
  bytes::Reader r("\x01"sv);
  r.fail();
  std::uint8_t u8 = 0;
  EXPECT_FALSE(r.u8(u8));
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace parley
