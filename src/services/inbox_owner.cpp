#include "services/inbox_owner.hpp"

#include <set>
#include <unordered_map>

#include "core/codec.hpp"
#include "core/log.hpp"
#include "services/live_events.hpp"
#include "services/records.hpp"

namespace parley::services {

InboxOwner::InboxOwner(ports::MessageStore& store, ports::StateStore& state) : store_(store), state_(state) {}

namespace {

std::vector<std::pair<int, std::uint64_t>> positions(std::span<const ports::LogRecord> batch) {
  std::vector<std::pair<int, std::uint64_t>> out;
  out.reserve(batch.size());
  for (const auto& r : batch) out.emplace_back(r.partition, r.offset);
  return out;
}

}  // namespace

Result<void> InboxOwner::process(std::span<const ports::LogRecord> batch) {
  auto records = positions(batch);
  if (unfinished_) {
    // The retry of a batch whose writes failed: write the same entries at
    // the same seqs (idempotent whether the first try landed whole, in part
    // or not at all). Any other batch means the plan is stale: drop it.
    if (unfinished_->records == records) {
      if (auto done = store_and_deliver(unfinished_->writes); !done) return done;
      unfinished_.reset();
      return Ok{};
    }
    unfinished_.reset();
  }

  // Decode, drop repeats within the batch, then ask the store about the
  // whole batch at once: which entries are placed already (a replay), and
  // the head of every user with one that is not.
  std::vector<records::InboxCommand> commands;
  commands.reserve(batch.size());
  std::set<std::pair<std::uint64_t, std::uint64_t>> in_batch;  // (user, message) seen in this batch
  for (const auto& record : batch) {
    auto cmd = records::decode_inbox(record.value);
    if (!cmd) {
      log::error("inbox", "skipping undecodable record at offset " + std::to_string(record.offset));
      continue;
    }
    if (!in_batch.emplace(cmd->user.value, cmd->message.id.value).second) continue;
    commands.push_back(std::move(*cmd));
  }
  std::vector<ports::MessageStore::InboxKey> keys;
  keys.reserve(commands.size());
  for (const auto& c : commands) keys.push_back({c.user, c.message.id});
  auto placed = store_.inbox_seqs_of(keys);
  if (!placed) return std::move(placed).error();

  std::unordered_map<UserId, Seq> heads;  // user -> head including this batch
  std::vector<UserId> users;
  for (std::size_t i = 0; i < commands.size(); ++i) {
    if (!placed.value()[i] && heads.try_emplace(commands[i].user, 0).second) users.push_back(commands[i].user);
  }
  auto stored_heads = store_.inbox_heads(users);
  if (!stored_heads) return std::move(stored_heads).error();
  for (std::size_t i = 0; i < users.size(); ++i) heads[users[i]] = stored_heads.value()[i];

  std::vector<ports::MessageStore::InboxWrite> writes;
  writes.reserve(commands.size());
  for (std::size_t i = 0; i < commands.size(); ++i) {
    if (placed.value()[i]) continue;  // replayed: it has its seq already
    writes.push_back({commands[i].user, InboxEntry{++heads[commands[i].user], std::move(commands[i].message)}});
  }

  if (writes.empty()) return Ok{};
  if (auto done = store_and_deliver(writes); !done) {
    unfinished_ = Unfinished{std::move(records), std::move(writes)};
    return done;
  }
  return Ok{};
}

Result<void> InboxOwner::store_and_deliver(const std::vector<ports::MessageStore::InboxWrite>& writes) {
  if (auto put = store_.put_inbox(writes); !put) return put;
  if (auto flushed = store_.flush(); !flushed) return flushed;
  for (const auto& w : writes) deliver(w.user, w.entry);
  return Ok{};
}

void InboxOwner::deliver(UserId user, const InboxEntry& entry) {
  send_to_user(state_, user, codec::event_message(entry));
}

}  // namespace parley::services
