// Forward values of the ops (hone/ops/*.hpp) on small hand-worked examples: the gradient
// table checks that backward matches forward, this file checks that forward means what
// ONNX and PyTorch mean. Oracles: values worked out by hand or from closed forms written
// independently here (erf-GELU at 1, SELU constants, PyTorch's pooling output-size rule
// with ceil_mode, F.cross_entropy's label-smoothing formula), outputs printed in the ONNX
// operator documentation (auto_pad examples), and cheap identities (a 1-D or 3-D op equals the
// 2-D op with unit axes).
#include <catch2/catch.hpp>

#include <hone/graph/session.hpp>
#include <hone/kernels/reference/pool.hpp>
#include <hone/ops/pool.hpp>

#include <cmath>
#include <cstring>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

using hone::Attributes;
using hone::Graph;
using hone::Mode;
using hone::Session;
using hone::Shape;
using hone::Tensor;

namespace {

Tensor<double> run(const std::string& op, Attributes attrs, const std::vector<Tensor<double>>& in,
                   Mode mode = Mode::inference) {
  Graph<double> g;
  std::vector<std::string> names;
  for (std::size_t i = 0; i < in.size(); ++i) {
    names.push_back("in" + std::to_string(i));
    g.add_input(names.back(), in[i].shape(), false);
  }
  g.add_node(op, names, {"out"}, std::move(attrs), "node");
  g.add_output("out");
  Session<double> s(g, {.mode = mode});
  return s.forward(in)[0];
}

/// Every output of a one-node graph with `outputs` outputs.
std::vector<Tensor<double>> run_all(const std::string& op, Attributes attrs,
                                    const std::vector<Tensor<double>>& in, std::size_t outputs,
                                    Mode mode = Mode::inference) {
  Graph<double> g;
  std::vector<std::string> names, outs;
  for (std::size_t i = 0; i < in.size(); ++i) {
    names.push_back("in" + std::to_string(i));
    g.add_input(names.back(), in[i].shape(), false);
  }
  for (std::size_t o = 0; o < outputs; ++o) outs.push_back("out" + std::to_string(o));
  g.add_node(op, names, outs, std::move(attrs), "node");
  for (const auto& o : outs) g.add_output(o);
  Session<double> s(g, {.mode = mode});
  return s.forward(in);
}

/// Values in [-1, 1) from a fixed stream.
Tensor<double> noise(const Shape& s, std::uint64_t seed) {
  hone::Generator gen(seed);
  Tensor<double> t(s);
  for (auto& v : t) v = 2 * gen.uniform_double() - 1;
  return t;
}

/// The same values with a unit axis inserted at `axis`.
Tensor<double> with_unit_axis(const Tensor<double>& t, std::size_t axis) {
  std::vector<std::int64_t> dims(t.shape().begin(), t.shape().end());
  dims.insert(dims.begin() + static_cast<std::ptrdiff_t>(axis), 1);
  Tensor<double> r(Shape(std::span<const std::int64_t>(dims.data(), dims.size())));
  for (std::int64_t i = 0; i < t.numel(); ++i) r[i] = t[i];
  return r;
}

void check_same_values(const Tensor<double>& a, const Tensor<double>& b) {
  REQUIRE(a.numel() == b.numel());
  for (std::int64_t i = 0; i < a.numel(); ++i)
    CHECK(a[i] == Approx(b[i]).epsilon(1e-12).margin(1e-12));
}

Tensor<double> iota(const Shape& s) {
  Tensor<double> t(s);
  for (std::int64_t i = 0; i < t.numel(); ++i) t[i] = static_cast<double>(i);
  return t;
}

}  // namespace

TEST_CASE("ops: Conv with stride, padding and dilation on a worked example", "[ops]") {
  // x = 0..15 as 4x4, w = [[1, 0], [0, -1]]: each output is x[i][j] - x[i+1][j+1] = -5.
  const auto x = iota({1, 1, 4, 4});
  const auto w = Tensor<double>::from(Shape{1, 1, 2, 2}, {1, 0, 0, -1});
  auto y = run("Conv", {}, {x, w});
  REQUIRE(y.shape() == Shape{1, 1, 3, 3});
  for (double v : y) CHECK(v == -5.0);
  // Dilation 2: each output is x[i][j] - x[i+2][j+2] = -10.
  y = run("Conv", Attributes().set_ints("dilations", {2, 2}), {x, w});
  REQUIRE(y.shape() == Shape{1, 1, 2, 2});
  for (double v : y) CHECK(v == -10.0);
  // Pads (top 1, left 0, bottom 0, right 1): output (0,0) sees a zero row on top:
  // 0 * w00 - x[0][1] = -1; output (0, 3) sees x[-1][3] (0) - x[0][4] (pad 0) = 0.
  y = run("Conv", Attributes().set_ints("pads", {1, 0, 0, 1}), {x, w});
  REQUIRE(y.shape() == Shape{1, 1, 4, 4});
  CHECK(y(0, 0, 0, 0) == -1.0);
  CHECK(y(0, 0, 0, 3) == 0.0);
  CHECK(y(0, 0, 1, 0) == -5.0);
  // Depthwise: each channel with its own 1x1 weight and bias.
  const auto x2 = iota({1, 2, 1, 2});
  y = run("Conv", Attributes().set_int("group", 2),
          {x2, Tensor<double>::from(Shape{2, 1, 1, 1}, {2, -1}), Tensor<double>::from(Shape{2}, {1, 10})});
  CHECK(y[0] == 1.0);   // 2*0 + 1
  CHECK(y[1] == 3.0);   // 2*1 + 1
  CHECK(y[2] == 8.0);   // -2 + 10
  CHECK(y[3] == 7.0);   // -3 + 10
}

