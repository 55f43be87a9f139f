#include "gateway/control_socket.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace parley::gateway {
namespace {

namespace fs = std::filesystem;

class ControlSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() / ("parley-control-" + std::to_string(::getpid()));
    fs::remove_all(base_);
    fs::create_directories(base_);
  }
  void TearDown() override { fs::remove_all(base_); }

  // Answers "echo X" with X, anything else with an error naming it.
  static Result<std::string> echo(std::string_view command, std::string_view argument) {
    if (command == "echo") return std::string(argument);
    return make_error(ErrorCode::bad_request, "unknown command '" + std::string(command) + "'");
  }

  fs::path base_;
};

TEST_F(ControlSocketTest, AnswersOneRequestAConnectionOnlyToItsOwner) {
  const std::string path = (base_ / "control.sock").string();
  ControlSocket control(path, echo);
  ASSERT_TRUE(control.start());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600U);  // only the data directory's owner may connect

  auto answer = control_request(path, "echo", "/some/folder with spaces");
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_TRUE(answer->ok);
  EXPECT_EQ(answer->text, "/some/folder with spaces\n");

  auto refused = control_request(path, "format", "c:");
  ASSERT_TRUE(refused);
  EXPECT_FALSE(refused->ok);
  EXPECT_EQ(refused->text, "unknown command 'format'\n");

  // A request past the limit is answered with the rule, not read on and on.
  auto long_one = control_request(path, "echo", std::string(kMaxControlRequest + 10, 'x'));
  ASSERT_TRUE(long_one);
  EXPECT_FALSE(long_one->ok);
  EXPECT_NE(long_one->text.find("at most 4096 bytes"), std::string::npos) << long_one->text;

  control.stop();
  EXPECT_FALSE(fs::exists(path));
  auto nobody = control_request(path, "echo", "x");
  ASSERT_FALSE(nobody);
  EXPECT_EQ(nobody.error().code, ErrorCode::unavailable);
}

// A server that died leaves its socket file: the next one replaces it. A
// file that is not a socket is never deleted.
TEST_F(ControlSocketTest, ReplacesAStaleSocketButNoOtherFile) {
  const std::string path = (base_ / "control.sock").string();
  {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path.copy(addr.sun_path, path.size());
    ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
    ::close(fd);  // bound, never listening: what a killed server leaves
  }
  ControlSocket control(path, echo);
  ASSERT_TRUE(control.start());
  auto answer = control_request(path, "echo", "again");
  ASSERT_TRUE(answer && answer->ok);
  control.stop();

  std::ofstream(path) << "notes";
  ControlSocket blocked(path, echo);
  const auto started = blocked.start();
  ASSERT_FALSE(started);
  EXPECT_NE(started.error().message.find("no socket"), std::string::npos) << started.error().message;
  EXPECT_TRUE(fs::is_regular_file(path));
}

// sun_path holds 107 bytes; a deeper data directory still gets its socket.
TEST_F(ControlSocketTest, WorksUnderAPathLongerThanASocketAddress) {
  fs::path deep = base_;
  while (deep.string().size() < 150) deep /= "a-long-folder-name";
  fs::create_directories(deep);
  const std::string path = (deep / "control.sock").string();
  ControlSocket control(path, echo);
  ASSERT_TRUE(control.start());
  auto answer = control_request(path, "echo", "deep");
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_EQ(answer->text, "deep\n");
}

}  // namespace
}  // namespace parley::gateway
