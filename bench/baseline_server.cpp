// baseline_server: the ceiling each Parley figure is compared with. A bare
// WebSocket relay on the same stack as Parley's gateway (Boost.Beast, one
// io_context per thread, coroutines, one write queue per connection, frames
// shared between recipients, delivery posted to the recipient's thread) and
// no chat logic at all: no JSON parsing, no log, no store, no sequencing.
//
// A connection to /room/<name> joins that room; every text frame it sends
// goes to every member of the room, itself included (as a Parley sender's
// own device gets its inbox copy). A connection to /page answers every frame
// with a sync-like page of `--page` entries after the request's "after",
// formatted as Parley formats inbox entries, echoing the request's "id".
//
//   baseline_server [--port P] [--threads T] [--page N]
// Prints "baseline listening on 127.0.0.1:P" once it accepts.

#include <sys/resource.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using asio::awaitable;
using asio::ip::tcp;

namespace {

constexpr auto as_tuple_awaitable = asio::as_tuple(asio::use_awaitable);
int g_page = 500;

class Session;

// Rooms are shared by all threads, as Parley's routes are: a lock around the
// map, a snapshot of the members taken under it, the sends done outside it.
struct Rooms {
  std::mutex mutex;  // guards `rooms`
  std::unordered_map<std::string, std::vector<std::weak_ptr<Session>>> rooms;

  void join(const std::string& room, const std::shared_ptr<Session>& s) {
    std::lock_guard lock(mutex);
    rooms[room].push_back(s);
  }
  std::vector<std::shared_ptr<Session>> members(const std::string& room) {
    std::vector<std::shared_ptr<Session>> out;
    std::lock_guard lock(mutex);
    auto it = rooms.find(room);
    if (it == rooms.end()) return out;
    out.reserve(it->second.size());
    for (auto& w : it->second)
      if (auto s = w.lock()) out.push_back(std::move(s));
    return out;
  }
};
Rooms g_rooms;

// As the gateway's plain WebSocket (PlainSocket): the bare socket, typed on
// its thread's io_context.
using Socket = asio::basic_stream_socket<tcp, asio::io_context::executor_type>;

class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(Socket socket) : ws_(std::move(socket)) {}

  static awaitable<void> serve(std::shared_ptr<Session> self) {
    beast::flat_buffer buffer;
    http::request<http::string_body> req;
    auto [rec, rn] = co_await http::async_read(self->ws_.next_layer(), buffer, req, as_tuple_awaitable);
    if (rec || !websocket::is_upgrade(req)) co_return;
    self->ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    self->ws_.auto_fragment(false);
    auto [aec] = co_await self->ws_.async_accept(req, as_tuple_awaitable);
    if (aec) co_return;
    const std::string target(req.target());
    const bool page = target == "/page";
    std::string room;
    if (!page) {
      room = target.starts_with("/room/") ? target.substr(6) : target;
      g_rooms.join(room, self);
    }
    beast::flat_buffer in;
    for (;;) {
      auto [ec, n] = co_await self->ws_.async_read(in, as_tuple_awaitable);
      if (ec) break;
      const auto data = in.data();
      const std::string_view frame(static_cast<const char*>(data.data()), data.size());
      if (page) {
        self->enqueue(std::make_shared<const std::string>(make_page(frame)));
      } else {
        auto shared = std::make_shared<const std::string>(frame);
        for (auto& member : g_rooms.members(room)) member->send(shared);
      }
      in.consume(in.size());
    }
    self->closed_ = true;
  }

  void send(std::shared_ptr<const std::string> frame) {
    asio::dispatch(ws_.get_executor(),
                   [self = shared_from_this(), f = std::move(frame)]() mutable { self->enqueue(std::move(f)); });
  }

 private:
  static std::int64_t number_after(std::string_view s, std::string_view key) {
    const auto at = s.find(key);
    std::int64_t v = 0;
    if (at != std::string_view::npos) std::from_chars(s.data() + at + key.size(), s.data() + s.size(), v);
    return v;
  }

