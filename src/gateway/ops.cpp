#include "gateway/ops.hpp"

#include <string_view>
#include <utility>

namespace parley::gateway {

OpHandler find_op(std::string_view op) noexcept {
  static constexpr std::pair<std::string_view, OpHandler> kOps[] = {
      {"send", ops::send},
      {"sync", ops::sync},
      {"ack", ops::ack},
      {"history", ops::history},
      {"ping", ops::ping},
      {"push_register", ops::push_register},
      {"friend_request", ops::friend_request},
      {"friend_accept", ops::friend_accept},
      {"friend_remove", ops::friend_remove},
      {"block", ops::block},
      {"unblock", ops::unblock},
      {"friends", ops::friends},
      {"presence", ops::presence},
  };
  for (const auto& [name, handler] : kOps) {
    if (name == op) return handler;
  }
  return nullptr;
}

}  // namespace parley::gateway