TEST_CASE("ops: pooling output sizes and divisors follow PyTorch", "[ops]") {
  const auto x = iota({1, 1, 5, 5});
  Attributes a;
  a.set_ints("kernel_shape", {2, 2}).set_ints("strides", {2, 2});
  CHECK(run("MaxPool", a, {x}).shape() == Shape{1, 1, 2, 2});
  a.set_int("ceil_mode", 1);
  auto y = run("MaxPool", a, {x});
  REQUIRE(y.shape() == Shape{1, 1, 3, 3});  // ceil((5-2)/2)+1
  CHECK(y(0, 0, 2, 2) == 24.0);             // the clipped last window holds x[4][4] alone
  // The last window must start inside the input or left padding: 6 wide, k 2, s 2, pad 1:
  // floor -> 4, ceil -> 4 (a 5th window would start in the right padding).
  Attributes p;
  p.set_ints("kernel_shape", {2, 2}).set_ints("strides", {2, 2}).set_ints("pads", {1, 1, 1, 1}).set_int("ceil_mode", 1);
  CHECK(run("MaxPool", p, {iota({1, 1, 6, 6})}).shape() == Shape{1, 1, 4, 4});
  // AveragePool 3x3, pad 1 at the corner: 4 real elements (0, 1, 5, 6).
  Attributes av;
  av.set_ints("kernel_shape", {3, 3}).set_ints("pads", {1, 1, 1, 1});
  y = run("AveragePool", av, {x});
  CHECK(y(0, 0, 0, 0) == Approx(12.0 / 4));
  av.set_int("count_include_pad", 1);
  y = run("AveragePool", av, {x});
  CHECK(y(0, 0, 0, 0) == Approx(12.0 / 9));
  y = run("GlobalAveragePool", {}, {x});
  CHECK(y.shape() == Shape{1, 1, 1, 1});
  CHECK(y[0] == 12.0);
}

TEST_CASE("ops: 1-D and 3-D Conv equal 2-D Conv with a unit axis", "[ops]") {
  // 1-D (N,C,W) against 2-D (N,C,1,W): groups, stride, asymmetric pads, dilation, bias.
  const auto x1 = noise({2, 4, 9}, 1), w1 = noise({6, 2, 3}, 2), b = noise({6}, 3);
  auto y1 = run("Conv",
                Attributes()
                    .set_int("group", 2)
                    .set_ints("strides", {2})
                    .set_ints("pads", {2, 1})
                    .set_ints("dilations", {2}),
                {x1, w1, b});
  CHECK(y1.shape() == Shape{2, 6, 4});  // (9 + 3 - 5) / 2 + 1
  auto y2 = run("Conv",
                Attributes()
                    .set_int("group", 2)
                    .set_ints("strides", {1, 2})
                    .set_ints("pads", {0, 2, 0, 1})
                    .set_ints("dilations", {1, 2}),
                {with_unit_axis(x1, 2), with_unit_axis(w1, 2), b});
  check_same_values(y1, y2);
  // 3-D (N,C,1,H,W) against 2-D (N,C,H,W).
  const auto x2 = noise({1, 2, 5, 6}, 4), w2 = noise({3, 2, 3, 3}, 5);
  auto y3 =
      run("Conv", Attributes().set_ints("strides", {1, 2, 1}).set_ints("pads", {0, 1, 0, 0, 1, 1}),
          {with_unit_axis(x2, 2), with_unit_axis(w2, 2)});
  CHECK(y3.shape() == Shape{1, 3, 1, 3, 5});
  check_same_values(
      y3, run("Conv", Attributes().set_ints("strides", {2, 1}).set_ints("pads", {1, 0, 1, 1}),
              {x2, w2}));
  // A 3-D worked example: x = 0..26 as 3x3x3, w has 1 at (0,0,0) and -1 at (1,1,1), so each
  // output is x[i][j][k] - x[i+1][j+1][k+1] = -(9 + 3 + 1).
  auto w3 = Tensor<double>(Shape{1, 1, 2, 2, 2});
  w3[0] = 1;
  w3[7] = -1;
  auto y = run("Conv", {}, {iota({1, 1, 3, 3, 3}), w3});
  REQUIRE(y.shape() == Shape{1, 1, 2, 2, 2});
  for (double v : y) CHECK(v == -13.0);
}

