#pragma once
// What the service tests share: the embedded engines on a fresh directory
// (the ones a one-machine parleyd runs), users made in its directory, and a
// server's view of the live events the state store delivers to it.
//
// MemoryStateStore's pub/sub is synchronous (publish() calls each handler
// before it returns), so what a service published is in a ServerDevices by
// the time the service's call has returned: no waiting.

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "adapters/embedded/durability.hpp"
#include "adapters/embedded/memory_state_store.hpp"
#include "adapters/embedded/rocks_directory.hpp"
#include "adapters/embedded/rocks_message_store.hpp"
#include "adapters/embedded/rocks_rooms.hpp"
#include "adapters/embedded/rocks_social_graph.hpp"
#include "services/records.hpp"

namespace parley::services::testkit {

template <class T>
std::unique_ptr<T> must(Result<std::unique_ptr<T>> r) {
  if (!r) throw std::runtime_error(r.error().message);
  return std::move(r).value();
}

// A fresh directory, removed with everything in it at the end.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix) {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / (prefix + "-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  [[nodiscard]] std::string sub(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// The embedded engines the services sit on, each in its own folder.
class Engines {
 public:
  explicit Engines(const std::string& prefix)
      : dir_(prefix),
        directory(must(embedded::RocksDirectory::open(dir_.sub("directory")))),
        social(must(embedded::RocksSocialGraph::open(dir_.sub("social")))),
        rooms(must(embedded::RocksRooms::open(dir_.sub("rooms")))),
        store(must(embedded::RocksMessageStore::open(dir_.sub("store"), embedded::Durability::os))) {}

  // A new user named `name`.
  UserId user(std::string_view name) {
    auto made = directory->create_user(name, "hash");
    if (!made) throw std::runtime_error(made.error().message);
    return made->id;
  }

  // Makes `a` and `b` friends in the social graph.
  void befriend(UserId a, UserId b) {
    ASSERT_TRUE(social->request_friend(a, b).ok());
    ASSERT_TRUE(social->accept_friend(b, a).ok());
  }

  [[nodiscard]] std::string sub(const std::string& name) const { return dir_.sub(name); }

 private:
  TempDir dir_;  // first: the engines below live in it

 public:
  std::unique_ptr<embedded::RocksDirectory> directory;
  std::unique_ptr<embedded::RocksSocialGraph> social;
  std::unique_ptr<embedded::RocksRooms> rooms;
  std::unique_ptr<embedded::RocksMessageStore> store;
  embedded::MemoryStateStore state;
};

// One server as the state store sees it: the users it holds a device of
// (their routes point at it), and every live event published to it (on its
// server channel, or on the topics of the channels it follows).
class ServerDevices {
 public:
  ServerDevices(ports::StateStore& state, std::string id) : state_(state), id_(std::move(id)) {
    subscriptions_.push_back(must(state_.subscribe(records::server_channel(id_), [this](std::string_view payload) {
      std::lock_guard lock(mu_);
      auto envelope = records::decode_envelope(payload);
      if (!envelope) {
        ADD_FAILURE() << "an envelope that does not decode";
        return;
      }
      if (auto* one = std::get_if<records::Deliver>(&*envelope)) delivered_.push_back(*one);
      if (auto* many = std::get_if<records::Deliveries>(&*envelope)) {
        delivered_.insert(delivered_.end(), many->items.begin(), many->items.end());
      }
      if (auto* changed = std::get_if<records::MembershipChanged>(&*envelope)) {
        membership_changes_.push_back(changed->user);
      }
      ++envelopes_;
    })));
  }

  [[nodiscard]] const std::string& id() const noexcept { return id_; }

  // A device of `user` connects here (its route).
  void connect(UserId user) { ASSERT_TRUE(state_.add_route(user, id_).ok()); }
  void disconnect(UserId user) { ASSERT_TRUE(state_.remove_route(user, id_).ok()); }
  // Follows `channel`'s topic, as a server with a member online does.
  void follow(ChannelId channel) {
    subscriptions_.push_back(must(state_.subscribe(records::channel_topic(channel), [this](std::string_view payload) {
      std::lock_guard lock(mu_);
      auto envelope = records::decode_envelope(payload);
      if (!envelope || !std::holds_alternative<records::RoomEvent>(*envelope)) {
        ADD_FAILURE() << "a channel topic carried something other than a room event";
        return;
      }
      room_events_.push_back(std::get<records::RoomEvent>(*envelope));
    })));
  }

  // The frames delivered here for `user`, in order, parsed.
  [[nodiscard]] std::vector<boost::json::object> frames_for(UserId user) {
    std::lock_guard lock(mu_);
    std::vector<boost::json::object> out;
    for (const auto& d : delivered_) {
      if (d.user == user) out.push_back(boost::json::parse(d.frame).as_object());
    }
    return out;
  }
  [[nodiscard]] std::vector<records::Deliver> delivered() {
    std::lock_guard lock(mu_);
    return delivered_;
  }
  [[nodiscard]] std::vector<records::RoomEvent> room_events() {
    std::lock_guard lock(mu_);
    return room_events_;
  }
  [[nodiscard]] std::vector<UserId> membership_changes() {
    std::lock_guard lock(mu_);
    return membership_changes_;
  }
  // How many envelopes arrived on the server's channel.
  [[nodiscard]] std::size_t envelopes() {
    std::lock_guard lock(mu_);
    return envelopes_;
  }
  void clear() {
    std::lock_guard lock(mu_);
    delivered_.clear();
    room_events_.clear();
    membership_changes_.clear();
    envelopes_ = 0;
  }

 private:
  ports::StateStore& state_;
  std::string id_;
  std::mutex mu_;  // guards everything below (handlers run on publishing threads)
  std::vector<records::Deliver> delivered_;
  std::vector<records::RoomEvent> room_events_;
  std::vector<UserId> membership_changes_;
  std::size_t envelopes_ = 0;
  std::vector<std::unique_ptr<ports::Subscription>> subscriptions_;  // last: ended before the members above go
};

// A string member of a frame ("" when it is missing or not a string).
inline std::string field(const boost::json::object& frame, std::string_view key) {
  const auto* v = frame.if_contains(key);
  if (v == nullptr || !v->is_string()) return "";
  return std::string(v->as_string());
}

}  // namespace parley::services::testkit
