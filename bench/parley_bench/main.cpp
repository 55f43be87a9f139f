// parley-bench: an open-loop load generator for Parley (and for the bare
// broadcast server, bench/baseline_server.cpp, that gives each scenario its
// ceiling). docs/BENCHMARKS.md says what each scenario measures and how to
// run it; bench/run starts the servers and runs both sides.
//
//   parley-bench --scenario idle|direct|group|channel|catchup [--target parley|baseline]
//                --port P [--server-pid PID] [--threads T] [--rate R] [--duration S] ... --out FILE
//
// Open loop: each worker sends at fixed intervals from a timer, and every
// message carries its *intended* send time, so a server (or generator) that
// falls behind shows up as latency, not as a lower rate that hides it
// (coordinated omission). Latency is measured on each recipient device at
// the receipt of the message, into a log-linear histogram.

#include <netinet/in.h>
#include <sys/resource.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include "client.hpp"
#include "proc_stats.hpp"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using asio::awaitable;
using asio::ip::tcp;
using namespace parley::bench;
using namespace std::chrono_literals;

namespace {

constexpr auto as_tuple_awaitable = asio::as_tuple(asio::use_awaitable);

struct Options {
  std::string scenario;
  std::string target = "parley";  // or "baseline"
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  int server_pid = 0;
  std::string watch;  // "name=pid,name=pid": other processes whose CPU to report (the engines)
  int threads = 1;
  int connections = 1000;  // idle
  int pairs = 100;         // direct
  int groups = 10;         // group
  int group_size = 100;
  int members = 1000;  // channel
  int channel_senders = 10;
  int backlog = 100000;  // catchup
  int page = 500;
  int fill_window = 1000;
  double rate = 1000;  // messages (or pings) per second, all workers together
  double warmup = 2;
  double duration = 10;
  double drain = 5;
  double ping_interval = 5;
  int sources = 8;  // 127.0.0.1 .. 127.0.0.N
  int payload_min = 100;
  int payload_max = 200;
  int http_concurrency = 16;
  int connect_concurrency = 128;
  std::string user_prefix = "bench";  // usernames are 3 to 32 characters
  std::string out;
  std::string note;
};

void die(const std::string& what) {
  std::fprintf(stderr, "parley-bench: %s\n", what.c_str());
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  std::map<std::string, std::string> kv;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::puts(
          "parley-bench --scenario idle|direct|group|channel|catchup [--target parley|baseline] [--host H] [--port P]\n"
          "  [--server-pid PID] [--watch NAME=PID,...] [--threads T] [--rate R] [--warmup S] [--duration S] [--drain "
          "S] [--sources N]\n"
          "  [--connections N] [--ping-interval S] [--pairs N] [--groups N] [--group-size N] [--members N]\n"
          "  [--channel-senders N] [--backlog N] [--page N] [--fill-window N] [--payload-min B] [--payload-max B]\n"
          "  [--user-prefix P] [--note TEXT] --out FILE");
      std::exit(0);
    }
    if (!a.starts_with("--")) die("unexpected argument " + a);
    if (auto eq = a.find('='); eq != std::string::npos) {
      kv[a.substr(2, eq - 2)] = a.substr(eq + 1);
    } else {
      if (i + 1 >= argc) die(a + " needs a value");
      kv[a.substr(2)] = argv[++i];
    }
  }
  auto take = [&](const char* key, auto& field) {
    auto it = kv.find(key);
    if (it == kv.end()) return;
    using T = std::decay_t<decltype(field)>;
    if constexpr (std::is_same_v<T, std::string>) {
      field = it->second;
    } else if constexpr (std::is_same_v<T, double>) {
      field = std::stod(it->second);
    } else {
      field = static_cast<T>(std::stoll(it->second));
    }
    kv.erase(it);
  };
  take("scenario", o.scenario);
  take("target", o.target);
  take("host", o.host);
  take("port", o.port);
  take("server-pid", o.server_pid);
  take("watch", o.watch);
  take("threads", o.threads);
  take("connections", o.connections);
  take("pairs", o.pairs);
  take("groups", o.groups);
  take("group-size", o.group_size);
  take("members", o.members);
  take("channel-senders", o.channel_senders);
  take("backlog", o.backlog);
  take("page", o.page);
  take("fill-window", o.fill_window);
  take("rate", o.rate);
  take("warmup", o.warmup);
  take("duration", o.duration);
  take("drain", o.drain);
  take("ping-interval", o.ping_interval);
  take("sources", o.sources);
  take("payload-min", o.payload_min);
  take("payload-max", o.payload_max);
  take("http-concurrency", o.http_concurrency);
  take("connect-concurrency", o.connect_concurrency);
  take("user-prefix", o.user_prefix);
  take("out", o.out);
  take("note", o.note);
  if (!kv.empty()) die("unknown option --" + kv.begin()->first);
  static const std::vector<std::string> scenarios{"idle", "direct", "group", "channel", "catchup"};
  if (std::find(scenarios.begin(), scenarios.end(), o.scenario) == scenarios.end())
    die("--scenario must be one of idle, direct, group, channel, catchup");
  if (o.target != "parley" && o.target != "baseline") die("--target must be parley or baseline");
  if (o.threads < 1 || o.sources < 1 || o.sources > 250) die("bad --threads or --sources");
  if (o.payload_min < 40 || o.payload_max < o.payload_min) die("payload sizes: 40 <= min <= max");
  return o;
}