TEST_CASE("ops: Conv rejects ranks and shapes it cannot run, naming the node", "[ops]") {
  CHECK_THROWS_WITH(
      run("Conv", {}, {Tensor<double>(Shape{1, 2, 5}), Tensor<double>(Shape{3, 2, 3, 3})}),
      "[hone.shape] node \"node\" (Conv): weight W must have rank 3 (OC, C/group, kernel...) "
      "for input (1, 2, 5), got shape (3, 2, 3, 3)");
  CHECK_THROWS_AS(
      run("Conv", {},
          {Tensor<double>(Shape{1, 1, 2, 2, 2, 2}), Tensor<double>(Shape{1, 1, 1, 1, 1, 1})}),
      hone::UnsupportedError);
  CHECK_THROWS_WITH(run("MaxPool", Attributes().set_ints("kernel_shape", {1, 1, 1, 1}),
                        {Tensor<double>(Shape{1, 1, 2, 2, 2, 2})}),
                    Catch::Contains("1, 2 or 3 spatial axes are supported"));
}

TEST_CASE("ops: 1-D and 3-D pooling equal 2-D pooling with a unit axis", "[ops]") {
  const auto x = noise({2, 3, 11}, 6);
  const auto xh = with_unit_axis(x, 2);
  // MaxPool: stride, asymmetric pads, dilation, ceil_mode.
  auto y1 = run("MaxPool",
                Attributes()
                    .set_ints("kernel_shape", {3})
                    .set_ints("strides", {2})
                    .set_ints("pads", {2, 1})
                    .set_ints("dilations", {2})
                    .set_int("ceil_mode", 1),
                {x});
  auto y2 = run("MaxPool",
                Attributes()
                    .set_ints("kernel_shape", {1, 3})
                    .set_ints("strides", {1, 2})
                    .set_ints("pads", {0, 2, 0, 1})
                    .set_ints("dilations", {1, 2})
                    .set_int("ceil_mode", 1),
                {xh});
  CHECK(y1.shape() == Shape{2, 3, 6});
  check_same_values(y1, y2);
  // AveragePool with count_include_pad and ceil_mode, both ways.
  for (int include : {0, 1}) {
    y1 = run("AveragePool",
             Attributes()
                 .set_ints("kernel_shape", {4})
                 .set_ints("strides", {3})
                 .set_ints("pads", {1, 2})
                 .set_int("ceil_mode", 1)
                 .set_int("count_include_pad", include),
             {x});
    y2 = run("AveragePool",
             Attributes()
                 .set_ints("kernel_shape", {1, 4})
                 .set_ints("strides", {1, 3})
                 .set_ints("pads", {0, 1, 0, 2})
                 .set_int("ceil_mode", 1)
                 .set_int("count_include_pad", include),
             {xh});
    check_same_values(y1, y2);
  }
  // 3-D with a unit depth against 2-D.
  const auto x2 = noise({1, 2, 6, 7}, 7);
  auto y3 = run("AveragePool",
                Attributes()
                    .set_ints("kernel_shape", {1, 3, 2})
                    .set_ints("strides", {1, 2, 2})
                    .set_ints("pads", {0, 1, 1, 0, 1, 0}),
                {with_unit_axis(x2, 2)});
  check_same_values(y3, run("AveragePool",
                            Attributes()
                                .set_ints("kernel_shape", {3, 2})
                                .set_ints("strides", {2, 2})
                                .set_ints("pads", {1, 1, 1, 0}),
                            {x2}));
  y3 = run("MaxPool",
           Attributes().set_ints("kernel_shape", {1, 2, 3}).set_ints("dilations", {1, 2, 1}),
           {with_unit_axis(x2, 2)});
  check_same_values(
      y3, run("MaxPool",
              Attributes().set_ints("kernel_shape", {2, 3}).set_ints("dilations", {2, 1}), {x2}));
}

