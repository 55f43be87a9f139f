#include "services/push_dispatcher.hpp"

#include <algorithm>

#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/thread_name.hpp"

namespace parley::services {

using ports::PushOutcome;

PushDispatcher::PushDispatcher(ports::PushLedger& ledger, ports::PushTokens& tokens, ports::PushSender& sender,
                               ports::StateStore& state, ports::Directory& directory, PushPolicy policy,
                               Options options)
    : ledger_(ledger),
      tokens_(tokens),
      sender_(sender),
      state_(state),
      directory_(directory),
      policy_(std::move(policy)),
      options_(std::move(options)) {
  if (!options_.clock) {
    options_.clock = now_ms;
  }
}

PushDispatcher::~PushDispatcher() { stop(); }

void PushDispatcher::start() {
  thread_ = std::thread([this] {
    name_this_thread("push-dispatch");
    run();
  });
}

void PushDispatcher::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PushDispatcher::notify() {
  {
    std::lock_guard lock(mu_);
    work_ = true;
  }
  cv_.notify_all();
}

void PushDispatcher::on_read(UserId user, std::string_view device) {
  {
    std::lock_guard lock(mu_);
    if (!badged_.contains(user.value)) return;
    badged_.erase(user.value);
    reads_.emplace_back(user, std::string(device));
    work_ = true;
  }
  cv_.notify_all();
}

void PushDispatcher::run() {
  for (;;) {
    round();
    // Sleep until the next batch can be due: a quarter window, at most
    // max_idle, or until notified.
    const auto window = policy_.options().batch_window;
    const auto nap = std::clamp(window / 4, std::chrono::milliseconds(5), options_.max_idle);
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, nap, [this] { return stopping_ || work_; });
    if (stopping_) return;
    work_ = false;
  }
}

std::string PushDispatcher::sender_name(UserId user) {
  if (auto it = names_.find(user.value); it != names_.end()) return it->second;
  auto found = directory_.find_user(user);
  if (!found) return {};
  if (names_.size() > 10000) names_.clear();
  return names_[user.value] = found->username;
}

void PushDispatcher::send_all(std::vector<Send>& sends) {
  if (sends.empty()) return;
  struct Wait {
    std::mutex mu;
    std::condition_variable cv;
    std::size_t pending = 0;  // guarded by mu
  };
  auto wait = std::make_shared<Wait>();
  wait->pending = sends.size();
  for (auto& s : sends) {
    // The outcome slot lives in `sends`, which outlives every callback: this
    // function returns only after the last one.
    sender_.send(s.token, s.wake, [wait, slot = &s.outcome](PushOutcome outcome) {
      std::lock_guard lock(wait->mu);
      *slot = std::move(outcome);
      if (--wait->pending == 0) wait->cv.notify_all();
    });
  }
  std::unique_lock lock(wait->mu);
  wait->cv.wait(lock, [&] { return wait->pending == 0; });
}

std::vector<ports::PushBatch> PushDispatcher::held(const std::vector<ports::PushBatch>& all, TimeMs t) {
  const TimeMs lease = options_.lease.count();
  std::vector<ports::PushBatch> out;
  for (const auto& b : all) {
    if (!b.closed) continue;
    const bool mine = b.closed_by == options_.server_id;
    // Another server's claim that is still fresh: that server sends it.
    if (!mine && b.closed_at >= t - lease) continue;
    // Our own fresh claim: no write needed.
    if (mine && b.closed_at >= t - lease / 2) {
      out.push_back(b);
      continue;
    }
    // Renew our claim, or take over a stale one; the compare-and-set fails
    // if another server renewed or took it first.
    auto taken = ledger_.take_over(b.user, b.conversation, b.last_seq, options_.server_id, t - lease, t);
    if (!taken) {
      if (taken.error().code != ErrorCode::conflict && taken.error().code != ErrorCode::not_found) {
        log::warn("push", "cannot claim a batch: " + taken.error().message);
      }
      continue;
    }
    if (!mine) {
      log::info("push", "took over a batch of user " + to_string(b.user) + " from " +
                            (b.closed_by.empty() ? std::string("nobody") : b.closed_by));
    }
    out.push_back(std::move(taken).value());
  }
  return out;
}

