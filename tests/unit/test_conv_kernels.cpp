// Tests for hone/kernels/conv.hpp: forward, backward-data and backward-weight of every path
// (im2col + GEMM, 1x1 straight to GEMM, depthwise with and without a channel multiplier,
// grouped, 1-D, 2-D and 3-D) against the reference loops of kernels/reference/conv.hpp
// (double accumulation), for every ISA path this machine has and 1 and 2 threads, over odd
// channel counts, asymmetric padding, stride 2 and dilation. The error bound is the float
// rounding bound of a sum of products, c * terms * eps * sum |products|, per element.
#include <catch2/catch.hpp>

#include <hone/core/cpu.hpp>
#include <hone/core/parallel.hpp>
#include <hone/core/rng.hpp>
#include <hone/kernels/conv.hpp>
#include <hone/kernels/reference/conv.hpp>

#include "../common/conv_test_support.hpp"

#include <cmath>
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

struct Case {
  std::string name;
  ConvGeometry g;
};

// n, c, oc, groups, in (D,H,W), k, stride, pad_begin, pad_end, dilation
Case make(std::string name, std::int64_t n, std::int64_t c, std::int64_t oc, std::int64_t groups,
          std::array<std::int64_t, 3> in, std::array<std::int64_t, 3> k, std::array<std::int64_t, 3> stride,
          std::array<std::int64_t, 3> pb, std::array<std::int64_t, 3> pe, std::array<std::int64_t, 3> dil) {
  ConvGeometry g;
  g.n = n;
  g.c = c;
  g.oc = oc;
  g.groups = groups;
  g.in = in;
  g.k = k;
  g.stride = stride;
  g.pad_begin = pb;
  g.dilation = dil;
  for (int a = 0; a < 3; ++a) g.out[a] = (in[a] + pb[a] + pe[a] - dil[a] * (k[a] - 1) - 1) / stride[a] + 1;
  return {std::move(name), g};
}