  // A page shaped like Parley's sync reply: entries after the request's
  // "after", each an inbox entry holding a ~150-byte message.
  static std::string make_page(std::string_view request) {
    const std::int64_t id = number_after(request, "\"id\":");
    const std::int64_t after = number_after(request, "\"after\":");
    std::string out = "{\"re\":" + std::to_string(id) + ",\"ok\":true,\"entries\":[";
    out.reserve(static_cast<std::size_t>(g_page) * 330);
    char entry[512];
    const std::string body(150, 'x');
    for (int i = 1; i <= g_page; ++i) {
      const std::int64_t seq = after + i;
      const int len = std::snprintf(
          entry, sizeof entry,
          "%s{\"seq\":%lld,\"message\":{\"message_id\":\"%lld\",\"conversation\":\"d:1:2\",\"from\":\"1\","
          "\"to\":{\"user\":\"2\"},\"body\":\"%s\",\"sent_at\":1700000000000,\"client_msg_id\":\"c-%lld\"}}",
          i == 1 ? "" : ",", static_cast<long long>(seq), static_cast<long long>(7000000000000000000LL + seq),
          body.c_str(), static_cast<long long>(seq));
      out.append(entry, static_cast<std::size_t>(len));
    }
    out += "],\"more\":true}";
    return out;
  }

  void enqueue(std::shared_ptr<const std::string> frame) {
    if (closed_) return;
    queue_.push_back(std::move(frame));
    if (!writing_) write_next();
  }
  void write_next() {
    if (queue_.empty() || closed_) return;
    writing_ = true;
    ws_.text(true);
    ws_.async_write(asio::buffer(*queue_.front()), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->writing_ = false;
      self->queue_.pop_front();
      if (ec) {
        self->closed_ = true;
        self->queue_.clear();
        return;
      }
      self->write_next();
    });
  }

  websocket::stream<Socket> ws_;
  std::deque<std::shared_ptr<const std::string>> queue_;
  bool writing_ = false;
  bool closed_ = false;
};

awaitable<void> accept_loop(tcp::acceptor& acceptor, std::vector<std::unique_ptr<asio::io_context>>& contexts) {
  std::size_t next = 0;
  for (;;) {
    asio::io_context& ioc = *contexts[next++ % contexts.size()];
    Socket socket(ioc.get_executor());
    auto [ec] = co_await acceptor.async_accept(socket, as_tuple_awaitable);
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      continue;  // out of descriptors, for one: keep serving the others
    }
    socket.set_option(tcp::no_delay(true));
    asio::co_spawn(ioc, Session::serve(std::make_shared<Session>(std::move(socket))), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  unsigned short port = 0;
  int threads = static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--port") port = static_cast<unsigned short>(std::stoi(argv[i + 1]));
    if (a == "--threads") threads = std::stoi(argv[i + 1]);
    if (a == "--page") g_page = std::stoi(argv[i + 1]);
  }
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  std::signal(SIGPIPE, SIG_IGN);

  std::vector<std::unique_ptr<asio::io_context>> contexts;
  for (int i = 0; i < threads; ++i) contexts.push_back(std::make_unique<asio::io_context>(1));
  tcp::acceptor acceptor(*contexts[0], tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  acceptor.listen(4096);
  asio::co_spawn(*contexts[0], accept_loop(acceptor, contexts), asio::detached);
  asio::signal_set signals(*contexts[0], SIGINT, SIGTERM);
  signals.async_wait([&](beast::error_code, int) {
    for (auto& c : contexts) c->stop();
  });
  std::printf("baseline listening on 127.0.0.1:%u\n", static_cast<unsigned>(acceptor.local_endpoint().port()));
  std::fflush(stdout);

  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i)
    pool.emplace_back([&ioc = *contexts[static_cast<std::size_t>(i)]] {
      auto guard = asio::make_work_guard(ioc);
      ioc.run();
    });
  contexts[0]->run();
  for (auto& c : contexts) c->stop();
  for (auto& t : pool) t.join();
  std::quick_exit(0);
}
