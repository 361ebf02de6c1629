// Tests for hone/graph/builder.hpp: generated and user-chosen parameter names (PyTorch/ONNX
// initializer names), the nodes and attributes a layer becomes (as an ONNX export of the
// same PyTorch layer has them), PyTorch's default initialisation bounds, Sequential and the
// functional form producing the same graph, and a residual block computed by the session
// against the reference convolution kernel with hand-written ReLU and addition.
#include <catch2/catch.hpp>

#include <hone/graph/builder.hpp>
#include <hone/graph/session.hpp>
#include <hone/kernels/reference/conv.hpp>

#include <cmath>
#include <string>
#include <vector>

using hone::Builder;
using hone::Graph;
using hone::Sequential;
using hone::Shape;
using hone::Tensor;
using hone::Var;

namespace {
std::vector<std::string> param_names(const Graph<float>& g) {
  std::vector<std::string> out;
  for (const auto& p : g.parameters()) out.push_back(p.name);
  return out;
}
}  // namespace

TEST_CASE("builder: parameter names follow PyTorch's initializer names", "[builder]") {
  Builder<float> b;
  Var x = b.input("x", {3, 8, 8});
  Var h = b.conv(x, 4, {.kernel = 3, .padding = 1}, "stem");
  h = b.batch_norm(h);
  h = b.conv(b.relu(h), 4, {.kernel = 3, .padding = 1, .bias = false});
  h = b.flatten(b.global_avg_pool(h));
  b.output(b.linear(h, 10));
  Graph<float> g = b.build();
  const std::vector<std::string> expected = {
      "stem.weight", "stem.bias", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
      "conv1.weight", "fc1.weight", "fc1.bias"};
  CHECK(param_names(g) == expected);
  CHECK(g.parameter("fc1.weight").data.shape() == Shape{10, 4});  // (out, in) as in PyTorch
  CHECK(g.parameter("bn1.running_var").buffer);
  CHECK_FALSE(g.parameter("bn1.running_var").trainable);
  CHECK(g.parameter("bn1.running_var").data[0] == 1.0f);
}

TEST_CASE("builder: layers become the ONNX nodes a PyTorch export has", "[builder]") {
  Builder<float> b;
  Var x = b.input("x", {8, 8, 8});
  Var h = b.conv(x, 8, {.kernel = 3, .stride = 2, .padding = 1, .groups = 8});
  h = b.relu6(b.batch_norm(h));
  b.output(b.linear(b.flatten(b.global_avg_pool(h)), 5));
  Graph<float> g = b.build();
  std::vector<std::string> ops;
  for (const auto& n : g.nodes()) ops.push_back(n.op);
  CHECK(ops == std::vector<std::string>{"Conv", "BatchNormalization", "Clip", "GlobalAveragePool",
                                        "Flatten", "Gemm"});
  const auto& conv = g.nodes()[0];
  CHECK(conv.attrs.get_ints("kernel_shape", {}) == std::vector<std::int64_t>{3, 3});
  CHECK(conv.attrs.get_ints("strides", {}) == std::vector<std::int64_t>{2, 2});
  CHECK(conv.attrs.get_ints("pads", {}) == std::vector<std::int64_t>{1, 1, 1, 1});
  CHECK(conv.attrs.get_int("group", 1) == 8);
  CHECK(g.parameter("conv1.weight").data.shape() == Shape{8, 1, 3, 3});
  CHECK(g.nodes()[1].attrs.get_float("momentum", 0) == 0.9);
  CHECK(g.nodes()[2].attrs.get_float("max", 0) == 6.0);
  CHECK(g.nodes()[5].attrs.get_int("transB", 0) == 1);
}

