// The protobuf wire format (hone/onnx/wire.hpp). Expected bytes come from the examples of
// protobuf's encoding guide (protobuf.dev/programming-guides/encoding: 150 -> 08 96 01, the
// zigzag table, "testing", the packed 3/270/86942 example) and from Debian's protoc, which
// encodes a text-format message of a test schema at test time: hone must read what protoc
// writes and write the same bytes for the same values.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "hone/onnx/wire.hpp"
#include "onnx_test_util.hpp"

namespace {

using hone::onnx::wire::Reader;
using hone::onnx::wire::Tag;
using hone::onnx::wire::WireType;
using hone::onnx::wire::Writer;
using onnx_test::hex;
using Bytes = std::vector<std::uint8_t>;

/// Reads a one-field message and returns the field's value through `read`.
template <class F>
auto read_one(const Bytes& bytes, F read) {
  Reader r(bytes, "Test");
  const Tag tag = r.read_tag();
  auto value = read(r, tag);
  REQUIRE(r.at_end());
  return value;
}

/// The ParseError that parsing `bytes` with `read` throws.
template <class F>
hone::ParseError parse_error(const Bytes& bytes, F read) {
  try {
    Reader r(bytes, "Test");
    read(r);
  } catch (const hone::ParseError& e) {
    return e;
  }
  FAIL("no ParseError for " << hex(bytes));
  throw;
}

/// Skips every field of a message.
void skip_all(Reader& r) {
  while (!r.at_end()) r.skip(r.read_tag());
}

// The test schema protoc encodes: every scalar type, packed and unpacked repeated fields,
// submessages and a (deprecated) group with a group inside.
constexpr const char* kSchema = R"(syntax = "proto2";
package hone.test;
message Inner { optional int64 a = 1; optional string b = 2; }
message All {
  optional int32 i32 = 1;
  optional int64 i64 = 2;
  optional uint32 u32 = 3;
  optional uint64 u64 = 4;
  optional sint32 s32 = 5;
  optional sint64 s64 = 6;
  optional bool flag = 7;
  optional fixed32 f32 = 8;
  optional fixed64 f64 = 9;
  optional float fl = 12;
  optional double db = 13;
  optional string str = 14;
  optional bytes by = 15;
  optional Inner inner = 16;
  repeated Inner inners = 17;
  repeated int64 unpacked = 18;
  repeated int64 packed = 19 [packed = true];
  repeated float floats = 20 [packed = true];
  repeated double doubles = 21;
  repeated sint64 zigzags = 22 [packed = true];
  optional group Legacy = 23 { optional int32 x = 24; optional group Deeper = 25 { optional string y = 26; } }
  repeated int32 negatives = 27 [packed = true];
}
)";

constexpr const char* kText = R"(i32: -2
i64: -9223372036854775808
u32: 4294967295
u64: 18446744073709551615
s32: -2147483648
s64: 9223372036854775807
flag: true
f32: 4294967295
f64: 1
fl: 1.5
db: -0.1
str: "h\303\251llo"
by: "\000\377"
inner { a: 150 b: "testing" }
inners { a: 1 }
inners { a: 2 b: "" }
unpacked: 3
unpacked: 270
packed: 3
packed: 270
packed: 86942
floats: -0.25
floats: 3e38
doubles: 2.5
zigzags: -1
zigzags: 1
zigzags: -64
Legacy { x: 7 Deeper { y: "deep" } }
negatives: -1
negatives: 5
)";

/// protoc's encoding of kText.
Bytes protoc_encoding() {
  onnx_test::TempDir dir("wire");
  onnx_test::write_text(dir / "all.proto", kSchema);
  onnx_test::write_text(dir / "all.txt", kText);
  const auto r = onnx_test::run(std::string(HONE_TEST_PROTOC) + " --proto_path=" + dir.path().string() +
                                " --encode=hone.test.All all.proto < " + (dir / "all.txt") + " > " + (dir / "all.bin"));
  REQUIRE(r.status == 0);
  return onnx_test::read_bytes(dir / "all.bin");
}

}  // namespace