bool is_parley(const Options& o) { return o.target == "parley"; }

// ---------------------------------------------------------------------------
// Accounts over HTTP (POST /v1/users, POST /v1/sessions), on keep-alive
// connections, a few per worker.

struct Account {
  std::string user_id;
  std::string token;
};

awaitable<void> create_accounts(Worker& w, const Options& o, std::vector<Account>& accounts, std::size_t first,
                                std::size_t step, std::atomic<int>& failures) {
  const tcp::endpoint server(asio::ip::make_address(o.host), o.port);
  beast::tcp_stream stream(w.ioc);
  bool connected = false;
  beast::flat_buffer buffer;
  // One request; reconnects when the server closed the last one.
  auto post = [&](std::string path, std::string body) -> awaitable<http::response<http::string_body>> {
    for (int attempt = 0; attempt < 3; ++attempt) {
      if (!connected) {
        stream.close();
        auto [cec] = co_await stream.async_connect(server, as_tuple_awaitable);
        if (cec) continue;
        connected = true;
      }
      http::request<http::string_body> req{http::verb::post, path, 11};
      req.set(http::field::host, o.host);
      req.set(http::field::content_type, "application/json");
      req.keep_alive(true);
      req.body() = body;
      req.prepare_payload();
      auto [wec, wn] = co_await http::async_write(stream, req, as_tuple_awaitable);
      http::response<http::string_body> res;
      if (!wec) {
        auto [rec, rn] = co_await http::async_read(stream, buffer, res, as_tuple_awaitable);
        if (!rec) {
          if (!res.keep_alive()) connected = false;
          co_return res;
        }
      }
      connected = false;
    }
    co_return http::response<http::string_body>{};
  };
  for (std::size_t i = first; i < accounts.size(); i += step) {
    const std::string name = o.user_prefix + std::to_string(i);
    const std::string password = "bench-password";
    auto created = co_await post("/v1/users", R"({"username":")" + name + R"(","password":")" + password + "\"}");
    if (created.result() != http::status::created && created.result() != http::status::conflict) {
      if (failures++ == 0)
        std::fprintf(stderr, "parley-bench: POST /v1/users: %u %s\n", created.result_int(), created.body().c_str());
      continue;
    }
    auto session = co_await post(
        "/v1/sessions", R"({"username":")" + name + R"(","password":")" + password + R"(","device_id":"bench"})");
    if (session.result() != http::status::ok) {
      if (failures++ == 0)
        std::fprintf(stderr, "parley-bench: POST /v1/sessions: %u %s\n", session.result_int(), session.body().c_str());
      continue;
    }
    boost::system::error_code ec;
    json::value v = json::parse(session.body(), ec);
    if (ec || !v.is_object()) {
      ++failures;
      continue;
    }
    accounts[i].user_id = json::value_to<std::string>(v.at("user_id"));
    accounts[i].token = json::value_to<std::string>(v.at("token"));
  }
  stream.close();
}

// ---------------------------------------------------------------------------
// WebSocket connections.

awaitable<void> read_loop(std::shared_ptr<Conn> c) {
  for (;;) {
    auto [ec, n] = co_await c->ws.async_read(c->buffer, as_tuple_awaitable);
    if (ec) {
      if (c->open) ++c->worker.counters.disconnects;
      c->open = false;
      co_return;
    }
    const auto data = c->buffer.data();
    c->worker.on_frame(*c, std::string_view(static_cast<const char*>(data.data()), data.size()));
    c->buffer.consume(c->buffer.size());
  }
}

