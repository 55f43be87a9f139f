#include "client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/websocket.hpp>
#include <charconv>

namespace parley::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;

Conn::Conn(Worker& w, int i) : worker(w), index(i), ws(w.ioc.get_executor()), wait_timer(w.ioc) {}

void Conn::enqueue(std::string frame) {
  if (!open) return;
  queue.push_back(std::move(frame));
  if (!writing) write_next();
}

void Conn::write_next() {
  if (queue.empty() || !open) return;
  writing = true;
  ws.async_write(asio::buffer(queue.front()), [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
    self->writing = false;
    self->queue.pop_front();
    if (ec) {
      self->open = false;
      self->queue.clear();
      return;
    }
    self->write_next();
  });
}

asio::awaitable<std::string> Conn::call(std::string frame, std::uint64_t id, std::chrono::milliseconds timeout) {
  wait_id = id;
  wait_done = false;
  wait_reply.clear();
  enqueue(std::move(frame));
  wait_timer.expires_after(timeout);
  // The reply cannot arrive before this wait starts: the read loop runs on
  // this same thread, and only once this coroutine suspends.
  (void)co_await wait_timer.async_wait(asio::as_tuple(asio::use_awaitable));
  wait_id = 0;
  co_return wait_done ? std::move(wait_reply) : std::string();
}

namespace {

// The number after `key` in `s` from `from` on; -1 when absent.
std::int64_t number_after(std::string_view s, std::string_view key, std::size_t from = 0) {
  const auto at = s.find(key, from);
  if (at == std::string_view::npos) return -1;
  std::int64_t v = -1;
  const char* begin = s.data() + at + key.size();
  std::from_chars(begin, s.data() + s.size(), v);
  return v;
}

}  // namespace

// The hot path of the generator. A message frame (Parley's `message` event,
// or the baseline server's verbatim copy of a send) carries the sender's
// stamp in its body: "T<intended send time, ns> S<sender index> N<number>".
// Frames are not parsed as JSON: finding the stamp is enough, and keeps the
// generator's share of the two cores small.
void Worker::on_frame(Conn& c, std::string_view f) {
  const std::int64_t now = now_ns();
  const bool in_window = now >= window->measure_ns && now < window->end_ns;
  if (f.starts_with("{\"re\":")) {
    const auto rest = f.substr(6, 40);
    const auto re = number_after(f, "{\"re\":");
    if (c.wait_id != 0 && re == static_cast<std::int64_t>(c.wait_id)) {
      c.wait_done = true;
      c.wait_reply.assign(f);
      c.wait_timer.cancel();
      return;
    }
    if (rest.find("\"ok\":true") != std::string_view::npos) {
      ++counters.acked_total;
      if (in_window) ++counters.acked;
      if (measured_first_id != 0 && re >= static_cast<std::int64_t>(measured_first_id) &&
          re <= static_cast<std::int64_t>(measured_last_id)) {
        ++counters.acked_measured;
      }
    } else {
      ++counters.errors;
      if (first_error.empty()) first_error.assign(f.substr(0, 300));
    }
    return;
  }
  const auto body = f.find("\"body\":\"T");
  if (body == std::string_view::npos) {
    if (f.find("\"ev\":\"error\"") != std::string_view::npos) {
      ++counters.errors;
      if (first_error.empty()) first_error.assign(f.substr(0, 300));
    } else {
      ++counters.other_frames;
    }
    return;
  }
  const std::int64_t stamp = number_after(f, "\"body\":\"T", body - 1);
  const std::int64_t sender = number_after(f, " S", body);
  const std::int64_t number = number_after(f, " N", body);
  if (sender == c.index) {
    ++counters.echoes;
    return;
  }
  ++counters.delivered_total;
  if (in_window) ++counters.delivered;
  if (stamp < window->measure_ns || stamp >= window->end_ns) return;
  ++counters.delivered_measured;
  latency.record(now - stamp);
  if (!track_last) {
    if (fanout.recipients == 1) ++counters.complete;
    return;
  }
  const std::uint64_t key = (static_cast<std::uint64_t>(sender) << 32) | static_cast<std::uint32_t>(number);
  const auto it = outstanding.find(key);
  if (it == outstanding.end()) return;
  if (--it->second == 0) {
    latency_last.record(now - stamp);
    ++counters.complete;
    outstanding.erase(it);
  }
}

}  // namespace parley::bench