TEST_CASE("ops: 3-D pooling on worked examples", "[ops]") {
  // x = 0..63 as 4x4x4: x[d][h][w] = 16d + 4h + w.
  const auto x = iota({1, 1, 4, 4, 4});
  const Attributes a =
      Attributes().set_ints("kernel_shape", {2, 2, 2}).set_ints("strides", {2, 2, 2});
  auto y = run("MaxPool", a, {x});
  REQUIRE(y.shape() == Shape{1, 1, 2, 2, 2});
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j)
      for (int l = 0; l < 2; ++l)
        CHECK(y(0, 0, i, j, l) == (2 * i + 1) * 16 + (2 * j + 1) * 4 + 2 * l + 1);
  y = run("AveragePool", a, {x});
  // The mean of a window is its first element + (16 + 4 + 1) / 2.
  CHECK(y(0, 0, 1, 0, 1) == Approx(16 * 2 + 2 + 10.5));
  // Pads 1 on every side: window (0, 0, 1) holds x[0][0][1] and x[0][0][2] and six padded cells.
  Attributes p = a;
  p.set_ints("pads", {1, 1, 1, 1, 1, 1});
  y = run("AveragePool", p, {x});
  REQUIRE(y.shape() == Shape{1, 1, 3, 3, 3});
  CHECK(y(0, 0, 0, 0, 1) == Approx(1.5));
  p.set_int("count_include_pad", 1);
  CHECK(run("AveragePool", p, {x})(0, 0, 0, 0, 1) == Approx(3.0 / 8));
  // Dilation (1, 2, 1), kernel 2 on 3x3x3: y[i][0][l] = x[i+1][2][l+1] = 9(i+1) + 6 + l + 1.
  y = run("MaxPool",
          Attributes().set_ints("kernel_shape", {2, 2, 2}).set_ints("dilations", {1, 2, 1}),
          {iota({1, 1, 3, 3, 3})});
  REQUIRE(y.shape() == Shape{1, 1, 2, 1, 2});
  CHECK(y(0, 0, 0, 0, 0) == 16.0);
  CHECK(y(0, 0, 1, 0, 1) == 26.0);
}

TEST_CASE("ops: auto_pad follows ONNX's SAME_UPPER, SAME_LOWER and VALID", "[ops]") {
  // The examples of the ONNX operator documentation (MaxPool and AveragePool
  // precomputed_same_upper, Conv with_autopad_same): 5x5, kernel 3, stride 2.
  auto x = iota({1, 1, 5, 5});
  for (auto& v : x) v += 1;
  Attributes a;
  a.set_ints("kernel_shape", {3, 3})
      .set_ints("strides", {2, 2})
      .set_string("auto_pad", "SAME_UPPER");
  const double max_expected[] = {7, 9, 10, 17, 19, 20, 22, 24, 25};
  const double avg_expected[] = {4, 5.5, 7, 11.5, 13, 14.5, 19, 20.5, 22};
  auto y = run("MaxPool", a, {x});
  REQUIRE(y.shape() == Shape{1, 1, 3, 3});
  for (int i = 0; i < 9; ++i) CHECK(y[i] == max_expected[i]);
  y = run("AveragePool", a, {x});
  for (int i = 0; i < 9; ++i) CHECK(y[i] == Approx(avg_expected[i]));
  y = run("Conv", Attributes().set_ints("strides", {2, 2}).set_string("auto_pad", "SAME_LOWER"),
          {iota({1, 1, 5, 5}), Tensor<double>(Shape{1, 1, 3, 3}, 1.0)});
  const double conv_expected[] = {12, 27, 24, 63, 108, 81, 72, 117, 84};
  for (int i = 0; i < 9; ++i) CHECK(y[i] == conv_expected[i]);
  // An odd total pad (kernel 2, stride 1) goes to the end with SAME_UPPER, to the beginning
  // with SAME_LOWER; padding is excluded from the average.
  const auto r = iota({1, 1, 5});
  Attributes s;
  s.set_ints("kernel_shape", {2}).set_string("auto_pad", "SAME_UPPER");
  y = run("AveragePool", s, {r});
  const double upper[] = {0.5, 1.5, 2.5, 3.5, 4};
  for (int i = 0; i < 5; ++i) CHECK(y[i] == upper[i]);
  s.set_string("auto_pad", "SAME_LOWER");
  y = run("AveragePool", s, {r});
  const double lower[] = {0, 0.5, 1.5, 2.5, 3.5};
  for (int i = 0; i < 5; ++i) CHECK(y[i] == lower[i]);
  // 2-D MaxPool, kernel 2: SAME_UPPER takes x[min(i+1, 2)][min(j+1, 2)], SAME_LOWER x[i][j].
  const auto q = iota({1, 1, 3, 3});
  y = run("MaxPool",
          Attributes().set_ints("kernel_shape", {2, 2}).set_string("auto_pad", "SAME_UPPER"), {q});
  REQUIRE(y.shape() == Shape{1, 1, 3, 3});
  CHECK(y(0, 0, 0, 0) == 4.0);
  CHECK(y(0, 0, 2, 1) == 8.0);
  y = run("MaxPool",
          Attributes().set_ints("kernel_shape", {2, 2}).set_string("auto_pad", "SAME_LOWER"), {q});
  for (std::int64_t i = 0; i < 9; ++i) CHECK(y[i] == q[i]);
  // VALID: no padding, (6 - 3) / 2 + 1 outputs.
  y = run("Conv", Attributes().set_string("auto_pad", "VALID").set_ints("strides", {2}),
          {iota({1, 1, 6}), Tensor<double>(Shape{1, 1, 3}, 1.0)});
  CHECK(y.shape() == Shape{1, 1, 2});
}

