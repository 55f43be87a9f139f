#pragma once
// What this binary is: the project version (CMakeLists.txt), the git commit
// it was built from ("unknown" outside a git checkout) and the build type.
// Captured at build time (cmake/build_info.cmake), in the parley_build_info
// library, so that a new commit rebuilds one file.

#include <string_view>

namespace parley::build_info {

[[nodiscard]] std::string_view version() noexcept;
[[nodiscard]] std::string_view commit() noexcept;
[[nodiscard]] std::string_view build_type() noexcept;

}  // namespace parley::build_info
