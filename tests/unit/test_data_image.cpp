// Tests for hone/data/image.hpp and hone/data/exif.hpp. Oracles: the pixels the test
// itself wrote (lossless formats exactly, JPEG within its quantisation error), PIL's own
// decode of the files PIL wrote (progressive JPEG, palette and 16-bit PNG, GIF), stb's
// documented channel conversions, and for EXIF the row-0/column-0 placement that the EXIF
// specification defines for each orientation, applied by an independent loop.
#include <catch2/catch.hpp>

#include <hone/data/image.hpp>

#include "data_test_util.hpp"

#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

using hone::data::ImageU8;
using hone_test::TempDir;

namespace {

double max_abs_diff(const ImageU8& a, const ImageU8& b) {
  REQUIRE(a.height == b.height);
  REQUIRE(a.width == b.width);
  REQUIRE(a.channels == b.channels);
  double worst = 0;
  for (std::size_t i = 0; i < a.pixels.size(); ++i)
    worst = std::max(worst, std::abs(double(a.pixels[i]) - double(b.pixels[i])));
  return worst;
}

template <class Fn>
std::string error_id(Fn&& fn) {
  try {
    fn();
  } catch (const hone::Error& e) {
    return e.id();
  }
  return "no error";
}

}  // namespace

TEST_CASE("data/image: lossless formats written by stb_image_write decode exactly", "[data][image]") {
  TempDir dir("image_lossless");
  const ImageU8 rgb = hone_test::pattern(37, 23, 3);
  const auto w = static_cast<int>(rgb.width), h = static_cast<int>(rgb.height);
  hone_test::write_png(dir / "a.png", rgb);
  stbi_write_bmp((dir / "a.bmp").c_str(), w, h, 3, rgb.pixels.data());
  stbi_write_tga_with_rle = 0;
  stbi_write_tga((dir / "plain.tga").c_str(), w, h, 3, rgb.pixels.data());
  stbi_write_tga_with_rle = 1;
  stbi_write_tga((dir / "rle.tga").c_str(), w, h, 3, rgb.pixels.data());
  for (const char* name : {"a.png", "a.bmp", "plain.tga", "rle.tga"}) {
    INFO(name);
    CHECK(hone::data::load_image(dir / name) == rgb);
  }
  // RGBA PNG: all four channels kept with channels = 4 (or 0: the file's count).
  const ImageU8 rgba = hone_test::pattern(16, 9, 4);
  hone_test::write_png(dir / "rgba.png", rgba);
  CHECK(hone::data::load_image(dir / "rgba.png", {.channels = 4}) == rgba);
  CHECK(hone::data::load_image(dir / "rgba.png", {.channels = 0}) == rgba);
}

TEST_CASE("data/image: baseline JPEG decodes within the quantisation error", "[data][image]") {
  TempDir dir("image_jpeg");
  const ImageU8 rgb = hone_test::pattern(64, 48, 3);
  hone_test::write_jpg(dir / "a.jpg", rgb, 100);
  const ImageU8 decoded = hone::data::load_image(dir / "a.jpg");
  CHECK(decoded.width == 64);
  CHECK(decoded.height == 48);
  CHECK(max_abs_diff(decoded, rgb) <= 40);  // sharp checkerboard edges in channel 2
  double sum = 0;
  for (std::size_t i = 0; i < rgb.pixels.size(); ++i)
    sum += std::abs(double(decoded.pixels[i]) - double(rgb.pixels[i]));
  CHECK(sum / double(rgb.pixels.size()) < 3.0);
}