TEST_CASE("ops: BatchNorm's running-statistics outputs and running-variance rule", "[ops]") {
  // Channel 0 holds 1, 3, 8 (mean 4, biased variance 26/3, unbiased 13); channel 1 holds
  // 2, 4, 0 (mean 2, biased 8/3, unbiased 4). Running mean (1, -1), variance (4, 0.25).
  auto run_bn = [](Attributes attrs, Mode mode) {
    Graph<double> g;
    g.add_input("x", Shape{3, 2}, false);
    g.add_constant("scale", Tensor<double>(Shape{2}, 1.0));
    g.add_constant("bias", Tensor<double>(Shape{2}, 0.0));
    g.add_buffer("mean", Tensor<double>::from(Shape{2}, {1.0, -1.0}));
    g.add_buffer("var", Tensor<double>::from(Shape{2}, {4.0, 0.25}));
    g.add_node("BatchNormalization", {"x", "scale", "bias", "mean", "var"},
               {"y", "running_mean", "running_var"}, std::move(attrs), "bn");
    for (const char* o : {"y", "running_mean", "running_var"}) g.add_output(o);
    Session<double> s(g, {.mode = mode});
    auto out = s.forward({Tensor<double>::from(Shape{3, 2}, {1.0, 2.0, 3.0, 4.0, 8.0, 0.0})});
    CHECK(out[1][0] == g.parameter("mean").data[0]);  // the outputs are the buffers' new values
    CHECK(out[2][1] == g.parameter("var").data[1]);
    return out;
  };
  auto out = run_bn({}, Mode::train);  // ONNX: biased batch variance, momentum 0.9
  CHECK(out[1][0] == Approx(0.9 * 1 + 0.1 * 4));
  CHECK(out[1][1] == Approx(0.9 * -1 + 0.1 * 2));
  CHECK(out[2][0] == Approx(0.9 * 4 + 0.1 * 26.0 / 3));
  CHECK(out[2][1] == Approx(0.9 * 0.25 + 0.1 * 8.0 / 3));
  // PyTorch's rule: the unbiased batch variance; normalisation still uses the biased one.
  out = run_bn(Attributes().set_int("unbiased_running_var", 1).set_float("momentum", 0.5),
               Mode::train);
  CHECK(out[1][0] == Approx(0.5 * 1 + 0.5 * 4));
  CHECK(out[2][0] == Approx(0.5 * 4 + 0.5 * 13));
  CHECK(out[2][1] == Approx(0.5 * 0.25 + 0.5 * 4));
  CHECK(out[0](0, 0) == Approx((1 - 4) / std::sqrt(26.0 / 3 + 1e-5)));
  out = run_bn({}, Mode::eval);  // eval: the running statistics unchanged
  CHECK(out[1][1] == -1.0);
  CHECK(out[2][0] == 4.0);
}

TEST_CASE("ops: activations at known points", "[ops]") {
  const auto x = Tensor<double>::from(Shape{4}, {-1.0, 0.0, 1.0, 4.0});
  auto y = run("Gelu", {}, {x});
  CHECK(y[2] == Approx(0.8413447460685429));  // Phi(1)
  CHECK(y[0] == Approx(-1 + 0.8413447460685429));
  y = run("Selu", {}, {x});
  CHECK(y[0] == Approx(1.0507009873554805 * 1.6732632423543772 * (std::exp(-1.0) - 1)));
  CHECK(y[2] == Approx(1.0507009873554805));
  y = run("HardSwish", {}, {x});
  CHECK(y[2] == Approx(1.0 * (1.0 / 6 + 0.5)));
  CHECK(y[3] == 4.0);
  y = run("HardSigmoid", {}, {x});
  CHECK(y[0] == Approx(0.3));
  y = run("Clip", Attributes().set_float("min", 0).set_float("max", 0.5), {x});
  CHECK(y[0] == 0.0);
  CHECK(y[3] == 0.5);
  y = run("Softplus", {}, {x});
  CHECK(y[1] == Approx(std::log(2.0)));
  y = run("LeakyRelu", {}, {x});
  CHECK(y[0] == Approx(-0.01));
}