std::vector<Case> cases() {
  using A = std::array<std::int64_t, 3>;
  return {
      make("3x3 pad 1, odd channels", 3, 5, 17, 1, A{1, 9, 11}, A{1, 3, 3}, A{1, 1, 1}, A{0, 1, 1}, A{0, 1, 1}, A{1, 1, 1}),
      make("3x3 stride 2 asymmetric pads", 2, 7, 19, 1, A{1, 10, 9}, A{1, 3, 3}, A{1, 2, 2}, A{0, 0, 1}, A{0, 2, 0}, A{1, 1, 1}),
      make("3x3 dilation 2", 2, 4, 6, 1, A{1, 12, 10}, A{1, 3, 3}, A{1, 1, 1}, A{0, 2, 2}, A{0, 2, 2}, A{1, 2, 2}),
      make("7x7 stride 2 first layer, 3 channels", 2, 3, 16, 1, A{1, 23, 21}, A{1, 7, 7}, A{1, 2, 2}, A{0, 3, 3}, A{0, 3, 3}, A{1, 1, 1}),
      // 147 x 2250 lowered floats, over kIm2colBand: lowered 19 + 19 + 12 output rows at a time.
      make("7x7 stride 2, 3 channels, lowered in bands of rows", 2, 3, 5, 1, A{1, 100, 90}, A{1, 7, 7}, A{1, 2, 2}, A{0, 3, 3}, A{0, 3, 3}, A{1, 1, 1}),
      make("1x1 pointwise", 3, 33, 18, 1, A{1, 7, 5}, A{1, 1, 1}, A{1, 1, 1}, A{0, 0, 0}, A{0, 0, 0}, A{1, 1, 1}),
      make("1x1 stride 2 (downsample)", 2, 12, 20, 1, A{1, 9, 8}, A{1, 1, 1}, A{1, 2, 2}, A{0, 0, 0}, A{0, 0, 0}, A{1, 1, 1}),
      make("1x1 with padding", 1, 6, 5, 1, A{1, 4, 5}, A{1, 1, 1}, A{1, 1, 1}, A{0, 1, 0}, A{0, 0, 1}, A{1, 1, 1}),
      make("grouped 3x3, 3 groups", 2, 9, 12, 3, A{1, 8, 7}, A{1, 3, 3}, A{1, 1, 1}, A{0, 1, 1}, A{0, 1, 1}, A{1, 1, 1}),
      make("depthwise 3x3 pad 1, 19 channels", 3, 19, 19, 19, A{1, 11, 13}, A{1, 3, 3}, A{1, 1, 1}, A{0, 1, 1}, A{0, 1, 1}, A{1, 1, 1}),
      make("depthwise 3x3 stride 2", 2, 17, 17, 17, A{1, 12, 11}, A{1, 3, 3}, A{1, 2, 2}, A{0, 1, 1}, A{0, 1, 1}, A{1, 1, 1}),
      make("depthwise 5x5 stride 2 pad 2", 2, 10, 10, 10, A{1, 13, 14}, A{1, 5, 5}, A{1, 2, 2}, A{0, 2, 2}, A{0, 2, 2}, A{1, 1, 1}),
      make("depthwise dilation 2, asymmetric pads", 2, 5, 5, 5, A{1, 9, 10}, A{1, 3, 3}, A{1, 1, 1}, A{0, 0, 2}, A{0, 3, 1}, A{1, 2, 2}),
      make("depthwise 3x3 pad 1, rows wider than 2 vector blocks", 2, 3, 3, 3, A{1, 9, 37}, A{1, 3, 3}, A{1, 1, 1}, A{0, 1, 1}, A{0, 1, 1}, A{1, 1, 1}),
      make("depthwise 3x3 stride 3, dilation 2, wide", 1, 3, 3, 3, A{1, 14, 50}, A{1, 3, 3}, A{1, 3, 3}, A{0, 2, 1}, A{0, 0, 2}, A{1, 2, 2}),
      make("depthwise 7x5 stride (1, 2) pad 3", 2, 3, 3, 3, A{1, 10, 33}, A{1, 7, 5}, A{1, 1, 2}, A{0, 3, 2}, A{0, 3, 2}, A{1, 1, 1}),
      make("depthwise no padding, output smaller than a block", 3, 2, 2, 2, A{1, 4, 5}, A{1, 3, 3}, A{1, 1, 1}, A{0, 0, 0}, A{0, 0, 0}, A{1, 1, 1}),
      make("depthwise multiplier 3", 2, 4, 12, 4, A{1, 7, 6}, A{1, 3, 3}, A{1, 1, 1}, A{0, 1, 1}, A{0, 1, 1}, A{1, 1, 1}),
      // Channels a multiple of 16, input rows <= 28 and output rows <= 14 wide: 16 channels
      // per vector.
      make("depthwise 3x3 pad 1, 32 channels (channel-blocked)", 2, 32, 32, 32, A{1, 7, 9}, A{1, 3, 3}, A{1, 1, 1}, A{0, 1, 1}, A{0, 1, 1}, A{1, 1, 1}),
      make("depthwise 3x3 stride 2, 16 channels (channel-blocked)", 3, 16, 16, 16, A{1, 14, 13}, A{1, 3, 3}, A{1, 2, 2}, A{0, 1, 1}, A{0, 1, 1}, A{1, 1, 1}),
      make("depthwise 5x3 dilation 2, asymmetric pads (channel-blocked)", 1, 48, 48, 48, A{1, 11, 27}, A{1, 5, 3}, A{1, 1, 2}, A{0, 3, 0}, A{0, 1, 2}, A{1, 2, 2}),
      make("depthwise 3x3, 16 channels, 2x3 plane (channel-blocked)", 2, 16, 16, 16, A{1, 2, 3}, A{1, 3, 3}, A{1, 1, 1}, A{0, 1, 1}, A{0, 1, 1}, A{1, 1, 1}),
      // Forward column-vectorised (rows over 56 columns, stride 1), backward channel-blocked.
      make("depthwise 3x3 pad 1, 32 channels, 5x61 plane", 1, 32, 32, 32, A{1, 5, 61}, A{1, 3, 3}, A{1, 1, 1}, A{0, 1, 1}, A{0, 1, 1}, A{1, 1, 1}),
      // Stride 2 with 16 or more output columns: im2col / col2im gather and scatter 16
      // columns per vector (copy_stride2), then one by one up to the row's end.
      make("7x7 stride 2, 3 channels, wide rows (vector im2col)", 2, 3, 8, 1, A{1, 9, 77}, A{1, 7, 7}, A{1, 2, 2}, A{0, 3, 3}, A{0, 2, 3}, A{1, 1, 1}),
      make("3x3 stride 2 dilation 2, wide rows, asymmetric pads", 1, 5, 6, 1, A{1, 7, 70}, A{1, 3, 3}, A{1, 2, 2}, A{0, 1, 2}, A{0, 0, 1}, A{1, 2, 2}),
      make("1-D stride 2, wide", 2, 4, 5, 1, A{1, 1, 100}, A{1, 1, 3}, A{1, 1, 2}, A{0, 0, 1}, A{0, 0, 0}, A{1, 1, 1}),
      // One image whose output is larger than L2 (the epilogue pass reads it back).
      make("1x1, one large image", 1, 16, 40, 1, A{1, 48, 48}, A{1, 1, 1}, A{1, 1, 1}, A{0, 0, 0}, A{0, 0, 0}, A{1, 1, 1}),
      make("3x3 stride 2, one large image", 1, 5, 40, 1, A{1, 79, 88}, A{1, 3, 3}, A{1, 2, 2}, A{0, 1, 1}, A{0, 1, 1}, A{1, 1, 1}),
      make("one input channel, 8 outputs", 3, 1, 8, 1, A{1, 10, 10}, A{1, 3, 3}, A{1, 1, 1}, A{0, 1, 1}, A{0, 1, 1}, A{1, 1, 1}),
      make("1-D, stride 2", 2, 6, 7, 1, A{1, 1, 21}, A{1, 1, 5}, A{1, 1, 2}, A{0, 0, 2}, A{0, 0, 1}, A{1, 1, 1}),
      make("1-D depthwise", 2, 6, 6, 6, A{1, 1, 17}, A{1, 1, 3}, A{1, 1, 1}, A{0, 0, 1}, A{0, 0, 1}, A{1, 1, 1}),
      make("3-D 3x3x3 pad 1", 2, 3, 5, 1, A{5, 6, 4}, A{3, 3, 3}, A{1, 1, 1}, A{1, 1, 1}, A{1, 1, 1}, A{1, 1, 1}),
      make("3-D depthwise stride 2", 1, 4, 4, 4, A{6, 5, 7}, A{3, 3, 3}, A{2, 2, 2}, A{1, 1, 1}, A{1, 1, 1}, A{1, 1, 1}),
      make("batch 1 (threaded GEMM inside)", 1, 16, 24, 1, A{1, 14, 14}, A{1, 3, 3}, A{1, 1, 1}, A{0, 1, 1}, A{0, 1, 1}, A{1, 1, 1}),
  };
}




}  // namespace

