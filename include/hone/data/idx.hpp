// hone/data/idx.hpp — reading IDX files (MNIST, Fashion-MNIST, KMNIST, EMNIST).
//
// An IDX file is a 4-byte magic (two zero bytes, a type code, the number of dimensions),
// one big-endian 32-bit extent per dimension, then the elements in row-major order,
// big-endian. Type codes: 0x08 unsigned byte, 0x09 signed byte, 0x0B int16, 0x0C int32,
// 0x0D float32, 0x0E float64. Files compressed with gzip (the form they are distributed in)
// are read through zlib when hone::zlib is linked (HONE_HAS_ZLIB); without it a gzipped
// file raises UnsupportedError. Malformed files raise ParseError (id hone.data.idx) with
// the byte offset; files that cannot be opened raise IOError.
#pragma once

#include <algorithm>  // std::min
#include <cstddef>    // std::size_t
#include <cstdint>    // fixed-width integers
#include <cstring>    // std::memcpy for float bit patterns
#include <ios>        // std::hex in messages
#include <span>       // extents as a span for Shape
#include <string>     // paths
#include <vector>     // the file contents, extents

#if defined(HONE_HAS_ZLIB)
#include <zlib.h>  // gzopen/gzread: transparent reading of .gz (and plain) files
#endif

#include "hone/core/error.hpp"
#include "hone/core/shape.hpp"
#include "hone/core/tensor.hpp"
#include "hone/data/common.hpp"

namespace hone::data {

namespace detail {

/// The whole (decompressed) contents of a file that may be gzipped.
inline std::vector<std::uint8_t> read_maybe_gzipped(const std::string& path) {
  std::vector<std::uint8_t> raw = read_file_bytes(path);
  const bool gzipped = raw.size() >= 2 && raw[0] == 0x1f && raw[1] == 0x8b;
  if (!gzipped) return raw;
#if defined(HONE_HAS_ZLIB)
  std::vector<std::uint8_t> out;
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)  // 16+: expect a gzip header
    throw IOError(hone::detail::concat("zlib could not start inflating \"", path, "\""));
  zs.next_in = raw.data();
  zs.avail_in = static_cast<uInt>(raw.size());
  std::vector<std::uint8_t> chunk(1 << 20);
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = chunk.data();
    zs.avail_out = static_cast<uInt>(chunk.size());
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      const std::string reason = zs.msg ? zs.msg : (rc == Z_BUF_ERROR ? "unexpected end of data" : "error");
      const auto at = static_cast<std::uint64_t>(zs.total_in);
      inflateEnd(&zs);
      throw ParseError("hone.data.gzip",
                       hone::detail::concat("\"", path, "\" is not valid gzip data: ", reason), at);
    }
    out.insert(out.end(), chunk.data(), chunk.data() + (chunk.size() - zs.avail_out));
  }
  inflateEnd(&zs);
  return out;
#else
  throw UnsupportedError("hone.data.gzip",
                         hone::detail::concat("\"", path, "\" is gzipped, but hone was built without "
                                              "zlib (link hone::zlib)"));
#endif
}

inline std::uint64_t read_be(const std::uint8_t* p, int bytes) noexcept {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}

}  // namespace detail

/// Reads an IDX file (gzipped or not) into a tensor with the file's extents, converting
/// each element to T by static_cast. Throws IOError when the file cannot be read,
/// ParseError (id hone.data.idx, with the byte offset) when it is malformed or its size
/// disagrees with its header, UnsupportedError for gzip without zlib.
template <class T>
Tensor<T> read_idx(const std::string& path) {
  const std::vector<std::uint8_t> bytes = detail::read_maybe_gzipped(path);
  auto fail = [&](const std::string& what, std::uint64_t at) -> ParseError {
    return ParseError("hone.data.idx", hone::detail::concat("\"", path, "\": ", what), at);
  };
  if (bytes.size() < 4) throw fail("too short for an IDX header", 0);
  if (bytes[0] != 0 || bytes[1] != 0) throw fail("bad magic (the first two bytes must be zero)", 0);
  const int type = bytes[2], rank = bytes[3];
  int element_size = 0;
  switch (type) {
    case 0x08: case 0x09: element_size = 1; break;
    case 0x0B: element_size = 2; break;
    case 0x0C: case 0x0D: element_size = 4; break;
    case 0x0E: element_size = 8; break;
    default: throw fail(hone::detail::concat("unknown element type code 0x", std::hex, type), 2);
  }
  if (rank < 1 || rank > static_cast<int>(Shape::max_rank))
    throw fail(hone::detail::concat("rank ", rank, " is outside 1 to ", Shape::max_rank), 3);
  const std::size_t header = 4 + 4 * static_cast<std::size_t>(rank);
  if (bytes.size() < header) throw fail("truncated header", bytes.size());
  std::vector<std::int64_t> dims(static_cast<std::size_t>(rank));
  std::uint64_t count = 1;
  for (int i = 0; i < rank; ++i) {
    const std::uint64_t d = detail::read_be(bytes.data() + 4 + 4 * i, 4);
    dims[static_cast<std::size_t>(i)] = static_cast<std::int64_t>(d);
    count *= d;
    if (count > (std::uint64_t{1} << 40)) throw fail("implausibly large extents", 4 + 4 * static_cast<std::uint64_t>(i));
  }
  const std::uint64_t expected = header + count * static_cast<std::uint64_t>(element_size);
  if (bytes.size() != expected)
    throw fail(hone::detail::concat("the header promises ", count, " elements (", expected,
                                    " bytes in all) but the data has ", bytes.size(), " bytes"),
               std::min<std::uint64_t>(bytes.size(), expected));
  Tensor<T> out{Shape(std::span<const std::int64_t>(dims.data(), dims.size()))};
  const std::uint8_t* p = bytes.data() + header;
  T* dst = out.data();
  for (std::uint64_t i = 0; i < count; ++i, p += element_size) {
    const std::uint64_t raw = detail::read_be(p, element_size);
    switch (type) {
      case 0x08: dst[i] = static_cast<T>(static_cast<std::uint8_t>(raw)); break;
      case 0x09: dst[i] = static_cast<T>(static_cast<std::int8_t>(raw)); break;
      case 0x0B: dst[i] = static_cast<T>(static_cast<std::int16_t>(raw)); break;
      case 0x0C: dst[i] = static_cast<T>(static_cast<std::int32_t>(raw)); break;
      case 0x0D: {
        const auto bits = static_cast<std::uint32_t>(raw);
        float f;
        std::memcpy(&f, &bits, sizeof f);
        dst[i] = static_cast<T>(f);
        break;
      }
      default: {
        double d;
        std::memcpy(&d, &raw, sizeof d);
        dst[i] = static_cast<T>(d);
        break;
      }
    }
  }
  return out;
}

}  // namespace hone::data
