#pragma once
// LogPushSender: the PushSender of a platform that is not configured. It
// writes each wake-up to the log and reports success, so that a server with
// no push credentials runs the whole push pipeline and shows what it would
// have sent.

#include "ports/push_sender.hpp"

namespace parley::push {

class LogPushSender final : public ports::PushSender {
 public:
  void send(const ports::DeviceToken& token, const ports::WakeUp& wake, ports::PushCallback done) override;
};

}  // namespace parley::push
