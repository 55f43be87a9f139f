#pragma once
// The sequencer: the one owner of each "conversations" partition.
//
// For each send, in log order: dedupe by (conversation, sender,
// client_msg_id); ask the authorizer (RoomsService::authorize_send) whether
// the sender may post there and who gets an inbox entry; give the message an
// id greater than every id already in its conversation. Then, for the
// messages new in the batch: append each decision to the "sequenced"
// changelog; store them in the message store if it answers (so that history
// shows a send as soon as it is answered); answer the senders' servers. The
// store writer (services/store_writer.hpp) takes it from there: it stores
// every decision this sequencer did not (the store was down, or it died
// between logging and storing), makes the store durable, and
// fans out to inboxes in changelog order (on Kafka, where the order allows,
// this sequencer appends the inbox records of what it stored itself, after
// answering, a hop sooner: services/fan_outs.hpp); the search indexer
// (services/search_indexer.hpp) indexes them, off the acknowledgement path.
//
// Dedupe and the last ids come from SequencerState, the sequencer's own view
// of the changelog, never from the message store: so sends keep being
// acknowledged while the store is down (the log holds them), and the store
// catches up when it is back. Before each batch the state applies what the
// changelog holds past it, so a partition that changes owner, or a batch
// whose appends half failed, is decided again on everything already decided.
// Nothing is stored before it is logged, so the store never holds a message
// the changelog does not.
//
// Replays are harmless: a send already decided is found in the state and
// keeps its id; nothing is appended for it again.
//
// Two sequencers that both believe they own a partition (on Kafka, one that
// lost it in a rebalance and does not know yet) cannot give a send two ids:
// each decision names the changelog offset it is meant for, the end of the
// partition as its sequencer knew it, and stands only if it lands there
// (records::Sequenced::offset). A sequencer whose decisions land elsewhere
// answers nobody with them, stores none of them, and decides the batch
// again on what the changelog holds; every reader of the changelog skips
// them.

#include <chrono>
#include <map>
#include <set>
#include <span>

#include "core/snowflake.hpp"
#include "ports/message_log.hpp"
#include "ports/message_store.hpp"
#include "ports/sequencer_state.hpp"
#include "ports/state_store.hpp"
#include "services/fan_outs.hpp"
#include "services/pipeline_step.hpp"
#include "services/records.hpp"
#include "services/rooms_service.hpp"
#include "services/stored_messages.hpp"

namespace parley::services {

struct SequencerOptions {
  // After the message store fails a write, the sequencer leaves it to the
  // store writer for this long before trying it again, so that sends are not
  // each held up by a store that is down.
  std::chrono::milliseconds store_retry_interval{1000};
  // When given, the sequencer records the messages it stored here, so that
  // the store writer of this process skips them.
  StoredMessages* stored = nullptr;
  // Whether the sequencer flushes that store write itself (on Cassandra,
  // where a flush is free). Without it the store writer's flush, which it
  // makes before it commits whether it stored anything or not, syncs the
  // sequencer's write with the rest (the embedded store: one WAL).
  bool flush_stored = true;
  // Whether a send is answered only once the message store holds it (the
  // embedded store, on the same disk as the log: a store that cannot write
  // means a disk that is full or failing, and a send answered then would be
  // missing from history until it recovers). A failed store write then
  // fails the batch, which is retried (the decisions stand in the
  // changelog; the retry stores them first); its senders wait, and past
  // the send timeout get `unavailable`. Without it (Cassandra) sends are
  // answered from the changelog while the store is down.
  bool answer_after_store = false;
  // When given (a log shared out among servers, where the inbox owner is
  // a step of its own): the sequencer appends the inbox records of the
  // decisions it stored itself, where the order allows, after answering,
  // and records that here, so that the store writer of this process skips
  // them (services/fan_outs.hpp).
  FanOuts* fan_outs = nullptr;
};

class Sequencer final : public BatchHandler {
 public:
  using Options = SequencerOptions;

  // `authorizer` decides who may send to whom, and who gets an inbox entry.
  Sequencer(ports::MessageLog& log, ports::SequencerState& decided, ports::MessageStore& store,
            RoomsService& authorizer, ports::StateStore& state, Snowflake ids, Options options = {});

  [[nodiscard]] Result<void> process(std::span<const ports::LogRecord> batch) override;
  // Another member may have appended to the changelog partitions meanwhile.
  void on_generation(std::uint64_t generation) override;

 private:
  struct Outcome {
    records::SendCommand cmd;
    Result<Message> result;
  };
  // Reads the relation of the two sides of every 1:1 send of the batch at
  // once (a block refuses the send) into lookups_.
  [[nodiscard]] Result<void> read_relations(const std::vector<Outcome>& outcomes);
  // Applies what changelog partition `partition` holds past the state.
  [[nodiscard]] Result<void> catch_up(int partition);
  // Whether to ask the store now; store_failed() makes it false for a while.
  [[nodiscard]] bool store_up() const;
  void store_failed(const Error& error);
  [[nodiscard]] static std::vector<Message> messages_of(const std::vector<records::Sequenced>& decisions);
  // Stores logged decisions now, if the store answers; whether it did.
  // Fails only with options_.answer_after_store.
  [[nodiscard]] Result<bool> try_store(std::vector<Message> messages);
  // The decisions of `fresh` this sequencer will fan out itself
  // (options_.fan_outs): those of the changelog partitions whose every
  // earlier decision has its inbox records in the log.
  struct FanOutPlan {
    std::uint64_t epoch = 0;
    std::map<int, std::uint64_t> ends;   // changelog partition -> the offset after its last decision
    std::vector<std::size_t> decisions;  // indexes into fresh, each partition's in order
    std::vector<Message> messages;       // theirs, 1:1 and group only
  };
  [[nodiscard]] Result<FanOutPlan> plan_fan_out(const std::vector<records::Sequenced>& fresh);
  // Appends the plan's inbox records (the decisions are logged and stored).
  void fan_out(const std::vector<records::Sequenced>& fresh, const FanOutPlan& plan);
  // Appends the decisions to the changelog (setting the offset each is
  // meant for) and applies them to the state. Fails if another sequencer
  // appended to one of their partitions in between (records::Sequenced::offset):
  // some of them are then fenced off, and the batch must be decided again.
  [[nodiscard]] Result<void> log_decisions(std::vector<records::Sequenced>& decisions);

  ports::MessageLog& log_;
  ports::SequencerState& decided_;
  ports::MessageStore& store_;
  RoomsService& authorizer_;
  ports::StateStore& state_;
  Snowflake ids_;
  Options options_;
  // What authorizer_ remembers between sends (users found, the batch's 1:1
  // relations); only the step thread touches it.
  RoomsService::SendLookups lookups_;
  std::chrono::steady_clock::time_point store_retry_at_{};
  // options_.answer_after_store: decisions of the batch being retried that
  // the store did not take; stored before the batch is tried again.
  std::vector<Message> unstored_;
  // Changelog partitions the state has applied to their end in this
  // ownership generation, every append since following on: catch_up() skips
  // them (no end_offset round trip per batch).
  std::set<int> current_;
};

}  // namespace parley::services