// Connects `list` one after another from a source address picked by the
// connection's index, so that many connections are not capped by the
// ephemeral ports of one (source, destination) pair.
awaitable<void> connect_all(Worker& w, const Options& o, std::vector<std::shared_ptr<Conn>> list,
                            std::atomic<int>& failures) {
  const tcp::endpoint server(asio::ip::make_address(o.host), o.port);
  const std::string host = o.host + ":" + std::to_string(o.port);
  for (auto& c : list) {
    auto& sock = beast::get_lowest_layer(c->ws);
    boost::system::error_code ec;
    sock.open(tcp::v4(), ec);
    if (!ec) {
      const int one = 1;
      // Lets connect() pick the port per 4-tuple instead of bind() per address.
      ::setsockopt(sock.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
      const auto source = asio::ip::make_address_v4("127.0.0." + std::to_string(1 + c->index % o.sources));
      sock.bind(tcp::endpoint(source, 0), ec);
    }
    if (ec) {
      if (failures++ == 0) std::fprintf(stderr, "parley-bench: socket: %s\n", ec.message().c_str());
      continue;
    }
    // Loopback: a refused or reset connect fails at once; the handshake
    // has the WebSocket's own timeout.
    auto [cec] = co_await sock.async_connect(server, as_tuple_awaitable);
    if (cec) {
      if (failures++ == 0) std::fprintf(stderr, "parley-bench: connect: %s\n", cec.message().c_str());
      continue;
    }
    beast::websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = 30s;
    timeouts.idle_timeout = beast::websocket::stream_base::none();
    timeouts.keep_alive_pings = false;
    c->ws.set_option(timeouts);
    auto [hec] = co_await c->ws.async_handshake(host, c->target, as_tuple_awaitable);
    if (hec) {
      if (failures++ == 0) std::fprintf(stderr, "parley-bench: handshake: %s\n", hec.message().c_str());
      continue;
    }
    c->ws.auto_fragment(false);
    c->ws.text(true);
    c->open = true;
    asio::co_spawn(w.ioc, read_loop(c), asio::detached);
  }
}

// ---------------------------------------------------------------------------
// Open-loop senders.

std::string send_frame(const Conn& c, std::uint64_t k, std::int64_t intended, const Options& o) {
  char stamp[96];
  const int n = std::snprintf(stamp, sizeof stamp, "T%lld S%d N%llu ", static_cast<long long>(intended), c.index,
                              static_cast<unsigned long long>(k));
  const auto span = static_cast<std::uint64_t>(o.payload_max - o.payload_min + 1);
  const auto length = static_cast<std::size_t>(o.payload_min) + static_cast<std::size_t>((k * 7919) % span);
  std::string body(stamp, static_cast<std::size_t>(n));
  if (body.size() < length) body.append(length - body.size(), 'x');
  std::string f;
  f.reserve(body.size() + c.to.size() + 96);
  f += R"({"op":"send","id":)";
  f += std::to_string(k + 1);
  f += R"(,"to":)";
  f += c.to;
  f += R"(,"client_msg_id":")";
  f += std::to_string(c.index);
  f += '-';
  f += std::to_string(k);
  f += R"(","body":")";
  f += body;
  f += "\"}";
  return f;
}

// Sends `rate` messages per second (this worker's share) from the worker's
// senders in turn, from window.start_ns until window.end_ns. Each tick sends
// every message whose intended time has come, stamped with that time.
awaitable<void> send_loop(Worker& w, const Options& o, double rate) {
  asio::steady_timer timer(w.ioc);
  const Window& win = *w.window;
  const double interval = 1e9 / rate;
  std::uint64_t k = 0;
  std::size_t next = 0;
  while (!w.senders.empty()) {
    const std::int64_t now = now_ns();
    if (now < win.start_ns) {
      timer.expires_after(std::chrono::nanoseconds(win.start_ns - now));
      co_await timer.async_wait(as_tuple_awaitable);
      continue;
    }
    // A tick that wakes after the window has closed still sends what fell
    // due before the close: a generator behind its schedule (a saturated
    // machine delays its timer) sends every message of the window late,
    // which shows as latency, and never fewer than the rate.
    const bool last = now >= win.end_ns;
    const std::int64_t until = last ? win.end_ns - 1 : now;
    const auto due = static_cast<std::uint64_t>(static_cast<double>(until - win.start_ns) / interval) + 1;
    while (k < due) {
      const auto intended = win.start_ns + static_cast<std::int64_t>(static_cast<double>(k) * interval);
      Conn* c = w.senders[next++ % w.senders.size()];
      const std::uint64_t number = k++;
      if (!c->open) continue;
      const bool measured = intended >= win.measure_ns && intended < win.end_ns;
      ++w.counters.sent_total;
      if (measured) {
        ++w.counters.sent;
        if (w.measured_first_id == 0) w.measured_first_id = number + 1;  // send_frame's request id
        w.measured_last_id = number + 1;
        if (w.track_last)
          w.outstanding[(static_cast<std::uint64_t>(c->index) << 32) | static_cast<std::uint32_t>(number)] =
              w.fanout.recipients;
      }
      c->enqueue(send_frame(*c, number, intended, o));
    }
    if (last) break;
    timer.expires_after(500us);
    co_await timer.async_wait(as_tuple_awaitable);
  }
}

// Idle: each connection sends the protocol's `ping` every ping_interval,
// spread evenly over the interval.
awaitable<void> ping_loop(Worker& w, const Options& o, std::int64_t until) {
  asio::steady_timer timer(w.ioc);
  if (w.conns.empty()) co_return;
  const double interval = o.ping_interval * 1e9 / static_cast<double>(w.conns.size());
  const std::int64_t start = now_ns();
  std::uint64_t k = 0;
  for (;;) {
    const std::int64_t now = now_ns();
    if (now >= until) break;
    const auto due = static_cast<std::uint64_t>(static_cast<double>(now - start) / interval) + 1;
    while (k < due) {
      Conn& c = *w.conns[k % w.conns.size()];
      ++k;
      if (!c.open) continue;
      ++w.counters.pings;
      c.enqueue(R"({"op":"ping","id":)" + std::to_string(k) + "}");
    }
    timer.expires_after(10ms);
    co_await timer.async_wait(as_tuple_awaitable);
  }
}

