// The list behind validate::common_password: Openwall's common passwords
// (Debian's john-data), generated into common_passwords.inc at configure
// time by src/CMakeLists.txt.

#include <algorithm>
#include <string>
#include <string_view>
#include <unordered_set>

#include "core/validate.hpp"

namespace parley::validate {

namespace {

constexpr std::string_view kCommon[] = {
#include "common_passwords.inc"
};

}  // namespace

bool common_password(std::string_view s) {
  static const std::unordered_set<std::string_view> common(std::begin(kCommon), std::end(kCommon));
  std::string lower(s);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
  return common.contains(lower);
}

}  // namespace parley::validate
