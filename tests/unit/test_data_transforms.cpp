// Tests for hone/data/transforms.hpp. Oracles: exact known cases (area resizing by whole
// factors averages blocks; bilinear resizing of a linear ramp stays on the ramp under the
// half-pixel convention), straightforward independent implementations written here
// (2-D bilinear per output pixel, area by explicit overlap of every source pixel),
// index arithmetic for crop/flip/rotate-by-90/CHW, and the documented formulas for the
// colour adjustments and normalisation.
#include <catch2/catch.hpp>

#include <hone/data/transforms.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

using hone::data::Image;
using hone::data::Interpolation;

namespace {

Image random_image(std::int64_t h, std::int64_t w, std::int64_t c, std::uint64_t seed) {
  Image im(h, w, c);
  hone::Generator gen(seed);
  for (float& v : im.pixels) v = gen.uniform_float();
  return im;
}

double max_abs_diff(const Image& a, const Image& b) {
  REQUIRE(a.height == b.height);
  REQUIRE(a.width == b.width);
  REQUIRE(a.channels == b.channels);
  double worst = 0;
  for (std::size_t i = 0; i < a.pixels.size(); ++i) worst = std::max(worst, std::abs(double(a.pixels[i]) - double(b.pixels[i])));
  return worst;
}

// Bilinear, PyTorch align_corners=False, computed per output pixel in 2-D with clamping.
Image naive_bilinear(const Image& in, std::int64_t oh, std::int64_t ow) {
  Image out(oh, ow, in.channels);
  auto coord = [](std::int64_t o, std::int64_t n, std::int64_t m) {
    double s = (double(o) + 0.5) * double(n) / double(m) - 0.5;
    return std::clamp(s, 0.0, double(n - 1));
  };
  for (std::int64_t y = 0; y < oh; ++y)
    for (std::int64_t x = 0; x < ow; ++x) {
      const double sy = coord(y, in.height, oh), sx = coord(x, in.width, ow);
      const auto y0 = std::int64_t(std::floor(sy)), x0 = std::int64_t(std::floor(sx));
      const std::int64_t y1 = std::min(y0 + 1, in.height - 1), x1 = std::min(x0 + 1, in.width - 1);
      const double ay = sy - double(y0), ax = sx - double(x0);
      for (std::int64_t k = 0; k < in.channels; ++k)
        out.at(y, x, k) = float((1 - ay) * ((1 - ax) * in.at(y0, x0, k) + ax * in.at(y0, x1, k)) +
                                ay * ((1 - ax) * in.at(y1, x0, k) + ax * in.at(y1, x1, k)));
    }
  return out;
}

// Area: each output pixel is the mean of the source over its footprint rectangle, every
// source pixel weighted by the area of its overlap with it.
Image naive_area(const Image& in, std::int64_t oh, std::int64_t ow) {
  Image out(oh, ow, in.channels);
  const double sy = double(in.height) / double(oh), sx = double(in.width) / double(ow);
  for (std::int64_t y = 0; y < oh; ++y)
    for (std::int64_t x = 0; x < ow; ++x)
      for (std::int64_t k = 0; k < in.channels; ++k) {
        double sum = 0;
        for (std::int64_t r = 0; r < in.height; ++r)
          for (std::int64_t c = 0; c < in.width; ++c) {
            const double oy = std::max(0.0, std::min(double(r + 1), double(y + 1) * sy) - std::max(double(r), double(y) * sy));
            const double ox = std::max(0.0, std::min(double(c + 1), double(x + 1) * sx) - std::max(double(c), double(x) * sx));
            sum += oy * ox * in.at(r, c, k);
          }
        out.at(y, x, k) = float(sum / (sy * sx));
      }
  return out;
}

}  // namespace

TEST_CASE("data/transforms: area resizing by a whole factor averages blocks", "[data][transforms]") {
  Image in(4, 4, 1);
  for (int i = 0; i < 16; ++i) in.pixels[std::size_t(i)] = float(i);
  const Image out = hone::data::resize(in, 2, 2, Interpolation::area);
  CHECK(out.pixels == std::vector<float>{(0 + 1 + 4 + 5) / 4.0f, (2 + 3 + 6 + 7) / 4.0f,
                                         (8 + 9 + 12 + 13) / 4.0f, (10 + 11 + 14 + 15) / 4.0f});
}