// ---------------------------------------------------------------------------
// Setup requests over the WebSocket (groups, channels).

std::atomic<std::uint64_t> g_next_call_id{1ULL << 40};  // apart from the senders' ids

std::string field_of(const std::string& reply, const char* name) {
  boost::system::error_code ec;
  json::value v = json::parse(reply, ec);
  if (ec || !v.is_object()) return {};
  const json::value* f = v.get_object().if_contains(name);
  return f != nullptr && f->is_string() ? std::string(f->get_string()) : std::string();
}

awaitable<void> create_groups(Worker& w, const Options& o, std::vector<std::vector<Conn*>> groups,
                              std::atomic<int>& failures) {
  for (auto& members : groups) {
    std::string list;
    for (std::size_t i = 1; i < members.size(); ++i) {
      if (!list.empty()) list += ',';
      list += '"' + members[i]->user_id + '"';
    }
    const std::uint64_t id = g_next_call_id++;
    std::string reply = co_await members[0]->call(
        R"({"op":"group_create","id":)" + std::to_string(id) + R"(,"name":"bench","members":[)" + list + "]}", id, 30s);
    const std::string group = field_of(reply, "group_id");
    if (group.empty()) {
      if (failures++ == 0) std::fprintf(stderr, "parley-bench: group_create: %s\n", reply.c_str());
      continue;
    }
    for (Conn* m : members) m->to = R"({"group":")" + group + "\"}";
  }
  (void)w;
  (void)o;
}

awaitable<std::string> create_channel(Conn* owner) {
  const std::uint64_t id = g_next_call_id++;
  std::string reply =
      co_await owner->call(R"({"op":"channel_create","id":)" + std::to_string(id) + R"(,"name":"bench"})", id, 30s);
  co_return field_of(reply, "channel_id");
}

awaitable<void> join_channel(std::vector<Conn*> members, std::string channel, std::atomic<int>& failures) {
  for (Conn* m : members) {
    const std::uint64_t id = g_next_call_id++;
    std::string reply = co_await m->call(
        R"({"op":"channel_join","id":)" + std::to_string(id) + R"(,"channel":")" + channel + "\"}", id, 30s);
    if (reply.find("\"ok\":true") == std::string::npos && failures++ == 0)
      std::fprintf(stderr, "parley-bench: channel_join: %s\n", reply.c_str());
    m->to = R"({"channel":")" + channel + "\"}";
  }
}

// ---------------------------------------------------------------------------
// Catch-up.

struct CatchupResult {
  std::uint64_t filled = 0;  // sends acknowledged while filling
  double fill_s = 0;
  double inbox_wait_s = 0;
  std::uint64_t entries = 0;
  std::uint64_t pages = 0;
  double sync_s = 0;
  std::string error;
};

std::uint64_t count_of(std::string_view s, std::string_view key) {
  std::uint64_t n = 0;
  for (auto at = s.find(key); at != std::string_view::npos; at = s.find(key, at + key.size())) ++n;
  return n;
}

std::int64_t last_seq(std::string_view s) {
  const auto at = s.rfind("\"seq\":");
  if (at == std::string_view::npos) return -1;
  std::int64_t v = -1;
  std::from_chars(s.data() + at + 6, s.data() + s.size(), v);
  return v;
}

// Sends `backlog` messages from `sender` to the reader, keeping `window`
// sends in flight (closed loop: filling is setup, not the measurement).
awaitable<void> fill_backlog(Worker& w, const Options& o, Conn* sender, CatchupResult& r) {
  asio::steady_timer timer(w.ioc);
  const auto start = Clock::now();
  std::uint64_t k = 0;
  const auto total = static_cast<std::uint64_t>(o.backlog);
  while (w.counters.acked_total < total && sender->open) {
    const std::uint64_t answered = w.counters.acked_total + w.counters.errors;
    while (k < total && k - answered < static_cast<std::uint64_t>(o.fill_window)) {
      sender->enqueue(send_frame(*sender, k, now_ns(), o));
      ++k;
    }
    if (w.counters.errors > 0 && k >= total && answered >= total) break;
    timer.expires_after(1ms);
    co_await timer.async_wait(as_tuple_awaitable);
  }
  r.filled = w.counters.acked_total;
  r.fill_s = std::chrono::duration<double>(Clock::now() - start).count();
}