TEST_CASE("wire: varints match the protobuf encoding guide", "[onnx][wire]") {
  Writer w;
  w.uint64_field(1, 150);
  CHECK(hex(w.bytes()) == "08 96 01");  // the guide's first example
  CHECK(read_one(w.bytes(), [](Reader& r, Tag t) { return r.uint64_field(t, "a"); }) == 150);

  const std::vector<std::pair<std::uint64_t, std::string>> cases = {
      {0, "00"}, {1, "01"}, {127, "7f"}, {128, "80 01"}, {300, "ac 02"},
      {~std::uint64_t{0}, "ff ff ff ff ff ff ff ff ff 01"}};
  for (const auto& [value, encoded] : cases) {
    Writer v;
    v.write_varint(value);
    CHECK(hex(v.bytes()) == encoded);
    Reader r(v.bytes());
    CHECK(r.read_varint() == value);
    CHECK(hone::onnx::wire::varint_size(value) == v.bytes().size());
  }
  // "If you use int32 or int64 as the type for a negative number, the resulting varint is
  // always ten bytes long."
  Writer n;
  n.int32_field(1, -2);
  CHECK(hex(n.bytes()) == "08 fe ff ff ff ff ff ff ff ff 01");
  CHECK(read_one(n.bytes(), [](Reader& r, Tag t) { return r.int32_field(t, "a"); }) == -2);
  CHECK(read_one(n.bytes(), [](Reader& r, Tag t) { return r.int64_field(t, "a"); }) == -2);
}

TEST_CASE("wire: zigzag follows the table of the encoding guide", "[onnx][wire]") {
  using namespace hone::onnx::wire;
  CHECK(zigzag_encode32(0) == 0u);
  CHECK(zigzag_encode32(-1) == 1u);
  CHECK(zigzag_encode32(1) == 2u);
  CHECK(zigzag_encode32(-2) == 3u);
  CHECK(zigzag_encode32(0x7fffffff) == 0xfffffffeu);
  CHECK(zigzag_encode32(-0x7fffffff - 1) == 0xffffffffu);
  CHECK(zigzag_encode64(0x7fffffffffffffff) == 0xfffffffffffffffeu);
  CHECK(zigzag_encode64(-0x7fffffffffffffff - 1) == 0xffffffffffffffffu);
  for (std::int64_t v : {std::int64_t{0}, std::int64_t{-1}, std::int64_t{1}, std::int64_t{-64}, std::int64_t{1} << 62,
                         -(std::int64_t{1} << 62), INT64_MIN, INT64_MAX})
    CHECK(zigzag_decode64(zigzag_encode64(v)) == v);
  for (std::int32_t v : {0, -1, 1, 1000, -1000, INT32_MIN, INT32_MAX}) CHECK(zigzag_decode32(zigzag_encode32(v)) == v);
  Writer w;
  w.sint64_field(1, -1);
  CHECK(hex(w.bytes()) == "08 01");
  CHECK(read_one(w.bytes(), [](Reader& r, Tag t) { return r.sint64_field(t, "a"); }) == -1);
}

TEST_CASE("wire: strings, submessages and packed fields match the encoding guide", "[onnx][wire]") {
  Writer s;
  s.bytes_field(2, "testing");
  CHECK(hex(s.bytes()) == "12 07 74 65 73 74 69 6e 67");
  CHECK(read_one(s.bytes(), [](Reader& r, Tag t) { return r.string_field(t, "b"); }) == "testing");

  Writer m;  // Test3 { c: Test1 { a: 150 } }
  m.message_field(3, [&] { m.uint64_field(1, 150); });
  CHECK(hex(m.bytes()) == "1a 03 08 96 01");

  Writer p;  // repeated int32 d = 4 [packed = true]: 3, 270, 86942
  const std::vector<std::int64_t> d = {3, 270, 86942};
  p.packed_int64(4, d);
  CHECK(hex(p.bytes()) == "22 06 03 8e 02 9e a7 05");
  std::vector<std::int64_t> back;
  read_one(p.bytes(), [&](Reader& r, Tag t) {
    r.repeated_int64(t, "d", back);
    return 0;
  });
  CHECK(back == d);

  // A submessage of 128 bytes or more gets a two-byte length.
  Writer big;
  big.message_field(1, [&] { big.bytes_field(2, std::string(200, 'x')); });
  CHECK(hex(Bytes(big.bytes().begin(), big.bytes().begin() + 5)) == "0a cb 01 12 c8");
  CHECK(big.bytes().size() == 3 + 3 + 200);
}

