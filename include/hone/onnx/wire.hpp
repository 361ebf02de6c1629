// hone/onnx/wire.hpp — the protobuf wire format: a bounds-checked reader and a writer.
//
// A protobuf message is a sequence of fields; each starts with a tag, a varint holding
// (field number << 3 | wire type). The value that follows is a varint (int32/int64/
// uint64/bool/enum; sint32/sint64 zigzag-encoded), a fixed 4- or 8-byte little-endian
// word (fixed32/float, fixed64/double), a length-delimited run of bytes (strings, bytes,
// submessages, packed repeated scalars), or a group: a deprecated way of nesting that
// brackets the fields between a start-group and an end-group tag of the same number.
//
// Reader never reads outside its span, checks a length against the bytes that are left
// before using it (so no allocation is ever sized by an unchecked length), rejects varints
// longer than 10 bytes or above 2^64, limits nesting (messages and groups together) to
// max_depth, and skips unknown fields of every wire type. Every error is a
// hone::ParseError whose message names the field path ("ModelProto.graph.node[3]
// .attribute[1].t.raw_data") and whose byte_offset() is where the problem was found. A
// Reader that has thrown must not be used again.
//
// Writer appends fields to a byte vector; submessages are written in place and their
// length is inserted in front of them when they end.
#pragma once

#include <bit>          // std::bit_cast for float/double <-> fixed32/fixed64
#include <cstddef>      // std::size_t
#include <cstdint>      // fixed-width integers
#include <limits>       // std::numeric_limits
#include <span>         // the input bytes and packed arrays
#include <string>       // messages and string fields
#include <string_view>  // byte fields to write
#include <utility>      // std::move
#include <vector>       // the path and the output buffer

#include "hone/core/error.hpp"

