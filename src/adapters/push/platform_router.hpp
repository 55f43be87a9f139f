#pragma once
// PlatformRouter: one PushSender in front of the per-platform senders; each
// token goes to its platform's.

#include <memory>

#include "ports/push_sender.hpp"

namespace parley::push {

class PlatformRouter final : public ports::PushSender {
 public:
  PlatformRouter(std::unique_ptr<ports::PushSender> apns, std::unique_ptr<ports::PushSender> fcm);

  void send(const ports::DeviceToken& token, const ports::WakeUp& wake, ports::PushCallback done) override;

 private:
  std::unique_ptr<ports::PushSender> apns_;
  std::unique_ptr<ports::PushSender> fcm_;
};

}  // namespace parley::push