TEST_CASE("wire: hone reads what protoc encodes, skipping unknown fields and groups", "[onnx][wire]") {
  const Bytes bytes = protoc_encoding();
  Reader r(bytes, "All");
  std::int32_t i32 = 0, s32 = 0;
  std::int64_t i64 = 0, s64 = 0;
  std::uint64_t u64 = 0, f64 = 0;
  std::uint32_t u32 = 0, f32 = 0;
  bool flag = false;
  float fl = 0;
  double db = 0;
  std::string str, by;
  std::vector<std::pair<std::int64_t, std::string>> inners;
  std::int64_t inner_a = 0;
  std::string inner_b;
  std::vector<std::int64_t> unpacked, packed, zigzags;
  std::vector<float> floats;
  std::vector<double> doubles;
  std::vector<std::int32_t> negatives;
  int groups = 0;
  while (!r.at_end()) {
    const Tag t = r.read_tag();
    switch (t.field) {
      case 1: i32 = r.int32_field(t, "i32"); break;
      case 2: i64 = r.int64_field(t, "i64"); break;
      case 3: u32 = r.uint32_field(t, "u32"); break;
      case 4: u64 = r.uint64_field(t, "u64"); break;
      case 5: s32 = r.sint32_field(t, "s32"); break;
      case 6: s64 = r.sint64_field(t, "s64"); break;
      case 7: flag = r.bool_field(t, "flag"); break;
      case 8: f32 = r.fixed32_field(t, "f32"); break;
      case 9: f64 = r.fixed64_field(t, "f64"); break;
      case 12: fl = r.float_field(t, "fl"); break;
      case 13: db = r.double_field(t, "db"); break;
      case 14: str = r.string_field(t, "str"); break;
      case 15: by = r.string_field(t, "by"); break;
      case 16:
        r.message_field(t, "inner", Reader::no_index, [&] {
          while (!r.at_end()) {
            const Tag u = r.read_tag();
            if (u.field == 1) inner_a = r.int64_field(u, "a");
            else if (u.field == 2) inner_b = r.string_field(u, "b");
            else r.skip(u);
          }
        });
        break;
      case 17:
        inners.emplace_back();
        r.message_field(t, "inners", inners.size() - 1, [&] {
          while (!r.at_end()) {
            const Tag u = r.read_tag();
            if (u.field == 1) inners.back().first = r.int64_field(u, "a");
            else if (u.field == 2) inners.back().second = r.string_field(u, "b");
            else r.skip(u);
          }
        });
        break;
      case 18: r.repeated_int64(t, "unpacked", unpacked); break;
      case 19: r.repeated_int64(t, "packed", packed); break;
      case 20: r.repeated_float(t, "floats", floats); break;
      case 21: r.repeated_double(t, "doubles", doubles); break;
      case 22: r.repeated_sint64(t, "zigzags", zigzags); break;
      case 27: r.repeated_int32(t, "negatives", negatives); break;
      default:
        CHECK(t.field == 23);  // the group, unknown to this reader
        CHECK(t.type == WireType::start_group);
        ++groups;
        r.skip(t);
    }
  }
  CHECK(i32 == -2);
  CHECK(i64 == INT64_MIN);
  CHECK(u32 == 4294967295u);
  CHECK(u64 == ~std::uint64_t{0});
  CHECK(s32 == INT32_MIN);
  CHECK(s64 == INT64_MAX);
  CHECK(flag);
  CHECK(f32 == 4294967295u);
  CHECK(f64 == 1u);
  CHECK(fl == 1.5f);
  CHECK(db == -0.1);
  CHECK(str == "h\xc3\xa9llo");
  CHECK(by == std::string("\0\xff", 2));
  CHECK(inner_a == 150);
  CHECK(inner_b == "testing");
  CHECK(inners == std::vector<std::pair<std::int64_t, std::string>>{{1, ""}, {2, ""}});
  CHECK(unpacked == std::vector<std::int64_t>{3, 270});
  CHECK(packed == std::vector<std::int64_t>{3, 270, 86942});
  CHECK(floats == std::vector<float>{-0.25f, 3e38f});
  CHECK(doubles == std::vector<double>{2.5});
  CHECK(zigzags == std::vector<std::int64_t>{-1, 1, -64});
  CHECK(negatives == std::vector<std::int32_t>{-1, 5});
  CHECK(groups == 1);

  // A reader that knows nothing skips every field of every wire type.
  Reader all(bytes, "All");
  skip_all(all);
  CHECK(all.at_end());
}

