#include "node.hpp"

#include <chrono>
#include <stdexcept>
#include <utility>

#include "services/records.hpp"

namespace parley::app {

namespace {

std::unique_ptr<ports::LogConsumer> subscribe(ports::MessageLog& log, std::string_view topic, std::string_view group,
                                              const char* what) {
  auto consumer = log.subscribe(topic, group);
  if (!consumer) throw std::runtime_error(std::string("cannot open ") + what + ": " + consumer.error().message);
  return std::move(consumer).value();
}

}  // namespace

// The store writer skips what the sequencer of this server stored. On
// Cassandra a flush costs nothing (writes are durable when they return), so
// the sequencer flushes its write; the embedded store leaves that flush to
// the store writer, which syncs the one WAL before it commits. The embedded
// store shares the disk with the log: a send is answered only once it is
// stored, so that a full disk never leaves an answered send out of history
// (docs/OPERATIONS.md, "Full disk").
Node::Node(const Config& config, Engines& engines, std::shared_ptr<gateway::TlsContext> tls)
    : server_id_("node-" + std::to_string(config.node_id)),
      cluster_(*engines.state, server_id_),
      deleted_users_(*engines.directory),
      room_rules_(*engines.rooms, *engines.directory, *engines.social,
                  {.max_group_members = config.max_group_members,
                   .add_friends_only = config.room_add_friends_only,
                   .deleted = &deleted_users_}),
      conversations_(*engines.store, *engines.rooms, room_rules_, *engines.state,
                     {.typing_interval = config.typing_interval, .deleted = &deleted_users_}),
      chat_(*engines.log, *engines.store, *engines.state, room_rules_,
            {.server_id = server_id_, .deleted = &deleted_users_}),
      auth_(*engines.directory, config.hash_cost,
            services::Auth::Throttle{.free_failures = config.login_failures_per_username,
                                     .free_failures_per_address = config.login_failures_per_address},
            {.ttl = config.session_ttl, .registration_open = config.registration_open, .now = {}}),
      sessions_(auth_, *engines.store, *engines.state, engines.push_tokens.get()),
      admin_(*engines.directory, sessions_,
             {.store = *engines.store,
              .rooms = *engines.rooms,
              .social = *engines.social,
              .search = *engines.search,
              .push_tokens = engines.push_tokens.get(),
              .deleted = &deleted_users_}),
      presence_(
          *engines.state, *engines.social,
          {.ttl = config.presence_ttl, .heartbeat = config.presence_heartbeat, .debounce = config.presence_debounce}),
      social_(*engines.directory, *engines.social, *engines.state, presence_),
      sequencer_(*engines.log, *engines.sequencer_state, *engines.store, room_rules_, *engines.state,
                 Snowflake(config.node_id),
                 {.stored = &stored_by_sequencer_,
                  .flush_stored = !config.engines.cassandra.empty(),
                  .answer_after_store = config.engines.cassandra.empty(),
                  // On Kafka the inbox owner is a step of its own, which the
                  // sequencer's inbox records reach a hop sooner than the
                  // store writer's.
                  .fan_outs = config.engines.kafka.empty() ? nullptr : &fanned_out_by_sequencer_}),
      // The embedded log: this process owns every partition of every topic,
      // so the store writer is the inbox owner too (services/store_writer.hpp).
      one_owner_(config.engines.kafka.empty()),
      store_writer_(*engines.log, *engines.store, *engines.state, &stored_by_sequencer_,
                    one_owner_ ? &inbox_owner_ : nullptr, one_owner_ ? nullptr : &fanned_out_by_sequencer_),
      search_(*engines.search, *engines.rooms, room_rules_, &deleted_users_),
      inbox_owner_(*engines.log, *engines.store, *engines.state),
      search_indexer_(*engines.search),
      sequencer_step_(
          "sequencer",
          subscribe(*engines.log, records::kConversationsTopic, records::kSequencerGroup, "the sequencer's consumer"),
          sequencer_,
          {.max_batch = config.engines.cassandra.empty() ? std::size_t{1024} : std::size_t{4096},
           .min_interval = config.step_interval,
           .metrics = &metrics_}),
      store_writer_step_(
          "store-writer",
          subscribe(*engines.log, records::kSequencedTopic, records::kStoreWriterGroup, "the store writer's consumer"),
          store_writer_, {.min_interval = config.step_interval, .metrics = &metrics_}),
      // One index transaction per interval for everything decided in it.
      search_step_("search-indexer",
                   subscribe(*engines.log, records::kSequencedTopic, services::kSearchIndexerGroup,
                             "the search indexer's consumer"),
                   search_indexer_,
                   {.max_batch = 4096, .min_interval = std::chrono::milliseconds(100), .metrics = &metrics_}),
      // Push notifications: the step folds inbox entries for users with no
      // device online into the ledger; the dispatcher sends them
      // (docs/PUSH.md).
      push_dispatcher_(*engines.push_ledger, *engines.push_tokens, *engines.push_sender, *engines.state,
                       *engines.directory,
                       services::PushPolicy({.batch_window = config.push.batch_window,
                                             .pair_interval = config.push.pair_interval,
                                             .previews = config.push.previews}),
                       {.server_id = server_id_, .lease = config.push.lease}),
      push_(*engines.store, *engines.state, *engines.push_ledger, {.on_added = [this] { push_dispatcher_.notify(); }}),
      // Where no step writes "inboxes" (the embedded log, below), the push
      // step reads the changelog; open_log started its group there where the
      // store writer was.
      push_step_("push",
                 subscribe(*engines.log, one_owner_ ? records::kSequencedTopic : records::kInboxesTopic,
                           services::kPushGroup, "the push step's consumer"),
                 // Off the delivery path (pushes fold a window of seconds):
                 // a batch at most every 20 ms, not a wake-up per group
                 // commit of the inbox records.
                 push_, {.max_batch = 4096, .min_interval = std::chrono::milliseconds(20), .metrics = &metrics_}),
      // GET /v1/readyz: probes of the scale-out engines, the pipeline
      // steps, and whether a stop began.
      readiness_(std::move(engines.probes)),
      server_(config.gateway,
              {.chat = chat_,
               .auth = auth_,
               .rooms = room_rules_,
               .conversations = conversations_,
               .social = social_,
               .presence = presence_,
               .sessions = sessions_,
               .search = search_,
               .push = push_dispatcher_,
               .admin = admin_,
               .cluster = cluster_,
               .readiness = readiness_,
               .metrics = metrics_},
              std::move(tls)) {
  if (one_owner_) {
    // Whatever an earlier version left in "inboxes" goes first.
    store_writer_step_.drain_first(
        subscribe(*engines.log, records::kInboxesTopic, records::kInboxGroup, "the inbox owner's consumer"),
        inbox_owner_);
    push_step_.drain_first(
        subscribe(*engines.log, records::kInboxesTopic, services::kPushGroup, "the push step's first consumer"), push_);
  } else {
    // On Cassandra a larger batch under a backlog writes each user's head
    // once for more entries (a mutation per user per batch): 16,384 records
    // and the sequencer's 4,096 (a history mutation per conversation per
    // batch) carried 3,800/s where 4,096 and 1,024 carried 2,900-3,200
    // (docs/BENCHMARKS.md, eleventh round). Without a backlog a batch is
    // what arrived in the step's interval, so the sizes cost no latency.
    inbox_step_.emplace(
        "inbox", subscribe(*engines.log, records::kInboxesTopic, records::kInboxGroup, "the inbox owner's consumer"),
        inbox_owner_,
        services::PipelineStep::Options{
            .max_batch = config.engines.cassandra.empty() ? std::size_t{1024} : std::size_t{16384},
            .min_interval = config.step_interval,
            .metrics = &metrics_});
  }
  if (auto read = deleted_users_.refresh(); !read) {
    throw std::runtime_error("cannot read the deleted users: " + read.error().message);
  }
  readiness_.watch_step("sequencer", [this] { return sequencer_step_.running(); });
  readiness_.watch_step("store-writer", [this] { return store_writer_step_.running(); });
  readiness_.watch_step("search-indexer", [this] { return search_step_.running(); });
  if (inbox_step_) readiness_.watch_step("inbox", [this] { return inbox_step_->running(); });
  readiness_.watch_step("push", [this] { return push_step_.running(); });
}

Node::~Node() { stop(); }

void Node::start() {
  readiness_.start();
  readiness_.await_first_probes(std::chrono::seconds(2));  // bounded: a slow engine only leaves it unready
  started_ = true;
  server_.start();
  sequencer_step_.start();
  store_writer_step_.start();
  search_step_.start();
  if (inbox_step_) inbox_step_->start();
  push_dispatcher_.start();
  push_step_.start();
  presence_.start();
  deleted_users_.start(std::chrono::seconds(10));  // what other servers deleted
}

void Node::stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  server_.stop();
  presence_.stop();
  sequencer_step_.stop();
  store_writer_step_.stop();
  search_step_.stop();
  if (inbox_step_) inbox_step_->stop();
  push_step_.stop();
  push_dispatcher_.stop();
  readiness_.stop();
  deleted_users_.stop();
}

}  // namespace parley::app
