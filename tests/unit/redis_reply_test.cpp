#include "adapters/redis/redis_reply.hpp"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <memory>
#include <string>
#include <string_view>

namespace parley::redis {
namespace {

using ReaderPtr = std::unique_ptr<redisReader, void (*)(redisReader*)>;

ReaderPtr reader() { return ReaderPtr(create_reader(), redisReaderFree); }

TEST(RedisReply, TheReaderCopiesRepliesAsHiredisReadsThem) {
  auto r = reader();
  const std::string_view bytes = "*3\r\n$7\r\nmessage\r\n:42\r\n$-1\r\n";
  ASSERT_EQ(redisReaderFeed(r.get(), bytes.data(), bytes.size()), REDIS_OK);
  void* raw = nullptr;
  ASSERT_EQ(redisReaderGetReply(r.get(), &raw), REDIS_OK);
  ASSERT_NE(raw, nullptr);
  const RedisReply reply = from_hiredis(*static_cast<redisReply*>(raw));
  freeReplyObject(raw);
  ASSERT_EQ(reply.type, RedisReply::Type::array);
  ASSERT_EQ(reply.elements.size(), 3U);
  EXPECT_EQ(reply.elements[0].str, "message");
  EXPECT_EQ(reply.elements[1].as_integer(), 42);
  EXPECT_EQ(reply.elements[2].type, RedisReply::Type::nil);
}

// Found by fuzz/redis_reply.cpp: hiredis allocates an array reply's element
// pointers as soon as it reads the length, so 14 bytes ("*888888883\r\n")
// made the client allocate 7 GB. A length above kMaxReplyElements now
// fails the reader instead.
TEST(RedisReply, AnArrayLongerThanTheLimitFailsTheReader) {
  auto r = reader();
  const std::string bytes = "*" + std::to_string(888888883) + "\r\n";
  ASSERT_EQ(redisReaderFeed(r.get(), bytes.data(), bytes.size()), REDIS_OK);
  void* raw = nullptr;
  EXPECT_EQ(redisReaderGetReply(r.get(), &raw), REDIS_ERR);
  EXPECT_EQ(raw, nullptr);

  // At the limit it is read (here: still waiting for its elements).
  auto ok = reader();
  const std::string at_limit = "*" + std::to_string(kMaxReplyElements) + "\r\n";
  ASSERT_EQ(redisReaderFeed(ok.get(), at_limit.data(), at_limit.size()), REDIS_OK);
  EXPECT_EQ(redisReaderGetReply(ok.get(), &raw), REDIS_OK);
  EXPECT_EQ(raw, nullptr);
}

}  // namespace
}  // namespace parley::redis
