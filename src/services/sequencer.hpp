#pragma once
// The sequencer: the one owner of each "conversations" partition.
//
// For each send, in log order: dedupe by (sender, client_msg_id); check that
// the sender may post there; give the message an id greater than every id
// already in its conversation; store it in history and in the dedupe table;
// answer the sender's server; then append one inbox record per member to the
// "inboxes" topic. Sequencing by conversation partition is what gives every
// member one order.
//
// Replays are harmless: a send already stored is found in the dedupe table
// and keeps its id, and its inbox records are appended again, which the inbox
// owner recognises and skips.

#include <mutex>
#include <span>
#include <unordered_set>

#include "core/snowflake.hpp"
#include "ports/directory.hpp"
#include "ports/message_log.hpp"
#include "ports/message_store.hpp"
#include "ports/rooms.hpp"
#include "ports/search_index.hpp"
#include "ports/social_graph.hpp"
#include "ports/state_store.hpp"
#include "services/pipeline_step.hpp"
#include "services/records.hpp"

namespace parley::services {

class Sequencer final : public BatchHandler {
 public:
  Sequencer(ports::MessageLog& log, ports::MessageStore& store, ports::Directory& directory, ports::Rooms& rooms,
            ports::StateStore& state, Snowflake ids, ports::SocialGraph& social, ports::SearchIndex* search = nullptr);

  [[nodiscard]] Result<void> process(std::span<const ports::LogRecord> batch) override;

 private:
  // Who gets an inbox entry for a message (nobody for a channel post, which
  // is fanned out on read), or why the send is refused.
  [[nodiscard]] Result<std::vector<UserId>> members_for(const records::SendCommand& cmd);
  // Publishes a channel post to the servers holding its members' devices.
  void publish_channel_post(const Message& m);
  [[nodiscard]] Result<void> append_inbox_records(const std::vector<records::InboxCommand>& commands);

  ports::MessageLog& log_;
  ports::MessageStore& store_;
  ports::Directory& directory_;
  ports::Rooms& rooms_;
  ports::StateStore& state_;
  Snowflake ids_;
  ports::SearchIndex* search_;              // nullable: no full-text index
  ports::SocialGraph& social_;              // blocks refuse 1:1 sends
  std::unordered_set<UserId> known_users_;  // users never disappear; only the step thread touches this
};

}  // namespace parley::services