TEST_CASE("data/transforms: bilinear keeps a linear ramp linear (half-pixel centres)", "[data][transforms]") {
  Image ramp(3, 8, 1);
  for (std::int64_t y = 0; y < 3; ++y)
    for (std::int64_t x = 0; x < 8; ++x) ramp.at(y, x, 0) = float(x);
  const Image up = hone::data::resize(ramp, 3, 16);
  for (std::int64_t x = 0; x < 16; ++x)
    CHECK(up.at(1, x, 0) == Approx(std::clamp((double(x) + 0.5) * 0.5 - 0.5, 0.0, 7.0)).margin(1e-6));
  const Image down = hone::data::resize(ramp, 3, 4);
  for (std::int64_t x = 0; x < 4; ++x) CHECK(down.at(0, x, 0) == Approx(2.0 * double(x) + 0.5).margin(1e-6));
}

TEST_CASE("data/transforms: resize matches straightforward implementations", "[data][transforms]") {
  const Image in = random_image(23, 37, 3, 7);
  for (auto [oh, ow] : {std::pair{16, 29}, std::pair{50, 41}, std::pair{23, 37}, std::pair{5, 3}}) {
    INFO(oh << "x" << ow);
    CHECK(max_abs_diff(hone::data::resize(in, oh, ow), naive_bilinear(in, oh, ow)) < 1e-5);
    CHECK(max_abs_diff(hone::data::resize(in, oh, ow, Interpolation::area), naive_area(in, oh, ow)) < 1e-5);
  }
  // resize_box equals crop then resize.
  const hone::data::CropBox box{3, 5, 12, 20};
  CHECK(max_abs_diff(hone::data::resize_box(in, box, 9, 11), naive_bilinear(hone::data::crop(in, box), 9, 11)) < 1e-5);
  CHECK(max_abs_diff(hone::data::resize_box(in, box, 5, 7, Interpolation::area),
                     naive_area(hone::data::crop(in, box), 5, 7)) < 1e-5);
}

TEST_CASE("data/transforms: shorter-side resize keeps the aspect ratio", "[data][transforms]") {
  const Image landscape(375, 500, 3), portrait(500, 375, 1);
  const Image a = hone::data::resize_shorter(landscape, 256);
  CHECK(a.height == 256);
  CHECK(a.width == 341);  // floor(256 * 500 / 375)
  const Image b = hone::data::resize_shorter(portrait, 224, Interpolation::area);
  CHECK(b.width == 224);
  CHECK(b.height == 298);
  CHECK_THROWS_AS(hone::data::resize_shorter(landscape, 0), hone::InvalidArgument);
}

TEST_CASE("data/transforms: crop, center crop, flip and CHW follow index arithmetic", "[data][transforms]") {
  const Image in = random_image(9, 12, 3, 1);
  const Image c = hone::data::center_crop(in, 4, 5);  // top (9-4)/2 = 2, left (12-5)/2 = 3
  const Image f = hone::data::hflip(in);
  for (std::int64_t y = 0; y < 4; ++y)
    for (std::int64_t x = 0; x < 5; ++x)
      for (std::int64_t k = 0; k < 3; ++k) REQUIRE(c.at(y, x, k) == in.at(y + 2, x + 3, k));
  for (std::int64_t y = 0; y < 9; ++y)
    for (std::int64_t x = 0; x < 12; ++x)
      for (std::int64_t k = 0; k < 3; ++k) REQUIRE(f.at(y, x, k) == in.at(y, 11 - x, k));
  const hone::Tensor<float> t = hone::data::to_chw(in);
  REQUIRE(t.shape() == hone::Shape{3, 9, 12});
  for (std::int64_t k = 0; k < 3; ++k)
    for (std::int64_t y = 0; y < 9; ++y)
      for (std::int64_t x = 0; x < 12; ++x) REQUIRE(t(k, y, x) == in.at(y, x, k));
  try {
    hone::data::center_crop(in, 10, 5);
    FAIL("a crop larger than the image succeeded");
  } catch (const hone::InvalidArgument& e) {
    CHECK_THAT(e.what(), Catch::Contains("9x12"));
  }
}

TEST_CASE("data/transforms: rotation by 0 is the identity and by 90 turns counter-clockwise", "[data][transforms]") {
  const Image in = random_image(10, 10, 2, 3);
  CHECK(max_abs_diff(hone::data::rotate(in, 0.0), in) < 1e-6);
  const Image r = hone::data::rotate(in, 90.0);
  // Counter-clockwise: the top row becomes the left column, read bottom to top.
  for (std::int64_t y = 0; y < 10; ++y)
    for (std::int64_t x = 0; x < 10; ++x)
      for (std::int64_t k = 0; k < 2; ++k) REQUIRE(r.at(y, x, k) == Approx(in.at(x, 9 - y, k)).margin(1e-5));
  const Image odd = random_image(7, 9, 1, 4);
  const Image half = hone::data::rotate(odd, 180.0);
  for (std::int64_t y = 0; y < 7; ++y)
    for (std::int64_t x = 0; x < 9; ++x) REQUIRE(half.at(y, x, 0) == Approx(odd.at(6 - y, 8 - x, 0)).margin(1e-5));
  // Corners of a 45-degree turn come from outside the image: the fill value.
  CHECK(hone::data::rotate(in, 45.0, 0.25f).at(0, 0, 0) == 0.25f);
}

