#include "adapters/push/platform_router.hpp"

namespace parley::push {

PlatformRouter::PlatformRouter(std::unique_ptr<ports::PushSender> apns, std::unique_ptr<ports::PushSender> fcm)
    : apns_(std::move(apns)), fcm_(std::move(fcm)) {}

void PlatformRouter::send(const ports::DeviceToken& token, const ports::WakeUp& wake, ports::PushCallback done) {
  (token.platform == ports::PushPlatform::apns ? *apns_ : *fcm_).send(token, wake, std::move(done));
}

}  // namespace parley::push
