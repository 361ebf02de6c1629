// Tests for hone/kernels/conv_winograd.hpp (Winograd F(4x4, 3x3)): the forward (with bias
// and each epilogue) and both gradients through conv_forward / conv_backward, against
// the reference loops of kernels/reference/conv.hpp (double accumulation), for every ISA
// path this machine has and 1 and 2 threads, over planes that are not a multiple of the
// tile, rows of more than 16 tiles, every begin padding 0..2, several blocks per call.
//
// The error bound is that of a bilinear algorithm: rounding errors are at most a small
// multiple of (terms + the transforms' depth) * eps times the same computation done on absolute
// values, |A^T| (sum over channels of (|G| |g| |G^T|) .* (|B^T| |d| |B|)) |A|, computed
// here in double from the published matrices (Lavin and Gray 2016), independently of the
// kernel's code.
#include <catch2/catch.hpp>

#include <hone/core/cpu.hpp>
#include <hone/core/parallel.hpp>
#include <hone/core/rng.hpp>
#include <hone/kernels/conv.hpp>
#include <hone/kernels/reference/conv.hpp>

#include "../common/conv_test_support.hpp"

#include <array>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

using hone::cpu::Isa;
using hone::kernels::reference::ConvGeometry;
using hone_test::absolute;
using hone_test::check;
using hone_test::isas;
using hone_test::random;
using hone_test::widen;

namespace {

ConvGeometry make(std::int64_t n, std::int64_t c, std::int64_t oc, std::int64_t h, std::int64_t w,
                  std::array<std::int64_t, 4> pads /* top, left, bottom, right */) {
  ConvGeometry g;
  g.n = n;
  g.c = c;
  g.oc = oc;
  g.in = {1, h, w};
  g.k = {1, 3, 3};
  g.pad_begin = {0, pads[0], pads[1]};
  g.out = {1, h + pads[0] + pads[2] - 2, w + pads[1] + pads[3] - 2};
  return g;
}

// The published F(4x4, 3x3) matrices, in absolute value.
// Rounding steps the transforms add to a sum's: two 1-D transforms on each side of the
// products (the error check allows 4 (terms + 2) eps |magnitude|).
constexpr std::int64_t kTransformTerms = 22;

constexpr double kBt[6][6] = {{4, 0, 5, 0, 1, 0}, {0, 4, 4, 1, 1, 0}, {0, 4, 4, 1, 1, 0},
                              {0, 2, 1, 2, 1, 0}, {0, 2, 1, 2, 1, 0}, {0, 4, 0, 5, 0, 1}};
constexpr double kG[6][3] = {{1. / 4, 0, 0},           {1. / 6, 1. / 6, 1. / 6},  {1. / 6, 1. / 6, 1. / 6},
                             {1. / 24, 1. / 12, 1. / 6}, {1. / 24, 1. / 12, 1. / 6}, {0, 0, 1}};
constexpr double kAt[4][6] = {{1, 1, 1, 1, 1, 0}, {0, 1, 1, 2, 2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, 1, 8, 8, 1}};

// The bilinear algorithm on absolute values: out (n, oc, oh, ow) for input in (n, c, h, w)
// (absolute values), begin padding (pt, pl), filter(o, ci, kh, kw) (absolute values).
std::vector<double> winograd_magnitude(std::int64_t n, std::int64_t c, std::int64_t oc, std::int64_t h,
                                       std::int64_t w, std::int64_t oh, std::int64_t ow, std::int64_t pt,
                                       std::int64_t pl, const std::vector<double>& in,
                                       const std::function<double(std::int64_t, std::int64_t, int, int)>& filter) {
  // U (oc, c, 6, 6) = |G| |g| |G^T|.
  std::vector<double> u(static_cast<std::size_t>(oc * c * 36));
  for (std::int64_t o = 0; o < oc; ++o)
    for (std::int64_t ci = 0; ci < c; ++ci)
      for (int i = 0; i < 6; ++i)
        for (int j = 0; j < 6; ++j) {
          double s = 0;
          for (int a = 0; a < 3; ++a)
            for (int b = 0; b < 3; ++b) s += kG[i][a] * filter(o, ci, a, b) * kG[j][b];
          u[static_cast<std::size_t>(((o * c + ci) * 6 + i) * 6 + j)] = s;
        }
  std::vector<double> out(static_cast<std::size_t>(n * oc * oh * ow));
  const std::int64_t th_count = (oh + 3) / 4, tw_count = (ow + 3) / 4;
  std::vector<double> v(static_cast<std::size_t>(c * 36));
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t th = 0; th < th_count; ++th)
      for (std::int64_t tw = 0; tw < tw_count; ++tw) {
        for (std::int64_t ci = 0; ci < c; ++ci) {  // V = |B^T| |d| |B|
          double d[6][6];
          for (int r = 0; r < 6; ++r)
            for (int q = 0; q < 6; ++q) {
              const std::int64_t y = 4 * th + r - pt, x = 4 * tw + q - pl;
              d[r][q] = y >= 0 && y < h && x >= 0 && x < w ? in[static_cast<std::size_t>(((b * c + ci) * h + y) * w + x)] : 0;
            }
          for (int i = 0; i < 6; ++i)
            for (int j = 0; j < 6; ++j) {
              double s = 0;
              for (int r = 0; r < 6; ++r)
                for (int q = 0; q < 6; ++q) s += kBt[i][r] * d[r][q] * kBt[j][q];
              v[static_cast<std::size_t>(ci * 36 + i * 6 + j)] = s;
            }
        }
        for (std::int64_t o = 0; o < oc; ++o) {
          double m[6][6] = {};
          for (std::int64_t ci = 0; ci < c; ++ci)
            for (int e = 0; e < 36; ++e)
              m[e / 6][e % 6] += u[static_cast<std::size_t>((o * c + ci) * 36 + e)] * v[static_cast<std::size_t>(ci * 36 + e)];
          for (int p = 0; p < 4; ++p)
            for (int q = 0; q < 4; ++q) {
              const std::int64_t y = 4 * th + p, x = 4 * tw + q;
              if (y >= oh || x >= ow) continue;
              double s = 0;
              for (int i = 0; i < 6; ++i)
                for (int j = 0; j < 6; ++j) s += kAt[p][i] * m[i][j] * kAt[q][j];
              out[static_cast<std::size_t>(((b * oc + o) * oh + y) * ow + x)] = s;
            }
        }
      }
  return out;
}

