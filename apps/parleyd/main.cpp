// parleyd: parse the settings, build the engines behind the ports, start the
// pipeline steps and the gateway, wait for SIGINT or SIGTERM (SIGHUP reloads
// the TLS certificate), drain, exit.

#include <pthread.h>
#include <sys/resource.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <thread>

#include "config.hpp"
#include "core/build_info.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "engines.hpp"
#include "gateway/http_api.hpp"
#include "gateway/server.hpp"
#include "gateway/tls_context.hpp"
#include "services/inbox_owner.hpp"
#include "services/presence_service.hpp"
#include "services/push_dispatcher.hpp"
#include "services/push_step.hpp"
#include "services/readiness.hpp"
#include "services/records.hpp"
#include "services/search_indexer.hpp"
#include "services/sequencer.hpp"
#include "services/social_service.hpp"
#include "services/store_writer.hpp"

extern char** environ;

namespace {

template <class T>
T must(parley::Result<T> r, const char* what) {
  if (!r) {
    parley::log::error("parleyd", std::string("cannot open ") + what + ": " + r.error().message);
    std::exit(1);
  }
  return std::move(r).value();
}

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
  ports::MessageLog& message_log = *engines.log;
  ports::MessageStore& store = *engines.store;
  ports::StateStore& state = *engines.state;
  ports::Directory& directory = *engines.directory;
  ports::Rooms& rooms = *engines.rooms;
  ports::SocialGraph& social_graph = *engines.social;

  // GET /metrics: what the gateway and the pipeline steps count.
  Metrics metrics;

  // Services.
  const std::string server_id = "node-" + std::to_string(config.node_id);
  services::RoomsService room_rules(
      rooms, directory, social_graph,
      {.max_group_members = config.max_group_members, .add_friends_only = config.room_add_friends_only});
  // The users an administrator deleted: their messages read as tombstones.
  services::DeletedUsers deleted_users(directory);
  if (auto read = deleted_users.refresh(); !read) {
    log::error("parleyd", "reading the deleted users: " + read.error().message);
    return 1;
  }
  services::ConversationService conversations(store, rooms, room_rules, state,
                                              {.typing_interval = config.typing_interval, .deleted = &deleted_users});
  services::ChatService chat(message_log, store, state, room_rules,
                             {.server_id = server_id, .deleted = &deleted_users});
  services::Auth auth(directory, config.hash_cost,
                      services::Auth::Throttle{.free_failures = config.login_failures_per_username,
                                               .free_failures_per_address = config.login_failures_per_address},
                      {.ttl = config.session_ttl, .registration_open = config.registration_open, .now = {}});
  services::SessionService sessions(auth, store, state, engines.push_tokens.get());
  services::AdminService admin(directory, sessions,
                               {.store = store,
                                .rooms = rooms,
                                .social = social_graph,
                                .search = *engines.search,
                                .push_tokens = engines.push_tokens.get(),
                                .deleted = &deleted_users});
  services::PresenceService presence(
      state, social_graph,
      {.ttl = config.presence_ttl, .heartbeat = config.presence_heartbeat, .debounce = config.presence_debounce});
  services::SocialService social(directory, social_graph, state, presence);
  // The store writer skips what the sequencer of this server stored. On
  // Cassandra a flush costs nothing (writes are durable when they return),
  // so the sequencer flushes its write; the embedded store leaves that flush
  // to the store writer, which syncs the one WAL before it commits. The
  // embedded store shares the disk with the log: a send is answered only
  // once it is stored, so that a full disk never leaves an answered send
  // out of history (docs/OPERATIONS.md, "Full disk").
  services::StoredMessages stored_by_sequencer;
  services::StoredMessages* skip = &stored_by_sequencer;
  services::Sequencer sequencer(message_log, *engines.sequencer_state, store, directory, rooms, state,
                                Snowflake(config.node_id), social_graph,
                                {.stored = skip,
                                 .flush_stored = !config.engines.cassandra.empty(),
                                 .answer_after_store = config.engines.cassandra.empty(),
                                 .deleted = &deleted_users});
  services::StoreWriter store_writer(message_log, store, state, skip);
  services::SearchService search(*engines.search, rooms, room_rules, &deleted_users);
  services::InboxOwner inbox_owner(message_log, store, state);
  services::SearchIndexer search_indexer(*engines.search);

