// Surgery on real models: torchvision's resnet18, mobilenet_v2 and squeezenet1_1 exported by
// PyTorch (tests/parity/gen_onnx_models.py at test time, ctest fixture "parity-onnx",
// directory in HONE_ONNX_MODELS_DIR; 10 classes, 96x96 inputs). find_head finds torchvision's
// classifier modules (fc, classifier.1); replace_head gives (N, 7) logits, which survive an
// ONNX export and re-import; layers() and blocks() name torchvision's modules, also for the
// export with BatchNorm folded (parameters "onnx::Conv_N"); a frozen BatchNorm policy makes
// train mode compute eval mode's logits; split_at cuts between residual blocks and refuses
// to cut inside one.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "../parity/fixture.hpp"
#include "hone/graph/session.hpp"
#include "hone/onnx/export.hpp"
#include "hone/onnx/import.hpp"
#include "hone/train/bn_policy.hpp"
#include "hone/train/select.hpp"
#include "hone/train/surgery.hpp"

namespace {

using hone::Graph;
using hone::Mode;
using hone::Session;
using hone::Shape;
using hone::Tensor;
namespace ht = hone::train;

std::string models_dir() {
  const char* dir = std::getenv("HONE_ONNX_MODELS_DIR");
  if (!dir) FAIL("HONE_ONNX_MODELS_DIR is not set (ctest sets it; the generator writes the models)");
  return dir;
}

Graph<float> load(const std::string& file) { return hone::onnx::load<float>(models_dir() + "/" + file); }

Tensor<float> images() {
  // The generator's batch of 4 images, cut to 2 to keep the runtime down.
  const auto x = hone::onnx::to_tensor<float>(hone::onnx::read_tensor_file(models_dir() + "/resnet18_input.pb"));
  return x.slice(0, 2).clone();
}

Tensor<float> run(Graph<float>& g, const Tensor<float>& x, Mode mode = Mode::inference) {
  Session<float> s(g, {.mode = mode});
  return s.forward({x})[0];
}

std::vector<std::string> layer_names(const Graph<float>& g) {
  std::vector<std::string> out;
  for (const auto& l : ht::layers(g)) out.push_back(l.name);
  return out;
}

std::vector<std::string> resnet_blocks() {
  std::vector<std::string> out = {"conv1", "bn1"};
  for (const char* stage : {"layer1", "layer2", "layer3", "layer4"})
    for (const char* i : {".0", ".1"}) out.push_back(std::string(stage) + i);
  out.push_back("fc");
  return out;
}

/// replace_head(g, 7), then: logits (2, 7); export, re-import, same logits.
void check_new_head(Graph<float>& g, const std::string& weight) {
  const ht::HeadInfo h = ht::replace_head(g, 7, 3);
  CHECK(h.weight == weight);
  CHECK(h.out_features == 7);
  CHECK(g.parameter(weight).trainable);
  const Tensor<float> x = images();
  const Tensor<float> y = run(g, x);
  CHECK(y.shape() == Shape{2, 7});
  const hone::onnx::ModelProto model = hone::onnx::export_model(g);
  CHECK(model.graph.output[0].type.tensor_type.shape.dim[1].dim_value == 7);
  Graph<float> back = hone::onnx::import_model<float>(model);
  CHECK(back.parameter(weight).data.dim(0) == 7);
  CHECK(hone_test::relative_error(run(back, x), y) <= 1e-6);
}

}  // namespace

TEST_CASE("surgery on resnet18: head, layers, blocks, new head through ONNX", "[parity][surgery]") {
  Graph<float> g = load("resnet18_op13_bn.onnx");
  const ht::HeadInfo h = ht::find_head(g);
  CHECK(h.node == "/fc/Gemm");
  CHECK(h.weight == "fc.weight");
  CHECK(h.bias == "fc.bias");
  CHECK(h.in_features == 512);
  CHECK(h.out_features == 10);
  CHECK(h.input == "/Flatten_output_0");

  const auto L = ht::layers(g);
  REQUIRE(L.size() == 20 + 20 + 1);  // 20 convolutions, 20 BatchNorms, fc
  CHECK(L.front().name == "conv1");
  CHECK(L[1].name == "bn1");
  CHECK(L[1].op == "BatchNormalization");
  CHECK(L.back().name == "fc");
  CHECK(L.back().params == 512 * 10 + 10);
  std::int64_t total = 0;
  for (const auto& l : L) total += l.params;
  CHECK(total == 11181642);  // torchvision's resnet18(num_classes=10): sum(p.numel())
  CHECK(ht::summarize(g).trainable_params == 11181642);
  CHECK(ht::block_names(g) == resnet_blocks());
  const auto B = ht::blocks(g);
  REQUIRE(B.size() == 11);
  CHECK(B[0] == std::vector<std::string>{"conv1.weight"});
  CHECK(B[1] == std::vector<std::string>{"bn1.weight", "bn1.bias"});
  CHECK(B[4].size() == 9);  // layer2.0: two convs, two BatchNorms, the downsample conv and BatchNorm
  CHECK(std::find(B[4].begin(), B[4].end(), "layer2.0.downsample.0.weight") != B[4].end());
  CHECK(B.back() == std::vector<std::string>{"fc.weight", "fc.bias"});

  ht::freeze_until(g, "layer3");
  std::set<std::string> stages;
  for (const auto& p : g.parameters())
    if (p.trainable) stages.insert(p.name.substr(0, p.name.find('.')));
  CHECK(stages == std::set<std::string>{"layer3", "layer4", "fc"});

  check_new_head(g, "fc.weight");
}

