#pragma once
// ControlSocket: a Unix socket in the server's data directory through which
// the owner of that directory asks the running server for what another
// process cannot do itself: `parleyd backup` (RocksDB lets one process open
// a database, so only the server can checkpoint its own).
//
// Who may ask: the socket file is mode 0600 (only the data directory's
// owner, and root, can connect), and the peer's uid (SO_PEERCRED) must be
// the server's or root's. No token.
//
// The exchange: the client writes one line, "<command> <argument>\n", at
// most kMaxControlRequest bytes; the server answers "ok\n" or "error\n",
// then text for people, and closes. One request at a time, on a thread of
// its own (`control`): the server keeps serving meanwhile.

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

#include "core/result.hpp"

namespace parley::gateway {

inline constexpr std::size_t kMaxControlRequest = 4096;

class ControlSocket {
 public:
  // Answers a command: the text of "ok", or an error whose message is the
  // text of "error".
  using Handler = std::function<Result<std::string>(std::string_view command, std::string_view argument)>;

  ControlSocket(std::string path, Handler handler);
  ~ControlSocket();
  ControlSocket(const ControlSocket&) = delete;
  ControlSocket& operator=(const ControlSocket&) = delete;

  // Binds the socket at `path` (replacing a socket file left by a server
  // that died: the caller holds the data directory's locks, so none is
  // running) and starts answering. An error if it cannot, or if something
  // other than a socket is in the way.
  [[nodiscard]] Result<void> start();
  // Stops taking requests, waits for the one in hand, removes the file.
  void stop();

 private:
  void run();
  void serve_one(int client);

  const std::string path_;
  const Handler handler_;
  int listener_ = -1;
  int wake_[2] = {-1, -1};  // a pipe: stop() writes to it to end run()
  std::thread thread_;
};

// What the server answered.
struct ControlAnswer {
  bool ok = false;
  std::string text;
};

// Sends one request to the server listening at `path` and waits for its
// answer, however long the command takes. An error (unavailable) when no
// server answers there.
[[nodiscard]] Result<ControlAnswer> control_request(const std::string& path, std::string_view command,
                                                    std::string_view argument);

}  // namespace parley::gateway
