#include "services/sequencer.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <string_view>
#include <tuple>
#include <unordered_map>

#include "core/log.hpp"

namespace parley::services {

Sequencer::Sequencer(ports::MessageLog& log, ports::SequencerState& decided, ports::MessageStore& store,
                     RoomsService& authorizer, ports::StateStore& state, Snowflake ids, Options options)
    : log_(log),
      decided_(decided),
      store_(store),
      authorizer_(authorizer),
      state_(state),
      ids_(std::move(ids)),
      options_(options) {}

Result<void> Sequencer::read_relations(const std::vector<Outcome>& outcomes) {
  std::vector<std::pair<UserId, UserId>> pairs;
  for (const auto& o : outcomes) {
    const UserId to{o.cmd.to.id};
    if (o.cmd.to.kind == Recipient::Kind::user && to != o.cmd.from) pairs.emplace_back(o.cmd.from, to);
  }
  std::sort(pairs.begin(), pairs.end());
  pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());  // one read per pair
  return authorizer_.read_relations(pairs, lookups_);
}

Result<void> Sequencer::process(std::span<const ports::LogRecord> batch) {
  if (!unstored_.empty()) {
    // The last try of this batch logged decisions the store did not take
    // (options_.answer_after_store): store them before anyone is answered.
    if (auto put = store_.put_messages(unstored_); !put) {
      return make_error(put.error().code,
                        "the message store still does not take the batch's messages: " + put.error().message);
    }
    unstored_.clear();
  }
  std::vector<Outcome> outcomes;
  outcomes.reserve(batch.size());
  std::vector<std::string> conversations;
  std::set<int> partitions;
  for (const auto& record : batch) {
    auto cmd = records::decode_send(record.value);
    if (!cmd) {
      log::error("sequencer", "skipping undecodable record at offset " + std::to_string(record.offset));
      continue;
    }
    conversations.push_back(to_string(conversation_of(cmd->from, cmd->to)));
    partitions.insert(log_.partition_for(records::kSequencedTopic, conversations.back()));
    outcomes.push_back(Outcome{std::move(*cmd), Error{}});
  }
  // Decide on top of everything already decided, by whoever decided it.
  for (int partition : partitions) {
    if (auto caught_up = catch_up(partition); !caught_up) return caught_up;
  }
  if (auto read = read_relations(outcomes); !read) return read;

  std::vector<records::Sequenced> fresh;                     // decided by this batch
  std::unordered_map<std::string_view, MessageId> last_ids;  // conversation -> last id so far
  // (conversation, sender, client_msg_id) -> its first outcome. The views
  // here and in last_ids point into `conversations` and `outcomes`, which no
  // longer change.
  std::map<std::tuple<std::string_view, std::uint64_t, std::string_view>, std::size_t> in_batch;
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    Outcome& o = outcomes[i];
    const std::string& conversation = conversations[i];
    auto [first, inserted_now] = in_batch.try_emplace(
        {std::string_view(conversation), o.cmd.from.value, std::string_view(o.cmd.client_msg_id)}, i);
    if (!inserted_now) {
      o.result = outcomes[first->second].result;
      continue;
    }
    auto found = decided_.find_sent(conversation, o.cmd.from, o.cmd.client_msg_id);
    if (!found) return std::move(found).error();
    if (found.value()) {
      o.result = std::move(*found.value());  // a retry: the first result stands
      continue;
    }
    auto [last, inserted] = last_ids.try_emplace(conversation);
    if (inserted) {
      auto known = decided_.last_message_id(conversation);
      if (!known) return std::move(known).error();
      last->second = known.value();
    }
    auto verdict = authorizer_.authorize_send(o.cmd.from, o.cmd.to, lookups_);
    if (!verdict) return std::move(verdict).error();  // an engine failed: retry the batch
    if (auto* refused = std::get_if<RoomsService::Refusal>(&verdict.value())) {
      o.result = std::move(refused->error);  // final: the sender is answered with it
      continue;
    }
    auto& members = std::get<std::vector<UserId>>(verdict.value());
    const MessageId id = ids_.next_after(last->second);
    last->second = id;
    Message m{id, conversation, o.cmd.from, o.cmd.to, o.cmd.body, Snowflake::time_of(id), o.cmd.client_msg_id};
    o.result = m;
    fresh.push_back(records::Sequenced{std::move(m), std::move(members), std::nullopt});  // offset: log_decisions
  }

  // Log the decisions first: once the changelog has them they stand, and
  // the store writer stores every one. Then store them here too, if the
  // store answers, so that history shows a send as soon as it is answered.
  FanOutPlan plan;
  if (!fresh.empty()) {
    auto planned = plan_fan_out(fresh);
    if (!planned) return std::move(planned).error();
    plan = std::move(planned).value();
    std::vector<Message> messages = messages_of(fresh);
    if (options_.stored != nullptr) options_.stored->expect(messages);
    if (options_.fan_outs != nullptr) options_.fan_outs->expect(plan.messages);
    if (auto logged = log_decisions(fresh); !logged) {
      // Nobody is answered: the retry decides again on what the changelog
      // holds (the decisions of this batch that stand are found there).
      // Nothing is stored; the store writer stores those that stand.
      if (options_.stored != nullptr) options_.stored->abandon(messages);
      if (options_.fan_outs != nullptr) options_.fan_outs->abandon(plan.messages);
      current_.clear();  // some appends or applies may have landed: read the changelog again
      return logged;
    }
    auto stored = try_store(std::move(messages));
    if (!stored || !stored.value()) {
      // Not in history: their inbox records are the store writer's, which
      // stores them first.
      if (options_.fan_outs != nullptr) options_.fan_outs->abandon(plan.messages);
      plan.decisions.clear();
      if (!stored) return std::move(stored).error();
    }
  }

  // The decisions are durable in the changelog: answer the senders, with
  // one envelope per server they came through.
  std::vector<std::pair<std::string_view, records::SendDones>> answers;
  for (const auto& o : outcomes) {
    auto it = std::find_if(answers.begin(), answers.end(), [&](const auto& a) { return a.first == o.cmd.origin; });
    if (it == answers.end()) it = answers.insert(answers.end(), {o.cmd.origin, {}});
    it->second.items.push_back(records::SendDone{o.cmd.ticket, o.result});
  }
  for (const auto& [origin, dones] : answers) {
    auto published = dones.items.size() == 1
                         ? state_.publish(records::server_channel(origin), records::encode(dones.items.front()))
                         : state_.publish(records::server_channel(origin), records::encode(dones));
    if (!published) log::warn("sequencer", "could not answer senders: " + published.error().message);
  }
  if (!plan.decisions.empty()) fan_out(fresh, plan);
  return Ok{};
}

