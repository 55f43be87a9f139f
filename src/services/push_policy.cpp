#include "services/push_policy.hpp"

#include <cstdio>
#include <functional>

namespace parley::services {

TimeMs PushPolicy::due_at(const ports::PushBatch& batch) const {
  TimeMs due = batch.opened_at + options_.batch_window.count();
  if (auto it = last_pair_push_.find({batch.last_sender.value, batch.user.value}); it != last_pair_push_.end()) {
    due = std::max(due, it->second + static_cast<TimeMs>(options_.pair_interval.count()));
  }
  return due;
}

void PushPolicy::record_push(UserId sender, UserId recipient, TimeMs now) {
  if (options_.pair_interval.count() > 0) last_pair_push_[{sender.value, recipient.value}] = now;
}

void PushPolicy::prune(TimeMs now) {
  std::erase_if(last_pair_push_, [&](const auto& kv) { return kv.second + options_.pair_interval.count() <= now; });
}

ports::WakeUp PushPolicy::alert(const ports::PushBatch& batch, std::string_view sender_name) const {
  ports::WakeUp w;
  w.kind = ports::WakeUp::Kind::alert;
  w.push_id = push_id(batch.user, batch.conversation, batch.last_seq, "alert");
  w.conversation = batch.conversation;
  w.message = batch.last_message;
  w.seq = batch.last_seq;
  w.count = batch.count;
  w.high_priority = !batch.group;
  const std::string count_text = std::to_string(batch.count) + " new messages";
  if (options_.previews && !sender_name.empty()) {
    w.title = std::string(sender_name);
    w.body = batch.count == 1 ? preview(batch.last_preview, options_.preview_chars)
                              : count_text + ": " + preview(batch.last_preview, options_.preview_chars);
  } else {
    w.title = "Parley";
    w.body = batch.count == 1 ? std::string("New message") : count_text;
  }
  return w;
}

ports::WakeUp PushPolicy::clear_badge(UserId user, std::uint64_t nonce) {
  ports::WakeUp w;
  w.kind = ports::WakeUp::Kind::background;
  w.push_id = push_id(user, "read", nonce, "background");
  w.conversation = "read";
  w.count = 0;
  w.high_priority = false;
  return w;
}

std::string PushPolicy::preview(std::string_view body, std::size_t chars) {
  std::size_t i = 0;
  std::size_t n = 0;
  while (i < body.size() && n < chars) {
    const auto c = static_cast<unsigned char>(body[i]);
    const std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
    if (i + len > body.size()) break;
    i += len;
    ++n;
  }
  if (i >= body.size()) return std::string(body);
  return std::string(body.substr(0, i)) + "\u2026";
}

std::string PushPolicy::push_id(UserId user, std::string_view conversation, Seq last_seq, std::string_view kind) {
  const std::string key =
      to_string(user) + "/" + std::string(conversation) + "/" + std::to_string(last_seq) + "/" + std::string(kind);
  // Two independent 64-bit FNV-1a hashes; the id only has to be stable and
  // rarely collide, not secret.
  std::uint64_t a = 0xcbf29ce484222325ULL;
  std::uint64_t b = 0x84222325cbf29ce4ULL;
  for (unsigned char c : key) {
    a = (a ^ c) * 0x100000001b3ULL;
    b = (b ^ c) * 0x100000001b3ULL + 1;
  }
  char out[37];
  std::snprintf(out, sizeof out, "%08x-%04x-4%03x-a%03x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xFFFF), static_cast<unsigned>(a & 0xFFF),
                static_cast<unsigned>((b >> 52) & 0xFFF), static_cast<unsigned long long>(b & 0xFFFFFFFFFFFFULL));
  return out;
}

}  // namespace parley::services