TEST_CASE("wire: hone writes the bytes protoc writes for the same values", "[onnx][wire]") {
  Writer w;
  w.int32_field(1, -2);
  w.int64_field(2, INT64_MIN);
  w.uint64_field(3, 4294967295u);
  w.uint64_field(4, ~std::uint64_t{0});
  w.sint32_field(5, INT32_MIN);
  w.sint64_field(6, INT64_MAX);
  w.bool_field(7, true);
  w.fixed32_field(8, 4294967295u);
  w.fixed64_field(9, 1);
  w.float_field(12, 1.5f);
  w.double_field(13, -0.1);
  w.bytes_field(14, "h\xc3\xa9llo");
  w.bytes_field(15, std::string("\0\xff", 2));
  w.message_field(16, [&] {
    w.int64_field(1, 150);
    w.bytes_field(2, "testing");
  });
  w.message_field(17, [&] { w.int64_field(1, 1); });
  w.message_field(17, [&] {
    w.int64_field(1, 2);
    w.bytes_field(2, "");
  });
  w.int64_field(18, 3);
  w.int64_field(18, 270);
  w.packed_int64(19, std::vector<std::int64_t>{3, 270, 86942});
  w.packed_float(20, std::vector<float>{-0.25f, 3e38f});
  w.double_field(21, 2.5);
  w.packed_sint64(22, std::vector<std::int64_t>{-1, 1, -64});
  w.group_field(23, [&] {
    w.int32_field(24, 7);
    w.group_field(25, [&] { w.bytes_field(26, "deep"); });
  });
  w.packed_int32(27, std::vector<std::int32_t>{-1, 5});
  const Bytes expected = protoc_encoding();
  CHECK(hex(w.bytes()) == hex(expected));
}

