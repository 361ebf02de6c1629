// Tests for hone/train/select.hpp: the glob table, freezing by pattern, depth and kind on a
// Builder-built ResNet-like model (tests/train/surgery_test_util.hpp), the summary against
// hand-computed element counts, the error messages for mistyped patterns, and through a
// Session: frozen parameters are not planned for gradients, get none, and stay
// bit-identical through SGD steps done by hand.
#include <catch2/catch.hpp>

#include <hone/graph/session.hpp>
#include <hone/train/select.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "surgery_test_util.hpp"

using hone::Graph;
using hone::Mode;
using hone::Session;
using hone::Tensor;
namespace ht = hone::train;

namespace {

std::set<std::string> trainable_names(const Graph<float>& g) {
  std::set<std::string> out;
  for (const auto& p : g.parameters())
    if (p.trainable) out.insert(p.name);
  return out;
}

}  // namespace

TEST_CASE("glob_match: '*' spans dots, '?' is one character, the rest is literal", "[train][select]") {
  struct Case {
    const char* pattern;
    const char* name;
    bool match;
  };
  const Case cases[] = {
      {"layer4.*", "layer4.1.conv2.weight", true},
      {"layer4.*", "layer4", false},
      {"layer4*", "layer4", true},
      {"layer4.*", "layer40.conv.weight", false},
      {"*.bias", "fc.bias", true},
      {"*.bias", "layer1.0.bn1.bias", true},
      {"*.bias", "fc.bias.x", false},
      {"*bias*", "bias", true},
      {"fc.weight", "fc.weight", true},
      {"fc.weight", "fc.weights", false},
      {"fc.weigh", "fc.weight", false},
      {"layer?.0.*", "layer3.0.conv1.weight", true},
      {"layer?.0.*", "layer10.0.conv1.weight", false},
      {"?", "", false},
      {"*", "", true},
      {"", "", true},
      {"", "a", false},
      {"**", "abc", true},
      {"a*b*c", "aXXbYYc", true},
      {"a*b*c", "aXXbYY", false},
      {"*a*a*a", "aaaa", true},
      {"*conv?.weight", "layer1.0.conv12.weight", false},
      {"[ab]", "a", false},
      {"[ab]", "[ab]", true},
      {"onnx::Conv_*", "onnx::Conv_193", true},
  };
  for (const Case& c : cases) {
    INFO(c.pattern << " vs " << c.name);
    CHECK(ht::glob_match(c.pattern, c.name) == c.match);
  }
}

TEST_CASE("select: freeze and unfreeze by pattern change parameters only", "[train][select]") {
  Graph<float> g = hone_test::resnetish<float>().graph;
  CHECK(ht::freeze(g) == 20);
  CHECK(trainable_names(g).empty());
  CHECK(ht::unfreeze(g, "layer2.*") == 9);  // 3 conv weights, 3 BatchNorms x (weight, bias)
  CHECK(ht::unfreeze(g, "fc.*") == 2);
  CHECK(trainable_names(g).size() == 11);
  CHECK(g.parameter("layer2.0.downsample.1.bias").trainable);
  CHECK_FALSE(g.parameter("layer2.0.downsample.1.running_mean").trainable);  // a buffer
  CHECK_FALSE(g.parameter("layer1.0.conv1.weight").trainable);
  CHECK(ht::freeze(g, "*.bias") == 7);  // 6 BatchNorm shifts and fc.bias (the convs have none)
  CHECK_FALSE(g.parameter("fc.bias").trainable);
  CHECK(g.parameter("fc.weight").trainable);
  CHECK(ht::unfreeze(g) == 20);
  CHECK(trainable_names(g).size() == 20);
}

TEST_CASE("select: a pattern that matches nothing names the pattern and some parameters",
          "[train][select]") {
  Graph<float> g = hone_test::resnetish<float>().graph;
  try {
    ht::freeze(g, "layr2.*");
    FAIL("no exception");
  } catch (const hone::InvalidArgument& e) {
    const std::string m = e.what();
    CHECK(e.id() == "hone.train.no_match");
    CHECK(m.find("freeze(\"layr2.*\")") != std::string::npos);
    CHECK(m.find("conv1.weight") != std::string::npos);
    CHECK(m.find("20 in all") != std::string::npos);
  }
  // A module name without ".*": the message suggests it.
  try {
    ht::unfreeze(g, "layer2");
    FAIL("no exception");
  } catch (const hone::InvalidArgument& e) {
    CHECK(std::string(e.what()).find("did you mean \"layer2.*\"") != std::string::npos);
  }
  // Buffers are never trainable, so a pattern over buffers alone is an error too.
  CHECK_THROWS_WITH(ht::unfreeze(g, "*.running_*"), Catch::Contains("only buffers or constants"));
  CHECK(trainable_names(g).size() == 20);  // nothing changed
}