TEST_CASE("conv kernels: forward, backward-data and backward-weight match the reference loops", "[conv]") {
  // Winograd off: these cases test the im2col path against its own bound (the Winograd
  // path has its own tests, tests/unit/test_conv_winograd.cpp).
  hone_test::ConvGuard guard(false);
  hone::Generator gen(20261128);
  for (const Case& cs : cases()) {
    const ConvGeometry& g = cs.g;
    const std::int64_t xs = g.n * g.c * g.in_size(), ws = g.oc * (g.c / g.groups) * g.kernel_size();
    const std::int64_t ys = g.n * g.oc * g.out_size();
    const auto x = random(xs, gen), w = random(ws, gen), b = random(g.oc, gen), dy = random(ys, gen);
    // Reference in double, and on absolute values for the error bounds.
    std::vector<double> y_ref(static_cast<std::size_t>(ys)), dx_ref(static_cast<std::size_t>(xs)),
        dw_ref(static_cast<std::size_t>(ws));
    std::vector<double> y_mag = y_ref, dx_mag = dx_ref, dw_mag = dw_ref;
    const auto xd = widen(x), wd = widen(w), bd = widen(b), dyd = widen(dy);
    namespace ref = hone::kernels::reference;
    ref::conv_forward(g, xd.data(), wd.data(), bd.data(), y_ref.data());
    ref::conv_backward_data(g, dyd.data(), wd.data(), dx_ref.data());
    ref::conv_backward_weight(g, dyd.data(), xd.data(), dw_ref.data());
    const auto xa = absolute(xd), wa = absolute(wd), ba = absolute(bd), dya = absolute(dyd);
    ref::conv_forward(g, xa.data(), wa.data(), ba.data(), y_mag.data());
    ref::conv_backward_data(g, dya.data(), wa.data(), dx_mag.data());
    ref::conv_backward_weight(g, dya.data(), xa.data(), dw_mag.data());
    const std::int64_t fwd_terms = (g.c / g.groups) * g.kernel_size() + 1;
    std::vector<double> relu_ref(y_ref), clip_ref(y_ref);  // the epilogues are 1-Lipschitz
    for (auto& v : relu_ref) v = v > 0 ? v : 0;
    for (auto& v : clip_ref) v = std::min(std::max(v, -0.5), 0.75);
    const std::int64_t dx_terms = (g.oc / g.groups) * g.kernel_size();
    const std::int64_t dw_terms = g.n * g.out_size();
    for (Isa isa : isas())
      for (std::size_t threads : {1u, 2u}) {
        hone::cpu::set_max_isa(isa);
        hone::set_num_threads(threads);
        const std::string where = cs.name + " [" + std::string(hone::cpu::to_string(isa)) + ", " + std::to_string(threads) + " threads]";
        std::vector<float> y(static_cast<std::size_t>(ys), std::nanf("")), dx(static_cast<std::size_t>(xs), 0.f),
            dw(static_cast<std::size_t>(ws), 0.f);
        hone::kernels::conv_forward(g, x.data(), w.data(), b.data(), y.data());  // overwrites NaNs
        check(y, y_ref, y_mag, fwd_terms, "forward " + where);
        hone::kernels::ConvEpilogue relu;
        relu.kind = hone::kernels::ConvEpilogue::relu;
        hone::kernels::conv_forward(g, x.data(), w.data(), b.data(), y.data(), relu);
        check(y, relu_ref, y_mag, fwd_terms, "forward + relu " + where);
        const hone::kernels::ConvEpilogue clip{hone::kernels::ConvEpilogue::clip, -0.5f, 0.75f};
        hone::kernels::conv_forward(g, x.data(), w.data(), b.data(), y.data(), clip);
        check(y, clip_ref, y_mag, fwd_terms, "forward + clip " + where);
        hone::kernels::conv_backward(g, dy.data(), x.data(), w.data(), dx.data(), dw.data());
        check(dx, dx_ref, dx_mag, dx_terms, "backward-data " + where);
        check(dw, dw_ref, dw_mag, dw_terms, "backward-weight " + where);
        // Gradients are added: a second call doubles them; each alone works with the other null.
        std::vector<float> dx2(dx.size(), 0.f), dw2(dw.size(), 0.f);
        hone::kernels::conv_backward(g, dy.data(), nullptr, w.data(), dx2.data(), nullptr);
        hone::kernels::conv_backward(g, dy.data(), x.data(), nullptr, nullptr, dw2.data());
        CHECK(dx2 == dx);
        // Assigned (assign_dx): dx's contents (NaN here) are never read and every element is
        // written, with the values the added call gives on zeros.
        std::vector<float> dx3(dx.size(), std::nanf(""));
        hone::kernels::conv_backward(g, dy.data(), nullptr, w.data(), dx3.data(), nullptr, true);
        CHECK(dx3 == dx);
        hone::kernels::conv_backward(g, dy.data(), x.data(), w.data(), dx2.data(), dw2.data());
        std::vector<double> dx_twice(dx_ref), dw_twice(dw_ref), dx_mag2(dx_mag), dw_mag2(dw_mag);
        for (auto& v : dx_twice) v *= 2;
        for (auto& v : dw_twice) v *= 2;
        for (auto& v : dx_mag2) v *= 2;
        for (auto& v : dw_mag2) v *= 2;
        check(dx2, dx_twice, dx_mag2, dx_terms + 1, "backward-data accumulated " + where);
        check(dw2, dw_twice, dw_mag2, dw_terms + 1, "backward-weight accumulated " + where);
      }
  }
}

TEST_CASE("conv kernels: the same thread count gives bit-identical weight gradients", "[conv]") {
  hone_test::ConvGuard guard(false);
  hone::Generator gen(7);
  const Case cs = cases()[1];
  const ConvGeometry& g = cs.g;
  const auto x = random(g.n * g.c * g.in_size(), gen), dy = random(g.n * g.oc * g.out_size(), gen);
  hone::set_num_threads(2);
  std::vector<float> a(static_cast<std::size_t>(g.oc * g.c * g.kernel_size()), 0.f), b = a;
  hone::kernels::conv_backward(g, dy.data(), x.data(), nullptr, nullptr, a.data());
  hone::kernels::conv_backward(g, dy.data(), x.data(), nullptr, nullptr, b.data());
  CHECK(a == b);
}
