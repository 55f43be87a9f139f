#include "gateway/static_files.hpp"

#include <algorithm>
#include <array>
#include <fstream>
#include <iterator>
#include <system_error>
#include <utility>

namespace parley::gateway {

namespace fs = std::filesystem;

namespace {

// Whether one segment of a URL path may name a file or folder: no `.`, `..`
// or other dot-file (never `..` upwards, never .git or .env), nothing empty
// (`//`), no backslash or NUL.
bool safe_segment(std::string_view s) {
  if (s.empty() || s.front() == '.') return false;
  for (char c : s) {
    if (c == '\\' || c == '\0') return false;
  }
  return true;
}

// Whether `inner` (absolute, normal) is `outer` or lies under it.
bool inside(const fs::path& outer, const fs::path& inner) {
  auto [o, i] = std::mismatch(outer.begin(), outer.end(), inner.begin(), inner.end());
  return o == outer.end();
}

}  // namespace

std::optional<fs::path> resolve_static_file(const fs::path& root, std::string_view url_path) {
  if (url_path.empty() || url_path.front() != '/') return std::nullopt;
  std::string relative(url_path.substr(1));
  if (relative.empty() || relative.back() == '/') relative += "index.html";

  fs::path candidate;
  std::string_view rest = relative;
  while (!rest.empty()) {
    const auto slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    if (!safe_segment(segment)) return std::nullopt;
    candidate /= std::string(segment);
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    if (slash != std::string_view::npos && rest.empty()) return std::nullopt;  // a trailing '/' was handled above
  }

  // The real paths, symlinks resolved: a link inside the folder that points
  // out of it serves nothing.
  std::error_code ec;
  const fs::path real_root = fs::canonical(root, ec);
  if (ec) return std::nullopt;
  const fs::path real_file = fs::canonical(real_root / candidate, ec);
  if (ec || !inside(real_root, real_file) || real_file == real_root) return std::nullopt;
  if (!fs::is_regular_file(real_file, ec) || ec) return std::nullopt;
  return real_file;
}

std::string_view static_content_type(const fs::path& file) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 17> kTypes{{
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".webmanifest", "application/manifest+json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".webp", "image/webp"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".woff", "font/woff"},
      {".txt", "text/plain; charset=utf-8"},
  }};
  const std::string ext = file.extension().string();
  for (const auto& [suffix, type] : kTypes) {
    if (ext == suffix) return type;
  }
  return "application/octet-stream";
}

std::optional<std::string> read_static_file(const fs::path& file, std::size_t max_bytes) {
  std::error_code ec;
  const auto size = fs::file_size(file, ec);
  if (ec || size > max_bytes) return std::nullopt;
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return std::nullopt;
  return body;
}

}  // namespace parley::gateway