namespace hone::onnx::wire {

/// The six wire types of protobuf (3 and 4 are the deprecated groups).
enum class WireType : std::uint8_t {
  varint = 0,
  fixed64 = 1,
  length_delimited = 2,
  start_group = 3,
  end_group = 4,
  fixed32 = 5,
};

/// A readable name, for messages.
inline const char* wire_type_name(WireType type) {
  switch (type) {
    case WireType::varint: return "varint";
    case WireType::fixed64: return "fixed64";
    case WireType::length_delimited: return "length-delimited";
    case WireType::start_group: return "start-group";
    case WireType::end_group: return "end-group";
    case WireType::fixed32: return "fixed32";
  }
  return "invalid";
}

/// The largest field number protobuf allows (2^29 - 1).
inline constexpr std::uint32_t max_field_number = (1u << 29) - 1;

/// How deep messages and groups may nest; protobuf's own default limit.
inline constexpr int max_depth = 100;

/// The longest varint: 10 bytes carry 64 bits.
inline constexpr int max_varint_bytes = 10;

/// Zigzag encoding of sint32/sint64: 0, -1, 1, -2, ... map to 0, 1, 2, 3, ...
constexpr std::uint32_t zigzag_encode32(std::int32_t v) noexcept {
  return (static_cast<std::uint32_t>(v) << 1) ^ static_cast<std::uint32_t>(-(static_cast<std::uint32_t>(v) >> 31));
}
constexpr std::uint64_t zigzag_encode64(std::int64_t v) noexcept {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(-(static_cast<std::uint64_t>(v) >> 63));
}
constexpr std::int32_t zigzag_decode32(std::uint32_t v) noexcept {
  return static_cast<std::int32_t>((v >> 1) ^ (~(v & 1u) + 1u));
}
constexpr std::int64_t zigzag_decode64(std::uint64_t v) noexcept {
  return static_cast<std::int64_t>((v >> 1) ^ (~(v & 1u) + 1u));
}

/// The number of bytes the varint encoding of v takes (1 to 10).
constexpr std::size_t varint_size(std::uint64_t v) noexcept {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

/// A field's tag: its number and how its value is encoded.
struct Tag {
  std::uint32_t field = 0;
  WireType type = WireType::varint;
};

/// Reads protobuf fields from a span of bytes; see the header comment for the guarantees.
///
/// A message is read with a loop over its fields, each dispatched on its number:
///
///   while (!r.at_end()) {
///     const Tag tag = r.read_tag();
///     switch (tag.field) {
///       case 1: m.name = r.string_field(tag, "name"); break;
///       case 2: r.message_field(tag, "graph", Reader::no_index, [&] { read(r, m.graph); }); break;
///       default: r.skip(tag);
///     }
///   }
class Reader {
 public:
  /// Marks a path segment that is not an element of a repeated field.
  static constexpr std::size_t no_index = static_cast<std::size_t>(-1);

  /// `root` names the outermost message in error paths ("ModelProto"); `source` (a file
  /// name, or empty) prefixes every error message.
  explicit Reader(std::span<const std::uint8_t> data, std::string root = "message",
                  std::string source = {})
      : data_(data), limit_(data.size()), root_(std::move(root)), source_(std::move(source)) {}

  /// True when the current message (or the whole input at the top level) has no bytes left.
  bool at_end() const noexcept { return pos_ == limit_; }
  /// The absolute offset of the next byte to read.
  std::size_t offset() const noexcept { return pos_; }
  /// Bytes left in the current message.
  std::size_t remaining() const noexcept { return limit_ - pos_; }
  /// Current nesting depth (0 at the top level).
  int depth() const noexcept { return depth_; }

  // --- primitives -----------------------------------------------------------------------

  /// A base-128 varint of at most 10 bytes whose value fits in 64 bits.
  std::uint64_t read_varint(const char* field = nullptr) {
    const std::size_t start = pos_;
    std::uint64_t value = 0;
    for (int i = 0; i < max_varint_bytes; ++i) {
      if (pos_ == limit_) {
        pos_ = start;
        fail(field, "a varint runs past the end of " + scope(), "hone.onnx.truncated");
      }
      const std::uint8_t byte = data_[pos_++];
      if (i == max_varint_bytes - 1 && byte > 1) {
        pos_ = start;
        fail(field, "a varint overflows 64 bits");
      }
      value |= static_cast<std::uint64_t>(byte & 0x7f) << (7 * i);
      if ((byte & 0x80) == 0) return value;
    }
    pos_ = start;
    fail(field, "a varint is longer than 10 bytes");
  }

  /// A little-endian 4-byte word.
  std::uint32_t read_fixed32(const char* field = nullptr) {
    const std::uint8_t* p = take(4, field);
    return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
           static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
  }

  /// A little-endian 8-byte word.
  std::uint64_t read_fixed64(const char* field = nullptr) {
    const std::uint8_t* p = take(8, field);
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
    return v;
  }

  /// A length prefix and the bytes it announces, as a view into the input.
  std::span<const std::uint8_t> read_length_delimited(const char* field = nullptr) {
    const std::size_t n = read_length(field);
    return {take(n, field), n};
  }

  /// A tag; throws for field number 0, a tag above 32 bits and wire types 6 and 7.
  Tag read_tag() {
    const std::size_t start = pos_;
    const std::uint64_t raw = read_varint("tag");
    if (raw > std::numeric_limits<std::uint32_t>::max()) {
      pos_ = start;
      fail(nullptr, concat_("tag ", raw, " is larger than 32 bits"));
    }
    const auto wire = static_cast<std::uint32_t>(raw & 7);
    const auto field = static_cast<std::uint32_t>(raw >> 3);
    if (field == 0) {
      pos_ = start;
      fail(nullptr, "field number 0 is not allowed");
    }
    if (wire > 5) {
      pos_ = start;
      fail(nullptr, concat_("field ", field, " has the invalid wire type ", wire));
    }
    return {field, static_cast<WireType>(wire)};
  }

  /// Skips the value of an unknown field, of any wire type; a group is skipped up to its
  /// matching end-group tag, groups inside it included (limited by max_depth).
  void skip(Tag tag) {
    switch (tag.type) {
      case WireType::varint: read_varint(field_label(tag.field).c_str()); return;
      case WireType::fixed64: take(8, field_label(tag.field).c_str()); return;
      case WireType::fixed32: take(4, field_label(tag.field).c_str()); return;
      case WireType::length_delimited: read_length_delimited(field_label(tag.field).c_str()); return;
      case WireType::start_group: skip_group(tag.field); return;
      case WireType::end_group:
        fail(nullptr, concat_("an end-group tag for field ", tag.field, " has no matching start-group"));
    }
  }

  // --- typed fields -----------------------------------------------------------------------
  // `name` is the field's name for error paths. Each checks the wire type first.

  std::uint64_t uint64_field(Tag tag, const char* name) {
    expect(tag, WireType::varint, name);
    return read_varint(name);
  }
  std::int64_t int64_field(Tag tag, const char* name) {
    return static_cast<std::int64_t>(uint64_field(tag, name));
  }
  /// int32 and enums: a negative value is sign-extended to 10 bytes on the wire;
  /// protobuf keeps the low 32 bits of whatever the varint holds.
  std::int32_t int32_field(Tag tag, const char* name) {
    return static_cast<std::int32_t>(static_cast<std::uint32_t>(uint64_field(tag, name)));
  }
  std::uint32_t uint32_field(Tag tag, const char* name) {
    return static_cast<std::uint32_t>(uint64_field(tag, name));
  }
  bool bool_field(Tag tag, const char* name) { return uint64_field(tag, name) != 0; }
  std::int32_t sint32_field(Tag tag, const char* name) {
    return zigzag_decode32(static_cast<std::uint32_t>(uint64_field(tag, name)));
  }
  std::int64_t sint64_field(Tag tag, const char* name) { return zigzag_decode64(uint64_field(tag, name)); }
  std::uint32_t fixed32_field(Tag tag, const char* name) {
    expect(tag, WireType::fixed32, name);
    return read_fixed32(name);
  }
  std::uint64_t fixed64_field(Tag tag, const char* name) {
    expect(tag, WireType::fixed64, name);
    return read_fixed64(name);
  }
  float float_field(Tag tag, const char* name) { return std::bit_cast<float>(fixed32_field(tag, name)); }
  double double_field(Tag tag, const char* name) { return std::bit_cast<double>(fixed64_field(tag, name)); }
  /// string and bytes fields.
  std::string string_field(Tag tag, const char* name) {
    expect(tag, WireType::length_delimited, name);
    const auto bytes = read_length_delimited(name);
    return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  /// The raw bytes of a length-delimited field (an encoded submessage kept as is).
  std::span<const std::uint8_t> bytes_field(Tag tag, const char* name) {
    expect(tag, WireType::length_delimited, name);
    return read_length_delimited(name);
  }

  // --- repeated scalars: packed (one length-delimited run) or one tag per element --------

  void repeated_int64(Tag tag, const char* name, std::vector<std::int64_t>& out) {
    repeated_varint(tag, name, out, [](std::uint64_t v) { return static_cast<std::int64_t>(v); });
  }
  void repeated_uint64(Tag tag, const char* name, std::vector<std::uint64_t>& out) {
    repeated_varint(tag, name, out, [](std::uint64_t v) { return v; });
  }
  void repeated_int32(Tag tag, const char* name, std::vector<std::int32_t>& out) {
    repeated_varint(tag, name, out,
                    [](std::uint64_t v) { return static_cast<std::int32_t>(static_cast<std::uint32_t>(v)); });
  }
  void repeated_sint64(Tag tag, const char* name, std::vector<std::int64_t>& out) {
    repeated_varint(tag, name, out, [](std::uint64_t v) { return zigzag_decode64(v); });
  }
  void repeated_float(Tag tag, const char* name, std::vector<float>& out) {
    repeated_fixed<4>(tag, name, out, [](std::uint64_t v) { return std::bit_cast<float>(static_cast<std::uint32_t>(v)); });
  }
  void repeated_double(Tag tag, const char* name, std::vector<double>& out) {
    repeated_fixed<8>(tag, name, out, [](std::uint64_t v) { return std::bit_cast<double>(v); });
  }

  // --- submessages ------------------------------------------------------------------------

  /// Reads a length-delimited submessage: `read_body()` must loop until at_end(), which is
  /// then true at the submessage's end. `index` is the element's position in a repeated
  /// field (for the error path), or no_index.
  template <class ReadBody>
  void message_field(Tag tag, const char* name, std::size_t index, ReadBody&& read_body) {
    expect(tag, WireType::length_delimited, name);
    const std::size_t n = read_length(name);
    if (depth_ >= max_depth) fail(name, concat_("messages nest deeper than ", max_depth, " levels"));
    const std::size_t saved_limit = limit_;
    limit_ = pos_ + n;
    path_.push_back({name, index});
    ++depth_;
    read_body();
    if (pos_ != limit_) fail(nullptr, "the message was not read to its end");  // a bug in read_body
    --depth_;
    path_.pop_back();
    limit_ = saved_limit;
  }

  // --- errors -----------------------------------------------------------------------------

  /// Throws ParseError at the current offset; `field` (or null) is appended to the path.
  [[noreturn]] void fail(const char* field, const std::string& what, const char* id = "hone.onnx.parse") const {
    std::string where = source_.empty() ? std::string() : source_ + ": ";
    where += path();
    if (field) where += std::string(".") + field;
    throw ParseError(id, where + ": " + what, pos_);
  }

  /// The current path, e.g. "ModelProto.graph.node[3]".
  std::string path() const {
    std::string p = root_;
    for (const auto& s : path_) {
      p += '.';
      p += s.name;
      if (s.index != no_index) {
        p += '[';
        p += std::to_string(s.index);
        p += ']';
      }
    }
    return p;
  }

 private:
  struct Segment {
    const char* name;
    std::size_t index;
  };

  template <class... Args>
  static std::string concat_(const Args&... args) {
    return hone::detail::concat(args...);
  }

  static std::string field_label(std::uint32_t field) { return "<field " + std::to_string(field) + ">"; }

  std::string scope() const { return path_.empty() ? "the input" : "its enclosing message"; }

  /// Advances over n bytes and returns where they start.
  const std::uint8_t* take(std::size_t n, const char* field) {
    if (n > remaining())
      fail(field, concat_("needs ", n, " bytes but only ", remaining(), " are left in ", scope()),
           "hone.onnx.truncated");
    const std::uint8_t* p = data_.data() + pos_;
    pos_ += n;
    return p;
  }

  /// A length prefix, checked against the bytes left before anything uses it.
  std::size_t read_length(const char* field) {
    const std::size_t start = pos_;
    const std::uint64_t n = read_varint(field);
    if (n > remaining()) {
      const std::size_t left = remaining();
      pos_ = start;
      fail(field, concat_("the length ", n, " exceeds the ", left, " bytes left in ", scope()),
           "hone.onnx.truncated");
    }
    return static_cast<std::size_t>(n);
  }

  void expect(Tag tag, WireType type, const char* name) {
    if (tag.type != type)
      fail(name, concat_("field ", tag.field, " has wire type ", wire_type_name(tag.type), ", expected ",
                         wire_type_name(type)));
  }

  void skip_group(std::uint32_t field) {
    if (depth_ >= max_depth) fail(nullptr, concat_("groups and messages nest deeper than ", max_depth, " levels"));
    ++depth_;
    for (;;) {
      if (at_end())
        fail(nullptr, concat_("the group of field ", field, " is not closed before the end of ", scope()),
             "hone.onnx.truncated");
      const std::size_t start = pos_;
      const Tag t = read_tag();
      if (t.type == WireType::end_group) {
        if (t.field != field) {
          pos_ = start;
          fail(nullptr, concat_("an end-group tag for field ", t.field, " closes the group of field ", field));
        }
        break;
      }
      skip(t);
    }
    --depth_;
  }

  template <class T, class Convert>
  void repeated_varint(Tag tag, const char* name, std::vector<T>& out, Convert convert) {
    if (tag.type == WireType::varint) {
      out.push_back(convert(read_varint(name)));
      return;
    }
    expect(tag, WireType::length_delimited, name);
    const std::size_t n = read_length(name);
    const std::size_t end = pos_ + n;
    const std::size_t saved_limit = limit_;
    limit_ = end;  // a varint may not run past the packed run
    while (pos_ < end) out.push_back(convert(read_varint(name)));
    limit_ = saved_limit;
  }

  template <std::size_t Bytes, class T, class Convert>
  void repeated_fixed(Tag tag, const char* name, std::vector<T>& out, Convert convert) {
    constexpr WireType element = Bytes == 4 ? WireType::fixed32 : WireType::fixed64;
    if (tag.type == element) {
      out.push_back(convert(Bytes == 4 ? read_fixed32(name) : read_fixed64(name)));
      return;
    }
    expect(tag, WireType::length_delimited, name);
    const std::size_t n = read_length(name);
    if (n % Bytes != 0)
      fail(name, concat_("a packed run of ", Bytes, "-byte values has ", n, " bytes, not a multiple of ", Bytes));
    out.reserve(out.size() + n / Bytes);  // n was checked against the bytes left
    for (std::size_t i = 0; i < n / Bytes; ++i)
      out.push_back(convert(Bytes == 4 ? read_fixed32(name) : read_fixed64(name)));
  }

  std::span<const std::uint8_t> data_;
  std::size_t pos_ = 0;
  std::size_t limit_ = 0;
  int depth_ = 0;
  std::string root_;
  std::string source_;
  std::vector<Segment> path_;
};

/// Appends protobuf fields to a byte vector.
class Writer {
 public:
  // --- primitives -----------------------------------------------------------------------
  void write_varint(std::uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<std::uint8_t>(v | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<std::uint8_t>(v));
  }
  void write_fixed32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void write_fixed64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void write_tag(std::uint32_t field, WireType type) {
    write_varint(static_cast<std::uint64_t>(field) << 3 | static_cast<std::uint64_t>(type));
  }
  void write_raw(std::span<const std::uint8_t> bytes) { out_.insert(out_.end(), bytes.begin(), bytes.end()); }

  // --- fields -----------------------------------------------------------------------------
  void uint64_field(std::uint32_t field, std::uint64_t v) {
    write_tag(field, WireType::varint);
    write_varint(v);
  }
  void int64_field(std::uint32_t field, std::int64_t v) { uint64_field(field, static_cast<std::uint64_t>(v)); }
  /// int32 and enums: negative values are sign-extended to 64 bits (10 bytes), as protobuf does.
  void int32_field(std::uint32_t field, std::int32_t v) { int64_field(field, v); }
  void bool_field(std::uint32_t field, bool v) { uint64_field(field, v ? 1 : 0); }
  void sint32_field(std::uint32_t field, std::int32_t v) { uint64_field(field, zigzag_encode32(v)); }
  void sint64_field(std::uint32_t field, std::int64_t v) { uint64_field(field, zigzag_encode64(v)); }
  void fixed32_field(std::uint32_t field, std::uint32_t v) {
    write_tag(field, WireType::fixed32);
    write_fixed32(v);
  }
  void fixed64_field(std::uint32_t field, std::uint64_t v) {
    write_tag(field, WireType::fixed64);
    write_fixed64(v);
  }
  void float_field(std::uint32_t field, float v) { fixed32_field(field, std::bit_cast<std::uint32_t>(v)); }
  void double_field(std::uint32_t field, double v) { fixed64_field(field, std::bit_cast<std::uint64_t>(v)); }
  /// string and bytes fields, and submessages already encoded.
  void bytes_field(std::uint32_t field, std::string_view bytes) {
    write_tag(field, WireType::length_delimited);
    write_varint(bytes.size());
    out_.insert(out_.end(), bytes.begin(), bytes.end());
  }

  // --- packed repeated scalars (nothing is written for an empty array) ---------------------
  void packed_int64(std::uint32_t field, std::span<const std::int64_t> values) {
    packed_varint(field, values, [](std::int64_t v) { return static_cast<std::uint64_t>(v); });
  }
  void packed_uint64(std::uint32_t field, std::span<const std::uint64_t> values) {
    packed_varint(field, values, [](std::uint64_t v) { return v; });
  }
  void packed_int32(std::uint32_t field, std::span<const std::int32_t> values) {
    packed_varint(field, values, [](std::int32_t v) { return static_cast<std::uint64_t>(static_cast<std::int64_t>(v)); });
  }
  void packed_sint64(std::uint32_t field, std::span<const std::int64_t> values) {
    packed_varint(field, values, [](std::int64_t v) { return zigzag_encode64(v); });
  }
  void packed_float(std::uint32_t field, std::span<const float> values) {
    if (values.empty()) return;
    write_tag(field, WireType::length_delimited);
    write_varint(values.size() * 4);
    for (float v : values) write_fixed32(std::bit_cast<std::uint32_t>(v));
  }
  void packed_double(std::uint32_t field, std::span<const double> values) {
    if (values.empty()) return;
    write_tag(field, WireType::length_delimited);
    write_varint(values.size() * 8);
    for (double v : values) write_fixed64(std::bit_cast<std::uint64_t>(v));
  }

  // --- nesting ----------------------------------------------------------------------------

  /// Writes a submessage: `write_body()` appends its fields, then the length is inserted
  /// in front of them.
  template <class WriteBody>
  void message_field(std::uint32_t field, WriteBody&& write_body) {
    write_tag(field, WireType::length_delimited);
    const std::size_t start = out_.size();
    out_.push_back(0);  // one length byte, widened below when the body is 128 bytes or more
    write_body();
    const std::size_t length = out_.size() - start - 1;
    const std::size_t width = varint_size(length);
    if (width > 1) out_.insert(out_.begin() + static_cast<std::ptrdiff_t>(start), width - 1, 0);
    std::size_t at = start;
    std::uint64_t v = length;
    for (std::size_t i = 0; i < width; ++i, v >>= 7)
      out_[at++] = static_cast<std::uint8_t>((v & 0x7f) | (i + 1 < width ? 0x80 : 0));
  }

  /// Writes a (deprecated) group: start-group tag, the body's fields, end-group tag.
  template <class WriteBody>
  void group_field(std::uint32_t field, WriteBody&& write_body) {
    write_tag(field, WireType::start_group);
    write_body();
    write_tag(field, WireType::end_group);
  }

  /// The bytes written so far.
  const std::vector<std::uint8_t>& bytes() const noexcept { return out_; }
  /// Moves the bytes out; the writer is empty afterwards.
  std::vector<std::uint8_t> take() noexcept {
    std::vector<std::uint8_t> r = std::move(out_);
    out_.clear();
    return r;
  }

 private:
  template <class T, class Encode>
  void packed_varint(std::uint32_t field, std::span<const T> values, Encode encode) {
    if (values.empty()) return;
    std::size_t length = 0;
    for (const T& v : values) length += varint_size(encode(v));
    write_tag(field, WireType::length_delimited);
    write_varint(length);
    for (const T& v : values) write_varint(encode(v));
  }

  std::vector<std::uint8_t> out_;
};

}  // namespace hone::onnx::wire
