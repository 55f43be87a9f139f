#include "adapters/redis/redis_client.hpp"

#include <hiredis/hiredis.h>
#include <atomic>

#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <deque>
#include <future>
#include <map>
#include <set>
#include <thread>

#include "core/log.hpp"

namespace parley::redis {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

struct ReaderDeleter {
  void operator()(redisReader* r) const noexcept { redisReaderFree(r); }
};
using ReaderPtr = std::unique_ptr<redisReader, ReaderDeleter>;

struct ReplyDeleter {
  void operator()(redisReply* r) const noexcept { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

struct CommandDeleter {
  void operator()(char* c) const noexcept { redisFreeCommand(c); }
};

// One command in RESP, formatted by hiredis.
std::string format(const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  argv.reserve(args.size());
  lengths.reserve(args.size());
  for (const auto& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  char* raw = nullptr;
  const int n = redisFormatCommandArgv(&raw, static_cast<int>(args.size()), argv.data(), lengths.data());
  std::unique_ptr<char, CommandDeleter> owned(raw);
  if (n < 0 || raw == nullptr) return {};
  return std::string(raw, static_cast<std::size_t>(n));
}

Error unavailable(std::string what) { return make_error(ErrorCode::unavailable, "redis: " + std::move(what)); }

// A call waiting for its replies. Touched only on the I/O thread, except
// the future its caller waits on.
struct Call {
  explicit Call(std::size_t n) : replies(n) {}
  std::vector<RedisReply> replies;
  std::size_t received = 0;
  bool finished = false;
  std::promise<Result<std::vector<RedisReply>>> done;

  void fail(Error e) {
    if (finished) return;
    finished = true;
    done.set_value(std::move(e));
  }
};

struct Pending {
  std::shared_ptr<Call> call;
  std::size_t index = 0;
};

using Confirmation = std::shared_ptr<std::promise<Result<void>>>;

// One TCP connection: its socket, parser and write queue. I/O thread only.
struct Connection {
  Connection(asio::io_context& io, std::string name_) : name(std::move(name_)), socket(io), retry(io) {}
  std::string name;
  tcp::socket socket;
  // TLS over `socket`, made afresh at each connect when TLS is on (a TLS
  // session cannot be started twice); null for plain TCP.
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls;
  asio::steady_timer retry;
  ReaderPtr reader;
  std::array<char, 16384> buffer{};
  std::deque<std::string> writes;
  bool writing = false;
  bool connected = false;
  bool authenticating = false;  // AUTH sent, its reply not yet read
  bool auth_refused = false;    // the last attempt ended in a refused AUTH or TLS handshake
  std::string last_failure;     // why the last attempt failed; no secrets
  bool ever_connected = false;
  std::chrono::milliseconds backoff{100};
  // Bumped at every (re)connect and failure, so that handlers of an old
  // socket that complete late drop out.
  unsigned generation = 0;
};

}  // namespace

struct RedisClient::Impl {
  Impl(RedisOptions options_, MessageSink sink_, RestoreHook restore_)
      : options(std::move(options_)),
        sink(std::move(sink_)),
        restore(std::move(restore_)),
        work(asio::make_work_guard(io)),
        commands(io, "commands"),
        pubsub(io, "pub/sub") {
    if (options.ca_file.empty()) return;
    tls_context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(tls_context->native_handle(), TLS1_2_VERSION);
    boost::system::error_code ec;
    tls_context->load_verify_file(options.ca_file, ec);
    if (ec) tls_error = "TLS: cannot load the CA certificates in " + options.ca_file;
    tls_context->set_verify_mode(asio::ssl::verify_peer, ec);
  }

  RedisOptions options;
  MessageSink sink;
  RestoreHook restore;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  std::vector<tcp::endpoint> endpoints;
  std::shared_ptr<asio::ssl::context> tls_context;  // set: TLS (options.ca_file)
  std::string tls_error;                            // why tls_context cannot be used; every connect fails with it
  Connection commands;
  Connection pubsub;
  std::deque<Pending> pending;           // replies the command connection awaits, in order
  std::atomic<bool> commands_up{false};  // commands.connected, readable from any thread
  std::set<std::string> channels;        // pub/sub channels wanted
  std::map<std::string, std::deque<Confirmation>> confirmations;
  std::thread thread;

  void start_connect(Connection& c) {
    const unsigned gen = ++c.generation;
    if (!tls_error.empty()) return on_failure(c, gen, tls_error);
    asio::async_connect(c.socket, endpoints,
                        [this, &c, gen](const boost::system::error_code& ec, const tcp::endpoint&) {
                          if (gen != c.generation) return;
                          if (ec) return on_failure(c, gen, ec.message());
                          boost::system::error_code ignored;
                          c.socket.set_option(tcp::no_delay(true), ignored);
                          if (!tls_context) return on_connected(c, gen);
                          start_handshake(c, gen);
                        });
  }

  // TLS: the handshake, Redis's certificate checked against the CAs and the
  // host as given (a name, also sent as SNI, or an IP address).
  void start_handshake(Connection& c, unsigned gen) {
    c.tls = std::make_unique<asio::ssl::stream<tcp::socket&>>(c.socket, *tls_context);
    boost::system::error_code not_an_address;
    (void)asio::ip::make_address(options.host, not_an_address);
    if (not_an_address) SSL_set_tlsext_host_name(c.tls->native_handle(), options.host.c_str());
    c.tls->set_verify_callback(asio::ssl::host_name_verification(options.host));
    c.tls->async_handshake(asio::ssl::stream_base::client, [this, &c, gen](const boost::system::error_code& ec) {
      if (gen != c.generation) return;
      if (ec) {
        // Like refused credentials: retrying will not change the answer.
        const std::string why = "TLS failed: " + ec.message();
        if (why != c.last_failure) log::error("redis", c.name + " connection: " + why);
        on_failure(c, gen, why);
        c.auth_refused = true;
        return;
      }
      on_connected(c, gen);
    });
  }

  // Connected (over TLS when it is on): reads, and AUTH first when there is
  // a password; the connection is up once Redis accepts it.
  void on_connected(Connection& c, unsigned gen) {
    c.reader.reset(create_reader());
    start_read(c, gen);
    if (options.password.empty()) return on_up(c);
    c.authenticating = true;
    std::vector<std::string> auth{"AUTH"};
    if (!options.user.empty()) auth.push_back(options.user);
    auth.push_back(options.password);
    send(c, format(auth));
  }

  // The connection is connected (and authenticated, with a password).
  void on_up(Connection& c) {
    c.connected = true;
    c.auth_refused = false;
    c.last_failure.clear();
    if (&c == &commands) commands_up.store(true, std::memory_order_relaxed);
    c.backoff = std::chrono::milliseconds(100);
    const bool restored = c.ever_connected;
    if (restored) log::info("redis", c.name + " connection restored");
    c.ever_connected = true;
    if (restored && &c == &commands && restore) {
      // Written before any later call; nobody waits for the replies.
      const auto again = restore();
      if (!again.empty()) {
        auto call = std::make_shared<Call>(again.size());
        std::string bytes;
        for (const auto& cmd : again) bytes += format(cmd);
        for (std::size_t i = 0; i < again.size(); ++i) pending.push_back(Pending{call, i});
        send(commands, std::move(bytes));
      }
    }
    if (&c == &pubsub) {
      for (const auto& channel : channels) send(pubsub, format({"SUBSCRIBE", channel}));
    }
  }

  // Redis's answer to AUTH: up, or a refusal, retried like a lost connection.
  void on_auth_reply(Connection& c, unsigned gen, const RedisReply& reply) {
    c.authenticating = false;
    if (!reply.is_error()) return on_up(c);
    const std::string why = "authentication failed: " + reply.str;
    if (why != c.last_failure) log::error("redis", c.name + " connection: " + why);
    on_failure(c, gen, why);
    c.auth_refused = true;
  }

  // Why calls fail while the command connection is down.
  Error not_connected() const {
    if (commands.auth_refused) return make_error(ErrorCode::unauthorized, "redis: " + commands.last_failure);
    return unavailable(commands.last_failure.empty() ? "not connected" : "not connected: " + commands.last_failure);
  }

  // Drops the connection, fails what waited on it, and schedules a retry.
  void on_failure(Connection& c, unsigned gen, const std::string& why) {
    if (gen != c.generation) return;
    ++c.generation;
    if (c.connected) log::warn("redis", c.name + " connection lost: " + why);
    c.connected = false;
    c.authenticating = false;
    c.auth_refused = false;
    c.last_failure = why;
    if (&c == &commands) commands_up.store(false, std::memory_order_relaxed);
    boost::system::error_code ignored;
    c.socket.close(ignored);
    c.writes.clear();
    c.writing = false;
    c.reader.reset();
    if (&c == &commands) {
      for (auto& p : pending) p.call->fail(unavailable("connection lost: " + why));
      pending.clear();
    } else {
      // The channels stay wanted and are subscribed again on reconnect.
      for (auto& [channel, waiters] : confirmations) {
        for (auto& w : waiters) w->set_value(Ok{});
      }
      confirmations.clear();
    }
    c.retry.expires_after(c.backoff);
    c.backoff = std::min(c.backoff * 2, std::chrono::milliseconds(1000));
    c.retry.async_wait([this, &c](const boost::system::error_code& ec) {
      if (!ec) start_connect(c);
    });
  }

  void start_read(Connection& c, unsigned gen) {
    auto on_read = [this, &c, gen](const boost::system::error_code& ec, std::size_t n) {
      if (gen != c.generation) return;
      if (ec) return on_failure(c, gen, ec.message());
      if (redisReaderFeed(c.reader.get(), c.buffer.data(), n) != REDIS_OK) {
        return on_failure(c, gen, "unreadable reply");
      }
      for (;;) {
        void* raw = nullptr;
        if (redisReaderGetReply(c.reader.get(), &raw) != REDIS_OK) return on_failure(c, gen, "unreadable reply");
        if (raw == nullptr) break;
        const ReplyPtr reply(static_cast<redisReply*>(raw));
        if (c.authenticating) {
          on_auth_reply(c, gen, from_hiredis(*reply));
        } else if (&c == &commands) {
          on_command_reply(from_hiredis(*reply));
        } else {
          on_pubsub_reply(from_hiredis(*reply));
        }
        if (gen != c.generation) return;
      }
      start_read(c, gen);
    };
    if (c.tls) {
      c.tls->async_read_some(asio::buffer(c.buffer), std::move(on_read));
    } else {
      c.socket.async_read_some(asio::buffer(c.buffer), std::move(on_read));
    }
  }

  void on_command_reply(RedisReply reply) {
    if (pending.empty()) {
      log::warn("redis", "a reply nobody asked for");
      return;
    }
    Pending p = std::move(pending.front());
    pending.pop_front();
    p.call->replies[p.index] = std::move(reply);
    if (++p.call->received == p.call->replies.size() && !p.call->finished) {
      p.call->finished = true;
      p.call->done.set_value(std::move(p.call->replies));
    }
  }

  void on_pubsub_reply(const RedisReply& reply) {
    if (reply.type != RedisReply::Type::array || reply.elements.size() < 3) return;
    const std::string& kind = reply.elements[0].str;
    const std::string& channel = reply.elements[1].str;
    if (kind == "message") {
      if (sink) sink(channel, reply.elements[2].str);
    } else if (kind == "subscribe") {
      auto it = confirmations.find(channel);
      if (it == confirmations.end()) return;
      it->second.front()->set_value(Ok{});
      it->second.pop_front();
      if (it->second.empty()) confirmations.erase(it);
    }
  }

  void send(Connection& c, std::string bytes) {
    c.writes.push_back(std::move(bytes));
    if (!c.writing) write_next(c, c.generation);
  }

  void write_next(Connection& c, unsigned gen) {
    if (c.writes.empty()) {
      c.writing = false;
      return;
    }
    c.writing = true;
    auto written = [this, &c, gen](const boost::system::error_code& ec, std::size_t) {
      if (gen != c.generation) return;
      if (ec) return on_failure(c, gen, ec.message());
      c.writes.pop_front();
      write_next(c, gen);
    };
    if (c.tls) {
      asio::async_write(*c.tls, asio::buffer(c.writes.front()), std::move(written));
    } else {
      asio::async_write(c.socket, asio::buffer(c.writes.front()), std::move(written));
    }
  }
};

RedisClient::RedisClient(RedisOptions options, MessageSink on_message, RestoreHook on_restore)
    : impl_(std::make_shared<Impl>(std::move(options), std::move(on_message), std::move(on_restore))) {
  Impl& impl = *impl_;
  boost::system::error_code ec;
  tcp::resolver resolver(impl.io);
  const auto results = resolver.resolve(impl.options.host, std::to_string(impl.options.port), ec);
  if (!ec) {
    for (const auto& r : results) impl.endpoints.push_back(r.endpoint());
  }
  if (impl.endpoints.empty()) {
    log::error("redis", "cannot resolve " + impl.options.host + (ec ? ": " + ec.message() : ""));
    // Connecting to nothing fails at once and retries: calls report unavailable.
  }
  asio::post(impl.io, [&impl] {
    impl.start_connect(impl.commands);
    impl.start_connect(impl.pubsub);
  });
  impl.thread = std::thread([&impl] { impl.io.run(); });
}

RedisClient::~RedisClient() {
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  // The thread is gone: fail whatever still waits, from here.
  for (auto& p : impl_->pending) p.call->fail(unavailable("client closed"));
  impl_->pending.clear();
  for (auto& [channel, waiters] : impl_->confirmations) {
    for (auto& w : waiters) w->set_value(unavailable("client closed"));
  }
  impl_->confirmations.clear();
}

bool RedisClient::on_client_thread() const noexcept { return std::this_thread::get_id() == impl_->thread.get_id(); }

Result<std::vector<RedisReply>> RedisClient::call_many(const std::vector<std::vector<std::string>>& commands) {
  if (commands.empty()) return std::vector<RedisReply>{};
  if (on_client_thread()) return make_error(ErrorCode::internal, "redis: a call on the client's own thread");
  std::string bytes;
  for (const auto& c : commands) {
    std::string one = format(c);
    if (one.empty()) return make_error(ErrorCode::internal, "redis: cannot format a command");
    bytes += one;
  }
  auto call = std::make_shared<Call>(commands.size());
  auto future = call->done.get_future();
  asio::post(impl_->io, [impl = impl_.get(), call, bytes = std::move(bytes)]() mutable {
    if (!impl->commands.connected) return call->fail(impl->not_connected());
    for (std::size_t i = 0; i < call->replies.size(); ++i) impl->pending.push_back(Pending{call, i});
    impl->send(impl->commands, std::move(bytes));
  });
  if (future.wait_for(impl_->options.timeout) != std::future_status::ready) {
    return unavailable("no answer within " + std::to_string(impl_->options.timeout.count()) + " ms");
  }
  return future.get();
}

Result<void> RedisClient::send_only(const std::vector<std::string>& args) {
  if (!impl_->commands_up.load(std::memory_order_relaxed)) return unavailable("not connected");
  std::string bytes = format(args);
  if (bytes.empty()) return make_error(ErrorCode::internal, "redis: cannot format a command");
  auto call = std::make_shared<Call>(1);  // nobody waits on it: the reply only keeps the order
  asio::post(impl_->io, [impl = impl_.get(), call, bytes = std::move(bytes)]() mutable {
    if (!impl->commands.connected) return call->fail(unavailable("not connected"));
    impl->pending.push_back(Pending{call, 0});
    impl->send(impl->commands, std::move(bytes));
  });
  return Ok{};
}

Result<RedisReply> RedisClient::call(std::vector<std::string> args) {
  std::vector<std::vector<std::string>> one;
  one.push_back(std::move(args));
  auto replies = call_many(one);
  if (!replies) return std::move(replies).error();
  RedisReply& reply = replies->front();
  if (reply.is_error()) return make_error(ErrorCode::internal, "redis: " + reply.str);
  return std::move(reply);
}

Result<void> RedisClient::subscribe(const std::string& channel) {
  if (on_client_thread()) return make_error(ErrorCode::internal, "redis: subscribe on the client's own thread");
  auto confirmation = std::make_shared<std::promise<Result<void>>>();
  auto future = confirmation->get_future();
  asio::post(impl_->io, [impl = impl_.get(), channel, confirmation] {
    impl->channels.insert(channel);
    if (!impl->pubsub.connected) {
      confirmation->set_value(Ok{});  // subscribed when the connection is back
      return;
    }
    impl->confirmations[channel].push_back(confirmation);
    impl->send(impl->pubsub, format({"SUBSCRIBE", channel}));
  });
  if (future.wait_for(impl_->options.timeout) != std::future_status::ready) {
    unsubscribe(channel);
    return unavailable("subscribe not confirmed within " + std::to_string(impl_->options.timeout.count()) + " ms");
  }
  return future.get();
}

void RedisClient::unsubscribe(const std::string& channel) {
  asio::post(impl_->io, [impl = impl_.get(), channel] {
    impl->channels.erase(channel);
    if (impl->pubsub.connected) impl->send(impl->pubsub, format({"UNSUBSCRIBE", channel}));
  });
}

}  // namespace parley::redis
