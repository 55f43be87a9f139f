#pragma once
// RedisClient: a Redis connection pair on one I/O thread of its own, over an
// Asio socket, with hiredis's RESP parser and command formatter (Debian's
// hiredis has no Asio adapter; this is one).
//
// Commands go through one connection, pipelined: requests are written in
// the order they are made and their replies matched first in, first out.
// call() blocks the calling thread until the reply comes or the timeout
// passes (ErrorCode::unavailable), so it must not be called on the client's
// own thread. While Redis cannot be reached, calls fail at once with
// ErrorCode::unavailable, and the client reconnects by itself (backoff from
// 100 ms up to 1 s).
//
// A second connection carries pub/sub: subscribe() waits for Redis to
// confirm the subscription when connected, and otherwise records it; every
// recorded channel is subscribed again after a reconnect. Messages arrive on
// the client's thread through the sink given at construction. Messages
// published while the subscriber connection is down are lost (pub/sub is
// at most once).
//
// With a password (RedisOptions::password), each connection sends AUTH
// before anything else, on its first connect and on every reconnect, and
// counts as up only once Redis accepts it. A refusal is treated as a lost
// connection (retried with the backoff); while it lasts, calls fail with
// ErrorCode::unauthorized and a message that quotes Redis's reply
// ("redis: authentication failed: WRONGPASS ..."), never the password.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/redis/redis_reply.hpp"
#include "core/result.hpp"

namespace parley::redis {

struct RedisOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::chrono::milliseconds timeout{2000};  // per call
  // Redis AUTH: `AUTH user password`, or `AUTH password` when user is empty
  // (the default user, or requirepass). No AUTH when password is empty.
  std::string user;
  std::string password;
  // Set: both connections speak TLS (1.2 or later), Redis's certificate
  // checked against these CA certificates (PEM) and `host` (a name or an IP
  // address). Empty: plain TCP.
  std::string ca_file;
};

class RedisClient {
 public:
  using MessageSink = std::function<void(std::string_view channel, std::string_view payload)>;
  // Commands to run first whenever the command connection comes back after
  // a loss (Redis may have restarted empty); their replies are ignored.
  // Called on the client's thread; must not call the client.
  using RestoreHook = std::function<std::vector<std::vector<std::string>>()>;

  // Starts the I/O thread and connects in the background.
  RedisClient(RedisOptions options, MessageSink on_message, RestoreHook on_restore = {});
  // Stops the thread; calls still waiting fail with unavailable.
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Runs one command; an error reply is ErrorCode::internal.
  [[nodiscard]] Result<RedisReply> call(std::vector<std::string> args);
  // Runs several commands in one round trip (pipelined, not atomic); the
  // replies in order, error replies included.
  [[nodiscard]] Result<std::vector<RedisReply>> call_many(const std::vector<std::vector<std::string>>& commands);
  // Sends one command without waiting for its reply (read and dropped), for
  // writes nobody waits on, such as PUBLISH: unavailable when the connection
  // is down now; a failure after it returns goes unreported. Callable from
  // any thread.
  [[nodiscard]] Result<void> send_only(const std::vector<std::string>& args);

  // Subscribes to `channel` (see above). Not callable on the client's thread.
  [[nodiscard]] Result<void> subscribe(const std::string& channel);
  // Unsubscribes, without waiting. Callable from any thread.
  void unsubscribe(const std::string& channel);

  // Whether this is the client's I/O thread.
  [[nodiscard]] bool on_client_thread() const noexcept;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace parley::redis
