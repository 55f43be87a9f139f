#include "services/push_step.hpp"

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

Result<Seq> PushStep::seq_of(UserId user, MessageId message) {
  // The inbox owner reads the same records as this step and is usually a few
  // milliseconds ahead or behind; poll with a short backoff rather than fail
  // the whole batch (which the pipeline would also retry, but noisily).
  const auto deadline = std::chrono::steady_clock::now() + options_.seq_wait;
  std::chrono::milliseconds delay{2};
  for (;;) {
    auto seq = store_.inbox_seq_of(user, message);
    if (!seq) return std::move(seq).error();
    if (seq.value()) return *seq.value();
    if (std::chrono::steady_clock::now() >= deadline) {
      return make_error(ErrorCode::unavailable, "the inbox entry is not stored yet");
    }
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
  for (const auto& cmd : commands) {
    const Message& m = cmd.message;
    for (UserId user : cmd.users) {
      if (user == m.from) continue;   // never wake a sender for its own message
      if (online.at(user)) continue;  // a device is online: it got the message live
      if (const auto it = last_seen.find(user); it != last_seen.end() && it->second != 0 && it->second >= m.sent_at) {
        continue;  // online when it was sent, and gone since: it got the message live
      }

      auto seq = seq_of(user, m.id);
      if (!seq) return std::move(seq).error();
      std::string preview = m.body.substr(0, options_.preview_bytes);
      candidates.push_back(ports::PushCandidate{user, seq.value(), m.conversation, m.id, m.from,
                                                m.to.kind == Recipient::Kind::group, std::move(preview),
                                                options_.clock()});
    }
  }
  if (candidates.empty()) return Ok{};
  auto added = ledger_.add(candidates);
  if (!added) return std::move(added).error();
  if (added.value() > 0 && options_.on_added) options_.on_added();
  return Ok{};
}

}  // namespace parley::services