// The weight gradient's bilinear algorithm on absolute values: dw (oc, c, 3, 3) = sum over
// images and tiles of |G^T| ((|A| |dy| |A^T|) .* (|B^T| |x| |B|)) |G|.
std::vector<double> weight_gradient_magnitude(const ConvGeometry& g, const std::vector<double>& x,
                                              const std::vector<double>& dy) {
  const std::int64_t h = g.in[1], w = g.in[2], oh = g.out[1], ow = g.out[2], pt = g.pad_begin[1], pl = g.pad_begin[2];
  const std::int64_t th_count = (oh + 3) / 4, tw_count = (ow + 3) / 4;
  std::vector<double> du(static_cast<std::size_t>(g.oc * g.c * 36), 0.0);
  std::vector<double> v(static_cast<std::size_t>(g.c * 36)), m(static_cast<std::size_t>(g.oc * 36));
  for (std::int64_t b = 0; b < g.n; ++b)
    for (std::int64_t th = 0; th < th_count; ++th)
      for (std::int64_t tw = 0; tw < tw_count; ++tw) {
        for (std::int64_t ci = 0; ci < g.c; ++ci)
          for (int i = 0; i < 6; ++i)
            for (int j = 0; j < 6; ++j) {
              double s = 0;
              for (int r = 0; r < 6; ++r)
                for (int q = 0; q < 6; ++q) {
                  const std::int64_t y = 4 * th + r - pt, xx = 4 * tw + q - pl;
                  if (y >= 0 && y < h && xx >= 0 && xx < w)
                    s += kBt[i][r] * x[static_cast<std::size_t>(((b * g.c + ci) * h + y) * w + xx)] * kBt[j][q];
                }
              v[static_cast<std::size_t>(ci * 36 + i * 6 + j)] = s;
            }
        for (std::int64_t o = 0; o < g.oc; ++o)
          for (int i = 0; i < 6; ++i)
            for (int j = 0; j < 6; ++j) {
              double s = 0;
              for (int p = 0; p < 4; ++p)
                for (int q = 0; q < 4; ++q) {
                  const std::int64_t y = 4 * th + p, xx = 4 * tw + q;
                  if (y < oh && xx < ow) s += kAt[p][i] * dy[static_cast<std::size_t>(((b * g.oc + o) * oh + y) * ow + xx)] * kAt[q][j];
                }
              m[static_cast<std::size_t>(o * 36 + i * 6 + j)] = s;
            }
        for (std::int64_t o = 0; o < g.oc; ++o)
          for (std::int64_t ci = 0; ci < g.c; ++ci)
            for (int e = 0; e < 36; ++e)
              du[static_cast<std::size_t>((o * g.c + ci) * 36 + e)] +=
                  m[static_cast<std::size_t>(o * 36 + e)] * v[static_cast<std::size_t>(ci * 36 + e)];
      }
  std::vector<double> out(static_cast<std::size_t>(g.oc * g.c * 9));
  for (std::int64_t f = 0; f < g.oc * g.c; ++f)
    for (int kh = 0; kh < 3; ++kh)
      for (int kw = 0; kw < 3; ++kw) {
        double s = 0;
        for (int i = 0; i < 6; ++i)
          for (int j = 0; j < 6; ++j) s += kG[i][kh] * du[static_cast<std::size_t>(f * 36 + i * 6 + j)] * kG[j][kw];
        out[static_cast<std::size_t>(f * 9 + kh * 3 + kw)] = s;
      }
  return out;
}



}  // namespace

