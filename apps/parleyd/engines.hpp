#pragma once
// Builds the engines behind the ports from the settings: the embedded set by
// default; scale-out engines as their settings name them.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adapters/embedded/embedded_backup.hpp"
#include "config.hpp"
#include "ports/directory.hpp"
#include "ports/message_log.hpp"
#include "ports/message_store.hpp"
#include "ports/push_ledger.hpp"
#include "ports/push_sender.hpp"
#include "ports/push_tokens.hpp"
#include "ports/rooms.hpp"
#include "ports/search_index.hpp"
#include "ports/sequencer_state.hpp"
#include "ports/social_graph.hpp"
#include "ports/state_store.hpp"
#include "services/readiness.hpp"

namespace parley::app {

struct Engines {
  std::unique_ptr<ports::MessageLog> log;
  std::unique_ptr<ports::SequencerState> sequencer_state;  // this server's own (adapters/embedded)
  std::unique_ptr<ports::MessageStore> store;
  std::unique_ptr<ports::StateStore> state;
  std::unique_ptr<ports::Directory> directory;
  std::unique_ptr<ports::Rooms> rooms;
  std::unique_ptr<ports::SocialGraph> social;
  std::unique_ptr<ports::PushTokens> push_tokens;
  std::unique_ptr<ports::PushLedger> push_ledger;
  std::unique_ptr<ports::PushSender> push_sender;  // APNs and FCM, or the log sink for either
  std::unique_ptr<ports::SearchIndex> search;
  // A readiness probe of each scale-out engine in use (none for the
  // embedded ones, which live in the process); they call the engines
  // above, so they must not outlive them.
  std::vector<services::EngineProbe> probes;
};

// Opens every engine; the error names the one that failed.
[[nodiscard]] Result<Engines> open_engines(const Config& config);

// What `parleyd backup` copies of this server (adapters/embedded/
// embedded_backup.hpp): its embedded stores, with the embedded log; nullopt
// when the log is Kafka (then each engine is backed up on its own,
// docs/OPERATIONS.md "Backups"). `elsewhere` names the stores that live on
// a scale-out engine instead, which the backup leaves out.
struct BackupPlan {
  embedded::BackupSources sources;
  std::vector<std::string> elsewhere;
};
[[nodiscard]] std::optional<BackupPlan> backup_plan(const Engines& engines);

}  // namespace parley::app