TEST_CASE("ops: softmax and the losses on worked examples", "[ops]") {
  const auto z = Tensor<double>::from(Shape{2, 3}, {1.0, 2.0, 3.0, 0.0, 0.0, 0.0});
  auto y = run("Softmax", {}, {z});
  const double e = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  CHECK(y(0, 2) == Approx(std::exp(3.0) / e));
  CHECK(y(1, 0) == Approx(1.0 / 3));
  y = run("LogSoftmax", {}, {z});
  CHECK(y(0, 0) == Approx(1.0 - std::log(e)));

  const auto labels = Tensor<double>::from(Shape{2}, {2.0, 0.0});
  const double nll0 = std::log(e) - 3.0, nll1 = std::log(3.0);
  y = run("SoftmaxCrossEntropyLoss", {}, {z, labels});
  CHECK(y[0] == Approx((nll0 + nll1) / 2));
  // PyTorch's label smoothing with class weights w: per sample
  // (1-eps) w_y nll_y + eps/C sum_c w_c nll_c, divided by sum of w_y.
  const auto w = Tensor<double>::from(Shape{3}, {1.0, 2.0, 0.5});
  const double eps = 0.2;
  auto nll = [&](int i, int c) { return i == 0 ? std::log(e) - (c + 1.0) : std::log(3.0); };
  double total = 0;
  for (int i = 0; i < 2; ++i) {
    const int yi = i == 0 ? 2 : 0;
    total += (1 - eps) * w[yi] * nll(i, yi);
    for (int c = 0; c < 3; ++c) total += eps / 3 * w[c] * nll(i, c);
  }
  y = run("SoftmaxCrossEntropyLoss", Attributes().set_float("label_smoothing", eps), {z, labels, w});
  CHECK(y[0] == Approx(total / (w[2] + w[0])));
  // ignore_index drops sample 1 from the sum and the normaliser.
  y = run("SoftmaxCrossEntropyLoss", Attributes().set_int("ignore_index", 0), {z, labels});
  CHECK(y[0] == Approx(nll0));

  const auto a = Tensor<double>::from(Shape{2}, {1.0, -2.0});
  const auto t = Tensor<double>::from(Shape{2}, {0.0, 1.0});
  CHECK(run("MeanSquaredError", {}, {a, t})[0] == Approx((1.0 + 9.0) / 2));
  CHECK(run("BinaryCrossEntropyWithLogits", {}, {a, t})[0] ==
        Approx((std::log(1 + std::exp(1.0)) + std::log(1 + std::exp(2.0))) / 2));
}

TEST_CASE("ops: SoftmaxCrossEntropyLoss over (N, C, d) with reduction none and log_prob", "[ops]") {
  // N = 1, C = 2, d = 3; class-0 scores (0, 1, 2), class-1 scores (1, 1, 0); labels (1, 0, 1).
  const auto z = Tensor<double>::from(Shape{1, 2, 3}, {0, 1, 2, 1, 1, 0});
  const auto labels = Tensor<double>::from(Shape{1, 3}, {1, 0, 1});
  const double lse[] = {std::log(1 + std::exp(1.0)), 1 + std::log(2.0),
                        std::log(std::exp(2.0) + 1)};
  const double nll[] = {lse[0] - 1, lse[1] - 1, lse[2] - 0};
  auto out = run_all("SoftmaxCrossEntropyLoss", Attributes().set_string("reduction", "none"),
                     {z, labels}, 2);
  REQUIRE(out[0].shape() == Shape{1, 3});
  REQUIRE(out[1].shape() == Shape{1, 2, 3});
  for (int d = 0; d < 3; ++d) {
    CHECK(out[0][d] == Approx(nll[d]));
    CHECK(out[1](0, 0, d) == Approx(z(0, 0, d) - lse[d]));
    CHECK(out[1](0, 1, d) == Approx(z(0, 1, d) - lse[d]));
  }
  // Class weights (0.5, 2): none scales each loss by w[y]; mean divides by the sum of w[y].
  const auto w = Tensor<double>::from(Shape{2}, {0.5, 2.0});
  auto y =
      run("SoftmaxCrossEntropyLoss", Attributes().set_string("reduction", "none"), {z, labels, w});
  CHECK(y[1] == Approx(0.5 * nll[1]));
  CHECK(y[2] == Approx(2 * nll[2]));
  y = run("SoftmaxCrossEntropyLoss", {}, {z, labels, w});
  CHECK(y[0] == Approx((2 * nll[0] + 0.5 * nll[1] + 2 * nll[2]) / 4.5));
  y = run("SoftmaxCrossEntropyLoss", Attributes().set_string("reduction", "sum"), {z, labels, w});
  CHECK(y[0] == Approx(2 * nll[0] + 0.5 * nll[1] + 2 * nll[2]));
  // ignore_index 0 drops position 1: 0 in "none", out of sum and normaliser in "mean".
  y = run("SoftmaxCrossEntropyLoss",
          Attributes().set_string("reduction", "none").set_int("ignore_index", 0), {z, labels, w});
  CHECK(y[1] == 0.0);
  y = run("SoftmaxCrossEntropyLoss", Attributes().set_int("ignore_index", 0), {z, labels, w});
  CHECK(y[0] == Approx((nll[0] + nll[2]) / 2));
  // Label smoothing per position: (1-e) nll_y + e/C (nll_0 + nll_1), nll_c = lse - z_c.
  const double e = 0.3;
  y = run("SoftmaxCrossEntropyLoss",
          Attributes().set_string("reduction", "none").set_float("label_smoothing", e),
          {z, labels});
  for (int d = 0; d < 3; ++d)
    CHECK(y[d] == Approx((1 - e) * nll[d] + e / 2 * (2 * lse[d] - z(0, 0, d) - z(0, 1, d))));
  CHECK_THROWS_WITH(
      run("SoftmaxCrossEntropyLoss", {}, {z, Tensor<double>(Shape{1, 2})}),
      "[hone.shape] node \"node\" (SoftmaxCrossEntropyLoss): labels must have shape (1, 3) "
      "for scores (1, 2, 3), got (1, 2)");
}

