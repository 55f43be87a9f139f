#include "gateway/static_files.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace parley::gateway {
namespace {

namespace fs = std::filesystem;

class StaticFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() / ("parley-static-" + std::to_string(::getpid()));
    fs::remove_all(base_);
    root_ = base_ / "web";
    fs::create_directories(root_ / "assets");
    write(root_ / "index.html", "<!doctype html>");
    write(root_ / "assets" / "app-1a2b.js", "console.log(1)");
    write(root_ / ".env", "secret");
    write(base_ / "outside.txt", "not served");
  }
  void TearDown() override { fs::remove_all(base_); }

  static void write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

  fs::path base_;
  fs::path root_;
};

TEST_F(StaticFiles, RootAndFoldersServeIndexHtml) {
  auto index = resolve_static_file(root_, "/");
  ASSERT_TRUE(index.has_value());
  EXPECT_EQ(index->filename(), "index.html");
  EXPECT_EQ(read_static_file(*index, 1024), "<!doctype html>");
  EXPECT_FALSE(resolve_static_file(root_, "/assets/").has_value());  // no index.html there
}

TEST_F(StaticFiles, ServesFilesUnderTheRoot) {
  auto js = resolve_static_file(root_, "/assets/app-1a2b.js");
  ASSERT_TRUE(js.has_value());
  EXPECT_EQ(static_content_type(*js), "text/javascript; charset=utf-8");
  EXPECT_EQ(static_content_type("x.css"), "text/css; charset=utf-8");
  EXPECT_EQ(static_content_type("x.unknown"), "application/octet-stream");
  EXPECT_FALSE(resolve_static_file(root_, "/missing.js").has_value());
  EXPECT_FALSE(resolve_static_file(root_, "/assets").has_value());  // a folder is no file
}

TEST_F(StaticFiles, RefusesDotSegmentsAndOddCharacters) {
  for (const char* path :
       {"/../outside.txt", "/assets/../../outside.txt", "/assets/../index.html", "/./index.html", "/.env",
        "//index.html", "/assets//app-1a2b.js", "/assets\\..\\index.html", "index.html", ""}) {
    EXPECT_FALSE(resolve_static_file(root_, path).has_value()) << path;
  }
  EXPECT_FALSE(resolve_static_file(root_, std::string_view("/index.html\0.js", 15)).has_value());
}

TEST_F(StaticFiles, ASymlinkOutOfTheRootIsNotFollowed) {
  fs::create_symlink(base_ / "outside.txt", root_ / "escape.txt");
  fs::create_directory_symlink(base_, root_ / "up");
  EXPECT_FALSE(resolve_static_file(root_, "/escape.txt").has_value());
  EXPECT_FALSE(resolve_static_file(root_, "/up/outside.txt").has_value());
  // A link that stays inside is fine.
  fs::create_symlink(root_ / "index.html", root_ / "home.html");
  EXPECT_TRUE(resolve_static_file(root_, "/home.html").has_value());
}

TEST_F(StaticFiles, ReadingStopsAtTheSizeLimit) {
  EXPECT_FALSE(read_static_file(root_ / "index.html", 4).has_value());
  EXPECT_FALSE(read_static_file(root_ / "nothing", 4).has_value());
}

}  // namespace
}  // namespace parley::gateway