TEST_CASE("data/transforms: colour adjustments and normalisation follow their formulas", "[data][transforms]") {
  const Image in = random_image(5, 6, 3, 9);
  Image b = in, c = in, s = in, n = in;
  hone::data::adjust_brightness(b, 1.7f);
  hone::data::adjust_contrast(c, 0.6f);
  hone::data::adjust_saturation(s, 0.0f);
  hone::data::normalize(n, {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f});
  double mean = 0;
  for (std::int64_t i = 0; i < 30; ++i)
    mean += 0.299 * in.pixels[std::size_t(3 * i)] + 0.587 * in.pixels[std::size_t(3 * i + 1)] +
            0.114 * in.pixels[std::size_t(3 * i + 2)];
  mean /= 30;
  const float m[3] = {0.485f, 0.456f, 0.406f}, sd[3] = {0.229f, 0.224f, 0.225f};
  for (std::int64_t y = 0; y < 5; ++y)
    for (std::int64_t x = 0; x < 6; ++x) {
      const float grey = 0.299f * in.at(y, x, 0) + 0.587f * in.at(y, x, 1) + 0.114f * in.at(y, x, 2);
      for (std::int64_t k = 0; k < 3; ++k) {
        const float v = in.at(y, x, k);
        REQUIRE(b.at(y, x, k) == Approx(std::min(1.0f, v * 1.7f)).margin(1e-6));
        REQUIRE(c.at(y, x, k) == Approx(std::clamp(mean + 0.6 * (v - mean), 0.0, 1.0)).margin(1e-5));
        REQUIRE(s.at(y, x, k) == Approx(grey).margin(1e-6));
        REQUIRE(n.at(y, x, k) == Approx((v - m[k]) / sd[k]).margin(1e-5));
      }
    }
  Image grey1(2, 2, 1);
  CHECK_THROWS_AS(hone::data::normalize(grey1, {0.1f, 0.2f, 0.3f}, {1.0f}), hone::InvalidArgument);
  CHECK_THROWS_AS(hone::data::normalize(grey1, {0.5f}, {0.0f}), hone::InvalidArgument);
  CHECK_NOTHROW(hone::data::normalize(grey1, {0.5f}, {0.25f}));
  CHECK(grey1.pixels[0] == -2.0f);
}

TEST_CASE("data/transforms: hue rotation moves colours around the HSV circle", "[data][transforms]") {
  // Oracle: the HSV colour model. Pure red turned by 1/3 turn is green, by -1/3 blue, by 1/2
  // cyan; (0.8, 0.4, 0.2) has h = 1/18, s = 0.75, v = 0.8 and its opposite hue
  // (h = 1/18 + 1/2) is (0.2, 0.6, 0.8); grey has no hue and stays.
  struct Case {
    float in[3], shift, out[3];
  };
  const Case cases[] = {{{1, 0, 0}, 1.0f / 3, {0, 1, 0}},       {{1, 0, 0}, -1.0f / 3, {0, 0, 1}},
                        {{1, 0, 0}, 0.5f, {0, 1, 1}},           {{0.8f, 0.4f, 0.2f}, 0.5f, {0.2f, 0.6f, 0.8f}},
                        {{0.8f, 0.4f, 0.2f}, -0.5f, {0.2f, 0.6f, 0.8f}}, {{0.3f, 0.3f, 0.3f}, 0.25f, {0.3f, 0.3f, 0.3f}},
                        {{0.5f, 0.25f, 0.0f}, 0.0f, {0.5f, 0.25f, 0.0f}}};
  for (const Case& cs : cases) {
    Image im(1, 1, 3);
    for (int k = 0; k < 3; ++k) im.pixels[std::size_t(k)] = cs.in[k];
    hone::data::adjust_hue(im, cs.shift);
    CAPTURE(cs.in[0], cs.in[1], cs.in[2], cs.shift);
    for (int k = 0; k < 3; ++k) CHECK(im.pixels[std::size_t(k)] == Approx(cs.out[k]).margin(1e-5));
  }
  // A turn there and back is the identity, and value/saturation are kept.
  const Image in = random_image(4, 5, 3, 21);
  Image there = in;
  hone::data::adjust_hue(there, 0.3f);
  Image back = there;
  hone::data::adjust_hue(back, -0.3f);
  CHECK(max_abs_diff(back, in) < 1e-5);
  for (std::int64_t i = 0; i < 20; ++i) {
    const float* a = in.pixels.data() + 3 * i;
    const float* b = there.pixels.data() + 3 * i;
    CHECK(std::max({b[0], b[1], b[2]}) == Approx(std::max({a[0], a[1], a[2]})).margin(1e-6));
    CHECK(std::min({b[0], b[1], b[2]}) == Approx(std::min({a[0], a[1], a[2]})).margin(1e-5));
  }
  Image bad = in;
  CHECK_THROWS_AS(hone::data::adjust_hue(bad, 0.6f), hone::InvalidArgument);
  hone::data::Pipeline jitter;
  CHECK_THROWS_AS(jitter.color_jitter(0.1f, 0.1f, 0.1f, 0.7f), hone::InvalidArgument);
}

