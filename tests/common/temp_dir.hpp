// tests/common/temp_dir.hpp — a fresh folder under the system temp directory for one test,
// removed with everything in it at the end (shared by the data and ONNX tests).
#pragma once

#include <filesystem>
#include <string>
#include <system_error>

#include <unistd.h>  // getpid: one folder per test process (ctest runs them in parallel)

namespace hone_test {

class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("hone_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace hone_test
