#pragma once
// A client connection as the rest of the gateway sees it: something frames
// can be sent to from any thread.

#include <memory>
#include <string>

namespace parley::gateway {

class Connection {
 public:
  virtual ~Connection() = default;
  // Queues a text frame for this connection; thread-safe, never blocks.
  virtual void send(std::shared_ptr<const std::string> frame) = 0;
  // Closes with 1001 (going away) once queued frames are written.
  virtual void close_going_away() = 0;
};

}  // namespace parley::gateway