  services::PipelineStep sequencer_step(
      "sequencer",
      must(message_log.subscribe(records::kConversationsTopic, records::kSequencerGroup), "the sequencer's consumer"),
      sequencer, {.metrics = &metrics});
  services::PipelineStep store_writer_step(
      "store-writer",
      must(message_log.subscribe(records::kSequencedTopic, records::kStoreWriterGroup), "the store writer's consumer"),
      store_writer, {.metrics = &metrics});
  // One index transaction per interval for everything decided in it.
  services::PipelineStep search_step(
      "search-indexer",
      must(message_log.subscribe(records::kSequencedTopic, services::kSearchIndexerGroup),
           "the search indexer's consumer"),
      search_indexer, {.max_batch = 4096, .min_interval = std::chrono::milliseconds(100), .metrics = &metrics});
  services::PipelineStep inbox_step(
      "inbox", must(message_log.subscribe(records::kInboxesTopic, records::kInboxGroup), "the inbox owner's consumer"),
      // On Cassandra a larger batch under a backlog writes each user's head
      // once for more entries (a mutation per user per batch).
      inbox_owner,
      {.max_batch = config.engines.cassandra.empty() ? std::size_t{1024} : std::size_t{4096}, .metrics = &metrics});

  // Push notifications: the step folds inbox entries for users with no
  // device online into the ledger; the dispatcher sends them (docs/PUSH.md).
  services::PushDispatcher push_dispatcher(*engines.push_ledger, *engines.push_tokens, *engines.push_sender, state,
                                           directory,
                                           services::PushPolicy({.batch_window = config.push.batch_window,
                                                                 .pair_interval = config.push.pair_interval,
                                                                 .previews = config.push.previews}),
                                           {.server_id = server_id, .lease = config.push.lease});
  services::PushStep push(store, state, *engines.push_ledger,
                          {.on_added = [&push_dispatcher] { push_dispatcher.notify(); }});
  services::PipelineStep push_step(
      "push", must(message_log.subscribe(records::kInboxesTopic, services::kPushGroup), "the push step's consumer"),
      push, {.metrics = &metrics});

  // GET /v1/readyz: probes of the scale-out engines, the pipeline steps,
  // and whether a stop began.
  services::Readiness readiness(std::move(engines.probes));
  readiness.watch_step("sequencer", [&sequencer_step] { return sequencer_step.running(); });
  readiness.watch_step("store-writer", [&store_writer_step] { return store_writer_step.running(); });
  readiness.watch_step("search-indexer", [&search_step] { return search_step.running(); });
  readiness.watch_step("inbox", [&inbox_step] { return inbox_step.running(); });
  readiness.watch_step("push", [&push_step] { return push_step.running(); });
  readiness.start();
  readiness.await_first_probes(std::chrono::seconds(2));  // bounded: a slow engine only leaves it unready

  gateway::Server server(config.gateway,
                         {.chat = chat,
                          .auth = auth,
                          .rooms = room_rules,
                          .conversations = conversations,
                          .directory = directory,
                          .room_store = rooms,
                          .state = state,
                          .social = social,
                          .presence = presence,
                          .push_tokens = engines.push_tokens.get(),
                          .push = &push_dispatcher,
                          .search = &search,
                          .readiness = &readiness,
                          .sessions = &sessions,
                          .admin = &admin,
                          .metrics = &metrics},
                         tls);
  try {
    server.start();
  } catch (const std::exception& e) {
    log::error("parleyd", e.what());
    return 1;
  }
  sequencer_step.start();
  store_writer_step.start();
  search_step.start();
  inbox_step.start();
  push_dispatcher.start();
  push_step.start();
  presence.start();
  deleted_users.start(std::chrono::seconds(10));  // what other servers deleted

  announce_listening(config.log_format, config.gateway.host, server.port());
  log::info("parleyd", "parleyd " + std::string(build_info::version()) + " (commit " +
                           std::string(build_info::commit()) + "), data in " + config.data_dir + ", node " +
                           std::to_string(config.node_id));
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
  readiness.set_draining();  // /v1/readyz: 503 from here on
  const char* signal_name = signal == SIGINT ? "SIGINT" : "SIGTERM";
  if (config.drain_grace.count() > 0) {
    log::info("parleyd", std::string(signal_name) + ": not ready; serving for the drain grace of " +
                             std::to_string(config.drain_grace.count()) + " ms before draining");
    wait_grace(signals, config.drain_grace, tls.get());
    log::info("parleyd", "draining");
  } else {
    log::info("parleyd", std::string("draining on ") + signal_name);
  }

  server.stop();          // answers sends in flight, closes connections
  presence.stop();        // applies the disconnects just queued
  sequencer_step.stop();  // each finishes and commits its batch in hand
  store_writer_step.stop();
  search_step.stop();
  inbox_step.stop();
  push_step.stop();
  push_dispatcher.stop();  // finishes the round in hand
  readiness.stop();
  deleted_users.stop();
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
