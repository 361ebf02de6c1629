// Forward values of the ops (hone/ops/*.hpp) on small hand-worked examples: the gradient
// table checks that backward matches forward, this file checks that forward means what
// ONNX and PyTorch mean. Oracles: values worked out by hand or from closed forms written
// independently here (erf-GELU at 1, SELU constants, PyTorch's pooling output-size rule
// with ceil_mode, F.cross_entropy's label-smoothing formula).
#include <catch2/catch.hpp>

#include <hone/graph/session.hpp>

#include <cmath>
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
