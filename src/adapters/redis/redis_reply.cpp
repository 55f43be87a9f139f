#include "adapters/redis/redis_reply.hpp"

#include <hiredis/hiredis.h>

#include <charconv>
#include <mutex>

namespace parley::redis {

namespace {

redisReplyObjectFunctions g_hiredis{};  // what redisReaderCreate installs
redisReplyObjectFunctions g_bounded{};  // the same, createArray bounded
std::once_flag g_functions_once;

void* create_bounded_array(const redisReadTask* task, int elements) {
  // nullptr: hiredis sets the reader's error and gives up on the stream.
  if (elements < 0 || elements > kMaxReplyElements) return nullptr;
  return g_hiredis.createArray(task, elements);
}

}  // namespace

redisReader* create_reader() {
  std::call_once(g_functions_once, [] {
    redisReader* probe = redisReaderCreate();
    g_hiredis = *probe->fn;
    redisReaderFree(probe);
    g_bounded = g_hiredis;
    g_bounded.createArray = create_bounded_array;
  });
  return redisReaderCreateWithFunctions(&g_bounded);
}

std::optional<long long> RedisReply::as_integer() const {
  if (type == Type::integer) return integer;
  if (type != Type::string && type != Type::status) return std::nullopt;
  long long value = 0;
  const auto [end, ec] = std::from_chars(str.data(), str.data() + str.size(), value);
  if (ec != std::errc() || end != str.data() + str.size()) return std::nullopt;
  return value;
}

RedisReply from_hiredis(const redisReply& r) {
  RedisReply out;
  switch (r.type) {
    case REDIS_REPLY_STRING: out.type = RedisReply::Type::string; break;
    case REDIS_REPLY_ARRAY: out.type = RedisReply::Type::array; break;
    case REDIS_REPLY_INTEGER: out.type = RedisReply::Type::integer; break;
    case REDIS_REPLY_STATUS: out.type = RedisReply::Type::status; break;
    case REDIS_REPLY_ERROR: out.type = RedisReply::Type::error; break;
    default: out.type = RedisReply::Type::nil; break;
  }
  if (r.str != nullptr) out.str.assign(r.str, r.len);
  out.integer = r.integer;
  out.elements.reserve(r.elements);
  for (std::size_t i = 0; i < r.elements; ++i) out.elements.push_back(from_hiredis(*r.element[i]));
  return out;
}

}  // namespace parley::redis