TEST_CASE("data/image: channels are converted to what the model expects", "[data][image]") {
  TempDir dir("image_channels");
  const ImageU8 grey = hone_test::pattern(11, 7, 1);
  hone_test::write_png(dir / "grey.png", grey);
  const ImageU8 as_rgb = hone::data::load_image(dir / "grey.png", {.channels = 3});
  REQUIRE(as_rgb.channels == 3);
  for (std::int64_t y = 0; y < 7; ++y)
    for (std::int64_t x = 0; x < 11; ++x)
      for (std::int64_t k = 0; k < 3; ++k) REQUIRE(as_rgb.at(y, x, k) == grey.at(y, x, 0));

  const ImageU8 rgba = hone_test::pattern(11, 7, 4);
  hone_test::write_png(dir / "rgba.png", rgba);
  const ImageU8 no_alpha = hone::data::load_image(dir / "rgba.png", {.channels = 3});
  const ImageU8 luma = hone::data::load_image(dir / "rgba.png", {.channels = 1});
  for (std::int64_t y = 0; y < 7; ++y)
    for (std::int64_t x = 0; x < 11; ++x) {
      for (std::int64_t k = 0; k < 3; ++k) REQUIRE(no_alpha.at(y, x, k) == rgba.at(y, x, k));
      // stb_image's documented integer luma.
      const int expected = (rgba.at(y, x, 0) * 77 + rgba.at(y, x, 1) * 150 + rgba.at(y, x, 2) * 29) >> 8;
      REQUIRE(int(luma.at(y, x, 0)) == expected);
    }
  CHECK(error_id([&] { hone::data::load_image(dir / "grey.png", {.channels = 5}); }) == "hone.invalid_argument");
}