TEST_CASE("data/transforms: random resized crop boxes lie inside and follow the ranges", "[data][transforms]") {
  for (std::uint64_t seed = 0; seed < 300; ++seed) {
    hone::Generator gen(seed);
    const auto box = hone::data::sample_resized_crop(375, 500, gen);
    REQUIRE(box.top >= 0);
    REQUIRE(box.left >= 0);
    REQUIRE(box.top + box.height <= 375);
    REQUIRE(box.left + box.width <= 500);
    const double fraction = double(box.height * box.width) / (375.0 * 500.0);
    const double ratio = double(box.width) / double(box.height);
    REQUIRE(fraction >= 0.07);
    REQUIRE(ratio >= 0.74);
    REQUIRE(ratio <= 1.35);
  }
  // A very tall image cannot fit the ratio range: the fallback is the central box.
  hone::Generator gen(1);
  const auto box = hone::data::sample_resized_crop(1000, 10, gen, {0.9, 1.0}, {1.0, 1.0});
  CHECK(box == hone::data::CropBox{495, 0, 10, 10});
}

TEST_CASE("data/transforms: pipelines are deterministic given the generator", "[data][transforms]") {
  const Image in = random_image(60, 80, 3, 5);
  hone::data::Pipeline train = hone::data::imagenet_train(32);
  train.color_jitter(0.4f, 0.4f, 0.4f, 0.1f).random_rotation(10.0);
  hone::Generator g1(11), g2(11), g3(12);
  const auto a = train(in, g1), b = train(in, g2), c = train(in, g3);
  REQUIRE(a.shape() == hone::Shape{3, 32, 32});
  CHECK(std::equal(a.begin(), a.end(), b.begin()));
  CHECK_FALSE(std::equal(a.begin(), a.end(), c.begin()));
  // The eval preset draws nothing: any generator gives the same tensor.
  const auto eval = hone::data::imagenet_eval(32);
  hone::Generator e1(1), e2(2);
  const auto x = eval(in, e1), y = eval(in, e2);
  REQUIRE(x.shape() == hone::Shape{3, 32, 32});
  CHECK(std::equal(x.begin(), x.end(), y.begin()));
  CHECK(eval.names() == std::vector<std::string>{"resize_shorter", "center_crop", "normalize"});
  // An error inside a step names the step.
  hone::data::Pipeline bad;
  bad.center_crop(100, 100);
  hone::Generator g(0);
  try {
    bad(in, g);
    FAIL("cropping 100x100 from 60x80 succeeded");
  } catch (const hone::InvalidArgument& e) {
    CHECK_THAT(e.what(), Catch::Contains("pipeline step 0 (center_crop)"));
  }
  CHECK_THROWS_AS(hone::data::Pipeline().resize(0, 3), hone::InvalidArgument);
}

TEST_CASE("data/transforms: 8-bit input takes the byte path with the float path's result", "[data][transforms]") {
  hone::data::ImageU8 bytes(30, 41, 3);
  hone::Generator fill(2);
  for (auto& v : bytes.pixels) v = static_cast<std::uint8_t>(fill.uniform_int(256));
  for (const auto& pipeline : {hone::data::imagenet_train(17), hone::data::imagenet_eval(17),
                               hone::data::Pipeline().center_crop(20, 20), hone::data::Pipeline().random_hflip()}) {
    hone::Generator g1(4), g2(4);
    const auto direct = pipeline(bytes, g1), via_float = pipeline(hone::data::to_float(bytes), g2);
    REQUIRE(direct.shape() == via_float.shape());
    for (std::int64_t i = 0; i < direct.numel(); ++i) REQUIRE(direct[i] == Approx(via_float[i]).margin(1e-5));
  }
}
