// Tests for hone/graph/session.hpp: requires-grad propagation, what is saved for backward
// and what is freed, the memory report, train/eval/inference modes, gradient accumulation
// and determinism. Oracles: the planning rules stated in session.hpp checked on small
// graphs (which values must be held), hand-computed BatchNorm statistics, and arithmetic
// identities (two backwards give twice the gradient).
#include <catch2/catch.hpp>

#include <hone/graph/builder.hpp>
#include <hone/graph/session.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

using hone::Builder;
using hone::Graph;
using hone::Mode;
using hone::Session;
using hone::Shape;
using hone::Tensor;
using hone::Var;

namespace {

// x (N,2,6,6) -> conv1 -> relu -> conv2 -> relu -> global avg pool -> flatten -> fc1 -> mse
Graph<double> small_net() {
  Builder<double> b(3);
  Var x = b.input("x", {2, 6, 6});
  Var t = b.input("target", {3});
  Var h = b.relu(b.conv(x, 4, {.kernel = 3, .padding = 1}, "conv1"));
  h = b.relu(b.conv(h, 4, {.kernel = 3, .padding = 1}, "conv2"));
  h = b.flatten(b.global_avg_pool(h));
  Var y = b.linear(h, 3, true, "fc1");
  b.output(b.mse(y, t));
  return b.build();
}

Tensor<double> ramp(const Shape& s, double scale) {
  Tensor<double> t(s);
  for (std::int64_t i = 0; i < t.numel(); ++i) t[i] = std::sin(scale * static_cast<double>(i + 1));
  return t;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

TEST_CASE("session: a frozen prefix saves nothing and gets no gradients", "[session]") {
  Graph<double> g = small_net();
  g.freeze("conv");  // conv1 and conv2 frozen, fc1 trainable
  Session<double> s(g);
  s.forward({ramp({2, 2, 6, 6}, 0.3), ramp({2, 3}, 0.7)});
  // Only fc1 runs backward; it needs its input (for the weight gradient) and mse its inputs.
  const auto saved = s.saved_values();
  CHECK(contains(saved, "flatten1"));
  CHECK(contains(saved, "fc1"));
  CHECK_FALSE(contains(saved, "conv1"));
  CHECK_FALSE(contains(saved, "relu1"));
  CHECK_FALSE(contains(saved, "conv2"));
  CHECK_FALSE(contains(saved, "relu2"));
  CHECK_FALSE(contains(saved, "globalaveragepool1"));
  CHECK_FALSE(s.requires_grad("conv1"));
  CHECK_FALSE(s.requires_grad("flatten1"));  // nothing below the lowest trainable parameter
  CHECK(s.requires_grad("fc1"));
  s.backward();
  CHECK(s.has_grad("fc1.weight"));
  CHECK_FALSE(s.has_grad("conv1.weight"));
  CHECK_THROWS_WITH(s.grad("conv2.weight"),
                    "[hone.state] grad: \"conv2.weight\" has no gradient (it is frozen or a buffer)");
}

TEST_CASE("session: unfreezing the last conv saves exactly what its backward reads", "[session]") {
  Graph<double> g = small_net();
  g.freeze("conv1");
  Session<double> s(g);
  s.forward({ramp({2, 2, 6, 6}, 0.3), ramp({2, 3}, 0.7)});
  const auto saved = s.saved_values();
  CHECK(contains(saved, "relu1"));   // conv2's input, for conv2.weight's gradient
  CHECK(contains(saved, "relu2"));   // Relu's backward reads its output (y > 0)
  CHECK_FALSE(contains(saved, "conv2"));  // so relu2's input is not kept
  CHECK_FALSE(contains(saved, "conv1"));  // relu1 is frozen-prefix: no backward
  CHECK_FALSE(s.requires_grad("relu1"));
  CHECK(s.requires_grad("conv2"));
}

TEST_CASE("session: planned peak is below the sum of activations and matches the measured peak", "[session]") {
  Graph<double> g = small_net();
  Session<double> s(g);
  s.forward({ramp({2, 2, 6, 6}, 0.3), ramp({2, 3}, 0.7)});
  const auto full = s.memory();
  CHECK(full.planned_peak == full.actual_peak);
  CHECK(full.planned_peak < full.all_activations);
  CHECK(full.saved_for_backward > 0);
  s.backward();

  s.set_mode(Mode::inference);
  s.forward({ramp({2, 2, 6, 6}, 0.3), ramp({2, 3}, 0.7)});
  const auto inf = s.memory();
  CHECK(inf.planned_peak == inf.actual_peak);
  CHECK(inf.planned_peak < full.planned_peak);
  CHECK(inf.saved_for_backward == 0);
  CHECK(s.saved_values().empty());
  // The largest two live activations in inference: a conv output and its relu, 2*4*6*6 each.
  CHECK(inf.planned_peak == 2 * (2 * 4 * 6 * 6) * 8);
  CHECK_THROWS_WITH(s.backward(), Catch::Contains("[hone.state] backward: the last forward ran in inference mode"));
}

TEST_CASE("session: backward needs a fresh, complete forward", "[session]") {
  Graph<double> g = small_net();
  Session<double> s(g);
  CHECK_THROWS_AS(s.backward(), hone::StateError);
  s.forward({ramp({2, 2, 6, 6}, 0.3), ramp({2, 3}, 0.7)});
  s.backward();
  CHECK_THROWS_AS(s.backward(), hone::StateError);
  CHECK_THROWS_WITH(s.forward({ramp({2, 2, 6, 6}, 0.3)}),
                    "[hone.invalid_argument] the graph has 2 inputs, 1 were given");
  CHECK_THROWS_AS(s.backward(), hone::StateError);
}

TEST_CASE("session: a failing op leaves no half-finished forward to backward through", "[session]") {
  Builder<double> b;
  Var x = b.input("x", {3});
  Var labels = b.input("labels", {});
  b.output(b.cross_entropy(x, labels));
  Graph<double> g = b.build();
  Session<double> s(g);
  CHECK_THROWS_WITH(s.forward({Tensor<double>(Shape{2, 3}), Tensor<double>::from(Shape{2}, {0.0, 3.0})}),
                    "[hone.invalid_argument] node \"softmaxcrossentropyloss1\" (SoftmaxCrossEntropyLoss): "
                    "label 3 of sample 1 is not a class index in [0, 3)");
  CHECK_THROWS_AS(s.backward(), hone::StateError);
}

TEST_CASE("session: gradients accumulate until zero_grad", "[session]") {
  Graph<double> g = small_net();
  Session<double> s(g);
  const auto x = ramp({2, 2, 6, 6}, 0.3), t = ramp({2, 3}, 0.7);
  s.forward({x, t});
  s.backward();
  const Tensor<double> once = s.grad("conv1.weight").clone();
  s.forward({x, t});
  s.backward();
  const Tensor<double> twice = s.grad("conv1.weight");
  for (std::int64_t i = 0; i < once.numel(); ++i) CHECK(twice[i] == Approx(2 * once[i]).epsilon(1e-12));
  s.zero_grad();
  CHECK_FALSE(s.has_grad("conv1.weight"));
  s.forward({x, t});
  s.backward();
  CHECK(s.grad("conv1.weight")[0] == Approx(once[0]).epsilon(1e-12));
}

TEST_CASE("session: any batch size runs on the same graph", "[session]") {
  Graph<double> g = small_net();
  Session<double> s(g);
  CHECK(s.forward({ramp({3, 2, 6, 6}, 0.3), ramp({3, 3}, 0.7)})[0].numel() == 1);
  // Batched inputs must agree where the graph combines them.
  CHECK_THROWS_WITH(s.forward({ramp({3, 2, 6, 6}, 0.3), ramp({2, 3}, 0.7)}),
                    "[hone.shape] node \"meansquarederror1\" (MeanSquaredError): inputs must have "
                    "the same shape, got (3, 3) and (2, 3)");
  Graph<float> h = [] {
    hone::Sequential<float> q({2, 4, 4});
    q.conv(3, {.kernel = 3}).relu().flatten();
    return q.build();
  }();
  Session<float> sf(h, {.mode = Mode::inference});
  CHECK(sf.forward({Tensor<float>(Shape{5, 2, 4, 4})})[0].shape() == Shape{5, 12});
  CHECK(sf.forward({Tensor<float>(Shape{1, 2, 4, 4})})[0].shape() == Shape{1, 12});
}

TEST_CASE("session: BatchNorm uses batch statistics in train mode and running ones in eval", "[session]") {
  Builder<double> b;
  Var x = b.input("x", {2});
  b.output(b.batch_norm(x, "bn", 1e-5, 0.9));
  Graph<double> g = b.build();
  g.parameter("bn.running_mean").data.copy_from(Tensor<double>::from(Shape{2}, {1.0, -1.0}));
  g.parameter("bn.running_var").data.copy_from(Tensor<double>::from(Shape{2}, {4.0, 0.25}));
  const auto in = Tensor<double>::from(Shape{3, 2}, {1.0, 2.0, 3.0, 4.0, 8.0, 0.0});
  Session<double> s(g, {.mode = Mode::eval});
  auto y = s.forward({in})[0];
  CHECK(y(0, 0) == Approx((1.0 - 1.0) / std::sqrt(4.0 + 1e-5)));
  CHECK(y(2, 1) == Approx((0.0 + 1.0) / std::sqrt(0.25 + 1e-5)));
  CHECK(g.parameter("bn.running_mean").data[0] == 1.0);  // eval leaves the buffers alone

  s.set_mode(Mode::train);
  y = s.forward({in})[0];
  // Channel 0: values 1, 3, 8: mean 4, biased var 26/3, unbiased 13.
  CHECK(y(0, 0) == Approx((1.0 - 4.0) / std::sqrt(26.0 / 3 + 1e-5)));
  // ONNX momentum: running = running * 0.9 + batch * 0.1.
  CHECK(g.parameter("bn.running_mean").data[0] == Approx(1.0 * 0.9 + 4.0 * 0.1));
  CHECK(g.parameter("bn.running_var").data[0] == Approx(4.0 * 0.9 + 13.0 * 0.1));
}

TEST_CASE("session: a residual branch gets gradients from both paths", "[session]") {
  // y = relu(x) + relu(x) * w: dL/dw = sum(relu(x)) for L = sum(y).
  Graph<double> g;
  g.add_input("x", Shape{1, 4});
  g.add_parameter("w", Tensor<double>(Shape{1}, 3.0));
  g.add_node("Relu", {"x"}, {"r"});
  g.add_node("Mul", {"r", "w"}, {"m"});
  g.add_node("Add", {"r", "m"}, {"y"});
  g.add_output("y");
  Session<double> s(g, {.grad_inputs = {"x"}});
  const auto x = Tensor<double>::from(Shape{1, 4}, {-1.0, 0.5, 2.0, -3.0});
  s.forward({x});
  s.backward({Tensor<double>(Shape{1, 4}, 1.0)});
  CHECK(s.grad("w")[0] == Approx(2.5));
  const auto dx = s.grad("x");
  CHECK(dx[0] == 0.0);
  CHECK(dx[1] == Approx(4.0));  // 1 + w through both branches
}

TEST_CASE("session: the same seed and thread count give bit-identical gradients", "[session]") {
  auto run = [] {
    Builder<float> b(11);
    Var x = b.input("x", {3, 5, 5});
    Var h = b.relu(b.batch_norm(b.conv(x, 6, {.kernel = 3, .stride = 2, .padding = 1})));
    Var y = b.linear(b.flatten(b.global_avg_pool(h)), 4);
    Var labels = b.input("labels", {});
    b.output(b.cross_entropy(y, labels, {.label_smoothing = 0.1}));
    Graph<float> g = b.build();
    Session<float> s(g, {.seed = 5});
    Tensor<float> in(Shape{4, 3, 5, 5});
    hone::Generator gen(9);
    for (auto& v : in) v = gen.uniform_float();
    s.forward({in, Tensor<float>::from(Shape{4}, {0, 1, 2, 3})});
    s.backward();
    return s.grad("conv1.weight").clone();
  };
  const auto a = run(), c = run();
  REQUIRE(a.numel() == c.numel());
  bool identical = true;
  for (std::int64_t i = 0; i < a.numel(); ++i) identical = identical && a[i] == c[i];
  CHECK(identical);
}

TEST_CASE("session: Dropout drops with its ratio in train mode, seeded, identity in eval", "[session]") {
  Graph<double> g;
  g.add_input("x", Shape{1, 4000});
  hone::Attributes a;
  a.set_float("ratio", 0.25);
  g.add_node("Dropout", {"x"}, {"y"}, a, "drop");
  g.add_output("y");
  const Tensor<double> ones(Shape{1, 4000}, 1.0);
  auto mask_of = [&](std::uint64_t seed) {
    Session<double> s(g, {.seed = seed, .grad_inputs = {"x"}});
    const auto y = s.forward({ones})[0].clone();
    s.backward({Tensor<double>(Shape{1, 4000}, 1.0)});
    const auto dx = s.grad("x");
    std::int64_t dropped = 0;
    for (std::int64_t i = 0; i < y.numel(); ++i) {
      CHECK((y[i] == 0.0 || y[i] == Approx(1 / 0.75)));
      CHECK(dx[i] == y[i]);  // x = 1, so dy/dx is the mask scale
      dropped += y[i] == 0.0;
    }
    CHECK(dropped == Approx(1000).margin(120));  // 0.25 * 4000, about 4 standard deviations
    return y;
  };
  const auto a1 = mask_of(1), a2 = mask_of(1), b1 = mask_of(2);
  std::int64_t same = 0, differ = 0;
  for (std::int64_t i = 0; i < a1.numel(); ++i) {
    same += a1[i] == a2[i];
    differ += a1[i] != b1[i];
  }
  CHECK(same == a1.numel());
  CHECK(differ > 0);
  Session<double> eval(g, {.mode = Mode::eval});
  const auto y = eval.forward({ones})[0];
  for (std::int64_t i = 0; i < y.numel(); ++i) REQUIRE(y[i] == 1.0);
}
