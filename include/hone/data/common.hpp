// hone/data/common.hpp — the pieces the data headers share, standard library only: the
// in-memory image type (BasicImage, HWC), reading a whole file, the policy for files that
// cannot be decoded and the sink that receives warnings.
#pragma once

#include <cstddef>     // std::size_t
#include <cstdint>     // std::uint8_t
#include <cstdio>      // std::fputs for the default warning sink
#include <fstream>     // reading files
#include <functional>  // WarningSink
#include <string>      // paths and messages
#include <vector>      // file contents

#include "hone/core/error.hpp"

namespace hone::data {

/// Height x width x channels values, interleaved (HWC), row 0 at the top. `float` images
/// hold values in [0, 1] until a normalisation step; `std::uint8_t` images hold 0-255.
template <class T>
struct BasicImage {
  std::int64_t height = 0;
  std::int64_t width = 0;
  std::int64_t channels = 0;
  std::vector<T> pixels;  // height * width * channels values

  BasicImage() = default;
  /// A zero-filled image; throws InvalidArgument for a negative extent.
  BasicImage(std::int64_t h, std::int64_t w, std::int64_t c) : height(h), width(w), channels(c) {
    if (h < 0 || w < 0 || c < 0)
      throw InvalidArgument(hone::detail::concat("image extents must not be negative, got ", h,
                                                 "x", w, "x", c));
    pixels.assign(static_cast<std::size_t>(h * w * c), T{});
  }

  T& at(std::int64_t y, std::int64_t x, std::int64_t c) noexcept {
    return pixels[static_cast<std::size_t>((y * width + x) * channels + c)];
  }
  const T& at(std::int64_t y, std::int64_t x, std::int64_t c) const noexcept {
    return pixels[static_cast<std::size_t>((y * width + x) * channels + c)];
  }
  bool empty() const noexcept { return pixels.empty(); }
  friend bool operator==(const BasicImage&, const BasicImage&) = default;
};

using Image = BasicImage<float>;
using ImageU8 = BasicImage<std::uint8_t>;

/// What a dataset does with a file that cannot be decoded: raise the error, or skip the
/// sample (counted, and reported through the warning sink).
enum class OnError { raise, skip };

/// Receives one warning line (no trailing newline), e.g. about a skipped file.
using WarningSink = std::function<void(const std::string&)>;

/// The default warning sink: writes "hone: warning: <text>" to stderr.
inline WarningSink stderr_warnings() {
  return [](const std::string& text) {
    std::fputs(("hone: warning: " + text + "\n").c_str(), stderr);
  };
}

/// All bytes of a file; throws IOError (id hone.io) naming the path when it cannot be read.
inline std::vector<std::uint8_t> read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw IOError(hone::detail::concat("cannot open \"", path, "\" for reading"));
  const std::streamoff size = in.tellg();
  if (size < 0) throw IOError(hone::detail::concat("cannot read the size of \"", path, "\""));
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  in.seekg(0);
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size))
    throw IOError(hone::detail::concat("cannot read \"", path, "\""));
  return bytes;
}

/// The image with values scaled from 0-255 to [0, 1]: value * (1 / 255.0f) in float.
inline Image to_float(const ImageU8& image) {
  Image out;
  out.height = image.height;
  out.width = image.width;
  out.channels = image.channels;
  out.pixels.resize(image.pixels.size());
  constexpr float scale = 1.0f / 255.0f;
  for (std::size_t i = 0; i < image.pixels.size(); ++i)
    out.pixels[i] = static_cast<float>(image.pixels[i]) * scale;
  return out;
}

}  // namespace hone::data
