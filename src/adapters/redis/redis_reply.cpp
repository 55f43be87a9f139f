#include "adapters/redis/redis_reply.hpp"

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

}  // namespace parley::redis