TEST_CASE("conv winograd: which convolutions take the Winograd path", "[conv][winograd]") {
  using hone::kernels::detail_conv::winograd_applies;
  CHECK(winograd_applies(make(2, 16, 16, 8, 8, {1, 1, 1, 1})));
  CHECK(winograd_applies(make(1, 64, 32, 5, 9, {0, 2, 2, 0})));
  CHECK_FALSE(winograd_applies(make(2, 15, 16, 8, 8, {1, 1, 1, 1})));  // too few channels
  CHECK_FALSE(winograd_applies(make(2, 16, 8, 8, 8, {1, 1, 1, 1})));
  ConvGeometry g = make(2, 16, 16, 8, 8, {1, 1, 1, 1});
  g.stride = {1, 2, 2};
  CHECK_FALSE(winograd_applies(g));
  g = make(2, 16, 16, 8, 8, {1, 1, 1, 1});
  g.dilation = {1, 2, 2};
  CHECK_FALSE(winograd_applies(g));
  g = make(2, 16, 16, 8, 8, {1, 1, 1, 1});
  g.groups = 2;
  CHECK_FALSE(winograd_applies(g));
  CHECK_FALSE(winograd_applies(make(2, 16, 16, 8, 8, {3, 1, 1, 1})));  // begin padding > 2
  g = make(2, 16, 16, 8, 8, {1, 1, 1, 1});
  g.pad_begin = {1, 1, 1};  // a depth-1 3-D convolution whose one output sees only padding
  CHECK_FALSE(winograd_applies(g));
}

