#include "services/store_writer.hpp"

#include <algorithm>
#include <map>

#include "core/codec.hpp"
#include "core/log.hpp"
#include "services/live_events.hpp"

namespace parley::services {

StoreWriter::StoreWriter(ports::MessageLog& log, ports::MessageStore& store, ports::StateStore& state,
                         StoredMessages* stored, InboxOwner* inboxes, FanOuts* fan_outs)
    : log_(log), store_(store), state_(state), stored_(stored), inboxes_(inboxes), fan_outs_(fan_outs) {}

void StoreWriter::on_generation(std::uint64_t generation) {
  if (inboxes_ != nullptr) inboxes_->on_generation(generation);
  // The partitions this step owned may be another server's now: what this
  // process knew of how far they are fanned out no longer follows them.
  if (fan_outs_ != nullptr) fan_outs_->reset();
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

  const std::uint64_t epoch = fan_outs_ != nullptr ? fan_outs_->epoch() : 0;
  std::vector<Append> inbox;
  for (const auto& d : decisions) {
    if (d.message.to.kind == Recipient::Kind::channel) continue;
    // The sequencer of this process appends these itself where it may
    // (services/fan_outs.hpp); waiting for it costs less than a second copy
    // for the inbox owner to find already placed.
    if (fan_outs_ != nullptr && fan_outs_->wait_fanned_out(d.message, std::chrono::milliseconds(2000))) continue;
    add_inbox_records(log_, d, inbox);
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
  if (fan_outs_ != nullptr) {
    // Every decision of the batch has its inbox records in the log, and so
    // has every one before it (the batch follows on from the committed
    // offset, which only completed batches move).
    std::map<int, std::uint64_t> ends;
    for (const auto& r : batch) ends[r.partition] = std::max(ends[r.partition], r.offset + 1);
    for (const auto& [partition, end] : ends) fan_outs_->advance(partition, end, epoch);
  }
  return Ok{};
}

}  // namespace parley::services
