// Helpers shared by the ONNX file-format tests: a temporary folder, running the oracles
// (protoc, python3-onnx) and capturing what they print, file bytes, hex strings.
#pragma once

#include "../common/temp_dir.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <sys/wait.h>  // WEXITSTATUS of pclose
#include <unistd.h>    // getpid: one folder per test process (ctest runs them in parallel)

namespace onnx_test {

using TempDir = hone_test::TempDir;

/// What a shell command printed on stdout, and its exit status.
struct Run {
  int status = -1;
  std::string out;
};

inline Run run(const std::string& command) {
  Run r;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return r;
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) r.out.append(buffer, n);
  const int status = ::pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

inline std::vector<std::uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

/// "08 96 01" style, for readable failure messages.
inline std::string hex(const std::vector<std::uint8_t>& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i) s += ' ';
    s += digits[bytes[i] >> 4];
    s += digits[bytes[i] & 15];
  }
  return s;
}

/// Decodes "x" + hex (the oracle's string format).
inline std::string unhex(const std::string& token) {
  std::string s;
  for (std::size_t i = 1; i + 1 < token.size(); i += 2) s += static_cast<char>(std::stoi(token.substr(i, 2), nullptr, 16));
  return s;
}

inline std::vector<std::uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

}  // namespace onnx_test
