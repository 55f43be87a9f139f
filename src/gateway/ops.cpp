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
      {"group_create", ops::group_create},
      {"group_add", ops::group_add},
      {"group_remove", ops::group_remove},
      {"group_role", ops::group_role},
      {"channel_create", ops::channel_create},
      {"channel_join", ops::channel_join},
      {"channel_leave", ops::channel_leave},
      {"channel_role", ops::channel_role},
      {"read", ops::read},
      {"typing", ops::typing},
      {"conversations", ops::conversations},
      {"friend_request", ops::friend_request},
      {"friend_accept", ops::friend_accept},
      {"friend_remove", ops::friend_remove},
      {"block", ops::block},
      {"unblock", ops::unblock},
      {"friends", ops::friends},
      {"presence", ops::presence},
      {"search", ops::search},
  };
  for (const auto& [name, handler] : kOps) {
    if (name == op) return handler;
  }
  return nullptr;
}

}  // namespace parley::gateway