TEST_CASE("select: freeze_until by module path, parameter name and depth", "[train][select]") {
  Graph<float> g = hone_test::resnetish<float>().graph;
  // Layers: conv1 bn1 | layer1.0: conv1 bn1 conv2 bn2 | layer2.0: conv1 bn1 conv2 bn2
  // downsample.0 downsample.1 | fc: 13 layers; layer2 starts at depth 6.
  CHECK(ht::freeze_until(g, "layer2") == 9);  // conv1, bn1 (2), layer1.0 (2 + 4)
  std::set<std::string> expected = {"layer2.0.conv1.weight", "layer2.0.bn1.weight", "layer2.0.bn1.bias",
                                    "layer2.0.conv2.weight", "layer2.0.bn2.weight", "layer2.0.bn2.bias",
                                    "layer2.0.downsample.0.weight", "layer2.0.downsample.1.weight",
                                    "layer2.0.downsample.1.bias", "fc.weight", "fc.bias"};
  CHECK(trainable_names(g) == expected);
  // Moving the cut back unfreezes again; a parameter name or a deeper path works too.
  CHECK(ht::freeze_until(g, "layer1.0.conv2.weight") == 6);  // conv1, bn1 (2), layer1.0.conv1, .bn1 (2)
  CHECK(g.parameter("layer1.0.conv2.weight").trainable);
  CHECK_FALSE(g.parameter("layer1.0.bn1.bias").trainable);
  CHECK(ht::freeze_until(g, "layer1.0.bn2") == 7);
  CHECK_FALSE(g.parameter("layer1.0.conv2.weight").trainable);
  CHECK(g.parameter("layer1.0.bn2.weight").trainable);
  CHECK(ht::freeze_until(g, std::size_t{12}) == 18);  // all but fc
  CHECK(trainable_names(g) == std::set<std::string>{"fc.weight", "fc.bias"});
  CHECK(ht::freeze_until(g, std::size_t{0}) == 0);
  CHECK(trainable_names(g).size() == 20);
  CHECK(ht::freeze_until(g, std::size_t{13}) == 20);
  CHECK(trainable_names(g).empty());
  CHECK_THROWS_WITH(ht::freeze_until(g, std::size_t{14}), Catch::Contains("13 layers"));
  // "layer" is not a module path prefix at a dot; the message lists the blocks.
  CHECK_THROWS_WITH(ht::freeze_until(g, "layer"), Catch::Contains("layer1.0, layer2.0, fc"));
}

TEST_CASE("select: training by kind (BitFit, BatchNorm affine, head)", "[train][select]") {
  Graph<float> g = hone_test::resnetish<float>().graph;
  CHECK(ht::train_biases_only(g) == 7);  // six BatchNorm shifts and fc.bias
  std::set<std::string> biases;
  for (const auto& p : g.parameters())
    if (!p.buffer && p.name.size() > 5 && p.name.substr(p.name.size() - 5) == ".bias") biases.insert(p.name);
  CHECK(trainable_names(g) == biases);

  CHECK(ht::train_bn_affine_only(g) == 12);
  for (const auto& p : g.parameters()) {
    const bool bn = p.name.find("bn") != std::string::npos || p.name.rfind("layer2.0.downsample.1.", 0) == 0;
    CHECK(p.trainable == (bn && !p.buffer));
  }

  CHECK(ht::train_head_only(g) == 2);
  CHECK(trainable_names(g) == std::set<std::string>{"fc.weight", "fc.bias"});

  // BitFit recognises biases by role too: PyTorch exports with BatchNorm folded name them
  // "onnx::Conv_..."; a Conv's third operand is a bias whatever its name.
  hone::Builder<float> b;
  const hone::Var x = b.input("x", {2, 4, 4});
  b.output(b.conv(x, 3, {.kernel = 1}, "c"));
  Graph<float> plain = b.build();
  Graph<float> renamed;
  renamed.add_input("x", plain.inputs()[0].shape);
  renamed.add_parameter("onnx::Conv_1", plain.parameter("c.weight").data);
  renamed.add_parameter("onnx::Conv_2", plain.parameter("c.bias").data);
  renamed.add_node("Conv", {"x", "onnx::Conv_1", "onnx::Conv_2"}, {"y"}, plain.nodes()[0].attrs, "/c/Conv");
  renamed.add_output("y");
  CHECK(ht::train_biases_only(renamed) == 1);
  CHECK(renamed.parameter("onnx::Conv_2").trainable);
  CHECK_FALSE(renamed.parameter("onnx::Conv_1").trainable);
  CHECK_THROWS_WITH(ht::train_bn_affine_only(renamed), Catch::Contains("no BatchNormalization"));
}

