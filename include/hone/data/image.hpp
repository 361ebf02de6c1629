// hone/data/image.hpp — images in memory and decoding them from files.
//
// An image is height x width x channels values stored interleaved (HWC), row 0 at the top.
// Decoding goes through stb_image (Debian's libstb-dev, which ships the compiled
// implementation in libstb; hone includes only its declarations and links hone::stb; without
// hone::stb, i.e. HONE_HAS_STB undefined, decoding throws UnsupportedError and the rest of
// the data pipeline, e.g. tensor and IDX datasets, still works):
// JPEG (baseline and progressive), PNG (1-16 bit, palette, alpha), BMP, TGA, GIF (first
// frame), PSD, PNM and HDR. The file's format is recognised by its content, not its name
// (TGA has no signature and is recognised by a plausible header plus the .tga suffix).
// Channels are converted to what the model expects by stb_image: grey is replicated to
// RGB, alpha is dropped (not composited), RGB becomes grey by the integer luma
// (77 R + 150 G + 29 B) / 256; 16-bit samples are reduced to 8 bits. A JPEG's EXIF
// orientation is applied (see exif.hpp), so phone photos come out upright.
//
// Errors: a file that cannot be read raises IOError (id hone.io), content that is no
// image format stb_image knows raises UnsupportedError (id hone.data.format), and a
// corrupt or truncated file raises IOError (id hone.data.decode) naming the file and
// stb_image's reason. Datasets decide by policy (OnError) whether to raise or to skip.
#pragma once

#include <algorithm>   // std::min, std::equal
#include <cstddef>     // std::size_t
#include <cstdint>     // std::uint8_t, std::int64_t
#include <span>        // byte views
#include <string>      // paths and messages
#include <string_view> // format names
#include <vector>      // pixel and byte storage

#if defined(HONE_HAS_STB)
#include <stb_image.h>  // stbi_load_from_memory, stbi_failure_reason (implementation in libstb)
#endif

#include "hone/core/error.hpp"
#include "hone/data/exif.hpp"
#include "hone/data/common.hpp"

namespace hone::data {

/// An image file format, recognised from the first bytes of the file.
enum class ImageFormat { unknown, jpeg, png, bmp, gif, tga, psd, pnm, hdr };

/// The lower-case name of a format ("jpeg", "png", ..., "unknown").
inline std::string_view to_string(ImageFormat format) noexcept {
  switch (format) {
    case ImageFormat::jpeg: return "jpeg";
    case ImageFormat::png: return "png";
    case ImageFormat::bmp: return "bmp";
    case ImageFormat::gif: return "gif";
    case ImageFormat::tga: return "tga";
    case ImageFormat::psd: return "psd";
    case ImageFormat::pnm: return "pnm";
    case ImageFormat::hdr: return "hdr";
    case ImageFormat::unknown: break;
  }
  return "unknown";
}

namespace detail {

inline bool starts_with(std::span<const std::uint8_t> bytes, std::string_view prefix) noexcept {
  return bytes.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), bytes.begin(),
                    [](char a, std::uint8_t b) { return static_cast<std::uint8_t>(a) == b; });
}

/// True when the 18-byte TGA header is one stb_image can read (TGA has no signature).
inline bool plausible_tga(std::span<const std::uint8_t> b) noexcept {
  if (b.size() < 18) return false;
  const int color_map = b[1], type = b[2], bits = b[16];
  const bool type_ok = type == 1 || type == 2 || type == 3 || type == 9 || type == 10 || type == 11;
  const int width = b[12] | (b[13] << 8), height = b[14] | (b[15] << 8);
  return color_map <= 1 && type_ok && width > 0 && height > 0 &&
         (bits == 8 || bits == 15 || bits == 16 || bits == 24 || bits == 32);
}

inline bool ends_with_tga(std::string_view name) noexcept {
  if (name.size() < 4) return false;
  std::string tail(name.substr(name.size() - 4));
  for (char& c : tail) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return tail == ".tga";
}

inline std::uint32_t read_le(std::span<const std::uint8_t> b, std::size_t at, int bytes) noexcept {
  std::uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | b[at + static_cast<std::size_t>(i)];
  return v;
}