TEST_CASE("ops: shape ops move the right elements", "[ops]") {
  const auto x = iota({2, 3});
  auto y = run("Transpose", {}, {x});
  REQUIRE(y.shape() == Shape{3, 2});
  CHECK(y(2, 1) == 5.0);
  CHECK(y(1, 0) == 1.0);
  y = run("Slice", Attributes().set_ints("starts", {-1}).set_ints("ends", {-100}).set_ints("axes", {1}).set_ints("steps", {-2}), {x});
  REQUIRE(y.shape() == Shape{2, 2});
  CHECK(y(0, 0) == 2.0);
  CHECK(y(0, 1) == 0.0);
  y = run("Pad", Attributes().set_ints("pads", {0, 2, 0, 1}).set_string("mode", "reflect"), {x});
  REQUIRE(y.shape() == Shape{2, 6});
  const double row0[] = {2, 1, 0, 1, 2, 1};
  for (int j = 0; j < 6; ++j) CHECK(y(0, j) == row0[j]);
  y = run("Pad", Attributes().set_ints("pads", {1, 0, 0, 0}).set_float("value", -1), {x});
  CHECK(y(0, 2) == -1.0);
  CHECK(y(1, 2) == 2.0);
  y = run("Concat", Attributes().set_int("axis", 1), {x, iota({2, 1})});
  CHECK(y(1, 3) == 1.0);
  y = run("ReduceMean", Attributes().set_ints("axes", {1}).set_int("keepdims", 0), {x});
  REQUIRE(y.shape() == Shape{2});
  CHECK(y[1] == 4.0);
  y = run("Add", {}, {x, Tensor<double>::from(Shape{3}, {10, 20, 30})});
  CHECK(y(1, 2) == 35.0);
  y = run("MatMul", {}, {x, Tensor<double>::from(Shape{3}, {1, 1, 1})});
  REQUIRE(y.shape() == Shape{2});
  CHECK(y[1] == 12.0);
}

TEST_CASE("ops: Relu and Clip gradients at the kinks follow PyTorch's relu and relu6", "[ops]") {
  // PyTorch 1.13: relu'(0) = 0; relu6 (= hardtanh(0, 6), exported to ONNX as Clip) has
  // gradient 0 at both bounds: x = [-1, 0, 0.5, 6, 7] gives [0, 0, 1, 0, 0].
  const auto x = Tensor<double>::from(Shape{5}, {-1.0, 0.0, 0.5, 6.0, 7.0});
  auto grad_of = [&](const std::string& op, Attributes attrs) {
    Graph<double> g;
    g.add_input("x", x.shape(), false);
    g.add_node(op, {"x"}, {"y"}, std::move(attrs), "node");
    g.add_output("y");
    Session<double> s(g, {.mode = Mode::train, .grad_inputs = {"x"}});
    s.forward({x});
    s.backward({Tensor<double>(x.shape(), 1.0)});
    return s.grad("x");
  };
  const auto relu = grad_of("Relu", {});
  const auto relu6 = grad_of("Clip", Attributes().set_float("min", 0).set_float("max", 6));
  const double relu_expected[] = {0, 0, 1, 1, 1}, relu6_expected[] = {0, 0, 1, 0, 0};
  for (std::int64_t i = 0; i < 5; ++i) {
    CAPTURE(i);
    CHECK(relu[i] == relu_expected[i]);
    CHECK(relu6[i] == relu6_expected[i]);
  }
}