TEST_CASE("surgery on resnet18 with BatchNorm folded: names from the node scopes", "[parity][surgery]") {
  Graph<float> g = load("resnet18_op13.onnx");
  const auto names = layer_names(g);
  REQUIRE(names.size() == 21);
  CHECK(names[0] == "conv1");
  CHECK(names[1] == "layer1.0.conv1");
  CHECK(std::find(names.begin(), names.end(), "layer2.0.downsample.0") != names.end());
  CHECK(names.back() == "fc");
  std::vector<std::string> expected = resnet_blocks();
  expected.erase(expected.begin() + 1);  // bn1 is folded into conv1
  CHECK(ht::block_names(g) == expected);
  CHECK(ht::blocks(g)[0].size() == 2);  // conv1's folded weight and bias, "onnx::Conv_N"
  CHECK(ht::find_head(g).weight == "fc.weight");
  CHECK(ht::train_biases_only(g) == 21);
  check_new_head(g, "fc.weight");
}

TEST_CASE("surgery on mobilenet_v2: classifier.1, features blocks", "[parity][surgery]") {
  Graph<float> g = load("mobilenet_v2_op13_bn.onnx");
  const ht::HeadInfo h = ht::find_head(g);
  CHECK(h.weight == "classifier.1.weight");
  CHECK(h.in_features == 1280);
  const auto blocks = ht::block_names(g);
  REQUIRE(blocks.size() == 20);  // features.0 ... features.18, classifier.1
  CHECK(blocks.front() == "features.0");
  CHECK(blocks[3] == "features.3");
  CHECK(blocks.back() == "classifier.1");
  CHECK(layer_names(g)[3] == "features.1.conv.0.1");
  check_new_head(g, "classifier.1.weight");
}

TEST_CASE("surgery on squeezenet1_1: a 1x1 Conv head behind Relu and pooling", "[parity][surgery]") {
  Graph<float> g = load("squeezenet1_1_op13.onnx");
  const ht::HeadInfo h = ht::find_head(g);
  CHECK(h.op == "Conv");
  CHECK(h.weight == "classifier.1.weight");
  CHECK(h.in_features == 512);
  CHECK(h.out_features == 10);
  check_new_head(g, "classifier.1.weight");
}

TEST_CASE("surgery on resnet18: frozen BatchNorm, truncation and splitting", "[parity][surgery]") {
  Graph<float> g = load("resnet18_op13_bn.onnx");
  const Tensor<float> x = images();
  const Tensor<float> want = run(g, x, Mode::eval);
  ht::set_bn_policy(g, ht::BnPolicy::frozen);
  CHECK(hone_test::relative_error(run(g, x, Mode::train), want) == 0);

  // Between layer3 and layer4: clean; prefix then suffix gives the same logits.
  const std::string cut = "/layer3/layer3.1/relu_1/Relu_output_0";
  ht::SplitGraphs<float> parts = ht::split_at(g, cut);
  CHECK(parts.suffix.inputs()[0].shape == Shape{1, 256, 6, 6});
  CHECK(parts.suffix.inputs()[0].batched);
  // Eval mode on both sides: bit-identical (inference would fuse Conv+BN chains, whose
  // rounding differs from the unfused ops'; graph/fusion.hpp).
  const Tensor<float> f = run(parts.prefix, x, Mode::eval);
  CHECK(hone_test::relative_error(run(parts.suffix, f, Mode::eval), want) == 0);
  // Inside layer4.0: the downsample branch reads layer3's output across the cut.
  CHECK_THROWS_WITH(ht::split_at(g, "/layer4/layer4.0/relu/Relu_output_0"),
                    Catch::Contains("reads \"" + cut + "\", computed before the cut"));

  ht::truncate_at(g, "/Flatten_output_0");
  CHECK_FALSE(g.has_parameter("fc.weight"));
  CHECK(run(g, x).shape() == Shape{2, 512});
}
