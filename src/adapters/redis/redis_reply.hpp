#pragma once
// RedisReply: one RESP2 reply, copied out of hiredis's reply object so that
// it can cross threads and outlive the parser.

#include <optional>
#include <string>
#include <vector>

struct redisReply;  // hiredis's

namespace parley::redis {

struct RedisReply {
  enum class Type { string, array, integer, nil, status, error };
  Type type = Type::nil;
  std::string str;  // string, status and error replies
  long long integer = 0;
  std::vector<RedisReply> elements;  // array replies

  [[nodiscard]] bool is_error() const noexcept { return type == Type::error; }
  // The reply as an integer: an integer reply, or a string holding one;
  // nullopt otherwise (nil included).
  [[nodiscard]] std::optional<long long> as_integer() const;
};

// A copy of a reply hiredis's reader made.
[[nodiscard]] RedisReply from_hiredis(const redisReply& r);

}  // namespace parley::redis
