// hone/data/exif.hpp — the EXIF orientation of a JPEG file, read without any library.
//
// Phone cameras store pixels as the sensor saw them and record in the EXIF block how the
// picture must be turned to be seen upright (TIFF tag 0x0112, "Orientation", values 1-8).
// stb_image ignores EXIF, so hone reads the tag itself: the JPEG markers up to the first
// APP1 segment that starts with "Exif\0\0", then the TIFF header inside it (byte order "II"
// little-endian or "MM" big-endian, the magic 42, the offset of IFD0) and the entries of
// IFD0. Every read is bounds-checked; anything malformed means "no orientation" (1), since
// a broken EXIF block should not make an otherwise good photo unreadable.
//
// The eight values, as the EXIF/TIFF specification defines them (where the stored image's
// row 0 and column 0 appear when the picture is shown upright):
//   1 row 0 top,    column 0 left    (nothing to do)
//   2 row 0 top,    column 0 right   (mirror left-right)
//   3 row 0 bottom, column 0 right   (rotate 180)
//   4 row 0 bottom, column 0 left    (mirror top-bottom)
//   5 row 0 left,   column 0 top     (transpose)
//   6 row 0 right,  column 0 top     (rotate 90 clockwise)
//   7 row 0 right,  column 0 bottom  (transverse)
//   8 row 0 left,   column 0 bottom  (rotate 90 counter-clockwise)
#pragma once

#include <cstddef>  // std::size_t
#include <cstdint>  // std::uint8_t, std::uint16_t, std::uint32_t
#include <span>     // the file's bytes

namespace hone::data {

namespace detail {

/// Reads a 16- or 32-bit unsigned integer in the given byte order; the caller checks bounds.
inline std::uint32_t exif_read(const std::uint8_t* p, int bytes, bool little_endian) noexcept {
  std::uint32_t value = 0;
  for (int i = 0; i < bytes; ++i) {
    const std::uint32_t b = p[little_endian ? bytes - 1 - i : i];
    value = (value << 8) | b;
  }
  return value;
}

/// The orientation tag of a TIFF structure (the payload of an Exif APP1 segment after
/// "Exif\0\0"); 1 when absent or malformed.
inline int tiff_orientation(std::span<const std::uint8_t> tiff) noexcept {
  if (tiff.size() < 8) return 1;
  bool little = false;
  if (tiff[0] == 'I' && tiff[1] == 'I')
    little = true;
  else if (!(tiff[0] == 'M' && tiff[1] == 'M'))
    return 1;
  if (exif_read(tiff.data() + 2, 2, little) != 42) return 1;
  const std::size_t ifd = exif_read(tiff.data() + 4, 4, little);
  if (ifd > tiff.size() || tiff.size() - ifd < 2) return 1;
  const std::size_t count = exif_read(tiff.data() + ifd, 2, little);
  const std::size_t entries = ifd + 2;
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t at = entries + 12 * i;
    if (at > tiff.size() || tiff.size() - at < 12) return 1;
    if (exif_read(tiff.data() + at, 2, little) != 0x0112) continue;
    const std::uint32_t type = exif_read(tiff.data() + at + 2, 2, little);
    const std::uint32_t n = exif_read(tiff.data() + at + 4, 4, little);
    if (type != 3 || n != 1) return 1;  // must be one SHORT, stored in the value field
    const std::uint32_t value = exif_read(tiff.data() + at + 8, 2, little);
    return value >= 1 && value <= 8 ? static_cast<int>(value) : 1;
  }
  return 1;
}

}  // namespace detail

/// The EXIF orientation (1 to 8, see the file comment) of a JPEG file's bytes; 1 when the
/// bytes are not a JPEG, carry no Exif APP1 segment or no orientation tag, or are malformed
/// in any way. Never throws and never reads outside `jpeg`.
inline int jpeg_exif_orientation(std::span<const std::uint8_t> jpeg) noexcept {
  if (jpeg.size() < 4 || jpeg[0] != 0xFF || jpeg[1] != 0xD8) return 1;
  std::size_t at = 2;
  while (at + 4 <= jpeg.size()) {
    if (jpeg[at] != 0xFF) return 1;
    const std::uint8_t marker = jpeg[at + 1];
    if (marker == 0xFF) {  // fill byte before a marker
      ++at;
      continue;
    }
    if (marker == 0xDA || marker == 0xD9) return 1;  // start of scan / end: no EXIF before it
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {  // markers without a length
      at += 2;
      continue;
    }
    const std::size_t length = (std::size_t{jpeg[at + 2]} << 8) | jpeg[at + 3];
    if (length < 2 || jpeg.size() - at - 2 < length) return 1;
    const std::uint8_t* payload = jpeg.data() + at + 4;
    const std::size_t payload_size = length - 2;
    if (marker == 0xE1 && payload_size >= 6 && payload[0] == 'E' && payload[1] == 'x' &&
        payload[2] == 'i' && payload[3] == 'f' && payload[4] == 0 && payload[5] == 0)
      return detail::tiff_orientation({payload + 6, payload_size - 6});
    at += 2 + length;
  }
  return 1;
}

}  // namespace hone::data