/// Why a BMP, TGA or GIF file is too short for what its headers promise, or an empty
/// string. stb_image reads missing bytes of these formats as zeros instead of failing, so
/// hone checks their size itself (PNG and JPEG truncation are caught elsewhere).
inline std::string truncation_reason(std::span<const std::uint8_t> b, ImageFormat format) {
  const std::size_t n = b.size();
  const std::string truncated = "truncated file (the data ends before the image does)";
  if (format == ImageFormat::bmp) {
    if (n < 34) return truncated;
    const std::uint32_t file_size = read_le(b, 2, 4), offset = read_le(b, 10, 4);
    if (file_size > n) return truncated;
    const auto width = static_cast<std::int32_t>(read_le(b, 18, 4));
    const auto height = static_cast<std::int32_t>(read_le(b, 22, 4));
    const std::uint32_t bits = read_le(b, 28, 2), compression = read_le(b, 30, 4);
    if ((compression == 0 || compression == 3) && width > 0 && height != 0 && bits > 0 && bits <= 32) {
      const std::uint64_t row = (static_cast<std::uint64_t>(bits) * static_cast<std::uint64_t>(width) + 31) / 32 * 4;
      const std::uint64_t rows = static_cast<std::uint64_t>(height < 0 ? -static_cast<std::int64_t>(height) : height);
      if (static_cast<std::uint64_t>(offset) + row * rows > n) return truncated;
    }
    return {};
  }
  if (format == ImageFormat::tga) {
    const std::uint32_t map_length = read_le(b, 5, 2), map_bits = b[7];
    const std::uint32_t width = read_le(b, 12, 2), height = read_le(b, 14, 2), bits = b[16];
    std::size_t at = 18 + std::size_t{b[0]} + (b[1] ? map_length * ((map_bits + 7) / 8) : 0);
    const std::uint64_t pixels = static_cast<std::uint64_t>(width) * height, size = (bits + 7) / 8;
    if (b[2] < 8) return at + pixels * size > n ? truncated : std::string();
    for (std::uint64_t done = 0; done < pixels;) {  // RLE packets: a header byte, then pixels
      if (at >= n) return truncated;
      const std::uint8_t header = b[at++];
      const std::uint64_t count = (header & 0x7Fu) + 1u;
      at += static_cast<std::size_t>((header & 0x80u) ? size : count * size);
      done += count;
    }
    return at > n ? truncated : std::string();
  }
  if (format == ImageFormat::gif) {  // walk the blocks up to the end of the first frame
    if (n < 13) return truncated;
    std::size_t at = 13 + ((b[10] & 0x80u) ? 3u * (2u << (b[10] & 7u)) : 0u);
    auto skip_sub_blocks = [&]() {
      while (at < n && b[at] != 0) at += std::size_t{b[at]} + 1;
      return at++ < n;
    };
    while (at < n) {
      const std::uint8_t kind = b[at];
      if (kind == 0x21) {  // extension: label, then data sub-blocks
        at += 2;
        if (!skip_sub_blocks()) return truncated;
      } else if (kind == 0x2C) {  // image descriptor, optional local palette, LZW size, data
        if (at + 10 > n) return truncated;
        const std::uint8_t packed = b[at + 9];
        at += 10 + ((packed & 0x80u) ? 3u * (2u << (packed & 7u)) : 0u) + 1;
        return skip_sub_blocks() ? std::string() : truncated;
      } else {
        return {};  // a trailer or an unknown block: let stb_image judge
      }
    }
    return truncated;
  }
  return {};
}

}  // namespace detail

/// The format of a file from its first bytes (at least 18 are needed for TGA). `name` is
/// used only for TGA, which has no signature: a plausible TGA header is accepted only when
/// the name ends in ".tga". Never throws.
inline ImageFormat detect_format(std::span<const std::uint8_t> head, std::string_view name = {}) noexcept {
  using detail::starts_with;
  if (head.size() >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF) return ImageFormat::jpeg;
  if (starts_with(head, "\x89PNG\r\n\x1a\n")) return ImageFormat::png;
  if (starts_with(head, "GIF87a") || starts_with(head, "GIF89a")) return ImageFormat::gif;
  if (starts_with(head, "BM") && head.size() >= 14) return ImageFormat::bmp;
  if (starts_with(head, "8BPS")) return ImageFormat::psd;
  if (starts_with(head, "#?RADIANCE") || starts_with(head, "#?RGBE")) return ImageFormat::hdr;
  if (head.size() >= 3 && head[0] == 'P' && (head[1] == '5' || head[1] == '6') &&
      (head[2] == ' ' || head[2] == '\n' || head[2] == '\r' || head[2] == '\t'))
    return ImageFormat::pnm;
  if (detail::ends_with_tga(name) && detail::plausible_tga(head)) return ImageFormat::tga;
  return ImageFormat::unknown;
}

