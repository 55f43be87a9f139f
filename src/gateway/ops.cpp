#include "gateway/ops.hpp"

#include <array>
#include <iterator>
#include <string_view>
#include <utility>

namespace parley::gateway {

namespace {

constexpr std::pair<std::string_view, OpHandler> kOps[] = {
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

constexpr auto kNames = [] {
  std::array<std::string_view, std::size(kOps)> names{};
  for (std::size_t i = 0; i < names.size(); ++i) names[i] = kOps[i].first;
  return names;
}();

}  // namespace

std::span<const std::string_view> op_names() noexcept { return kNames; }

std::optional<FoundOp> find_op(std::string_view op) noexcept {
  for (std::size_t i = 0; i < std::size(kOps); ++i) {
    if (kOps[i].first == op) return FoundOp{kOps[i].second, i};
  }
  return std::nullopt;
}

}  // namespace parley::gateway
