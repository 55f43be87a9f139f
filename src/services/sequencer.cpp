#include "services/sequencer.hpp"

#include <condition_variable>
#include <map>
#include <unordered_map>

#include "core/codec.hpp"
#include "core/log.hpp"
#include "services/live_events.hpp"

namespace parley::services {

Sequencer::Sequencer(ports::MessageLog& log, ports::MessageStore& store, ports::Directory& directory,
                     ports::Rooms& rooms, ports::StateStore& state, Snowflake ids, ports::SocialGraph& social,
                     ports::SearchIndex* search)
    : log_(log),
      store_(store),
      directory_(directory),
      rooms_(rooms),
      state_(state),
      ids_(std::move(ids)),
      search_(search),
      social_(social) {}

Result<std::vector<UserId>> Sequencer::members_for(const records::SendCommand& cmd) {
  switch (cmd.to.kind) {
    case Recipient::Kind::user: {
      const UserId to{cmd.to.id};
      if (!known_users_.contains(to)) {
        auto user = directory_.find_user(to);
        if (!user) {
          if (user.error().code == ErrorCode::not_found) {
            return make_error(ErrorCode::not_found, "no user with id " + to_string(to));
          }
          return std::move(user).error();
        }
        known_users_.insert(to);
      }
      if (to == cmd.from) return std::vector<UserId>{cmd.from};
      // A block stops 1:1 messages both ways; the sender is not told which
      // side blocks.
      auto relation = social_.relation(cmd.from, to);
      if (!relation) return std::move(relation).error();
      if (relation->blocked_either_way()) return make_error(ErrorCode::forbidden, "you cannot message this user");
      return std::vector<UserId>{cmd.from, to};
    }
    case Recipient::Kind::group: {
      const ports::RoomRef group{ports::RoomKind::group, cmd.to.id};
      auto role = rooms_.role_of(group, cmd.from);
      if (!role) return std::move(role).error();
      if (!role.value()) return make_error(ErrorCode::forbidden, "not a member of this conversation");
      auto members = rooms_.members(group);
      if (!members) return std::move(members).error();
      std::vector<UserId> out;
      out.reserve(members->size());
      for (const auto& m : members.value()) out.push_back(m.user);
      return out;
    }
    case Recipient::Kind::channel: {
      const ports::RoomRef channel{ports::RoomKind::channel, cmd.to.id};
      auto role = rooms_.role_of(channel, cmd.from);
      if (!role) return std::move(role).error();
      if (!role.value()) return make_error(ErrorCode::forbidden, "not a member of this conversation");
      if (*role.value() == ports::Role::member) {
        auto room = rooms_.find_room(channel);
        if (!room) return std::move(room).error();
        if (room->post_policy == ports::PostPolicy::admins) {
          return make_error(ErrorCode::forbidden, "only the owner and admins post in this channel");
        }
      }
      return std::vector<UserId>{};  // fan-out on read: no inbox entries
    }
  }
  return make_error(ErrorCode::bad_request, "unknown recipient kind");
}

Result<void> Sequencer::process(std::span<const ports::LogRecord> batch) {
  struct Outcome {
    const ports::LogRecord* record;
    records::SendCommand cmd;
    Result<Message> result;
    std::vector<UserId> members;
    bool fresh = false;  // stored by this batch (not a retry)
  };
  std::vector<Outcome> outcomes;
  outcomes.reserve(batch.size());
  std::vector<Message> fresh;                                                  // to store
  std::unordered_map<std::string, MessageId> last_ids;                         // conversation -> last id in this batch
  std::map<std::pair<std::uint64_t, std::string>, std::size_t> sent_in_batch;  // dedupe within the batch

  for (const auto& record : batch) {
    auto cmd = records::decode_send(record.value);
    if (!cmd) {
      log::error("sequencer", "skipping undecodable record at offset " + std::to_string(record.offset));
      continue;
    }
    const std::pair<std::uint64_t, std::string> dedupe_key{cmd->from.value, cmd->client_msg_id};
    if (auto it = sent_in_batch.find(dedupe_key); it != sent_in_batch.end()) {
      const Outcome& first = outcomes[it->second];
      outcomes.push_back(Outcome{&record, std::move(*cmd), first.result, first.members, false});
      continue;
    }
    auto found = store_.find_sent(cmd->from, cmd->client_msg_id);
    if (!found) return std::move(found).error();

    auto members = members_for(*cmd);
    if (!members && members.error().code != ErrorCode::not_found && members.error().code != ErrorCode::forbidden) {
      return std::move(members).error();  // an engine failed: retry the batch
    }

    Outcome outcome{&record, std::move(*cmd), Error{}, {}};
    if (found.value()) {
      // A retry: the first result stands, whatever membership says now.
      outcome.result = std::move(*found.value());
      if (members) outcome.members = std::move(members.value());
    } else if (!members) {
      outcome.result = std::move(members).error();
    } else {
      const std::string conversation = to_string(conversation_of(outcome.cmd.from, outcome.cmd.to));
      auto [last, inserted] = last_ids.try_emplace(conversation);
      if (inserted) {
        auto stored = store_.last_message_id(conversation);
        if (!stored) return std::move(stored).error();
        last->second = stored.value();
      }
      const MessageId id = ids_.next_after(last->second);
      last->second = id;
      Message m{id,
                conversation,
                outcome.cmd.from,
                outcome.cmd.to,
                outcome.cmd.body,
                Snowflake::time_of(id),
                outcome.cmd.client_msg_id};
      fresh.push_back(m);
      outcome.result = std::move(m);
      outcome.members = std::move(members.value());
      outcome.fresh = true;
    }
    sent_in_batch.emplace(dedupe_key, outcomes.size());
    outcomes.push_back(std::move(outcome));
  }

  if (!fresh.empty()) {
    if (auto put = store_.put_messages(fresh); !put) return put;
    if (auto flushed = store_.flush(); !flushed) return flushed;
  }

  // Index every message of the batch, replays included (a crash may have come
  // between storing and indexing); indexing is idempotent.
  if (search_ != nullptr) {
    std::vector<Message> to_index;
    for (const auto& o : outcomes) {
      if (o.result) to_index.push_back(o.result.value());
    }
    if (auto indexed = search_->index(to_index); !indexed) return indexed;  // retried with the batch
  }

  // The messages are durable: answer the senders, then fan out.
  std::vector<records::InboxCommand> inbox;
  for (auto& o : outcomes) {
    auto published = state_.publish(records::server_channel(o.cmd.origin),
                                    records::encode(records::SendDone{o.cmd.ticket, o.result}));
    if (!published) log::warn("sequencer", "could not answer a sender: " + published.error().message);
    if (!o.result) continue;
    if (o.cmd.to.kind == Recipient::Kind::channel) {
      // Live copies only for posts stored now: a retried post was published
      // the first time (and devices that missed it page history).
      if (o.fresh) publish_channel_post(o.result.value());
      continue;
    }
    for (UserId member : o.members) inbox.push_back(records::InboxCommand{member, o.result.value()});
  }
  return append_inbox_records(inbox);
}

void Sequencer::publish_channel_post(const Message& m) {
  send_to_channel(state_, ChannelId{m.to.id}, UserId{}, codec::event_channel_message(m));
}

Result<void> Sequencer::append_inbox_records(const std::vector<records::InboxCommand>& commands) {
  if (commands.empty()) return Ok{};
  struct Wait {
    std::mutex mutex;
    std::condition_variable cv;
    std::size_t pending = 0;  // guarded by mutex
    std::optional<Error> failure;
  };
  auto wait = std::make_shared<Wait>();
  wait->pending = commands.size();
  for (const auto& c : commands) {
    log_.append(records::kInboxesTopic, to_string(c.user), records::encode(c), [wait](Result<std::uint64_t> r) {
      std::lock_guard lock(wait->mutex);
      if (!r && !wait->failure) wait->failure = r.error();
      if (--wait->pending == 0) wait->cv.notify_one();
    });
  }
  std::unique_lock lock(wait->mutex);
  wait->cv.wait(lock, [&] { return wait->pending == 0; });
  if (wait->failure) return *wait->failure;
  return Ok{};
}

}  // namespace parley::services
