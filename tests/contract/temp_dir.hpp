#pragma once
// A fresh directory under $TMPDIR (or /tmp) for one test, removed with
// everything in it when the test ends.

#include <string>

namespace parley::contract {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  // A path inside the directory, for one engine's files.
  [[nodiscard]] std::string sub(const std::string& name) const { return path_ + "/" + name; }
  // A name unique to this directory (its random suffix), so that tests run
  // against a shared server (Kafka, PostgreSQL) do not see each other's data.
  [[nodiscard]] std::string unique(const std::string& prefix) const;

 private:
  std::string path_;
};

}  // namespace parley::contract