// One device reads its whole backlog with `sync` pages, one after another
// (each page's `after` is the last seq of the one before), as a client
// reconnecting after a long time does.
awaitable<void> sync_backlog(Worker& w, const Options& o, Conn* reader, CatchupResult& r) {
  (void)w;
  const bool parley = is_parley(o);
  if (parley) {
    // The inbox owner runs behind the acknowledgements: wait until the last
    // entry is in the inbox, so that the measurement reads a full backlog.
    const auto start = Clock::now();
    for (int tries = 0; tries < 1200; ++tries) {
      const std::uint64_t id = g_next_call_id++;
      std::string reply = co_await reader->call(R"({"op":"sync","id":)" + std::to_string(id) + R"(,"after":)" +
                                                    std::to_string(o.backlog - 1) + R"(,"limit":1})",
                                                id, 10s);
      if (last_seq(reply) >= o.backlog) break;
      asio::steady_timer t(reader->worker.ioc);
      t.expires_after(100ms);
      co_await t.async_wait(as_tuple_awaitable);
    }
    r.inbox_wait_s = std::chrono::duration<double>(Clock::now() - start).count();
  }
  const auto start = Clock::now();
  std::int64_t after = 0;
  for (;;) {
    const std::uint64_t id = g_next_call_id++;
    std::string reply = co_await reader->call(R"({"op":"sync","id":)" + std::to_string(id) + R"(,"after":)" +
                                                  std::to_string(after) + R"(,"limit":)" + std::to_string(o.page) + "}",
                                              id, 30s);
    if (reply.empty()) {
      r.error = "sync timed out or the connection closed";
      break;
    }
    if (reply.find("\"ok\":true") == std::string::npos) {
      r.error = reply.substr(0, 300);
      break;
    }
    const std::uint64_t n = count_of(reply, "\"seq\":");
    r.entries += n;
    ++r.pages;
    const std::int64_t last = last_seq(reply);
    if (n == 0 || last <= after) break;
    after = last;
    // The baseline serves the same page for ever: stop at the backlog's size.
    if (reply.find("\"more\":true") == std::string::npos || r.entries >= static_cast<std::uint64_t>(o.backlog)) break;
  }
  r.sync_s = std::chrono::duration<double>(Clock::now() - start).count();
}

// ---------------------------------------------------------------------------

// A copy of a worker's counters, taken on its own thread.
Counters counters_of(Worker& w) {
  std::promise<Counters> copy;
  asio::post(w.ioc, [&w, &copy] { copy.set_value(w.counters); });
  return copy.get_future().get();
}

void sleep_until_ns(std::int64_t t) {
  const std::int64_t now = now_ns();
  if (t > now) std::this_thread::sleep_for(std::chrono::nanoseconds(t - now));
}

std::string q(const std::string& s) { return json::serialize(json::value(s)); }