/// Returns the image as seen upright under EXIF orientation `orientation` (1-8, see
/// exif.hpp); other values return it unchanged.
template <class T>
BasicImage<T> apply_orientation(const BasicImage<T>& image, int orientation) {
  if (orientation < 2 || orientation > 8) return image;
  const std::int64_t h = image.height, w = image.width, c = image.channels;
  const bool swaps = orientation >= 5;
  BasicImage<T> out(swaps ? w : h, swaps ? h : w, c);
  for (std::int64_t y = 0; y < out.height; ++y)
    for (std::int64_t x = 0; x < out.width; ++x) {
      std::int64_t sy = y, sx = x;  // the stored pixel shown at (y, x)
      switch (orientation) {
        case 2: sx = w - 1 - x; break;
        case 3: sy = h - 1 - y; sx = w - 1 - x; break;
        case 4: sy = h - 1 - y; break;
        case 5: sy = x; sx = y; break;
        case 6: sy = h - 1 - x; sx = y; break;
        case 7: sy = h - 1 - x; sx = w - 1 - y; break;
        case 8: sy = x; sx = w - 1 - y; break;
        default: break;
      }
      for (std::int64_t k = 0; k < c; ++k) out.at(y, x, k) = image.at(sy, sx, k);
    }
  return out;
}

/// Options for decoding.
struct DecodeOptions {
  int channels = 3;           ///< 1 (grey), 2 (grey+alpha), 3 (RGB) or 4 (RGBA); 0 keeps the file's
  bool apply_exif = true;     ///< turn JPEGs upright by their EXIF orientation
};

/// Decodes an image from the bytes of a file. `name` is used in messages and to accept
/// TGA. Throws UnsupportedError (id hone.data.format) when the content is no known image
/// format, IOError (id hone.data.decode) naming `name` and stb_image's reason when the data
/// is corrupt or truncated, and InvalidArgument for a channel count outside 0-4.
inline ImageU8 decode_image(std::span<const std::uint8_t> bytes, const std::string& name,
                            const DecodeOptions& options = {}) {
  if (options.channels < 0 || options.channels > 4)
    throw InvalidArgument(hone::detail::concat("decode_image: channels must be 0 to 4, got ",
                                               options.channels));
  const ImageFormat format = detect_format(bytes, name);
  if (format == ImageFormat::unknown)
    throw UnsupportedError("hone.data.format",
                           hone::detail::concat("\"", name, "\" is not an image file hone can decode "
                                                "(supported: JPEG, PNG, BMP, GIF, TGA, PSD, PNM, HDR; "
                                                "recognised by content)"));
  if (format == ImageFormat::jpeg) {
    // stb_image decodes a truncated JPEG without complaint (missing data reads as zeros), so
    // require the end-of-image marker; bytes after it (some cameras append data) are allowed.
    bool has_end = false;
    for (std::size_t i = bytes.size(); i >= 2 && !has_end; --i)
      has_end = bytes[i - 2] == 0xFF && bytes[i - 1] == 0xD9;
    if (!has_end)
      throw IOError("hone.data.decode",
                    hone::detail::concat("cannot decode \"", name,
                                         "\": truncated JPEG (no end-of-image marker)"));
  }
  if (const std::string reason = detail::truncation_reason(bytes, format); !reason.empty())
    throw IOError("hone.data.decode", hone::detail::concat("cannot decode \"", name, "\" (",
                                                           to_string(format), "): ", reason));
  if (bytes.size() > static_cast<std::size_t>(0x7fffffff))
    throw IOError("hone.data.decode", hone::detail::concat("cannot decode \"", name, "\": larger than 2 GiB"));
#if !defined(HONE_HAS_STB)
  throw UnsupportedError("hone.data.format",
                         hone::detail::concat("cannot decode \"", name, "\" (", to_string(format),
                                              "): this program was built without image decoding; "
                                              "link hone::stb (libstb-dev)"));
#else
  int width = 0, height = 0, file_channels = 0;
  stbi_uc* data = stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &width,
                                        &height, &file_channels, options.channels);
  if (data == nullptr) {
    const char* reason = stbi_failure_reason();
    throw IOError("hone.data.decode",
                  hone::detail::concat("cannot decode \"", name, "\" (", to_string(format), "): ",
                                       reason && *reason ? reason : "corrupt or truncated data"));
  }
  const int channels = options.channels == 0 ? file_channels : options.channels;
  ImageU8 image;
  image.height = height;
  image.width = width;
  image.channels = channels;
  const std::size_t count = static_cast<std::size_t>(width) * static_cast<std::size_t>(height) *
                            static_cast<std::size_t>(channels);
  image.pixels.assign(data, data + count);
  stbi_image_free(data);
  if (format == ImageFormat::jpeg && options.apply_exif) {
    const int orientation = jpeg_exif_orientation(bytes);
    if (orientation != 1) image = apply_orientation(image, orientation);
  }
  return image;
#endif
}

/// Reads and decodes an image file; see decode_image for what it throws (and IOError, id
/// hone.io, when the file cannot be read).
inline ImageU8 load_image(const std::string& path, const DecodeOptions& options = {}) {
  const std::vector<std::uint8_t> bytes = read_file_bytes(path);
  return decode_image(bytes, path, options);
}

}  // namespace hone::data