TEST_CASE("conv winograd: forward and data gradient match the reference loops", "[conv][winograd]") {
  hone_test::ConvGuard guard(true);
  hone::Generator gen(20261129);
  struct Case {
    std::string name;
    ConvGeometry g;
  };
  const std::vector<Case> cases = {
      {"pad 1, rows of 18 tiles, 17 outputs", make(2, 16, 17, 9, 70, {1, 1, 1, 1})},
      {"7x7 plane (partial tiles), 19 inputs", make(3, 19, 16, 7, 7, {1, 1, 1, 1})},
      {"no padding", make(1, 16, 20, 10, 13, {0, 0, 0, 0})},
      {"asymmetric padding 2/0 and 1/2", make(2, 17, 16, 6, 11, {2, 0, 1, 2})},
      {"many tile rows: several blocks", make(9, 32, 24, 14, 14, {1, 1, 1, 1})},
      {"output smaller than a tile", make(2, 16, 16, 3, 4, {0, 0, 0, 0})},
      {"exactly 16 tiles a row, left padding 2", make(1, 16, 16, 5, 64, {1, 2, 1, 0})},
      // Few tiles: split by output channels (winograd_run_split), 32 per task and a partial
      // last task both ways (70 = 32 + 32 + 6 forward, 40 = 32 + 8 for the data gradient).
      {"7x7, few tiles: split by output channels", make(2, 40, 70, 7, 7, {1, 1, 1, 1})},
      {"few tiles, asymmetric padding: split", make(1, 33, 48, 6, 11, {2, 0, 1, 2})},
  };
  namespace ref = hone::kernels::reference;
  for (const Case& cs : cases) {
    const ConvGeometry& g = cs.g;
    REQUIRE(hone::kernels::detail_conv::winograd_applies(g));
    const std::int64_t xs = g.n * g.c * g.in_size(), ws = g.oc * g.c * 9, ys = g.n * g.oc * g.out_size();
    const auto x = random(xs, gen), w = random(ws, gen), b = random(g.oc, gen), dy = random(ys, gen);
    const auto xd = widen(x), wd = widen(w), bd = widen(b), dyd = widen(dy);
    std::vector<double> y_ref(static_cast<std::size_t>(ys)), dx_ref(static_cast<std::size_t>(xs)),
        dw_ref(static_cast<std::size_t>(ws));
    ref::conv_forward(g, xd.data(), wd.data(), bd.data(), y_ref.data());
    ref::conv_backward_data(g, dyd.data(), wd.data(), dx_ref.data());
    ref::conv_backward_weight(g, dyd.data(), xd.data(), dw_ref.data());
    const auto xa = absolute(xd), wa = absolute(wd), dya = absolute(dyd);
    auto y_mag = winograd_magnitude(g.n, g.c, g.oc, g.in[1], g.in[2], g.out[1], g.out[2], g.pad_begin[1],
                                    g.pad_begin[2], xa, [&](std::int64_t o, std::int64_t ci, int kh, int kw) {
                                      return wa[static_cast<std::size_t>(((o * g.c + ci) * 3 + kh) * 3 + kw)];
                                    });
    for (std::size_t i = 0; i < y_mag.size(); ++i)
      y_mag[i] += std::fabs(bd[static_cast<std::size_t>(i / static_cast<std::size_t>(g.out_size())) % static_cast<std::size_t>(g.oc)]);
    // The data gradient is the same algorithm on dy, filters flipped and transposed.
    const auto dx_mag = winograd_magnitude(
        g.n, g.oc, g.c, g.out[1], g.out[2], g.in[1], g.in[2], 2 - g.pad_begin[1], 2 - g.pad_begin[2], dya,
        [&](std::int64_t ci, std::int64_t o, int kh, int kw) {
          return wa[static_cast<std::size_t>(((o * g.c + ci) * 3 + (2 - kh)) * 3 + (2 - kw))];
        });
    const auto dw_mag = weight_gradient_magnitude(g, xa, dya);
    const std::int64_t dw_terms = g.n * ((g.out[1] + 3) / 4) * ((g.out[2] + 3) / 4);
    std::vector<double> relu_ref(y_ref), clip_ref(y_ref), dx_twice(dx_ref), dx_mag2(dx_mag);
    for (auto& v : relu_ref) v = v > 0 ? v : 0;
    for (auto& v : clip_ref) v = std::min(std::max(v, -0.5), 0.75);
    for (auto& v : dx_twice) v *= 2;
    for (auto& v : dx_mag2) v *= 2;
    for (Isa isa : isas())
      for (std::size_t threads : {1u, 2u}) {
        hone::cpu::set_max_isa(isa);
        hone::set_num_threads(threads);
        const std::string where = cs.name + " [" + std::string(hone::cpu::to_string(isa)) + ", " + std::to_string(threads) + " threads]";
        std::vector<float> y(static_cast<std::size_t>(ys), std::nanf(""));
        hone::kernels::conv_forward(g, x.data(), w.data(), b.data(), y.data());  // overwrites NaNs
        check(y, y_ref, y_mag, g.c + kTransformTerms, "forward " + where);
        hone::kernels::ConvEpilogue relu;
        relu.kind = hone::kernels::ConvEpilogue::relu;
        hone::kernels::conv_forward(g, x.data(), w.data(), b.data(), y.data(), relu);
        check(y, relu_ref, y_mag, g.c + kTransformTerms, "forward + relu " + where);
        hone::kernels::ConvEpilogue clip{hone::kernels::ConvEpilogue::clip, -0.5f, 0.75f};
        hone::kernels::conv_forward(g, x.data(), w.data(), b.data(), y.data(), clip);
        check(y, clip_ref, y_mag, g.c + kTransformTerms, "forward + clip " + where);
        // The data gradient is added into dx: twice gives twice.
        std::vector<float> dx(static_cast<std::size_t>(xs), 0.f);
        hone::kernels::conv_backward(g, dy.data(), nullptr, w.data(), dx.data(), nullptr);
        check(dx, dx_ref, dx_mag, g.oc + kTransformTerms, "backward-data " + where);
        // Assigned (assign_dx): NaNs never read, every element written, the same values.
        std::vector<float> dx_set(dx.size(), std::nanf(""));
        hone::kernels::conv_backward(g, dy.data(), nullptr, w.data(), dx_set.data(), nullptr, true);
        CHECK(dx_set == dx);
        hone::kernels::conv_backward(g, dy.data(), nullptr, w.data(), dx.data(), nullptr);
        check(dx, dx_twice, dx_mag2, g.oc + 1 + kTransformTerms, "backward-data accumulated " + where);
        std::vector<float> dw(static_cast<std::size_t>(ws), 0.f);
        hone::kernels::conv_backward(g, dy.data(), x.data(), nullptr, nullptr, dw.data());
        check(dw, dw_ref, dw_mag, dw_terms + kTransformTerms, "backward-weight " + where);
        hone::kernels::conv_backward(g, dy.data(), x.data(), nullptr, nullptr, dw.data());
        std::vector<double> dw_twice(dw_ref), dw_mag2(dw_mag);
        for (auto& v : dw_twice) v *= 2;
        for (auto& v : dw_mag2) v *= 2;
        check(dw, dw_twice, dw_mag2, dw_terms + 1 + kTransformTerms, "backward-weight accumulated " + where);
      }
  }
}

