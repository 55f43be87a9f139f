#pragma once
// A client connection as the rest of the gateway sees it: something frames
// can be sent to from any thread.

#include <algorithm>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "services/auth.hpp"  // ports::SessionRecord: who a connection speaks for

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
  // Names executor()'s thread (its io_context) without making an executor:
  // how ThreadHandOff sorts many connections by thread cheaply.
  [[nodiscard]] virtual const void* thread_key() const {
    return &boost::asio::query(executor(), boost::asio::execution::context);
  }
  virtual void send_here(std::shared_ptr<const std::string> frame) = 0;
  // send_reply() for a caller running on executor().
  virtual void send_reply_here(std::shared_ptr<const std::string> frame) = 0;
  // Closes with 4001 and `reason` (its session ended: logged out, device
  // removed, password changed) once queued frames are written.
  virtual void close_session_ended(std::string reason) = 0;
  // The session (token) the connection was opened with; fixed for its life.
  [[nodiscard]] virtual const ports::SessionRecord& session() const = 0;
};

// Frames for many connections, gathered per I/O thread and handed to each
// thread once (one post, not one per frame), each connection's in the order
// added: how a batch of deliveries or send answers reaches its devices.
class ThreadHandOff {
 public:
  void add(std::shared_ptr<Connection> connection, std::shared_ptr<const std::string> frame) {
    const void* key = connection->thread_key();
    auto hand = std::find_if(hands_.begin(), hands_.end(), [&](const Hand& h) { return h.key == key; });
    if (hand == hands_.end()) hand = hands_.insert(hands_.end(), Hand{key, connection->executor(), {}});
    hand->frames.emplace_back(std::move(connection), std::move(frame));
  }
  // Posts the frames; `replies`: as answers to the connections' own
  // requests (send_reply_here), else as events (send_here).
  void post(bool replies) && {
    for (auto& hand : hands_) {
      boost::asio::post(hand.executor, [frames = std::move(hand.frames), replies]() mutable {
        for (auto& [connection, frame] : frames) {
          replies ? connection->send_reply_here(std::move(frame)) : connection->send_here(std::move(frame));
        }
      });
    }
  }

 private:
  struct Hand {
    const void* key = nullptr;  // Connection::thread_key
    boost::asio::any_io_executor executor;
    std::vector<std::pair<std::shared_ptr<Connection>, std::shared_ptr<const std::string>>> frames;
  };
  std::vector<Hand> hands_;  // one per I/O thread: a handful, searched in turn
};

}  // namespace parley::gateway
