#include "adapters/embedded/rocks_social_graph.hpp"

#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <utility>

namespace parley::embedded {

namespace {

// Flags of a row, from the row owner's ("self") side.
constexpr std::uint8_t kFriend = 1;
constexpr std::uint8_t kRequested = 2;    // self asked other
constexpr std::uint8_t kRequestedBy = 4;  // other asked self
constexpr std::uint8_t kBlocks = 8;       // self blocks other
constexpr std::uint8_t kBlockedBy = 16;   // other blocks self

// The same pair seen from the other side.
std::uint8_t mirror(std::uint8_t f) {
  std::uint8_t m = f & kFriend;
  if (f & kRequested) m |= kRequestedBy;
  if (f & kRequestedBy) m |= kRequested;
  if (f & kBlocks) m |= kBlockedBy;
  if (f & kBlockedBy) m |= kBlocks;
  return m;
}

std::string edge_key(UserId self, UserId other) {
  std::string key = rocks::be64(self.value);
  rocks::put_be64(key, other.value);
  return key;
}

rocksdb::WriteOptions synced() {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return wo;
}

Error same_user(std::string_view op) {
  return make_error(ErrorCode::bad_request, std::string(op) + ": a user and themself");
}

}  // namespace

RocksSocialGraph::RocksSocialGraph(Private, rocks::Database db) : db_(std::move(db)) {}

Result<std::unique_ptr<RocksSocialGraph>> RocksSocialGraph::open(const std::string& path) {
  if (path.empty()) return make_error(ErrorCode::bad_request, "social graph: empty path");
  auto db = rocks::open(path, {"edges"});
  if (!db) return std::move(db).error();
  return std::make_unique<RocksSocialGraph>(Private{}, std::move(db).value());
}

Result<std::uint8_t> RocksSocialGraph::flags(UserId self, UserId other) {
  std::string value;
  const auto status = db_.db->Get(rocksdb::ReadOptions(), db_.cf(0), edge_key(self, other), &value);
  if (status.IsNotFound()) return std::uint8_t{0};
  if (!status.ok()) return rocks::to_error(status, "social graph: read");
  if (value.size() != 1) return make_error(ErrorCode::internal, "social graph: corrupt edge row");
  return static_cast<std::uint8_t>(value[0]);
}

Result<void> RocksSocialGraph::write(UserId self, UserId other, std::uint8_t self_flags) {
  rocksdb::ColumnFamilyHandle* cf = db_.cf(0);
  rocksdb::WriteBatch wb;
  const std::uint8_t other_flags = mirror(self_flags);
  auto status = self_flags == 0 ? wb.Delete(cf, edge_key(self, other))
                                : wb.Put(cf, edge_key(self, other), std::string(1, static_cast<char>(self_flags)));
  if (status.ok()) {
    status = other_flags == 0 ? wb.Delete(cf, edge_key(other, self))
                              : wb.Put(cf, edge_key(other, self), std::string(1, static_cast<char>(other_flags)));
  }
  if (status.ok()) status = db_.db->Write(synced(), &wb);
  if (!status.ok()) return rocks::to_error(status, "social graph: write");
  return Ok{};
}

Result<ports::RequestOutcome> RocksSocialGraph::request_friend(UserId from, UserId to) {
  if (from == to) return same_user("request_friend");
  std::lock_guard lock(write_mu_);
  auto f = flags(from, to);
  if (!f) return std::move(f).error();
  const std::uint8_t v = f.value();
  if (v & kBlocks) return ports::RequestOutcome::self_blocks;
  if (v & kBlockedBy) return ports::RequestOutcome::other_blocks;
  if (v & kFriend) return ports::RequestOutcome::already_friends;
  if (v & kRequestedBy) {
    if (auto w = write(from, to, kFriend); !w) return std::move(w).error();
    return ports::RequestOutcome::now_friends;
  }
  if (v & kRequested) return ports::RequestOutcome::pending;
  if (auto w = write(from, to, kRequested); !w) return std::move(w).error();
  return ports::RequestOutcome::pending;
}

Result<void> RocksSocialGraph::accept_friend(UserId self, UserId requester) {
  if (self == requester) return same_user("accept_friend");
  std::lock_guard lock(write_mu_);
  auto f = flags(self, requester);
  if (!f) return std::move(f).error();
  if (f.value() & kFriend) return make_error(ErrorCode::conflict, "you are friends already");
  if (!(f.value() & kRequestedBy)) return make_error(ErrorCode::not_found, "no friend request from this user");
  return write(self, requester, kFriend);
}

Result<ports::RemoveOutcome> RocksSocialGraph::remove_friend(UserId self, UserId other) {
  if (self == other) return same_user("remove_friend");
  std::lock_guard lock(write_mu_);
  auto f = flags(self, other);
  if (!f) return std::move(f).error();
  const std::uint8_t v = f.value();
  if (!(v & (kFriend | kRequested | kRequestedBy))) {
    return make_error(ErrorCode::not_found, "not a friend and no pending request");
  }
  if (auto w = write(self, other, v & (kBlocks | kBlockedBy)); !w) return std::move(w).error();
  return (v & kFriend) ? ports::RemoveOutcome::unfriended : ports::RemoveOutcome::withdrawn;
}

Result<bool> RocksSocialGraph::block(UserId self, UserId other) {
  if (self == other) return same_user("block");
  std::lock_guard lock(write_mu_);
  auto f = flags(self, other);
  if (!f) return std::move(f).error();
  const std::uint8_t v = f.value();
  if (v & kBlocks) return make_error(ErrorCode::conflict, "you block this user already");
  if (auto w = write(self, other, static_cast<std::uint8_t>((v & kBlockedBy) | kBlocks)); !w) {
    return std::move(w).error();
  }
  return (v & kFriend) != 0;
}

Result<void> RocksSocialGraph::unblock(UserId self, UserId other) {
  if (self == other) return same_user("unblock");
  std::lock_guard lock(write_mu_);
  auto f = flags(self, other);
  if (!f) return std::move(f).error();
  if (!(f.value() & kBlocks)) return make_error(ErrorCode::not_found, "you do not block this user");
  return write(self, other, f.value() & kBlockedBy);
}

Result<void> RocksSocialGraph::forget(UserId user) {
  std::lock_guard lock(write_mu_);
  // Every edge is written from both sides: the user's own rows name
  // everyone it has anything with.
  auto others = scan(user, kFriend | kRequested | kRequestedBy | kBlocks | kBlockedBy);
  if (!others) return std::move(others).error();
  for (UserId other : *others) {
    if (auto w = write(user, other, 0); !w) return w;
  }
  return Ok{};
}

Result<ports::Relation> RocksSocialGraph::relation(UserId self, UserId other) {
  auto f = flags(self, other);
  if (!f) return std::move(f).error();
  const std::uint8_t v = f.value();
  return ports::Relation{(v & kFriend) != 0, (v & kRequested) != 0, (v & kRequestedBy) != 0, (v & kBlocks) != 0,
                         (v & kBlockedBy) != 0};
}

Result<std::vector<UserId>> RocksSocialGraph::scan(UserId user, std::uint8_t flag) {
  const std::string prefix = rocks::be64(user.value);
  std::unique_ptr<rocksdb::Iterator> it(db_.db->NewIterator(rocksdb::ReadOptions(), db_.cf(0)));
  std::vector<UserId> out;
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    const std::string_view key(it->key().data(), it->key().size());
    if (key.size() != 16 || key.substr(0, 8) != prefix) break;
    if (it->value().size() == 1 && (static_cast<std::uint8_t>(it->value()[0]) & flag)) {
      out.push_back(UserId{rocks::get_be64(key.substr(8))});
    }
  }
  if (!it->status().ok()) return rocks::to_error(it->status(), "social graph: scan");
  return out;
}

Result<std::vector<UserId>> RocksSocialGraph::friends(UserId user) { return scan(user, kFriend); }

Result<std::vector<UserId>> RocksSocialGraph::requests_to(UserId user) { return scan(user, kRequestedBy); }

}  // namespace parley::embedded
