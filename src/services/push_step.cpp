#include "services/push_step.hpp"

#include <algorithm>
#include <optional>
#include <thread>
#include <unordered_map>

#include "core/clock.hpp"
#include "core/log.hpp"
#include "services/records.hpp"

namespace parley::services {

PushStep::PushStep(ports::MessageStore& store, ports::StateStore& state, ports::PushLedger& ledger, Options options)
    : store_(store), state_(state), ledger_(ledger), options_(std::move(options)) {
  if (!options_.clock) {
    options_.clock = now_ms;
  }
}

Result<std::vector<Seq>> PushStep::seqs_of(std::vector<ports::MessageStore::InboxKey> keys) {
  // The inbox owner reads the same records as this step and is usually a few
  // milliseconds ahead or behind: ask again, with a short backoff, for the
  // entries it has not stored yet, rather than fail the whole batch (which
  // the pipeline would also retry, but noisily). Each round asks for the keys
  // still missing together, in calls of at most options_.keys_per_lookup (on
  // Cassandra each call issues a read per entry and per user, 128 in flight):
  // not one call per user woken, one after another, and not one unbounded
  // call for a backlog of group messages to offline members, which can wake
  // hundreds of thousands at once. The wait starts when the first round has
  // answered, so a large batch's own lookups never use it up.
  std::vector<Seq> out(keys.size(), 0);
  std::vector<std::size_t> where(keys.size());  // keys[i] answers out[where[i]]
  for (std::size_t i = 0; i < where.size(); ++i) where[i] = i;
  std::optional<std::chrono::steady_clock::time_point> deadline;
  std::chrono::milliseconds delay{2};
  const std::size_t per_call = std::max<std::size_t>(options_.keys_per_lookup, 1);
  std::vector<std::optional<Seq>> seqs;
  for (;;) {
    seqs.clear();
    for (std::size_t from = 0; from < keys.size(); from += per_call) {
      const auto part = std::span(keys).subspan(from, std::min(per_call, keys.size() - from));
      auto got = store_.inbox_seqs_of(part);
      if (!got) return std::move(got).error();
      if (got->size() != part.size()) {
        return make_error(ErrorCode::internal, "the store answered a different number of inbox entries than asked");
      }
      seqs.insert(seqs.end(), got->begin(), got->end());
    }
    std::size_t missing = 0;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (const auto& seq = seqs[i]) {
        out[where[i]] = *seq;
      } else {
        keys[missing] = keys[i];
        where[missing++] = where[i];
      }
    }
    if (missing == 0) return out;
    if (!deadline) deadline = std::chrono::steady_clock::now() + options_.seq_wait;
    if (std::chrono::steady_clock::now() >= *deadline) {
      return make_error(ErrorCode::unavailable, "the inbox entry is not stored yet");
    }
    keys.resize(missing);
    where.resize(missing);
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(50));
  }
}

Result<void> PushStep::process(std::span<const ports::LogRecord> batch) {
  std::vector<ports::PushCandidate> candidates;
  std::vector<records::InboxCommand> commands;
  std::unordered_map<UserId, bool> online;  // per batch: one routes lookup for all its users
  std::vector<UserId> users;
  for (const auto& record : batch) {
    // The inbox records, or on the embedded log the decisions themselves
    // (node.cpp): a decision names every member. One fenced off
    // (records::Sequenced::offset) went to nobody.
    std::optional<records::InboxCommand> cmd;
    if (record.topic == records::kSequencedTopic) {
      if (auto d = records::decode_sequenced(record.value); d && records::stands(*d, record)) {
        cmd = records::InboxCommand{std::move(d->members), std::move(d->message)};
      }
    } else {
      cmd = records::decode_inbox(record.value);
    }
    if (!cmd) continue;                                              // the inbox owner logs undecodable records
    if (cmd->message.to.kind == Recipient::Kind::channel) continue;  // channels are read, not pushed
    for (UserId user : cmd->users) {
      if (user != cmd->message.from && online.try_emplace(user, false).second) users.push_back(user);
    }
    commands.push_back(std::move(*cmd));
  }
  // When the users with no route now were last seen online: a device that
  // took a message live and went away at once has no route by the time this
  // step reads the entry, and is not woken for it (presence's last_seen is
  // when a user's last device went away).
  std::unordered_map<UserId, TimeMs> last_seen;
  if (!users.empty()) {
    auto routes = state_.routes_of(users);
    if (!routes) return std::move(routes).error();
    std::vector<UserId> away;
    for (std::size_t i = 0; i < users.size(); ++i) {
      const bool routed = !routes.value()[i].empty();
      online[users[i]] = routed;
      if (!routed) away.push_back(users[i]);
    }
    if (!away.empty()) {
      auto seen = state_.presence_of(away);
      if (!seen) return std::move(seen).error();
      for (std::size_t i = 0; i < away.size(); ++i) {
        last_seen[away[i]] = seen.value()[i].last_seen;
      }
    }
  }
  std::vector<ports::MessageStore::InboxKey> keys;
  for (const auto& cmd : commands) {
    const Message& m = cmd.message;
    for (UserId user : cmd.users) {
      if (user == m.from) continue;   // never wake a sender for its own message
      if (online.at(user)) continue;  // a device is online: it got the message live
      if (const auto it = last_seen.find(user); it != last_seen.end() && it->second != 0 && it->second >= m.sent_at) {
        continue;  // online when it was sent, and gone since: it got the message live
      }
      std::string preview = m.body.substr(0, options_.preview_bytes);
      candidates.push_back(ports::PushCandidate{user, 0, m.conversation, m.id, m.from,
                                                m.to.kind == Recipient::Kind::group, std::move(preview),
                                                options_.clock()});
      keys.push_back({user, m.id});
    }
  }
  if (candidates.empty()) return Ok{};
  auto seqs = seqs_of(std::move(keys));
  if (!seqs) return std::move(seqs).error();
  for (std::size_t i = 0; i < candidates.size(); ++i) candidates[i].seq = seqs.value()[i];
  auto added = ledger_.add(candidates);
  if (!added) return std::move(added).error();
  if (added.value() > 0 && options_.on_added) options_.on_added();
  return Ok{};
}

}  // namespace parley::services