TEST_CASE("conv winograd: few tiles are split by output channels, prepared filters too", "[conv][winograd]") {
  hone_test::ConvGuard guard(true);
  namespace kd = hone::kernels::detail_conv;
  hone::Generator gen(29);
  const ConvGeometry g = make(2, 40, 70, 7, 7, {1, 1, 1, 1});
  const kd::WinoShape s{g.n, g.c, g.oc, g.in[1], g.in[2], g.out[1], g.out[2], g.pad_begin[1], g.pad_begin[2]};
  const kd::WinoShape back{g.n, g.oc, g.c, g.out[1], g.out[2], g.in[1], g.in[2], 1, 1};
  const ConvGeometry big = make(32, 40, 70, 28, 28, {1, 1, 1, 1});
  const kd::WinoShape many{big.n, big.c, big.oc, 28, 28, 28, 28, 1, 1};
  const auto x = random(g.n * g.c * g.in_size(), gen), w = random(g.oc * g.c * 9, gen), b = random(g.oc, gen);
  std::vector<double> y_ref(static_cast<std::size_t>(g.n * g.oc * g.out_size()));
  hone::kernels::reference::conv_forward(g, widen(x).data(), widen(w).data(), widen(b).data(), y_ref.data());
  double scale = 0;
  for (double v : y_ref) scale = std::max(scale, std::fabs(v));
  for (std::size_t threads : {1u, 2u}) {
    hone::set_num_threads(threads);
    CHECK(kd::winograd_split(s));
    CHECK(kd::winograd_split(back));
    CHECK_FALSE(kd::winograd_split(many));  // 32 x 7 x 7 tiles: blocks of tile rows
    std::vector<float> u(static_cast<std::size_t>(kd::winograd_filter_floats(g))), y(y_ref.size(), std::nanf(""));
    kd::winograd_prepare(g, w.data(), u.data());
    kd::winograd_forward_prepared(g, x.data(), u.data(), b.data(), y.data(), hone::kernels::ConvEpilogue{});
    double err = 0;
    for (std::size_t i = 0; i < y.size(); ++i) err = std::max(err, std::fabs(double(y[i]) - y_ref[i]));
    CHECK(err <= 1e-4 * scale);  // (NaNs would fail: the comparison is false)
  }
}

TEST_CASE("conv winograd: both gradients in one call equal each alone, for any thread count", "[conv][winograd]") {
  hone_test::ConvGuard guard(true);
  hone::Generator gen(11);
  const ConvGeometry g = make(5, 16, 24, 9, 30, {1, 1, 1, 1});
  const auto x = random(g.n * g.c * g.in_size(), gen), w = random(g.oc * g.c * 9, gen);
  const auto dy = random(g.n * g.oc * g.out_size(), gen);
  std::vector<float> dx_both(x.size(), 0.f), dw_both(w.size(), 0.f), dx_alone = dx_both, dw_alone = dw_both;
  hone::set_num_threads(2);
  hone::kernels::conv_backward(g, dy.data(), x.data(), w.data(), dx_both.data(), dw_both.data());
  hone::set_num_threads(1);
  hone::kernels::conv_backward(g, dy.data(), nullptr, w.data(), dx_alone.data(), nullptr);
  hone::kernels::conv_backward(g, dy.data(), x.data(), nullptr, nullptr, dw_alone.data());
  CHECK(dw_both == dw_alone);  // the blocks and the GEMMs' sums do not depend on the threads
  CHECK(dx_both == dx_alone);
}
