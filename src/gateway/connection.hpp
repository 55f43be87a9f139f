#pragma once
// A client connection as the rest of the gateway sees it: something frames
// can be sent to from any thread.

#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <string>

#include "ports/directory.hpp"

namespace parley::gateway {

class Connection {
 public:
  virtual ~Connection() = default;
  // Queues an event frame for this connection; thread-safe, never blocks.
  // A connection too far behind with its writes is closed instead.
  virtual void send(std::shared_ptr<const std::string> frame) = 0;
  // Queues the answer to one of this connection's own requests: always
  // queued (the connection's requests wait while its queue is full).
  virtual void send_reply(std::shared_ptr<const std::string> frame) = 0;
  // Closes with 1001 (going away) once queued frames are written.
  virtual void close_going_away() = 0;

  // The I/O thread the connection lives on, and send() for a caller already
  // running there: a batch of events for many connections is handed to each
  // I/O thread once (SessionRegistry::deliver_all), not once per frame.
  [[nodiscard]] virtual boost::asio::any_io_executor executor() const = 0;
  virtual void send_here(std::shared_ptr<const std::string> frame) = 0;
  // send_reply() for a caller running on executor().
  virtual void send_reply_here(std::shared_ptr<const std::string> frame) = 0;
  // Closes with 4001 and `reason` (its session ended: logged out, device
  // removed, password changed) once queued frames are written.
  virtual void close_session_ended(std::string reason) = 0;
  // The session (token) the connection was opened with; fixed for its life.
  [[nodiscard]] virtual const ports::SessionRecord& session() const = 0;
};

}  // namespace parley::gateway
