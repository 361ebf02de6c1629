// Real models through the ONNX importer: torchvision's resnet18, mobilenet_v2 and
// squeezenet1_1 exported by Debian's python3-torch at opsets 11, 13 and 17 (and at opset
// 13 with BatchNormalization kept) by tests/parity/gen_onnx_models.py at test time (ctest
// fixture "parity-onnx", directory in HONE_ONNX_MODELS_DIR). hone's eval-mode outputs for a
// batch of 4 must match PyTorch's within 1e-4, relative to the largest PyTorch logit.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

#include "fixture.hpp"
#include "hone/hone.hpp"
#include "hone/onnx/import.hpp"

namespace {

std::string models_dir() {
  const char* dir = std::getenv("HONE_ONNX_MODELS_DIR");
  if (!dir) FAIL("HONE_ONNX_MODELS_DIR is not set (ctest sets it; the generator writes the models)");
  return dir;
}

void check_model(const std::string& model, const std::string& variant) {
  const std::string dir = models_dir();
  hone::Graph<float> g = hone::onnx::load<float>(dir + "/" + model + "_" + variant + ".onnx");
  const auto x = hone::onnx::to_tensor<float>(hone::onnx::read_tensor_file(dir + "/" + model + "_input.pb"));
  const auto want = hone::onnx::to_tensor<float>(hone::onnx::read_tensor_file(dir + "/" + model + "_output.pb"));
  REQUIRE(x.dim(0) == 4);
  // The batch is symbolic: the graph was imported with an example batch of 1.
  REQUIRE(g.inputs().size() == 1);
  CHECK(g.inputs()[0].batched);
  hone::Session<float> s(g, {.mode = hone::Mode::inference});
  const auto out = s.forward({x});
  REQUIRE(out.size() == 1);
  const double err = hone_test::relative_error(out[0], want);
  INFO(model << " " << variant << ": relative error " << err);
  CHECK(err <= 1e-4);
}

}  // namespace

TEST_CASE("resnet18 exported by PyTorch matches PyTorch", "[parity][onnx]") {
  for (const char* v : {"op11", "op13", "op17", "op13_bn"}) check_model("resnet18", v);
}

TEST_CASE("mobilenet_v2 exported by PyTorch matches PyTorch", "[parity][onnx]") {
  for (const char* v : {"op11", "op13", "op17", "op13_bn"}) check_model("mobilenet_v2", v);
}

TEST_CASE("squeezenet1_1 exported by PyTorch matches PyTorch", "[parity][onnx]") {
  for (const char* v : {"op11", "op13", "op17", "op13_bn"}) check_model("squeezenet1_1", v);
}

TEST_CASE("an export that keeps BatchNorm keeps PyTorch's parameter names and roles",
          "[parity][onnx]") {
  hone::Graph<float> g = hone::onnx::load<float>(models_dir() + "/resnet18_op13_bn.onnx");
  CHECK(g.parameter("layer1.0.conv1.weight").trainable);
  CHECK(g.parameter("layer4.1.bn2.weight").trainable);
  CHECK(g.parameter("layer4.1.bn2.bias").trainable);
  CHECK(g.parameter("layer4.1.bn2.running_mean").buffer);
  CHECK(g.parameter("layer4.1.bn2.running_var").buffer);
  CHECK(g.parameter("fc.weight").trainable);
  CHECK(g.parameter("fc.bias").trainable);
  // 62 trainable tensors in torchvision's resnet18 (20 conv weights, 20 BN scales and
  // shifts, fc weight and bias) and 40 running statistics.
  int trainable = 0, buffers = 0;
  for (const auto& p : g.parameters()) {
    trainable += p.trainable;
    buffers += p.buffer;
  }
  CHECK(trainable == 62);
  CHECK(buffers == 40);
}
