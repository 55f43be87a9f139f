#pragma once
// RedisReply: one RESP2 reply, copied out of hiredis's reply object so that
// it can cross threads and outlive the parser.

#include <optional>
#include <string>
#include <vector>

struct redisReply;   // hiredis's
struct redisReader;  // hiredis's

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

// The most elements an array reply may announce: far more than any reply
// Parley asks for holds (the routes or the watchers of one user), and far
// less than what hiredis would otherwise allocate at once for a length a
// server (or anything on the way) sends: `*888888883` was 7 GB.
inline constexpr int kMaxReplyElements = 1 << 20;

// hiredis's RESP reader, with its own reply objects, except that an array
// reply announcing more than kMaxReplyElements elements fails the reader
// (redisReaderGetReply answers REDIS_ERR) instead of being allocated.
// Freed with redisReaderFree.
[[nodiscard]] redisReader* create_reader();

// A copy of a reply hiredis's reader made.
[[nodiscard]] RedisReply from_hiredis(const redisReply& r);

}  // namespace parley::redis
