#pragma once
// The load generator's connections and threads.
//
// A Worker is one thread with its own io_context, holding many connections
// (Conn) for their whole life, as the server holds its sessions: nothing a
// connection touches is shared with another thread, so the hot path (stamp,
// write, read, parse the stamp, record) takes no lock. Every scenario puts
// the connections that talk to each other (a pair, a group) on the same
// worker, so "latency to the last member" is counted without sharing.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "histogram.hpp"

namespace parley::bench {

using Clock = std::chrono::steady_clock;

inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

// What the run shares, set by main before each phase starts (a phase starts
// by posting to the workers, which orders these writes before their reads).
struct Window {
  std::int64_t start_ns = 0;    // sending starts (warm-up begins)
  std::int64_t measure_ns = 0;  // measurement window [measure_ns, end_ns)
  std::int64_t end_ns = 0;      // sending stops
};

// How many other devices should receive one message (for the "last member"
// latency and the undelivered count).
struct Fanout {
  int recipients = 1;
};

class Worker;

class Conn : public std::enable_shared_from_this<Conn> {
 public:
  Conn(Worker& worker, int index);

  Worker& worker;
  const int index;  // across all workers; stamped into every body this connection sends
  // The socket typed on its worker's io_context: no beast::tcp_stream layer
  // and no type-erased executor on the path of each frame (the generator
  // shares the server's cores, so its cost per frame is the server's loss).
  using Socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, boost::asio::io_context::executor_type>;
  boost::beast::websocket::stream<Socket> ws;
  boost::beast::flat_buffer buffer;
  std::deque<std::string> queue;  // frames waiting; front is being written
  bool writing = false;
  bool open = false;

  std::string target;  // the upgrade request's path and query
  std::string to;      // the `to` object of this connection's sends (JSON)
  std::string user_id;
  int group = -1;  // the worker-local group/pair this connection belongs to

  // One request awaited during setup (group_create, channel_join, sync).
  std::uint64_t wait_id = 0;
  bool wait_done = false;
  std::string wait_reply;
  boost::asio::steady_timer wait_timer;

  void enqueue(std::string frame);
  // Sends one request and waits for its reply (or `timeout`); returns the
  // reply frame, empty on timeout or a closed connection.
  boost::asio::awaitable<std::string> call(std::string frame, std::uint64_t id, std::chrono::milliseconds timeout);

 private:
  void write_next();
};

struct Counters {
  std::uint64_t sent = 0;        // sends written in [measure, end)
  std::uint64_t sent_total = 0;  // all sends
  std::uint64_t acked = 0;       // ok replies received in [measure, end)
  std::uint64_t acked_total = 0;
  std::uint64_t acked_measured = 0;      // ok replies to sends written in [measure, end), whenever received
  std::uint64_t errors = 0;              // error replies or error events
  std::uint64_t delivered = 0;           // message frames to other devices received in [measure, end)
  std::uint64_t delivered_total = 0;     // all, incl. drain
  std::uint64_t delivered_measured = 0;  // deliveries of messages stamped in [measure, end), whenever received
  std::uint64_t echoes = 0;              // the sender's own copy (its inbox entry), not a delivery to another
  std::uint64_t complete = 0;            // messages stamped in the window that reached every recipient
  std::uint64_t pings = 0;
  std::uint64_t other_frames = 0;
  std::uint64_t disconnects = 0;  // connections closed under the generator
};

class Worker {
 public:
  explicit Worker(int index) : id(index) {}
  const int id;
  boost::asio::io_context ioc{1};
  std::vector<std::shared_ptr<Conn>> conns;
  std::vector<Conn*> senders;  // round-robin order of open-loop sends
  Histogram latency;           // each delivery to another device
  Histogram latency_last;      // a message to its last recipient (groups)
  Counters counters;
  std::string first_error;
  const Window* window = nullptr;
  Fanout fanout;
  bool track_last = false;  // count deliveries per message (groups)
  // The request ids of this worker's sends written in [measure, end): they
  // are consecutive (send_loop numbers its sends in order).
  std::uint64_t measured_first_id = 0;
  std::uint64_t measured_last_id = 0;
  // (sender index << 32 | message number) -> recipients still to receive it
  std::unordered_map<std::uint64_t, int> outstanding;

  // Called by a connection's read loop for each text frame.
  void on_frame(Conn& c, std::string_view frame);
};

}  // namespace parley::bench
