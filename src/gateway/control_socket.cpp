#include "gateway/control_socket.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>
#include <utility>

#include "core/log.hpp"
#include "core/thread_name.hpp"

namespace parley::gateway {

namespace {

std::string os_error(int err) { return std::error_code(err, std::generic_category()).message(); }

// A socket address for `path`. sun_path holds 107 bytes: a longer path is
// reached through the folder, opened here and named /proc/self/fd/N/<file>
// (kept open while the address is used).
class UnixAddress {
 public:
  explicit UnixAddress(const std::string& path) {
    std::string name = path;
    if (name.size() >= sizeof(addr_.sun_path)) {
      const std::filesystem::path p(path);
      folder_ = ::open(p.parent_path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (folder_ >= 0) name = "/proc/self/fd/" + std::to_string(folder_) + "/" + p.filename().string();
    }
    valid_ = name.size() < sizeof(addr_.sun_path);
    addr_.sun_family = AF_UNIX;
    if (valid_) name.copy(addr_.sun_path, name.size());
  }
  ~UnixAddress() {
    if (folder_ >= 0) ::close(folder_);
  }
  UnixAddress(const UnixAddress&) = delete;
  UnixAddress& operator=(const UnixAddress&) = delete;

  [[nodiscard]] bool valid() const noexcept { return valid_; }
  [[nodiscard]] const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&addr_); }
  [[nodiscard]] socklen_t size() const noexcept { return sizeof(addr_); }

 private:
  sockaddr_un addr_{};
  int folder_ = -1;
  bool valid_ = false;
};

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

ControlSocket::ControlSocket(std::string path, Handler handler)
    : path_(std::move(path)), handler_(std::move(handler)) {}

ControlSocket::~ControlSocket() { stop(); }

Result<void> ControlSocket::start() {
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return make_error(ErrorCode::conflict,
                        "the control socket " + path_ + " is in the way of a file that is no socket");
    }
    (void)::unlink(path_.c_str());  // left by a server that is gone
  }
  const UnixAddress address(path_);
  if (!address.valid()) return make_error(ErrorCode::bad_request, "the control socket's path is too long: " + path_);
  listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener_ < 0) return make_error(ErrorCode::unavailable, "control socket: " + os_error(errno));
  // Mode 0600 before listen(): until then nobody can connect.
  if (::bind(listener_, address.get(), address.size()) != 0 || ::chmod(path_.c_str(), 0600) != 0 ||
      ::listen(listener_, 4) != 0 || ::pipe2(wake_, O_CLOEXEC) != 0) {
    const int err = errno;
    stop();
    return make_error(ErrorCode::unavailable, "control socket " + path_ + ": " + os_error(err));
  }
  thread_ = std::thread([this] {
    name_this_thread("control");
    run();
  });
  return Ok{};
}

void ControlSocket::stop() {
  if (thread_.joinable()) {
    const char byte = 0;
    (void)!::write(wake_[1], &byte, 1);
    thread_.join();
  }
  if (listener_ >= 0) {
    ::close(listener_);
    listener_ = -1;
    (void)::unlink(path_.c_str());
  }
  for (int& fd : wake_) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
}

void ControlSocket::run() {
  for (;;) {
    pollfd fds[2] = {{listener_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      log::error("control", "the control socket stopped: " + os_error(errno));
      return;
    }
    if ((fds[1].revents & POLLIN) != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    serve_one(client);
    ::close(client);
  }
}

// Reads one request line (bounded in size and in time: a client that sends
// nothing cannot hold the socket), runs it, writes the answer.
void ControlSocket::serve_one(int client) {
  ucred peer{};
  socklen_t peer_size = sizeof peer;
  if (::getsockopt(client, SOL_SOCKET, SO_PEERCRED, &peer, &peer_size) != 0 ||
      (peer.uid != ::geteuid() && peer.uid != 0)) {
    (void)write_all(client, "error\nonly the user the server runs as may use its control socket\n");
    return;
  }
  const timeval timeout{.tv_sec = 5, .tv_usec = 0};
  (void)::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string request;
  char buf[512];
  while (request.find('\n') == std::string::npos && request.size() <= kMaxControlRequest) {
    const ssize_t n = ::recv(client, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    request.append(buf, static_cast<std::size_t>(n));
  }
  const auto end = request.find('\n');
  if (end == std::string::npos || end > kMaxControlRequest) {
    (void)write_all(client, "error\na request is one line of at most " + std::to_string(kMaxControlRequest) +
                                " bytes: \"<command> <argument>\\n\"\n");
    return;
  }
  const std::string_view line(request.data(), end);
  const auto space = line.find(' ');
  const std::string_view command = line.substr(0, space);
  const std::string_view argument = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
  auto answer = handler_(command, argument);
  std::string text = answer ? "ok\n" + answer.value() : "error\n" + answer.error().message;
  if (!text.ends_with('\n')) text.push_back('\n');
  (void)write_all(client, text);
}

Result<ControlAnswer> control_request(const std::string& path, std::string_view command, std::string_view argument) {
  const UnixAddress address(path);
  if (!address.valid()) return make_error(ErrorCode::bad_request, "the control socket's path is too long: " + path);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error(ErrorCode::unavailable, "cannot make a socket: " + os_error(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (::connect(fd, address.get(), address.size()) != 0) {
    return make_error(ErrorCode::unavailable, "cannot connect to " + path + ": " + os_error(errno));
  }
  std::string request(command);
  request += ' ';
  request += argument;
  request += '\n';
  if (!write_all(fd, request)) return make_error(ErrorCode::unavailable, "the server closed " + path);
  std::string reply;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error(ErrorCode::unavailable, "reading from " + path + ": " + os_error(errno));
    if (n == 0) break;
    reply.append(buf, static_cast<std::size_t>(n));
  }
  const auto first = reply.find('\n');
  const std::string status = reply.substr(0, first);
  if (first == std::string::npos || (status != "ok" && status != "error")) {
    return make_error(ErrorCode::unavailable, "the server at " + path + " closed without an answer");
  }
  return ControlAnswer{status == "ok", reply.substr(first + 1)};
}

}  // namespace parley::gateway
