#include "services/store_writer.hpp"

#include "core/codec.hpp"
#include "core/log.hpp"
#include "services/live_events.hpp"

namespace parley::services {

StoreWriter::StoreWriter(ports::MessageLog& log, ports::MessageStore& store, ports::StateStore& state,
                         StoredMessages* stored)
    : log_(log), store_(store), state_(state), stored_(stored) {}

Result<void> StoreWriter::process(std::span<const ports::LogRecord> batch) {
  const std::vector<records::Sequenced> decisions = records::decode_decisions(batch, "store-writer");

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
  // Always: what the sequencer stored without a flush (SequencerOptions::
  // flush_stored) becomes durable here, before this batch's offsets move.
  // A flush with nothing written since the last one costs nothing.
  if (!decisions.empty()) {
    if (auto flushed = store_.flush(); !flushed) return flushed;
  }

  std::vector<records::InboxCommand> inbox;
  for (const auto& d : decisions) {
    if (d.message.to.kind == Recipient::Kind::channel) {
      send_to_channel(state_, ChannelId{d.message.to.id}, UserId{}, codec::event_channel_message(d.message));
      continue;
    }
    for (UserId member : d.members) inbox.push_back(records::InboxCommand{member, d.message});
  }
  return append_inbox_records(inbox);
}

Result<void> StoreWriter::append_inbox_records(const std::vector<records::InboxCommand>& commands) {
  if (commands.empty()) return Ok{};
  std::vector<Append> appends;
  appends.reserve(commands.size());
  for (const auto& c : commands) appends.push_back(Append{to_string(c.user), records::encode(c)});
  auto appended = append_all(log_, records::kInboxesTopic, std::move(appends));
  if (!appended) return std::move(appended).error();
  return Ok{};
}

}  // namespace parley::services
