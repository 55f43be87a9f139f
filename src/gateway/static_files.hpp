#pragma once
// Static files for the web app (clients/web), served from a directory given
// by --web-dir: GET and HEAD of `/` (index.html) and of the files under it.
// Only regular files inside the directory are served: a path with a `..`,
// `.`, empty or hidden segment, a backslash or a NUL is refused, and a file
// whose real path (symlinks resolved) leaves the directory is not found.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace parley::gateway {

// The file `url_path` (a decoded URL path, starting with '/') names under
// `root`, or nothing when there is no such regular file inside `root` or the
// path is refused. `/` and a path ending in '/' name that folder's index.html.
[[nodiscard]] std::optional<std::filesystem::path> resolve_static_file(const std::filesystem::path& root,
                                                                       std::string_view url_path);

// The Content-Type of a file by its extension; application/octet-stream for
// one not listed.
[[nodiscard]] std::string_view static_content_type(const std::filesystem::path& file);

// The whole file, or nothing if it cannot be read or is larger than
// `max_bytes`.
[[nodiscard]] std::optional<std::string> read_static_file(const std::filesystem::path& file, std::size_t max_bytes);

}  // namespace parley::gateway
