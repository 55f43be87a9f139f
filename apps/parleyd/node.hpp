#pragma once
// A running parleyd over its engines: the services, the pipeline steps, push,
// readiness and the gateway, built in the order each needs the others, and
// started and stopped in one place (start(), stop()), so that main() only
// reads the settings, opens the engines and waits for signals.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "config.hpp"
#include "core/metrics.hpp"
#include "engines.hpp"
#include "gateway/server.hpp"
#include "gateway/tls_context.hpp"
#include "services/admin_service.hpp"
#include "services/auth.hpp"
#include "services/chat_service.hpp"
#include "services/cluster.hpp"
#include "services/conversation_service.hpp"
#include "services/deleted_users.hpp"
#include "services/inbox_owner.hpp"
#include "services/pipeline_step.hpp"
#include "services/presence_service.hpp"
#include "services/push_dispatcher.hpp"
#include "services/push_step.hpp"
#include "services/readiness.hpp"
#include "services/rooms_service.hpp"
#include "services/search_indexer.hpp"
#include "services/search_service.hpp"
#include "services/sequencer.hpp"
#include "services/session_service.hpp"
#include "services/social_service.hpp"
#include "services/store_writer.hpp"
#include "services/stored_messages.hpp"

namespace parley::app {

class Node {
 public:
  // Builds everything over `engines` (which must outlive the node; its
  // probes are taken). Throws std::runtime_error when a pipeline step
  // cannot subscribe to its topic, or the deleted users cannot be read.
  Node(const Config& config, Engines& engines, std::shared_ptr<gateway::TlsContext> tls);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Starts readiness (waiting up to 2 s for the engines' first probes), the
  // gateway, then the pipeline steps, push and presence. Throws
  // std::runtime_error when the gateway cannot start (its address cannot be
  // bound, the server registry cannot be reached).
  void start();
  // GET /v1/readyz answers 503 from now on (a stop is coming).
  void set_draining() { readiness_.set_draining(); }
  // Stops in the order that loses nothing: the gateway first (it answers
  // the sends in flight and closes the connections), presence (it applies
  // the disconnects just queued), each pipeline step (finishing and
  // committing its batch in hand), push (its round in hand), readiness.
  // Once only; the destructor calls it.
  void stop();

  // The gateway's bound port (after start()).
  [[nodiscard]] std::uint16_t port() const { return server_.port(); }

 private:
  Metrics metrics_;  // GET /metrics: what the gateway and the steps count
  std::string server_id_;
  services::Cluster cluster_;  // this server in the registry, its routes and channels
  // The users an administrator deleted: their messages read as tombstones.
  services::DeletedUsers deleted_users_;
  services::RoomsService room_rules_;
  services::ConversationService conversations_;
  services::ChatService chat_;
  services::Auth auth_;
  services::SessionService sessions_;
  services::AdminService admin_;
  services::PresenceService presence_;
  services::SocialService social_;
  services::StoredMessages stored_by_sequencer_;
  services::FanOuts fanned_out_by_sequencer_;  // on Kafka (services/fan_outs.hpp)
  services::Sequencer sequencer_;
  bool one_owner_;  // the embedded log: this process owns every partition
  services::StoreWriter store_writer_;
  services::SearchService search_;
  services::InboxOwner inbox_owner_;
  services::SearchIndexer search_indexer_;
  services::PipelineStep sequencer_step_;
  services::PipelineStep store_writer_step_;
  services::PipelineStep search_step_;
  std::optional<services::PipelineStep> inbox_step_;  // none on the embedded log: the store writer places
  services::PushDispatcher push_dispatcher_;
  services::PushStep push_;
  services::PipelineStep push_step_;
  services::Readiness readiness_;
  gateway::Server server_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace parley::app
