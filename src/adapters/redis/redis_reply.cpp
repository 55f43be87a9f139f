#include "adapters/redis/redis_reply.hpp"

#include <hiredis/hiredis.h>

#include <charconv>

namespace parley::redis {

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