void PushDispatcher::round() {
  const TimeMs t = now();
  policy_.prune(t);
  auto all = ledger_.batches();
  if (!all) {
    log::warn("push", "cannot read the ledger: " + all.error().message);
    return;
  }

  // The closed batches this server holds, then the open ones that are due,
  // closed under this server's id; drop those whose user came online.
  std::vector<ports::PushBatch> closed = held(all.value(), t);
  for (auto& b : all.value()) {
    if (b.closed || policy_.due_at(b) > t) continue;
    auto taken = ledger_.close(b.user, b.conversation, options_.server_id, t);
    if (!taken) {
      // not_found: another server closed it first, and sends it.
      if (taken.error().code != ErrorCode::not_found) {
        log::warn("push", "cannot close a batch: " + taken.error().message);
      }
      continue;
    }
    policy_.record_push(taken->last_sender, taken->user, t);
    closed.push_back(std::move(taken).value());
  }
  // Forget retry times of batches this server no longer holds (finished, or
  // taken over by another server).
  std::erase_if(retry_at_, [&](const auto& entry) {
    const auto& key = entry.first;
    return std::none_of(closed.begin(), closed.end(), [&](const ports::PushBatch& b) {
      return b.user.value == std::get<0>(key) && b.conversation == std::get<1>(key) && b.last_seq == std::get<2>(key);
    });
  });

  std::vector<Send> sends;
  std::vector<ports::PushBatch*> finished;  // batches with nothing left to send
  std::map<std::uint64_t, std::vector<ports::DeviceToken>> tokens_of;
  for (auto& b : closed) {
    auto routes = state_.routes(b.user);
    const bool online = routes && !routes->empty();
    auto [tokens, fresh] = tokens_of.try_emplace(b.user.value);
    if (fresh && !online) {
      auto listed = tokens_.list(b.user);
      if (!listed) {
        log::warn("push", "cannot list push tokens: " + listed.error().message);
        continue;
      }
      tokens->second = std::move(listed).value();
    }
    bool waiting = false;
    const std::string name = online ? std::string() : sender_name(b.last_sender);
    for (const auto& token : online ? std::vector<ports::DeviceToken>{} : tokens->second) {
      if (std::find(b.done_devices.begin(), b.done_devices.end(), token.device) != b.done_devices.end()) continue;
      const auto key = std::make_tuple(b.user.value, b.conversation, b.last_seq, token.device);
      if (auto r = retry_at_.find(key); r != retry_at_.end()) {
        if (r->second > t) {
          waiting = true;
          continue;
        }
        retry_at_.erase(r);
      }
      sends.push_back(Send{token, policy_.alert(b, name), &b, {}});
    }
    if (!waiting &&
        (online || std::none_of(sends.begin(), sends.end(), [&](const Send& s) { return s.batch == &b; }))) {
      finished.push_back(&b);
    }
  }

  // Silent badge-clearing pushes for reads on another device.
  std::vector<std::pair<UserId, std::string>> reads;
  {
    std::lock_guard lock(mu_);
    reads.swap(reads_);
  }
  for (const auto& [user, device] : reads) {
    auto listed = tokens_.list(user);
    if (!listed) continue;
    const auto wake = PushPolicy::clear_badge(user, ++read_nonce_);
    for (const auto& token : listed.value()) {
      if (token.device != device) sends.push_back(Send{token, wake, nullptr, {}});
    }
  }

  send_all(sends);

  std::set<ports::PushBatch*> touched;
  for (auto& s : sends) {
    const auto& o = s.outcome;
    if (s.batch == nullptr) {
      if (o.status == PushOutcome::Status::token_invalid) {
        (void)tokens_.remove_if_current(s.token.user, s.token.device, s.token.token);
      }
      continue;
    }
    touched.insert(s.batch);
    ports::PushBatch& b = *s.batch;
    bool done = true;
    switch (o.status) {
      case PushOutcome::Status::ok: {
        std::lock_guard lock(mu_);
        badged_.insert(b.user.value);
        break;
      }
      case PushOutcome::Status::token_invalid:
        log::info("push", "removing a dead " + std::string(ports::to_string(s.token.platform)) + " token of user " +
                              to_string(b.user) + " device " + s.token.device + " (" + o.detail + ")");
        if (auto removed = tokens_.remove_if_current(b.user, s.token.device, s.token.token); !removed) {
          log::warn("push", "cannot remove a dead token: " + removed.error().message);
        }
        break;
      case PushOutcome::Status::retry_later:
        done = false;
        retry_at_[std::make_tuple(b.user.value, b.conversation, b.last_seq, s.token.device)] =
            now() + std::max<TimeMs>(o.retry_after.count(), 100);
        log::warn("push", "push to user " + to_string(b.user) + " deferred: " + o.detail);
        break;
      case PushOutcome::Status::failed:
        log::warn("push", "push to user " + to_string(b.user) + " device " + s.token.device + " failed: " + o.detail);
        break;
    }
    if (!done) continue;
    if (auto marked = ledger_.mark_done(b.user, b.conversation, b.last_seq, s.token.device); !marked) {
      log::warn("push", "cannot record a push: " + marked.error().message);
      continue;
    }
    b.done_devices.push_back(s.token.device);
  }
  for (auto* b : touched) {
    const bool all_done = std::all_of(
        tokens_of[b->user.value].begin(), tokens_of[b->user.value].end(), [&](const ports::DeviceToken& token) {
          return std::find(b->done_devices.begin(), b->done_devices.end(), token.device) != b->done_devices.end();
        });
    if (all_done) finished.push_back(b);
  }
  for (auto* b : finished) {
    if (auto f = ledger_.finish(b->user, b->conversation, b->last_seq); !f) {
      log::warn("push", "cannot finish a batch: " + f.error().message);
    }
  }
}

}  // namespace parley::services
