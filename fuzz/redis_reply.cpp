// Fuzz target: bytes from a Redis server, parsed by hiredis's RESP reader
// as the Redis client makes it (redis::create_reader) and feeds it, and
// copied into Parley's RedisReply
// (redis::from_hiredis), each reply then read as an integer the way the
// state store reads counters and TTLs (RedisReply::as_integer).
//
// Invariants: no exception escapes; the copy keeps the type, bytes and
// elements of hiredis's reply; as_integer of an integer reply is its value.

#include <hiredis/hiredis.h>

#include <cstdint>
#include <memory>

#include "adapters/redis/redis_reply.hpp"
#include "check.hpp"

using parley::redis::RedisReply;

namespace {

void check_copy(const redisReply& raw, const RedisReply& copy) {
  if (raw.str != nullptr) {
    PARLEY_FUZZ_CHECK(copy.str.size() == raw.len && copy.str.compare(0, raw.len, raw.str, raw.len) == 0);
  }
  PARLEY_FUZZ_CHECK(copy.elements.size() == raw.elements);
  for (std::size_t i = 0; i < raw.elements; ++i) check_copy(*raw.element[i], copy.elements[i]);
  if (copy.type == RedisReply::Type::integer) {
    PARLEY_FUZZ_CHECK(raw.type == REDIS_REPLY_INTEGER);
    PARLEY_FUZZ_CHECK(copy.as_integer() == raw.integer);
  }
  if (copy.type == RedisReply::Type::nil) PARLEY_FUZZ_CHECK(!copy.as_integer());
  if (copy.type == RedisReply::Type::error) PARLEY_FUZZ_CHECK(copy.is_error() && !copy.as_integer());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::unique_ptr<redisReader, void (*)(redisReader*)> reader(parley::redis::create_reader(), redisReaderFree);
  PARLEY_FUZZ_CHECK(reader != nullptr);
  // Fed in two pieces, as bytes arrive from a socket.
  const std::size_t half = size / 2;
  if (redisReaderFeed(reader.get(), reinterpret_cast<const char*>(data), half) != REDIS_OK) return 0;
  for (int piece = 0; piece < 2; ++piece) {
    for (;;) {
      void* raw = nullptr;
      if (redisReaderGetReply(reader.get(), &raw) != REDIS_OK || raw == nullptr) break;
      std::unique_ptr<redisReply, void (*)(void*)> reply(static_cast<redisReply*>(raw), freeReplyObject);
      const RedisReply copy = parley::redis::from_hiredis(*reply);
      check_copy(*reply, copy);
    }
    if (piece == 0 &&
        redisReaderFeed(reader.get(), reinterpret_cast<const char*>(data) + half, size - half) != REDIS_OK) {
      return 0;
    }
  }
  return 0;
}