TEST_CASE("builder: default initialisation has PyTorch's bounds", "[builder]") {
  Builder<float> b(1);
  Var x = b.input("x", {16, 4, 4});
  b.output(b.conv(x, 32, {.kernel = 3}));
  Graph<float> g = b.build();
  const double bound = 1.0 / std::sqrt(16.0 * 9);  // kaiming_uniform(a=sqrt(5)) and the bias
  float wmax = 0, bmax = 0;
  for (float v : g.parameter("conv1.weight").data) wmax = std::max(wmax, std::fabs(v));
  for (float v : g.parameter("conv1.bias").data) bmax = std::max(bmax, std::fabs(v));
  CHECK(wmax <= bound * (1 + 1e-6));
  CHECK(wmax > 0.95 * bound);
  CHECK(bmax <= bound * (1 + 1e-6));
  CHECK(bmax > 0.5 * bound);
}

TEST_CASE("builder: Sequential and the functional form build the same graph", "[builder]") {
  Sequential<float> s({3, 6, 6}, 4);
  s.conv(5, {.kernel = 3, .padding = 1}).batch_norm().relu().max_pool({.kernel = 2}).flatten().linear(2);
  Graph<float> a = s.build();
  Builder<float> b(4);
  Var x = b.input("input", {3, 6, 6});
  Var h = b.max_pool(b.relu(b.batch_norm(b.conv(x, 5, {.kernel = 3, .padding = 1}))), {.kernel = 2});
  b.output(b.linear(b.flatten(h), 2));
  Graph<float> c = b.build();
  REQUIRE(a.nodes().size() == c.nodes().size());
  for (std::size_t i = 0; i < a.nodes().size(); ++i) {
    CHECK(a.nodes()[i].op == c.nodes()[i].op);
    CHECK(a.nodes()[i].inputs == c.nodes()[i].inputs);
  }
  REQUIRE(param_names(a) == param_names(c));
  for (std::size_t i = 0; i < a.parameters().size(); ++i) {
    const auto& pa = a.parameters()[i].data;
    const auto& pc = c.parameters()[i].data;
    for (std::int64_t k = 0; k < pa.numel(); ++k) CHECK(pa[k] == pc[k]);
  }
}

TEST_CASE("builder: a residual block computes relu(conv(x)) + x", "[builder]") {
  Builder<double> b(2);
  Var x = b.input("x", {3, 5, 5});
  Var h = b.relu(b.conv(x, 3, {.kernel = 3, .padding = 1}));
  b.output(b.add(h, x));
  Graph<double> g = b.build();
  hone::Session<double> s(g, {.mode = hone::Mode::inference});
  Tensor<double> in(Shape{2, 3, 5, 5});
  for (std::int64_t i = 0; i < in.numel(); ++i) in[i] = std::cos(0.37 * static_cast<double>(i));
  const auto y = s.forward({in})[0];

  hone::kernels::reference::ConvGeometry geo{};
  geo.n = 2;
  geo.c = geo.oc = 3;
  geo.in = geo.out = {1, 5, 5};
  geo.k = {1, 3, 3};
  geo.pad_begin = {0, 1, 1};
  Tensor<double> conv(Shape{2, 3, 5, 5});
  hone::kernels::reference::conv_forward(geo, in.data(), g.parameter("conv1.weight").data.data(),
                                         g.parameter("conv1.bias").data.data(), conv.data());
  for (std::int64_t i = 0; i < y.numel(); ++i)
    CHECK(y[i] == Approx(std::max(conv[i], 0.0) + in[i]).epsilon(1e-12));
}

TEST_CASE("builder: mistakes are reported with the layer name", "[builder]") {
  Builder<float> b;
  Var x = b.input("x", {6, 4, 4});
  CHECK_THROWS_WITH(b.conv(x, 4, {.groups = 4}, "dw"),
                    "[hone.shape] conv \"dw\": 6 input channels are not divisible by groups 4");
  CHECK_THROWS_WITH(b.linear(x, 3, true, "head"),
                    "[hone.shape] linear \"head\": input (1, 6, 4, 4) must be (N, features); "
                    "flatten it first");
}
