// parleyd: parse the settings, open the engines behind the ports, start the
// node over them (node.hpp: the services, the pipeline steps and the
// gateway) and the control socket (`parleyd backup`), wait for SIGINT or
// SIGTERM (SIGHUP reloads the TLS certificate), drain, exit. `parleyd
// backup …` runs that command instead (backup_command.hpp).

#include <pthread.h>
#ifdef PARLEY_MIMALLOC
#include <mimalloc.h>
#endif
#include <rocksdb/version.h>
#include <sys/resource.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include "backup_command.hpp"
#include "config.hpp"
#include "core/build_info.hpp"
#include "core/log.hpp"
#include "engines.hpp"
#include "gateway/control_socket.hpp"
#include "gateway/http_api.hpp"
#include "gateway/tls_context.hpp"
#include "node.hpp"

namespace {

// The one line on stdout, which scripts and tests wait for: "parleyd
// listening on HOST:PORT", as it is in the text format, and as the msg of a
// log line in the json format (so that stdout holds JSON only there too).
void announce_listening(parley::log::Format format, const std::string& host, std::uint16_t port) {
  const std::string text = "parleyd listening on " + host + ":" + std::to_string(port);
  const std::string line = format == parley::log::Format::json
                               ? parley::log::format_line(format, std::chrono::system_clock::now(),
                                                          parley::log::Level::info, "parleyd", text)
                               : text + "\n";
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

// Which RocksDB this binary links, for the start-up line: scripts/build-rocksdb's
// release build, or Debian's library with its assertions (slower).
std::string rocksdb_name() {
  const std::string version = "RocksDB " + std::to_string(ROCKSDB_MAJOR) + "." + std::to_string(ROCKSDB_MINOR) + "." +
                              std::to_string(ROCKSDB_PATCH);
  return version + (PARLEY_ROCKSDB_ASSERTS ? " with its assertions (Debian's library; scripts/build-rocksdb)"
                                           : " without assertions");
}

// Which malloc serves this process, for the start-up line: mimalloc when
// it is linked and new's memory is in its heap (it is, unless something
// loaded before it took malloc, e.g. an LD_PRELOAD).
std::string allocator_name() {
#ifdef PARLEY_MIMALLOC
  const auto probe = std::make_unique<char[]>(64);  // operator new, which calls malloc
  if (!mi_is_in_heap_region(probe.get())) return "malloc of another library (mimalloc is linked but not in use)";
  const int v = mi_version();
  return "mimalloc " + std::to_string(v / 100) + "." + std::to_string(v / 10 % 10) + "." + std::to_string(v % 10);
#else
  return "the system's malloc";
#endif
}

// SIGHUP: reads the TLS certificate and key again (docs/OPERATIONS.md,
// "TLS"); new handshakes use them, open connections keep theirs. A bad pair
// is logged and the one in use stays.
void reload_tls(parley::gateway::TlsContext* tls) {
  if (tls == nullptr) {
    parley::log::info("parleyd", "SIGHUP: no TLS certificate to reload (--tls-cert is not set)");
    return;
  }
  if (auto reloaded = tls->reload(); !reloaded) {
    parley::log::error("parleyd", "SIGHUP: kept the TLS certificate in use: " + reloaded.error().message);
    return;
  }
  parley::log::info("parleyd", "SIGHUP: reloaded the TLS certificate " + tls->cert_file() + " and key " +
                                   tls->key_file() + "; new connections use them");
}

// Waits up to `grace` for SIGINT or SIGTERM (blocked in every thread):
// the drain grace, which a second signal ends early. SIGHUP meanwhile
// reloads `tls`.
void wait_grace(const sigset_t& signals, std::chrono::milliseconds grace, parley::gateway::TlsContext* tls) {
  const auto deadline = std::chrono::steady_clock::now() + grace;
  for (;;) {
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::nanoseconds::zero()) return;
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    const timespec wait{.tv_sec = static_cast<time_t>(ns / 1000000000), .tv_nsec = static_cast<long>(ns % 1000000000)};
    const int got = sigtimedwait(&signals, nullptr, &wait);
    if (got == SIGINT || got == SIGTERM) {
      parley::log::info("parleyd", "a second signal: ending the drain grace early");
      return;
    }
    if (got == SIGHUP) reload_tls(tls);
    if (got < 0 && errno == EAGAIN) return;  // the grace is over
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace parley;

  std::vector<std::string> args(argv + 1, argv + argc);
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  if (!args.empty() && args.front() == "backup") {
    return app::run_backup_command(std::vector<std::string>(args.begin() + 1, args.end()), env);
  }
  auto parsed = app::parse_config(args, env);
  if (!parsed.config) {
    (parsed.exit_code == 0 ? std::cout : std::cerr) << parsed.message << (parsed.exit_code == 0 ? "" : "\n");
    return parsed.exit_code;
  }
  if (auto error = app::resolve_web_dir(parsed.config->web_dir)) {
    std::cerr << *error << "\n";
    return 2;
  }
  const app::Config& config = *parsed.config;
  log::set_level(config.log_level);
  log::set_format(config.log_format);
  for (const auto& warning : parsed.warnings) log::warn("parleyd", warning);
  gateway::set_web_dir(config.web_dir);

  // The TLS certificate and key, read before anything starts: a bad pair is
  // a start-up failure.
  std::shared_ptr<gateway::TlsContext> tls;
  if (!config.tls_cert.empty()) {
    try {
      tls = std::make_shared<gateway::TlsContext>(config.tls_cert, config.tls_key);
    } catch (const std::exception& e) {
      log::error("parleyd", std::string("TLS (--tls-cert, --tls-key): ") + e.what());
      return 1;
    }
  }

  // Signals are taken by sigwait below, never by the worker threads.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  // Each connection is a file descriptor: allow as many as the hard limit.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }

  auto opened = app::open_engines(config);
  if (!opened) {
    log::error("parleyd", opened.error().message);
    return 1;
  }
  app::Engines& engines = opened.value();

  std::optional<app::Node> node;
  try {
    node.emplace(config, engines, tls);
    node->start();
  } catch (const std::exception& e) {
    log::error("parleyd", e.what());
    return 1;
  }

  // `parleyd backup` asks through this socket in the data directory; the
  // copy is made on the socket's own thread while the server serves.
  const std::optional<app::BackupPlan> backup_plan = app::backup_plan(engines);
  gateway::ControlSocket control(
      app::control_socket_path(config.data_dir),
      [&backup_plan](std::string_view command, std::string_view argument) -> Result<std::string> {
        if (command != "backup")
          return make_error(ErrorCode::bad_request, "unknown command '" + std::string(command) + "'");
        return app::take_backup(backup_plan, argument);
      });
  if (auto controlled = control.start(); !controlled) {
    log::warn("parleyd", "no control socket, so no `parleyd backup`: " + controlled.error().message);
  }

  announce_listening(config.log_format, config.gateway.host, node->port());
  log::info("parleyd", "parleyd " + std::string(build_info::version()) + " (commit " +
                           std::string(build_info::commit()) + "), data in " + config.data_dir + ", node " +
                           std::to_string(config.node_id) + ", allocator " + allocator_name() + ", " + rocksdb_name());
  if (tls) {
    log::info("parleyd", "TLS: serving HTTPS and WSS only (TLS 1.2 and later), certificate " + tls->cert_file());
  }
  log::info("parleyd", config.web_dir.empty() ? std::string("web app: the built-in page at /")
                                              : "web app: " + config.web_dir + " at /");

  int signal = 0;
  for (;;) {
    sigwait(&signals, &signal);
    if (signal != SIGHUP) break;
    reload_tls(tls.get());
  }
  node->set_draining();  // /v1/readyz: 503 from here on
  const char* signal_name = signal == SIGINT ? "SIGINT" : "SIGTERM";
  if (config.drain_grace.count() > 0) {
    log::info("parleyd", std::string(signal_name) + ": not ready; serving for the drain grace of " +
                             std::to_string(config.drain_grace.count()) + " ms before draining");
    wait_grace(signals, config.drain_grace, tls.get());
    log::info("parleyd", "draining");
  } else {
    log::info("parleyd", std::string("draining on ") + signal_name);
  }

  node->stop();    // answers sends in flight, closes connections, finishes each step's batch in hand
  control.stop();  // finishes a backup in hand
  log::info("parleyd", "stopped");
  // Everything is durable and answered; what is left is releasing the
  // engines' clients, and a Kafka consumer's close can wait on a group
  // coordinator that is still loading. A stop must not hang on cleanup:
  // give it 5 s, then exit without waiting further.
  std::thread([] {
    std::this_thread::sleep_for(std::chrono::seconds(5));
    log::warn("parleyd", "releasing the engines took over 5 s; exiting without waiting further");
    std::_Exit(0);
  }).detach();
  return 0;
}