Result<Sequencer::FanOutPlan> Sequencer::plan_fan_out(const std::vector<records::Sequenced>& fresh) {
  FanOutPlan plan;
  if (options_.fan_outs == nullptr || !store_up()) return plan;  // a store that is down: the store writer's
  plan.epoch = options_.fan_outs->epoch();               // before covers(): a reset in between voids the plan's advance
  std::map<int, std::vector<std::size_t>> by_partition;  // changelog partition -> its decisions, in order
  for (std::size_t i = 0; i < fresh.size(); ++i) {
    by_partition[log_.partition_for(records::kSequencedTopic, fresh[i].message.conversation)].push_back(i);
  }
  for (const auto& [partition, mine] : by_partition) {
    // Where the first of them will land (log_decisions): only if every
    // decision before it has its inbox records does this sequencer append
    // theirs.
    auto first = decided_.applied(partition);
    if (!first) return std::move(first).error();
    if (!options_.fan_outs->covers(partition, first.value())) continue;
    plan.ends[partition] = first.value() + mine.size();
    plan.decisions.insert(plan.decisions.end(), mine.begin(), mine.end());
  }
  for (std::size_t i : plan.decisions) {
    if (fresh[i].message.to.kind != Recipient::Kind::channel) plan.messages.push_back(fresh[i].message);
  }
  return plan;
}

void Sequencer::fan_out(const std::vector<records::Sequenced>& fresh, const FanOutPlan& plan) {
  std::vector<Append> inbox;
  for (std::size_t i : plan.decisions) add_inbox_records(log_, fresh[i], inbox);
  if (auto appended = append_all(log_, records::kInboxesTopic, std::move(inbox)); !appended) {
    // The decisions stand and are answered: the store writer, which reads
    // them from the changelog, appends their inbox records instead (some
    // may be in the log twice; the inbox owner places a message once).
    log::warn("sequencer", "could not append the inbox records of a batch (" + appended.error().message +
                               "); the store writer appends them");
    options_.fan_outs->abandon(plan.messages);
    return;
  }
  options_.fan_outs->fanned_out(plan.messages);
  for (const auto& [partition, end] : plan.ends) options_.fan_outs->advance(partition, end, plan.epoch);
}

void Sequencer::on_generation(std::uint64_t /*generation*/) { current_.clear(); }

Result<void> Sequencer::catch_up(int partition) {
  // Nobody else appends to a partition this sequencer owns: once it has
  // read it to its end in this generation, its own appends keep it there,
  // with no round trip to the log. (Should another sequencer append to it
  // all the same, log_decisions finds out, and the batch starts again.)
  if (current_.contains(partition)) return Ok{};
  auto from = decided_.applied(partition);
  if (!from) return std::move(from).error();
  auto end = log_.end_offset(records::kSequencedTopic, partition);
  if (!end) return std::move(end).error();
  if (from.value() > end.value()) {
    // The state was built from a longer changelog than this one: another
    // log's, or one that lost records. Deciding on it could reuse ids.
    return make_error(ErrorCode::internal, "the sequencer state has applied changelog partition " +
                                               std::to_string(partition) + " up to " + std::to_string(from.value()) +
                                               ", past its end " + std::to_string(end.value()));
  }
  std::uint64_t next = from.value();
  while (next < end.value()) {
    auto records = log_.read(records::kSequencedTopic, partition, next, 1024);
    if (!records) return std::move(records).error();
    if (records->empty()) {
      return make_error(ErrorCode::unavailable, "the changelog's partition " + std::to_string(partition) +
                                                    " ended at " + std::to_string(next) + ", before its end offset " +
                                                    std::to_string(end.value()));
    }
    std::vector<Message> messages;
    messages.reserve(records->size());
    for (auto& decision : records::decode_decisions(records.value(), "sequencer")) {
      messages.push_back(std::move(decision.message));
    }
    next = records->back().offset + 1;
    if (auto applied = decided_.apply(partition, messages, next); !applied) return applied;
  }
  current_.insert(partition);
  return Ok{};
}

