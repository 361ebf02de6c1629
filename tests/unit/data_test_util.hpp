// Helpers shared by the data tests: a temporary folder removed at the end of the test,
// synthetic pixel patterns, writing files, and running Debian's python3-pil.
#pragma once

#include "../common/temp_dir.hpp"

#include <hone/data/common.hpp>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <stb_image_write.h>  // implementation in Debian's libstb

#include <unistd.h>  // getpid: one folder per test process (ctest runs them in parallel)

namespace hone_test {


/// A deterministic, non-symmetric w x h x c pattern of bytes: smooth gradients plus blocks,
/// so that JPEG keeps it close and any flip or rotation changes it.
inline hone::data::ImageU8 pattern(std::int64_t w, std::int64_t h, std::int64_t c) {
  hone::data::ImageU8 im(h, w, c);
  for (std::int64_t y = 0; y < h; ++y)
    for (std::int64_t x = 0; x < w; ++x)
      for (std::int64_t k = 0; k < c; ++k) {
        const std::int64_t v = (k == 0)   ? 255 * x / std::max<std::int64_t>(w - 1, 1)
                               : (k == 1) ? 255 * y / std::max<std::int64_t>(h - 1, 1)
                               : (k == 2) ? ((x / 4 + y / 4) % 2) * 200 + 20
                                          : 128 + 100 * ((x * 3 + y) % 2);
        im.at(y, x, k) = static_cast<std::uint8_t>(v);
      }
  return im;
}

inline void write_bytes(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline void write_png(const std::string& path, const hone::data::ImageU8& im) {
  stbi_write_png(path.c_str(), static_cast<int>(im.width), static_cast<int>(im.height),
                 static_cast<int>(im.channels), im.pixels.data(), static_cast<int>(im.width * im.channels));
}

inline void write_jpg(const std::string& path, const hone::data::ImageU8& im, int quality = 95) {
  stbi_write_jpg(path.c_str(), static_cast<int>(im.width), static_cast<int>(im.height),
                 static_cast<int>(im.channels), im.pixels.data(), quality);
}

/// Runs a Python program with Debian's python3 (which has python3-pil); returns its exit
/// status. The program text is written to a file first, so no shell quoting is involved.
inline int run_python(const TempDir& dir, const std::string& program) {
  const std::string script = dir / "script.py";
  std::ofstream(script) << program;
  const std::string command = std::string(HONE_TEST_PYTHON) + " " + script;
  return std::system(command.c_str());
}

}  // namespace hone_test