TEST_CASE("data/image: formats are recognised by content, not by name", "[data][image]") {
  TempDir dir("image_sniff");
  const ImageU8 rgb = hone_test::pattern(8, 6, 3);
  hone_test::write_png(dir / "really_a_png.jpg", rgb);
  CHECK(hone::data::load_image(dir / "really_a_png.jpg") == rgb);
  hone_test::write_jpg(dir / "no_suffix", rgb);
  CHECK(hone::data::load_image(dir / "no_suffix").width == 8);

  const auto head = hone::data::read_file_bytes(dir / "really_a_png.jpg");
  CHECK(hone::data::detect_format(head) == hone::data::ImageFormat::png);
  hone_test::write_bytes(dir / "notes.png", {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'});
  try {
    hone::data::load_image(dir / "notes.png");
    FAIL("a text file decoded");
  } catch (const hone::UnsupportedError& e) {
    CHECK(e.id() == "hone.data.format");
    CHECK_THAT(e.what(), Catch::Contains("notes.png") && Catch::Contains("not an image"));
  }
  // TGA has no signature: accepted only with its suffix.
  stbi_write_tga_with_rle = 0;
  stbi_write_tga((dir / "x.tga").c_str(), 8, 6, 3, rgb.pixels.data());
  const auto tga = hone::data::read_file_bytes(dir / "x.tga");
  CHECK(hone::data::detect_format(tga, "x.tga") == hone::data::ImageFormat::tga);
  CHECK(hone::data::detect_format(tga, "x.dat") == hone::data::ImageFormat::unknown);
  CHECK(error_id([&] { hone::data::load_image(dir / "missing.png"); }) == "hone.io");
}

TEST_CASE("data/image: corrupt and truncated files raise IOError naming the file and reason", "[data][image]") {
  TempDir dir("image_corrupt");
  const ImageU8 rgb = hone_test::pattern(40, 30, 3);
  const auto w = static_cast<int>(rgb.width), h = static_cast<int>(rgb.height);
  hone_test::write_png(dir / "a.png", rgb);
  hone_test::write_jpg(dir / "a.jpg", rgb);
  stbi_write_bmp((dir / "a.bmp").c_str(), w, h, 3, rgb.pixels.data());
  stbi_write_tga_with_rle = 1;
  stbi_write_tga((dir / "a.tga").c_str(), w, h, 3, rgb.pixels.data());
  stbi_write_tga_with_rle = 0;
  stbi_write_tga((dir / "b.tga").c_str(), w, h, 3, rgb.pixels.data());
  for (const char* name : {"a.png", "a.jpg", "a.bmp", "a.tga", "b.tga"}) {
    const auto full = hone::data::read_file_bytes(dir / name);
    CHECK_NOTHROW(hone::data::decode_image(full, name));
    for (double fraction : {0.97, 0.6, 0.2}) {
      const auto cut = static_cast<std::size_t>(fraction * static_cast<double>(full.size()));
      const std::vector<std::uint8_t> truncated(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(cut));
      const std::string path = dir / (std::string("cut_") + name);
      hone_test::write_bytes(path, truncated);
      INFO(name << " cut to " << cut << " of " << full.size() << " bytes");
      try {
        hone::data::load_image(path);
        FAIL("a truncated file decoded");
      } catch (const hone::IOError& e) {
        CHECK(e.id() == "hone.data.decode");
        CHECK_THAT(e.what(), Catch::Contains(path));
      }
    }
  }
  // Garbage after a valid signature: stb_image's reason is part of the message.
  std::vector<std::uint8_t> bad = hone::data::read_file_bytes(dir / "a.png");
  for (std::size_t i = 40; i < bad.size(); ++i) bad[i] = static_cast<std::uint8_t>(i * 31);
  hone_test::write_bytes(dir / "bad.png", bad);
  try {
    hone::data::load_image(dir / "bad.png");
    FAIL("a corrupt PNG decoded");
  } catch (const hone::IOError& e) {
    CHECK(e.id() == "hone.data.decode");
    CHECK_THAT(e.what(), Catch::Contains("bad.png") && Catch::Contains("(png): "));
  }
}

namespace {

// Builds an Exif APP1 segment byte by byte: "Exif\0\0", a TIFF header in the given byte
// order, IFD0 with two entries (an unrelated tag, then Orientation), next-IFD offset 0.
std::vector<std::uint8_t> exif_segment(int orientation, bool little_endian) {
  std::vector<std::uint8_t> tiff;
  auto put = [&](std::uint32_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) {
      const int shift = little_endian ? 8 * i : 8 * (bytes - 1 - i);
      tiff.push_back(static_cast<std::uint8_t>(v >> shift));
    }
  };
  tiff.push_back(little_endian ? 'I' : 'M');
  tiff.push_back(little_endian ? 'I' : 'M');
  put(42, 2);
  put(8, 4);  // IFD0 right after the header
  put(2, 2);  // two entries
  put(0x010F, 2), put(2, 2), put(4, 4), put(0x41424300, 4);  // Make = "ABC" (inline ASCII)
  put(0x0112, 2), put(3, 2), put(1, 4), put(static_cast<std::uint32_t>(orientation), 2), put(0, 2);
  put(0, 4);
  // Appended byte by byte: GCC 12 misreports vector::insert here (-Warray-bounds).
  std::vector<std::uint8_t> seg = {0xFF, 0xE1, 0, 0, 'E', 'x', 'i', 'f', 0, 0};
  for (std::uint8_t byte : tiff) seg.push_back(byte);
  const std::size_t length = seg.size() - 2;
  seg[2] = static_cast<std::uint8_t>(length >> 8);
  seg[3] = static_cast<std::uint8_t>(length);
  return seg;
}

std::vector<std::uint8_t> with_segment(const std::vector<std::uint8_t>& jpeg, const std::vector<std::uint8_t>& seg) {
  std::vector<std::uint8_t> out = {jpeg[0], jpeg[1]};  // SOI
  for (std::uint8_t byte : seg) out.push_back(byte);
  for (std::size_t i = 2; i < jpeg.size(); ++i) out.push_back(jpeg[i]);
  return out;
}

// The upright image for an orientation, from the specification's table of where the
// stored row 0 and column 0 are displayed; every stored pixel is placed, not fetched.
ImageU8 upright_by_spec(const ImageU8& stored, int orientation) {
  enum Side { top, bottom, left, right };
  struct Placement { Side row0, col0; };
  const Placement table[9] = {{top, left},     {top, left},   {top, right},  {bottom, right}, {bottom, left},
                              {left, top},     {right, top},  {right, bottom}, {left, bottom}};
  const Placement p = table[orientation];
  const bool rows_vertical = p.row0 == top || p.row0 == bottom;  // stored rows stay rows
  const std::int64_t H = stored.height, W = stored.width;
  ImageU8 out(rows_vertical ? H : W, rows_vertical ? W : H, stored.channels);
  for (std::int64_t r = 0; r < H; ++r)
    for (std::int64_t c = 0; c < W; ++c) {
      std::int64_t y = 0, x = 0;
      if (rows_vertical) {
        y = p.row0 == top ? r : H - 1 - r;
        x = p.col0 == left ? c : W - 1 - c;
      } else {
        x = p.row0 == left ? r : H - 1 - r;
        y = p.col0 == top ? c : W - 1 - c;
      }
      for (std::int64_t k = 0; k < stored.channels; ++k) out.at(y, x, k) = stored.at(r, c, k);
    }
  return out;
}

}  // namespace

TEST_CASE("data/image: EXIF orientation of a JPEG is honoured for all eight values", "[data][image][exif]") {
  TempDir dir("image_exif");
  hone_test::write_jpg(dir / "plain.jpg", hone_test::pattern(24, 16, 3), 90);
  const auto plain = hone::data::read_file_bytes(dir / "plain.jpg");
  const ImageU8 stored = hone::data::decode_image(plain, "plain.jpg");
  for (bool little : {true, false})
    for (int orientation = 1; orientation <= 8; ++orientation) {
      INFO("orientation " << orientation << (little ? " II" : " MM"));
      const auto bytes = with_segment(plain, exif_segment(orientation, little));
      CHECK(hone::data::jpeg_exif_orientation(bytes) == orientation);
      const ImageU8 shown = hone::data::decode_image(bytes, "rotated.jpg");
      CHECK(shown == upright_by_spec(stored, orientation));
      CHECK(hone::data::decode_image(bytes, "rotated.jpg", {.apply_exif = false}) == stored);
    }
  // Orientation 6 (a phone held upright): 24x16 stored becomes 16 wide, 24 high.
  const ImageU8 six = hone::data::decode_image(with_segment(plain, exif_segment(6, true)), "six.jpg");
  CHECK(six.width == 16);
  CHECK(six.height == 24);
}

TEST_CASE("data/image: malformed EXIF blocks mean orientation 1 and never read out of bounds", "[data][image][exif]") {
  TempDir dir("image_exif_bad");
  hone_test::write_jpg(dir / "plain.jpg", hone_test::pattern(8, 8, 3));
  const auto plain = hone::data::read_file_bytes(dir / "plain.jpg");
  CHECK(hone::data::jpeg_exif_orientation(plain) == 1);
  const auto good = with_segment(plain, exif_segment(3, true));
  // Every truncation of the file, and every single-byte corruption of the segment.
  for (std::size_t n = 0; n < 60; ++n) {
    const int o = hone::data::jpeg_exif_orientation(std::span<const std::uint8_t>(good.data(), n));
    REQUIRE(o >= 1);
    REQUIRE(o <= 8);
  }
  for (std::size_t at = 2; at < 2 + 40; ++at)
    for (std::uint8_t v : {std::uint8_t{0}, std::uint8_t{0xFF}, std::uint8_t{0x7F}}) {
      auto corrupt = good;
      corrupt[at] = v;
      const int o = hone::data::jpeg_exif_orientation(corrupt);
      REQUIRE(o >= 1);
      REQUIRE(o <= 8);
    }
  // Orientation 9 (out of range) and a wrong type are ignored.
  CHECK(hone::data::jpeg_exif_orientation(with_segment(plain, exif_segment(9, false))) == 1);
  auto wrong_type = exif_segment(6, true);
  wrong_type[10 + 8 + 2 + 12 + 2] = 4;  // Orientation entry's type SHORT -> LONG
  CHECK(hone::data::jpeg_exif_orientation(with_segment(plain, wrong_type)) == 1);
  CHECK(hone::data::decode_image(with_segment(plain, wrong_type), "x.jpg").width == 8);
}

TEST_CASE("data/image: files written by PIL decode like PIL decodes them", "[data][image][pil]") {
  TempDir dir("image_pil");
  const std::string d = dir.path().string();
  const int rc = hone_test::run_python(dir, R"(
from PIL import Image
d = ")" + d + R"("
w, h = 45, 31
rgb = Image.new("RGB", (w, h))
rgb.putdata([((x * 255) // (w - 1), (y * 255) // (h - 1), ((x // 5 + y // 3) % 2) * 180 + 30)
             for y in range(h) for x in range(w)])
rgb.save(d + "/prog.jpg", quality=92, progressive=True)
Image.open(d + "/prog.jpg").convert("RGB").save(d + "/prog.ppm")
pal = rgb.quantize(colors=16)
pal.save(d + "/pal.png")
pal.convert("RGB").save(d + "/pal.ppm")
pal.save(d + "/anim.gif", save_all=True, append_images=[pal.transpose(Image.FLIP_LEFT_RIGHT)])
Image.open(d + "/anim.gif").convert("RGB").save(d + "/gif.ppm")
g16 = Image.new("I;16", (w, h))
g16.putdata([(x * 1451 + y * 977) % 65536 for y in range(h) for x in range(w)])
g16.save(d + "/grey16.png")
rgb.save(d + "/pil.tga")
rgb.save(d + "/pil.bmp")
)");
  REQUIRE(rc == 0);  // needs Debian's python3-pil (scripts/install-deps)
  auto ppm = [&](const std::string& name) {
    // PIL writes binary PPM: "P6\n45 31\n255\n" then the pixels.
    const auto bytes = hone::data::read_file_bytes(dir / name);
    const std::string header = "P6\n45 31\n255\n";
    REQUIRE(bytes.size() == header.size() + 45 * 31 * 3);
    ImageU8 im(31, 45, 3);
    im.pixels.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header.size()), bytes.end());
    return im;
  };
  SECTION("progressive JPEG") {
    const auto bytes = hone::data::read_file_bytes(dir / "prog.jpg");
    bool progressive = false;  // a SOF2 marker proves PIL really wrote a progressive file
    for (std::size_t i = 0; i + 1 < bytes.size(); ++i) progressive |= bytes[i] == 0xFF && bytes[i + 1] == 0xC2;
    REQUIRE(progressive);
    const ImageU8 ours = hone::data::decode_image(bytes, "prog.jpg");
    // Two IDCT and upsampling implementations: small differences, none large.
    CHECK(max_abs_diff(ours, ppm("prog.ppm")) <= 16);
    double sum = 0;
    const ImageU8 theirs = ppm("prog.ppm");
    for (std::size_t i = 0; i < ours.pixels.size(); ++i)
      sum += std::abs(double(ours.pixels[i]) - double(theirs.pixels[i]));
    CHECK(sum / double(ours.pixels.size()) < 1.5);
  }
  SECTION("palette PNG, GIF first frame, TGA and BMP from PIL: exact") {
    CHECK(hone::data::load_image(dir / "pal.png") == ppm("pal.ppm"));
    CHECK(hone::data::load_image(dir / "anim.gif") == ppm("gif.ppm"));
    CHECK(hone::data::load_image(dir / "pil.tga") == hone::data::load_image(dir / "pil.bmp"));
  }
  SECTION("truncated GIF") {
    const auto full = hone::data::read_file_bytes(dir / "anim.gif");
    const std::vector<std::uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(full.size() / 3));
    CHECK(error_id([&] { hone::data::decode_image(cut, "cut.gif"); }) == "hone.data.decode");
  }
  SECTION("16-bit grey PNG: samples reduced to their high byte") {
    const ImageU8 grey = hone::data::load_image(dir / "grey16.png", {.channels = 1});
    REQUIRE(grey.width == 45);
    for (std::int64_t y = 0; y < 31; ++y)
      for (std::int64_t x = 0; x < 45; ++x)
        REQUIRE(int(grey.at(y, x, 0)) == ((x * 1451 + y * 977) % 65536) >> 8);
  }
}
