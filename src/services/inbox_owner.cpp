#include "services/inbox_owner.hpp"

#include <algorithm>
#include <boost/unordered/unordered_flat_set.hpp>
#include <unordered_map>

#include "core/codec.hpp"
#include "core/log.hpp"
#include "services/live_events.hpp"
#include "services/records.hpp"

namespace parley::services {

InboxOwner::InboxOwner(ports::MessageLog& log, ports::MessageStore& store, ports::StateStore& state,
                       std::size_t max_cached_users)
    : log_(log), store_(store), state_(state), max_cached_users_(std::max<std::size_t>(max_cached_users, 1)) {}

namespace {

std::vector<std::pair<int, std::uint64_t>> positions(std::span<const ports::LogRecord> batch) {
  std::vector<std::pair<int, std::uint64_t>> out;
  out.reserve(batch.size());
  for (const auto& r : batch) out.emplace_back(r.partition, r.offset);
  return out;
}

}  // namespace

void InboxOwner::on_generation(std::uint64_t /*generation*/) { forget_everything(); }

Result<void> InboxOwner::process(std::span<const ports::LogRecord> batch) {
  std::vector<Command> commands;
  commands.reserve(batch.size());
  for (const auto& record : batch) {
    auto cmd = records::decode_inbox(record.value);
    if (!cmd) {
      log::error("inbox", "skipping undecodable record at offset " + std::to_string(record.offset));
      continue;
    }
    for (UserId user : cmd->users) commands.push_back(Command{user, cmd->message, record.partition, record.offset});
  }
  return place(batch, std::move(commands));
}

Result<void> InboxOwner::process_decided(std::span<const ports::LogRecord> batch,
                                         std::span<const records::Sequenced> decisions,
                                         std::span<const std::size_t> record_of) {
  std::vector<Command> commands;
  commands.reserve(decisions.size() * 2);
  for (std::size_t i = 0; i < decisions.size(); ++i) {
    const auto& d = decisions[i];
    if (d.message.to.kind == Recipient::Kind::channel) continue;  // read from the channel, not placed
    const auto& record = batch[record_of[i]];
    for (UserId user : d.members) commands.push_back(Command{user, d.message, record.partition, record.offset});
  }
  return place(batch, std::move(commands));
}

Result<void> InboxOwner::place(std::span<const ports::LogRecord> batch, std::vector<Command> all) {
  auto records = positions(batch);
  if (unfinished_) {
    // The retry of a batch whose writes failed: write the same entries at
    // the same seqs (idempotent whether the first try landed whole, in part
    // or not at all). Any other batch means the plan is stale: drop it, and
    // the cache with it, since the store may hold any part of that plan.
    if (unfinished_->records == records) {
      if (auto done = store_and_deliver(unfinished_->writes); !done) return done;
      // Durable now, but the cache was not moved by this plan (it may even
      // be from another generation): read these users again.
      for (const auto& w : unfinished_->writes) forget(w.user);
      unfinished_.reset();
      return Ok{};
    }
    unfinished_.reset();
    forget_everything();
  }
  if (auto ends = learn_ends(batch); !ends) return ends;

  // Drop repeats within the batch.
  std::vector<Command> commands;
  commands.reserve(all.size());
  // (user, message) seen in this batch: open addressing, no node per entry
  // (a std::set here was a tenth of the inbox owner's time in a group load).
  boost::unordered_flat_set<std::pair<std::uint64_t, std::uint64_t>> in_batch;
  in_batch.reserve(all.size());
  std::vector<UserId> users;
  for (auto& c : all) {
    if (!in_batch.emplace(c.user.value, c.message.id.value).second) continue;
    users.push_back(c.user);
    commands.push_back(std::move(c));
  }

  // Heads and `newest` of every user in the batch, in a working copy that
  // reaches the cache only once the batch is durable.
  std::unordered_map<UserId, Known> known;
  if (auto loaded = load(users, known); !loaded) return loaded;

  // Ask the store at once about the records that may be placed already (a
  // replay; the header says which those are). A message without a
  // conversation is always asked about: the conversation index that
  // `newest` is read from holds no entry for it.
  std::vector<ports::MessageStore::InboxKey> keys;
  std::vector<std::size_t> asked;  // keys[k] is about commands[asked[k]]
  for (std::size_t i = 0; i < commands.size(); ++i) {
    const auto& c = commands[i];
    const bool fresh = c.offset >= fresh_from_.at(c.partition) && !c.message.conversation.empty() &&
                       c.message.id > known.at(c.user).newest;
    if (fresh) continue;
    keys.push_back({c.user, c.message.id});
    asked.push_back(i);
  }
  std::vector<bool> placed(commands.size(), false);
  if (!keys.empty()) {
    auto seqs = store_.inbox_seqs_of(keys);
    if (!seqs) return std::move(seqs).error();
    for (std::size_t k = 0; k < keys.size(); ++k) {
      const auto& seq = seqs.value()[k];
      if (!seq) continue;
      auto& user = known.at(keys[k].user);
      // Above the head: a write that did not finish (a store writes the
      // heads last), left by a crash. It is planned again with the rest:
      // records come in the same order, so it gets the same seq.
      if (*seq > user.head) continue;
      placed[asked[k]] = true;
      user.newest = std::max(user.newest, keys[k].message);
    }
  }

  std::vector<ports::MessageStore::InboxWrite> writes;
  writes.reserve(commands.size());
  for (std::size_t i = 0; i < commands.size(); ++i) {
    if (placed[i]) continue;  // replayed: it has its seq already
    auto& user = known.at(commands[i].user);
    user.newest = std::max(user.newest, commands[i].message.id);
    writes.push_back({commands[i].user, InboxEntry{++user.head, std::move(commands[i].message)}});
  }

  if (!writes.empty()) {
    if (auto done = store_and_deliver(writes); !done) {
      unfinished_ = Unfinished{std::move(records), std::move(writes)};
      return done;  // the cache stays as it was: at most behind the store by what the retry writes
    }
  }
  remember(known);
  return Ok{};
}

Result<void> InboxOwner::learn_ends(std::span<const ports::LogRecord> batch) {
  // The ends are of one topic's partitions: records of another (the store
  // writer's changelog after an earlier version's inbox records, node.cpp)
  // learn theirs afresh. What the cache holds of each user stays true.
  if (!batch.empty() && batch.front().topic != fresh_topic_) {
    fresh_from_.clear();
    fresh_topic_ = batch.front().topic;
  }
  for (const auto& record : batch) {
    if (fresh_from_.contains(record.partition)) continue;
    // Read after this generation began (its first poll returned), so every
    // record another owner could have read is below it; the batch's own
    // records are too, so the first batch is checked whole.
    auto end = log_.end_offset(record.topic, record.partition);
    if (!end) return std::move(end).error();
    fresh_from_.emplace(record.partition, end.value());
  }
  return Ok{};
}

Result<void> InboxOwner::load(const std::vector<UserId>& users, std::unordered_map<UserId, Known>& known) {
  std::vector<UserId> unknown;
  for (UserId user : users) {
    if (known.contains(user)) continue;
    if (auto it = cache_.find(user); it != cache_.end()) {
      known.emplace(user, it->second.known);
      continue;
    }
    known.emplace(user, Known{});
    unknown.push_back(user);
  }
  if (unknown.empty()) return Ok{};
  auto heads = store_.inbox_heads(unknown);
  if (!heads) return std::move(heads).error();
  auto conversations = store_.conversations_of_each(unknown);
  if (!conversations) return std::move(conversations).error();
  for (std::size_t i = 0; i < unknown.size(); ++i) {
    Known& k = known.at(unknown[i]);
    k.head = heads.value()[i];
    for (const auto& c : conversations.value()[i]) k.newest = std::max(k.newest, c.last_message);
  }
  return Ok{};
}

void InboxOwner::remember(const std::unordered_map<UserId, Known>& known) {
  for (const auto& [user, k] : known) {
    if (auto it = cache_.find(user); it != cache_.end()) {
      it->second.known = k;
      recent_.splice(recent_.begin(), recent_, it->second.at);
      continue;
    }
    recent_.push_front(user);
    cache_.emplace(user, Cached{k, recent_.begin()});
    if (cache_.size() > max_cached_users_) {
      cache_.erase(recent_.back());
      recent_.pop_back();
    }
  }
}

void InboxOwner::forget(UserId user) {
  if (auto it = cache_.find(user); it != cache_.end()) {
    recent_.erase(it->second.at);
    cache_.erase(it);
  }
}

void InboxOwner::forget_everything() {
  cache_.clear();
  recent_.clear();
  fresh_from_.clear();
}

Result<void> InboxOwner::store_and_deliver(const std::vector<ports::MessageStore::InboxWrite>& writes) {
  if (auto put = store_.put_inbox(writes); !put) return put;
  if (auto flushed = store_.flush(); !flushed) return flushed;
  // One routes lookup for the whole batch, then a publish per route.
  std::vector<std::pair<UserId, std::string>> events;
  events.reserve(writes.size());
  // A group message's entries come one after another: its JSON is made once.
  const Message* serialized_from = nullptr;
  std::string json;
  for (const auto& w : writes) {
    if (serialized_from == nullptr || !(*serialized_from == w.entry.message)) {
      json = codec::message_json(w.entry.message);
      serialized_from = &w.entry.message;
    }
    events.emplace_back(w.user, codec::event_message(w.entry.seq, json));
  }
  send_to_users(state_, std::move(events));
  return Ok{};
}

}  // namespace parley::services