TEST_CASE("select: summarize counts elements by role; describe tabulates the layers", "[train][select]") {
  Graph<float> g = hone_test::resnetish<float>().graph;
  // Hand-computed: conv1 4*3*9 = 108, layer1.0 convs 2 * 4*4*9 = 288, layer2.0.conv1 8*4*9 = 288,
  // conv2 8*8*9 = 576, downsample 8*4 = 32, fc 5*8 + 5 = 45; BatchNorm scale+shift: 2 * (4 + 4 + 4
  // + 8 + 8 + 8) = 72; running statistics the same 72.
  const std::int64_t total = 108 + 288 + 288 + 576 + 32 + 45 + 72;
  REQUIRE(total == 1409);
  ht::ParamSummary s = ht::summarize(g);
  CHECK(s.trainable_params == total);
  CHECK(s.frozen_params == 0);
  CHECK(s.buffers == 72);
  CHECK(s.constants == 0);
  CHECK(s.trainable_tensors == 20);
  CHECK(s.frozen_tensors == 0);
  ht::freeze_until(g, "layer2");
  s = ht::summarize(g);
  CHECK(s.frozen_params == 108 + 8 + 288 + 16);
  CHECK(s.trainable_params == total - (108 + 8 + 288 + 16));
  CHECK(s.frozen_tensors == 9);
  CHECK(s.trainable_tensors == 11);

  const std::string table = ht::describe(g);
  INFO(table);
  CHECK(table.find("layer2.0.conv1") != std::string::npos);
  CHECK(table.find("(N, 8, 4, 4)") != std::string::npos);
  CHECK(table.find("frozen: 420 in 9 tensors") != std::string::npos);
  // One row per layer plus the header and the totals.
  CHECK(std::count(table.begin(), table.end(), '\n') == 13 + 2);
}

TEST_CASE("select: frozen parameters are not planned for gradients and stay bit-identical",
          "[train][select][session]") {
  hone_test::ResNetish<float> m = hone_test::resnetish<float>(3);
  Graph<float>& g = m.graph;
  ht::freeze_until(g, "layer2");
  std::map<std::string, Tensor<float>> before;
  for (const auto& p : g.parameters()) before[p.name] = p.data.clone();

  Session<float> s(g, {.mode = Mode::train});
  const Tensor<float> x = hone_test::wave<float>({4, 3, 8, 8}, 0.37);
  const Tensor<float> dy = hone_test::wave<float>({4, 5}, 1.3);
  for (int step = 0; step < 3; ++step) {
    s.zero_grad();
    s.forward({x});
    s.backward({dy});
    for (auto& p : g.parameters())
      if (s.has_grad(p.name)) {
        const Tensor<float> grad = s.grad(p.name);
        for (std::int64_t i = 0; i < p.data.numel(); ++i) p.data[i] -= 0.1f * grad[i];
      }
  }
  for (const auto& p : g.parameters()) {
    INFO(p.name);
    if (p.buffer) continue;
    const bool frozen = !p.trainable;
    CHECK(s.requires_grad(p.name) == !frozen);
    CHECK(s.has_grad(p.name) == !frozen);
    bool same = true;
    for (std::int64_t i = 0; i < p.data.numel(); ++i) same = same && p.data[i] == before[p.name][i];
    CHECK(same == frozen);  // trained ones moved, frozen ones are bit-identical
  }
  // The frozen prefix runs forward only: its activations need no gradient.
  CHECK_FALSE(s.requires_grad(m.stem_out));
  CHECK_FALSE(s.requires_grad(m.block1_out));
  CHECK(s.requires_grad(m.block2_out));
  CHECK_THROWS_WITH(s.grad("conv1.weight"), Catch::Contains("frozen"));
}
