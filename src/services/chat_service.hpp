#pragma once
// The chat operations of docs/PROTOCOL.md, independent of any transport.
//
// `submit_send` only appends to the log and returns: the sender's answer comes
// back from the sequencer as a SendDone envelope for the ticket. The other
// operations read or write the stores and block, so the gateway runs them
// off its I/O threads.

#include <functional>
#include <string>
#include <vector>

#include "core/codec.hpp"
#include "ports/directory.hpp"
#include "ports/message_log.hpp"
#include "ports/message_store.hpp"
#include "ports/state_store.hpp"
#include "services/deleted_users.hpp"
#include "services/rooms_service.hpp"

namespace parley::services {

class ChatService {
 public:
  struct Options {
    std::string server_id;
    // Messages of these senders read as tombstones; null: none.
    const DeletedUsers* deleted = nullptr;
  };

  struct SyncPage {
    std::vector<InboxEntry> entries;
    bool more = false;
  };

  ChatService(ports::MessageLog& log, ports::MessageStore& store, ports::StateStore& state, RoomsService& rooms,
              Options options);

  // Appends the send to the conversation's log partition. `on_appended` runs
  // on a log thread once the record is durable, or with the error if it
  // could not be made so (then the send failed and nothing was stored).
  void submit_send(UserId from, codec::SendRequest req, std::uint64_t ticket,
                   std::function<void(Result<std::uint64_t>)> on_appended);

  [[nodiscard]] Result<SyncPage> sync(UserId user, std::string_view device, const codec::SyncRequest& req);
  [[nodiscard]] Result<Seq> ack(UserId user, std::string_view device, Seq seq);
  [[nodiscard]] Result<std::vector<Message>> history(UserId user, const codec::HistoryRequest& req);

 private:
  ports::MessageLog& log_;
  ports::MessageStore& store_;
  ports::StateStore& state_;
  RoomsService& rooms_;
  Options options_;
};

}  // namespace parley::services