bool Sequencer::store_up() const { return std::chrono::steady_clock::now() >= store_retry_at_; }

void Sequencer::store_failed(const Error& error) {
  log::warn("sequencer", "the message store failed (" + error.message +
                             "); answering from the log, the store writer stores the messages");
  store_retry_at_ = std::chrono::steady_clock::now() + options_.store_retry_interval;
}

std::vector<Message> Sequencer::messages_of(const std::vector<records::Sequenced>& decisions) {
  std::vector<Message> messages;
  messages.reserve(decisions.size());
  for (const auto& d : decisions) messages.push_back(d.message);
  return messages;
}

Result<bool> Sequencer::try_store(std::vector<Message> messages) {
  if (!store_up() && !options_.answer_after_store) {
    if (options_.stored != nullptr) options_.stored->abandon(messages);
    return false;
  }
  // No flush, unless options_.flush_stored asks for one: this write lets
  // history show a send as soon as it is answered. Durability is the store
  // writer's, which stores every decision again (but what it finds in
  // options_.stored) and flushes before it commits: a flush syncs every
  // write made since the last one, this one included.
  // The batch's own decisions: new ids, nothing stored under them yet.
  auto put = store_.put_new_messages(messages);
  if (put && options_.stored != nullptr && options_.flush_stored) put = store_.flush();
  if (options_.stored != nullptr) {
    if (put) {
      options_.stored->stored(messages);
    } else {
      options_.stored->abandon(messages);
    }
  }
  if (put) return true;
  if (options_.answer_after_store) {
    // The decisions stand (the changelog and the state have them): the
    // retry finds them, stores these first and answers.
    unstored_ = std::move(messages);
    return make_error(put.error().code, "the message store did not take the batch's messages: " + put.error().message);
  }
  store_failed(put.error());
  return false;
}

Result<void> Sequencer::log_decisions(std::vector<records::Sequenced>& decisions) {
  // Each decision is meant for the end of its partition as the state knows
  // it (the state has applied the partition to its end: catch_up()), one
  // after another; it stands only if it lands there (records::Sequenced::offset).
  std::map<int, std::vector<std::size_t>> by_partition;  // partition -> its decisions, in order
  for (std::size_t i = 0; i < decisions.size(); ++i) {
    by_partition[log_.partition_for(records::kSequencedTopic, decisions[i].message.conversation)].push_back(i);
  }
  for (const auto& [partition, mine] : by_partition) {
    auto applied = decided_.applied(partition);
    if (!applied) return std::move(applied).error();
    std::uint64_t next = applied.value();
    for (std::size_t i : mine) decisions[i].offset = next++;
  }
  std::vector<Append> appends;
  appends.reserve(decisions.size());
  for (const auto& d : decisions) appends.push_back(Append{d.message.conversation, records::encode(d)});
  auto offsets = append_all(log_, records::kSequencedTopic, std::move(appends));
  if (!offsets) return std::move(offsets).error();

  // Apply them to the state, the partitions where every decision landed
  // where they were meant to together, in one write. Where one did not,
  // another sequencer appended to the partition in between: this one's
  // decisions there from that one on are fenced off, and the retry reads
  // the partition back (taking what stands).
  std::vector<std::vector<Message>> messages;
  messages.reserve(by_partition.size());
  std::vector<ports::SequencerState::PartitionApply> parts;
  parts.reserve(by_partition.size());
  std::vector<int> fenced;
  for (const auto& [partition, mine] : by_partition) {
    const bool landed = std::all_of(mine.begin(), mine.end(),
                                    [&](std::size_t i) { return offsets.value()[i] == *decisions[i].offset; });
    if (!landed) {
      fenced.push_back(partition);
      continue;
    }
    auto& applied = messages.emplace_back();
    applied.reserve(mine.size());
    for (std::size_t i : mine) applied.push_back(decisions[i].message);
    parts.push_back({partition, applied, *decisions[mine.back()].offset + 1});
  }
  if (auto applied = decided_.apply_all(parts); !applied) return applied;
  if (fenced.empty()) return Ok{};
  std::string which;  // process() forgets which partitions are current: the retry reads these back
  for (int partition : fenced) which += (which.empty() ? "" : ", ") + std::to_string(partition);
  return make_error(ErrorCode::unavailable,
                    "another sequencer appended to changelog partition " + which +
                        " while this one was deciding; the batch is decided again on what the changelog holds");
}

}  // namespace parley::services