TEST_CASE("wire: malformed input throws ParseError with the path and offset", "[onnx][wire]") {
  const auto read_varint = [](Reader& r) { r.read_varint("v"); };
  SECTION("a varint above 64 bits") {
    const auto e = parse_error({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, read_varint);
    CHECK(e.id() == "hone.onnx.parse");
    CHECK_THAT(e.what(), Catch::Contains("Test.v") && Catch::Contains("overflows 64 bits") &&
                             Catch::Contains("byte offset 0"));
  }
  SECTION("a varint of 11 bytes") {
    const auto e = parse_error({0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x81, 0x00}, read_varint);
    CHECK_THAT(e.what(), Catch::Contains("overflows 64 bits"));
  }
  SECTION("a varint cut short") {
    const auto e = parse_error({0x08, 0x96}, [](Reader& r) { skip_all(r); });
    CHECK(e.id() == "hone.onnx.truncated");
    CHECK(e.byte_offset() == 1u);
  }
  SECTION("a length beyond the end") {
    const auto e = parse_error({0x12, 0x07, 't', 'e', 's'}, [](Reader& r) { skip_all(r); });
    CHECK(e.id() == "hone.onnx.truncated");
    CHECK_THAT(e.what(), Catch::Contains("the length 7 exceeds the 3 bytes left"));
  }
  SECTION("a huge length is refused before anything is allocated") {
    const auto e = parse_error({0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
                               [](Reader& r) { r.string_field(r.read_tag(), "s"); });
    CHECK_THAT(e.what(), Catch::Contains("Test.s") && Catch::Contains("exceeds"));
  }
  SECTION("a length beyond its enclosing message") {
    Bytes b = {0x0a, 0x03, 0x12, 0x05, 'a'};  // message of 3 bytes holding a string of 5
    const auto e = parse_error(b, [](Reader& r) {
      r.message_field(r.read_tag(), "outer", 2, [&] { r.string_field(r.read_tag(), "name"); });
    });
    CHECK_THAT(e.what(), Catch::Contains("Test.outer[2].name") && Catch::Contains("enclosing message"));
  }
  SECTION("wire types 6 and 7 and field number 0") {
    CHECK_THAT(parse_error({0x0e}, [](Reader& r) { skip_all(r); }).what(), Catch::Contains("invalid wire type 6"));
    CHECK_THAT(parse_error({0x0f}, [](Reader& r) { skip_all(r); }).what(), Catch::Contains("invalid wire type 7"));
    CHECK_THAT(parse_error({0x00}, [](Reader& r) { skip_all(r); }).what(), Catch::Contains("field number 0"));
    CHECK_THAT(parse_error({0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, [](Reader& r) { skip_all(r); }).what(),
               Catch::Contains("larger than 32 bits"));
  }
  SECTION("the wrong wire type for a known field") {
    const auto e = parse_error({0x0a, 0x01, 0x00}, [](Reader& r) { r.int64_field(r.read_tag(), "ir_version"); });
    CHECK_THAT(e.what(), Catch::Contains("Test.ir_version") && Catch::Contains("wire type length-delimited") &&
                             Catch::Contains("expected varint"));
    CHECK_THAT(parse_error({0x0d, 0, 0, 0, 0}, [](Reader& r) { r.string_field(r.read_tag(), "name"); }).what(),
               Catch::Contains("wire type fixed32, expected length-delimited"));
    CHECK_THAT(parse_error({0x09, 0, 0, 0, 0, 0, 0, 0, 0}, [](Reader& r) {
                 std::vector<float> f;
                 r.repeated_float(r.read_tag(), "floats", f);
               }).what(),
               Catch::Contains("wire type fixed64, expected length-delimited"));
  }
  SECTION("a packed run of floats that is not a multiple of 4 bytes") {
    CHECK_THAT(parse_error({0x0a, 0x03, 0, 0, 0}, [](Reader& r) {
                 std::vector<float> f;
                 r.repeated_float(r.read_tag(), "floats", f);
               }).what(),
               Catch::Contains("not a multiple of 4"));
  }
  SECTION("a packed varint may not run past its run") {
    const auto e = parse_error({0x0a, 0x01, 0x96, 0x01}, [](Reader& r) {
      std::vector<std::int64_t> v;
      r.repeated_int64(r.read_tag(), "dims", v);
    });
    CHECK(e.id() == "hone.onnx.truncated");
  }
  SECTION("groups: unmatched end, mismatched end, unclosed") {
    CHECK_THAT(parse_error({0x0c}, [](Reader& r) { skip_all(r); }).what(), Catch::Contains("no matching start-group"));
    CHECK_THAT(parse_error({0x0b, 0x14}, [](Reader& r) { skip_all(r); }).what(),
               Catch::Contains("end-group tag for field 2 closes the group of field 1"));
    CHECK(parse_error({0x0b, 0x08, 0x01}, [](Reader& r) { skip_all(r); }).id() == "hone.onnx.truncated");
  }
}

TEST_CASE("wire: nesting deeper than max_depth is refused", "[onnx][wire]") {
  using hone::onnx::wire::max_depth;
  for (const int depth : {max_depth, max_depth + 1}) {
    Bytes groups;  // depth nested groups of field 1
    for (int i = 0; i < depth; ++i) groups.push_back(0x0b);
    for (int i = 0; i < depth; ++i) groups.push_back(0x0c);
    Reader r(groups);
    if (depth <= max_depth) {
      CHECK_NOTHROW(skip_all(r));
    } else {
      CHECK_THROWS_WITH(skip_all(r), Catch::Contains("nest deeper than 100"));
    }

    Writer w;  // depth nested messages of field 1
    std::function<void(int)> nest = [&](int level) {
      if (level < depth) w.message_field(1, [&] { nest(level + 1); });
    };
    nest(0);
    std::function<void(Reader&)> descend = [&](Reader& m) {
      while (!m.at_end()) m.message_field(m.read_tag(), "m", Reader::no_index, [&] { descend(m); });
    };
    Reader mr(w.bytes());
    if (depth <= max_depth) {
      CHECK_NOTHROW(descend(mr));
    } else {
      CHECK_THROWS_WITH(descend(mr), Catch::Contains("nest deeper than 100"));
    }
  }
}

TEST_CASE("wire: reads stay inside the span at every truncation", "[onnx][wire]") {
  // Every prefix of protoc's encoding: skipping fails with ParseError or succeeds, and
  // succeeds exactly when the prefix ends between two top-level fields.
  const Bytes bytes = protoc_encoding();
  std::vector<std::size_t> boundaries = {0};
  {
    Reader r(bytes);
    while (!r.at_end()) {
      r.skip(r.read_tag());
      boundaries.push_back(r.offset());
    }
  }
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    const Bytes prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
    Reader r(prefix);
    const bool boundary = std::find(boundaries.begin(), boundaries.end(), n) != boundaries.end();
    if (boundary) {
      CHECK_NOTHROW(skip_all(r));
    } else {
      CHECK_THROWS_AS(skip_all(r), hone::ParseError);
    }
  }
}
