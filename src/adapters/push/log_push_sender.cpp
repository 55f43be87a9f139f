#include "adapters/push/log_push_sender.hpp"

#include "core/log.hpp"

namespace parley::push {

void LogPushSender::send(const ports::DeviceToken& token, const ports::WakeUp& wake, ports::PushCallback done) {
  log::info("push", std::string("(unconfigured ") + std::string(ports::to_string(token.platform)) + ") " +
                        (wake.kind == ports::WakeUp::Kind::alert ? "alert" : "background") + " to user " +
                        to_string(token.user) + " device " + token.device + ": " + wake.conversation + " seq " +
                        std::to_string(wake.seq) + " count " + std::to_string(wake.count));
  done(ports::PushOutcome::ok());
}

}  // namespace parley::push