std::string num(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.3f", v);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  const bool parley = is_parley(o);

  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }

  // Workers.
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::thread> threads;
  Window window;
  for (int i = 0; i < o.threads; ++i) {
    workers.push_back(std::make_unique<Worker>(i));
    workers.back()->window = &window;
  }
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  for (auto& w : workers) {
    guards.push_back(asio::make_work_guard(w->ioc));
    threads.emplace_back([&ioc = w->ioc] { ioc.run(); });
  }
  const auto T = static_cast<int>(workers.size());

  // How many connections, and which worker each goes to: the connections
  // that talk to each other share a worker.
  int n = 0;
  if (o.scenario == "idle") n = o.connections;
  if (o.scenario == "direct") n = 2 * o.pairs;
  if (o.scenario == "group") n = o.groups * o.group_size;
  if (o.scenario == "channel") n = o.members;
  if (o.scenario == "catchup") n = 2;
  auto worker_of = [&](int i) {
    if (o.scenario == "direct") return (i / 2) % T;
    if (o.scenario == "group") return (i / o.group_size) % T;
    if (o.scenario == "catchup") return 0;
    return i % T;
  };
  auto room_of = [&](int i) -> std::string {
    if (o.scenario == "direct") return "p" + std::to_string(i / 2);
    if (o.scenario == "group") return "g" + std::to_string(i / o.group_size);
    if (o.scenario == "channel") return "c0";
    return "i" + std::to_string(i);
  };

  std::ostringstream setup;
  const ProcSample server_initial = sample_process(o.server_pid);
  struct Watched {
    std::string name;
    int pid = 0;
    double start_s = 0;
    double end_s = 0;
  };
  std::vector<Watched> watched;
  for (std::size_t at = 0; at < o.watch.size();) {
    const std::size_t comma = std::min(o.watch.find(',', at), o.watch.size());
    const std::string item = o.watch.substr(at, comma - at);
    const std::size_t eq = item.find('=');
    if (eq == std::string::npos) die("--watch wants NAME=PID, got " + item);
    watched.push_back(Watched{item.substr(0, eq), std::stoi(item.substr(eq + 1))});
    at = comma + 1;
  }

  // Accounts (Parley only: the baseline has no users).
  std::vector<Account> accounts(parley ? static_cast<std::size_t>(n) : 0);
  if (parley) {
    std::atomic<int> failures{0};
    const auto start = Clock::now();
    std::vector<std::future<void>> done;
    const int per = std::max(1, o.http_concurrency);
    const auto step = static_cast<std::size_t>(per * T);
    for (int t = 0; t < T; ++t)
      for (int j = 0; j < per; ++j)
        done.push_back(asio::co_spawn(
            workers[t]->ioc,
            create_accounts(*workers[t], o, accounts, static_cast<std::size_t>(t * per + j), step, failures),
            asio::use_future));
    for (auto& f : done) f.get();
    const double s = std::chrono::duration<double>(Clock::now() - start).count();
    std::fprintf(stderr, "parley-bench: %d accounts in %.1f s (%d failed)\n", n, s, failures.load());
    if (failures > 0) die("account setup failed");
    setup << "\"accounts\":" << n << ",\"accounts_s\":" << num(s) << ",";
  }

  // Connections.
  for (int i = 0; i < n; ++i) {
    Worker& w = *workers[static_cast<std::size_t>(worker_of(i))];
    auto c = std::make_shared<Conn>(w, i);
    c->target = parley ? "/v1/ws?token=" + accounts[static_cast<std::size_t>(i)].token
                       : (o.scenario == "catchup" ? std::string("/page") : "/room/" + room_of(i));
    if (parley) c->user_id = accounts[static_cast<std::size_t>(i)].user_id;
    c->to = R"({"user":"0"})";
    w.conns.push_back(std::move(c));
  }
  const ProcSample server_before = sample_process(o.server_pid);
  {
    std::atomic<int> failures{0};
    const auto start = Clock::now();
    std::vector<std::future<void>> done;
    for (auto& w : workers) {
      const int lanes = std::max(1, std::min<int>(o.connect_concurrency, static_cast<int>(w->conns.size())));
      std::vector<std::vector<std::shared_ptr<Conn>>> lists(static_cast<std::size_t>(lanes));
      for (std::size_t i = 0; i < w->conns.size(); ++i) {
        // Catch-up: the reader's device connects only after the backlog is written.
        if (o.scenario == "catchup" && i == 1) continue;
        lists[i % lists.size()].push_back(w->conns[i]);
      }
      for (auto& l : lists) done.push_back(asio::co_spawn(w->ioc, connect_all(*w, o, l, failures), asio::use_future));
    }
    for (auto& f : done) f.get();
    const double s = std::chrono::duration<double>(Clock::now() - start).count();
    std::fprintf(stderr, "parley-bench: %d connections in %.1f s (%d failed)\n", n, s, failures.load());
    setup << "\"connections\":" << n << ",\"connect_failures\":" << failures.load() << ",\"connect_s\":" << num(s);
    if (failures > n / 100) die("too many connections failed");
  }

  // Scenario setup: who sends to whom.
  std::atomic<int> setup_failures{0};
  if (o.scenario == "direct") {
    for (auto& w : workers) {
      for (std::size_t i = 0; i + 1 < w->conns.size(); i += 2) {
        if (parley) w->conns[i]->to = R"({"user":")" + w->conns[i + 1]->user_id + "\"}";
        w->senders.push_back(w->conns[i].get());
      }
      w->fanout.recipients = 1;
    }
  }
  if (o.scenario == "group") {
    std::vector<std::future<void>> done;
    for (auto& w : workers) {
      std::vector<std::vector<Conn*>> groups;
      for (std::size_t i = 0; i < w->conns.size(); ++i) {
        if (i % static_cast<std::size_t>(o.group_size) == 0) groups.emplace_back();
        groups.back().push_back(w->conns[i].get());
      }
      // Senders take turns across groups, so that every group is busy.
      for (std::size_t m = 0; m < static_cast<std::size_t>(o.group_size); ++m)
        for (auto& g : groups)
          if (m < g.size()) w->senders.push_back(g[m]);
      w->fanout.recipients = o.group_size - 1;
      w->track_last = true;
      if (parley)
        done.push_back(asio::co_spawn(w->ioc, create_groups(*w, o, groups, setup_failures), asio::use_future));
    }
    for (auto& f : done) f.get();
  }
  if (o.scenario == "channel") {
    std::string channel = "0";
    if (parley) {
      Worker& w0 = *workers[0];
      channel = asio::co_spawn(w0.ioc, create_channel(w0.conns[0].get()), asio::use_future).get();
      if (channel.empty()) die("channel_create failed");
      std::vector<std::future<void>> done;
      for (auto& w : workers) {
        const std::size_t lanes = 32;
        std::vector<std::vector<Conn*>> lists(lanes);
        for (std::size_t i = 0; i < w->conns.size(); ++i)
          if (w->conns[i]->index != 0) lists[i % lanes].push_back(w->conns[i].get());
        for (auto& l : lists)
          done.push_back(asio::co_spawn(w->ioc, join_channel(l, channel, setup_failures), asio::use_future));
      }
      for (auto& f : done) f.get();
      workers[0]->conns[0]->to = R"({"channel":")" + channel + "\"}";
    }
    int senders = 0;
    for (int i = 0; i < n && senders < o.channel_senders; ++i, ++senders) {
      Conn* c = workers[static_cast<std::size_t>(worker_of(i))]->conns[static_cast<std::size_t>(i / T)].get();
      c->worker.senders.push_back(c);
    }
    // Each message goes to every other member, on whichever worker: the
    // "last member" is not tracked across workers.
    for (auto& w : workers) w->fanout.recipients = o.members - 1;
  }
  if (setup_failures > 0) die("scenario setup failed");

  // The run.
  std::ostringstream extra;
  ProcSample server_start;
  ProcSample server_end;
  ProcSample client_start;
  ProcSample client_end;
  double measured_s = o.duration;
  if (o.scenario == "idle") {
    std::this_thread::sleep_for(2s);  // let the server settle after the connection storm
    window.start_ns = now_ns();
    window.measure_ns = window.start_ns;
    window.end_ns = window.start_ns + static_cast<std::int64_t>(o.duration * 1e9);
    server_start = sample_process(o.server_pid);
    client_start = sample_process(0);
    std::vector<std::future<void>> done;
    for (auto& w : workers) done.push_back(asio::co_spawn(w->ioc, ping_loop(*w, o, window.end_ns), asio::use_future));
    for (auto& f : done) f.get();
    sleep_until_ns(window.end_ns);
    server_end = sample_process(o.server_pid);
    client_end = sample_process(0);
  } else if (o.scenario == "catchup") {
    Worker& w = *workers[0];
    Conn* sender = w.conns[0].get();
    Conn* reader = w.conns[1].get();
    CatchupResult r;
    window.start_ns = now_ns();
    window.measure_ns = window.start_ns;
    window.end_ns = INT64_MAX;
    if (parley) {
      sender->to = R"({"user":")" + reader->user_id + "\"}";
      asio::co_spawn(w.ioc, fill_backlog(w, o, sender, r), asio::use_future).get();
      std::fprintf(stderr, "parley-bench: backlog of %llu in %.1f s\n", static_cast<unsigned long long>(r.filled),
                   r.fill_s);
    }
    std::atomic<int> failures{0};
    asio::co_spawn(w.ioc, connect_all(w, o, {w.conns[1]}, failures), asio::use_future).get();
    if (failures > 0) die("the reader could not connect");
    server_start = sample_process(o.server_pid);
    client_start = sample_process(0);
    asio::co_spawn(w.ioc, sync_backlog(w, o, reader, r), asio::use_future).get();
    server_end = sample_process(o.server_pid);
    client_end = sample_process(0);
    measured_s = r.sync_s;
    const double eps = r.sync_s > 0 ? static_cast<double>(r.entries) / r.sync_s : 0;
    std::fprintf(stderr, "parley-bench: synced %llu entries in %.2f s: %.0f entries/s\n",
                 static_cast<unsigned long long>(r.entries), r.sync_s, eps);
    extra << ",\"backlog\":" << o.backlog << ",\"filled\":" << r.filled << ",\"fill_s\":" << num(r.fill_s)
          << ",\"fill_rate\":" << num(r.fill_s > 0 ? static_cast<double>(r.filled) / r.fill_s : 0)
          << ",\"inbox_wait_s\":" << num(r.inbox_wait_s) << ",\"page\":" << o.page << ",\"pages\":" << r.pages
          << ",\"entries\":" << r.entries << ",\"sync_s\":" << num(r.sync_s) << ",\"entries_per_s\":" << num(eps)
          << ",\"sync_error\":" << q(r.error);
  } else {
    const auto start = now_ns() + 50'000'000;
    window.start_ns = start;
    window.measure_ns = start + static_cast<std::int64_t>(o.warmup * 1e9);
    window.end_ns = window.measure_ns + static_cast<std::int64_t>(o.duration * 1e9);
    std::size_t total_senders = 0;
    for (auto& w : workers) total_senders += w->senders.size();
    for (auto& w : workers) {
      const double share = total_senders == 0 ? 0 : static_cast<double>(w->senders.size()) / total_senders;
      if (share > 0) asio::co_spawn(w->ioc, send_loop(*w, o, o.rate * share), asio::detached);
    }
    sleep_until_ns(window.measure_ns);
    server_start = sample_process(o.server_pid);
    client_start = sample_process(0);
    for (auto& w : watched) w.start_s = tree_cpu_s(w.pid);
    sleep_until_ns(window.end_ns);
    server_end = sample_process(o.server_pid);
    client_end = sample_process(0);
    for (auto& w : watched) w.end_s = tree_cpu_s(w.pid);
    // Drain: wait for the messages stamped in the window to arrive.
    const auto drain_until = now_ns() + static_cast<std::int64_t>(o.drain * 1e9);
    while (now_ns() < drain_until) {
      std::uint64_t sent = 0;
      std::uint64_t got = 0;
      std::uint64_t want = 0;
      for (auto& w : workers) {
        const Counters c = counters_of(*w);
        sent += c.sent;
        got += c.delivered_measured;
        want += c.sent * static_cast<std::uint64_t>(w->fanout.recipients);
      }
      (void)sent;
      if (got >= want) break;
      std::this_thread::sleep_for(100ms);
    }
  }

  // Stop the workers and merge what they measured.
  for (auto& g : guards) g.reset();
  for (auto& w : workers) w->ioc.stop();
  for (auto& t : threads) t.join();
  Histogram latency;
  Histogram latency_last;
  Counters c;
  std::string first_error;
  std::uint64_t want = 0;
  for (auto& w : workers) {
    latency.merge(w->latency);
    latency_last.merge(w->latency_last);
    const Counters& x = w->counters;
    c.sent += x.sent;
    c.sent_total += x.sent_total;
    c.acked += x.acked;
    c.acked_total += x.acked_total;
    c.acked_measured += x.acked_measured;
    c.errors += x.errors;
    c.delivered += x.delivered;
    c.delivered_total += x.delivered_total;
    c.delivered_measured += x.delivered_measured;
    c.echoes += x.echoes;
    c.complete += x.complete;
    c.pings += x.pings;
    c.other_frames += x.other_frames;
    c.disconnects += x.disconnects;
    want += x.sent * static_cast<std::uint64_t>(w->fanout.recipients);
    if (first_error.empty()) first_error = w->first_error;
  }

  const double server_cpu = server_end.cpu_s - server_start.cpu_s;
  const double client_cpu = client_end.cpu_s - client_start.cpu_s;
  std::ostringstream out;
  out << "{\"scenario\":" << q(o.scenario) << ",\"target\":" << q(o.target) << ",\"note\":" << q(o.note)
      << ",\"threads\":" << o.threads << ",\"config\":{\"rate\":" << num(o.rate) << ",\"warmup_s\":" << num(o.warmup)
      << ",\"duration_s\":" << num(o.duration) << ",\"connections\":" << o.connections << ",\"pairs\":" << o.pairs
      << ",\"groups\":" << o.groups << ",\"group_size\":" << o.group_size << ",\"members\":" << o.members
      << ",\"channel_senders\":" << o.channel_senders << ",\"backlog\":" << o.backlog
      << ",\"ping_interval_s\":" << num(o.ping_interval) << ",\"payload\":[" << o.payload_min << "," << o.payload_max
      << "],\"sources\":" << o.sources << "}";
  out << ",\"setup\":{" << setup.str() << "}";
  out << ",\"measured_s\":" << num(measured_s);
  if (o.server_pid > 0) {
    out << ",\"server\":{\"pid\":" << o.server_pid << ",\"cpu_s\":" << num(server_cpu)
        << ",\"cpu_pct_of_one_core\":" << num(measured_s > 0 ? 100 * server_cpu / measured_s : 0)
        << ",\"rss_initial\":" << server_initial.rss_bytes << ",\"rss_before_connections\":" << server_before.rss_bytes
        << ",\"rss_start\":" << server_start.rss_bytes << ",\"rss_end\":" << server_end.rss_bytes
        << ",\"rss_peak\":" << server_end.hwm_bytes << ",\"threads\":" << server_end.threads;
    if (o.scenario == "idle" && n > 0) {
      const double per = (static_cast<double>(server_start.rss_bytes) - static_cast<double>(server_before.rss_bytes)) /
                         static_cast<double>(n);
      out << ",\"rss_per_connection\":" << num(per);
    }
    out << "}";
  }
  out << ",\"watched\":{";
  for (std::size_t i = 0; i < watched.size(); ++i) {
    const double cpu = watched[i].end_s - watched[i].start_s;
    out << (i == 0 ? "" : ",") << q(watched[i].name) << ":{\"pid\":" << watched[i].pid << ",\"cpu_s\":" << num(cpu)
        << ",\"cpu_pct_of_one_core\":" << num(measured_s > 0 ? 100 * cpu / measured_s : 0) << "}";
  }
  out << "}";
  out << ",\"client\":{\"cpu_s\":" << num(client_cpu)
      << ",\"cpu_pct_of_one_core\":" << num(measured_s > 0 ? 100 * client_cpu / measured_s : 0)
      << ",\"rss\":" << client_end.rss_bytes << "}";
  const double d = o.duration > 0 ? o.duration : 1;
  out << ",\"sent_total\":" << c.sent_total << ",\"acked_total\":" << c.acked_total
      << ",\"acked_measured\":" << c.acked_measured;
  out << ",\"sent\":" << c.sent << ",\"sent_rate\":" << num(static_cast<double>(c.sent) / d) << ",\"acked\":" << c.acked
      << ",\"ack_rate\":" << num(static_cast<double>(c.acked) / d) << ",\"delivered\":" << c.delivered
      << ",\"delivery_rate\":" << num(static_cast<double>(c.delivered) / d) << ",\"expected_deliveries\":" << want
      << ",\"delivered_measured\":" << c.delivered_measured
      << ",\"undelivered\":" << (want > c.delivered_measured ? want - c.delivered_measured : 0)
      << ",\"complete\":" << c.complete << ",\"echoes\":" << c.echoes << ",\"pings\":" << c.pings
      << ",\"errors\":" << c.errors << ",\"first_error\":" << q(first_error) << ",\"disconnects\":" << c.disconnects
      << ",\"latency\":" << latency.to_json() << ",\"latency_last\":" << latency_last.to_json() << extra.str() << "}\n";
  const std::string result = out.str();
  if (!o.out.empty()) {
    std::ofstream f(o.out);
    f << result;
  }
  std::fputs(result.c_str(), stdout);
  std::fflush(stdout);
  // The connections and their coroutines die with the process: tearing down
  // 100,000 of them one by one measures nothing.
  std::quick_exit(0);
}
