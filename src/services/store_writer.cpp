#include "services/store_writer.hpp"

#include <map>

#include "core/codec.hpp"
#include "core/log.hpp"
#include "services/live_events.hpp"

namespace parley::services {

StoreWriter::StoreWriter(ports::MessageLog& log, ports::MessageStore& store, ports::StateStore& state,
                         StoredMessages* stored, InboxOwner* inboxes)
    : log_(log), store_(store), state_(state), stored_(stored), inboxes_(inboxes) {}

void StoreWriter::on_generation(std::uint64_t generation) {
  if (inboxes_ != nullptr) inboxes_->on_generation(generation);
}

Result<void> StoreWriter::process(std::span<const ports::LogRecord> batch) {
  std::vector<std::size_t> record_of;  // decisions[i] came from batch[record_of[i]]
  const std::vector<records::Sequenced> decisions = records::decode_decisions(batch, "store-writer", &record_of);

  // Every decision but those this server's sequencer stored (StoredMessages):
  // it may have been down, or died between logging and storing, or be on
  // another server.
  std::vector<Message> messages;
  messages.reserve(decisions.size());
  for (const auto& d : decisions) {
    // Waiting costs no more than the write it saves, which would go to the
    // same rows at the same time.
    if (stored_ == nullptr || !stored_->wait_stored(d.message, std::chrono::milliseconds(2000))) {
      messages.push_back(d.message);
    }
  }
  if (!messages.empty()) {
    if (auto put = store_.put_messages(messages); !put) return put;
  }

  for (const auto& d : decisions) {
    if (d.message.to.kind == Recipient::Kind::channel) {
      send_to_channel(state_, ChannelId{d.message.to.id}, UserId{}, codec::event_channel_message(d.message));
    }
  }
  if (inboxes_ != nullptr) {
    if (auto placed = inboxes_->process_decided(batch, decisions, record_of); !placed) return placed;
    // Its flush made the messages durable with the entries, unless it wrote
    // none (a replay, a batch of channel posts): then this one does, and
    // costs nothing if that one came after every write.
    return decisions.empty() ? Ok{} : store_.flush();
  }

  std::vector<Append> inbox;
  for (const auto& d : decisions) {
    if (d.message.to.kind == Recipient::Kind::channel) continue;
    // One record per inbox partition the message reaches, keyed by its
    // first user (so it lands in their partition, which is all of theirs).
    std::map<int, std::vector<UserId>> by_partition;
    for (UserId member : d.members) {
      by_partition[log_.partition_for(records::kInboxesTopic, to_string(member))].push_back(member);
    }
    for (auto& [partition, users] : by_partition) {
      std::string key = to_string(users.front());
      inbox.push_back(Append{std::move(key), records::encode(records::InboxCommand{std::move(users), d.message})});
    }
  }
  // The inbox records go out first: the log syncs them while the store
  // syncs below, and on the embedded log the inbox owner may read them
  // before either sync (an inbox entry carries its message whole, so it
  // does not wait for the history row).
  AppendGroup appends(log_, records::kInboxesTopic, std::move(inbox));
  // Always: what the sequencer stored without a flush (SequencerOptions::
  // flush_stored) becomes durable here, before this batch's offsets move.
  // A flush with nothing written since the last one costs nothing.
  if (!decisions.empty()) {
    if (auto flushed = store_.flush(); !flushed) return flushed;
  }
  if (auto appended = appends.wait(); !appended) return std::move(appended).error();
  return Ok{};
}

}  // namespace parley::services