TEST_CASE("ops: MaxPool's 2-D loops equal the reference kernel, with ties, NaNs and padding",
          "[ops]") {
  // The 2-D path (ops/pool.hpp) finds window maxima with selects; the reference kernel
  // (kernels/reference/pool.hpp) with branches. Both take the first maximum in tap order,
  // so on data full of ties, NaNs and infinities they must agree exactly, forward and
  // backward.
  using hone::kernels::reference::PoolGeometry;
  struct Case {
    std::int64_t h, w, kh, kw, sh, sw, ph0, pw0, ph1, pw1, dh, dw;
    bool ceil;
  };
  const Case cases[] = {
      {12, 11, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, false},  // ResNet's stem pool
      {9, 10, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, false},
      {8, 7, 2, 3, 2, 2, 0, 1, 1, 0, 2, 1, true},   // dilation, ceil_mode, asymmetric pads
      {5, 6, 2, 2, 1, 1, 3, 2, 3, 2, 1, 1, false},  // windows wholly in the padding (the
                                                    // op refuses such pads; the loops agree)
      {7, 7, 1, 1, 2, 3, 0, 0, 0, 0, 1, 1, false},  // 1x1 kernel, different strides
      {6, 9, 3, 2, 1, 3, 2, 0, 2, 1, 2, 2, true},
      // Rows wide enough for the forward's 16-column vector blocks (stride 1 or 2):
      {5, 112, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, false},  // the stem pool's width: odd floats at the end
      {4, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, false},
      {3, 47, 2, 3, 2, 2, 0, 0, 0, 0, 1, 2, true},    // first block from column 0
      {3, 33, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, false},   // 17 columns: two overlapping blocks
      {3, 31, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, false},   // 16 columns, 32 floats do not fit: scalar
  };
  hone::Generator gen(11);
  for (const Case& c : cases) {
    PoolGeometry g;
    g.n = 2;
    g.c = 3;
    g.in = {1, c.h, c.w};
    g.k = {1, c.kh, c.kw};
    g.stride = {1, c.sh, c.sw};
    g.pad_begin = {0, c.ph0, c.pw0};
    g.pad_end = {0, c.ph1, c.pw1};
    g.dilation = {1, c.dh, c.dw};
    for (int a = 1; a < 3; ++a) {
      const std::int64_t span = (g.k[a] - 1) * g.dilation[a] + 1;
      const std::int64_t room = g.in[a] + g.pad_begin[a] + g.pad_end[a] - span;
      g.out[a] = (c.ceil ? (room + g.stride[a] - 1) / g.stride[a] : room / g.stride[a]) + 1;
    }
    const std::int64_t planes = g.n * g.c;
    std::vector<float> x(static_cast<std::size_t>(planes * g.in_size()));
    for (auto& v : x) {  // four values, so most windows hold ties; NaNs, infinities, -0
      const double u = gen.uniform_double();
      v = u < 0.04   ? std::numeric_limits<float>::quiet_NaN()
          : u < 0.08 ? -std::numeric_limits<float>::infinity()
          : u < 0.3  ? -0.0f
                     : static_cast<float>(static_cast<int>(u * 4));
    }
    std::vector<float> dy(static_cast<std::size_t>(planes * g.out_size()));
    for (auto& v : dy) v = static_cast<float>(gen.uniform_double() - 0.5);
    std::vector<float> y_fast(dy.size()), y_ref(dy.size());
    hone::ops::detail_pool::maxpool_2d_forward(g, planes, x.data(), y_fast.data());
    hone::kernels::reference::maxpool_forward(g, x.data(), y_ref.data());
    std::vector<float> dx_fast(x.size(), 0.25f), dx_ref(x.size(), 0.25f);  // backward adds
    hone::ops::detail_pool::maxpool_2d_backward(g, planes, x.data(), dy.data(), dx_fast.data());
    hone::kernels::reference::maxpool_backward(g, x.data(), dy.data(), dx_ref.data());
    INFO("case " << c.h << "x" << c.w << " kernel " << c.kh << "x" << c.kw);
    for (std::size_t i = 0; i < y_ref.size(); ++i) {
      INFO("y[" << i << "]");
      CHECK(std::memcmp(&y_fast[i], &y_ref[i], sizeof(float)) == 0);  // -0 and +0 told apart
    }
    for (std::size_t i = 0; i < dx_ref.size(); ++i) {
      INFO("dx[" << i << "]");
      CHECK(dx_fast[i] == dx_ref[i]);
    }
  }
}
