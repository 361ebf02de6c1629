// Export round trips: import -> export -> import gives the same graph, and ONNX Runtime (npm
// onnxruntime-node, run through tests/onnx/ort_run.js) computes hone's outputs from the
// exported file within 1e-5 relative. The models are PyTorch exports written at test time
// (HONE_ONNX_MODELS_DIR, ctest fixture "parity-onnx"), one of them fine-tuned by hone first.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../parity/fixture.hpp"
#include "hone/hone.hpp"
#include "hone/onnx/export.hpp"
#include "hone/onnx/import.hpp"

namespace {

namespace fs = std::filesystem;
namespace ox = hone::onnx;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  if (!v) FAIL(std::string(name) + " is not set (ctest sets it)");
  return v;
}

fs::path scratch(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("hone_roundtrip_" + std::to_string(::getpid()) + "_" + name);
  fs::create_directories(p);
  return p;
}

/// ONNX Runtime's outputs for `model` on float32 inputs.
std::vector<hone::Tensor<float>> run_ort(const fs::path& model, const std::vector<std::string>& names,
                                         const std::vector<hone::Tensor<float>>& inputs,
                                         const fs::path& dir) {
  std::ofstream manifest(dir / "manifest.json");
  manifest << "{\"inputs\": [";
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const std::string file = "input_" + std::to_string(i) + ".bin";
    std::ofstream(dir / file, std::ios::binary)
        .write(reinterpret_cast<const char*>(inputs[i].data()), inputs[i].numel() * 4);
    manifest << (i ? ", " : "") << "{\"name\": \"" << names[i] << "\", \"dims\": [";
    for (std::size_t d = 0; d < inputs[i].shape().rank(); ++d) manifest << (d ? ", " : "") << inputs[i].shape()[d];
    manifest << "], \"file\": \"" << file << "\"}";
  }
  manifest << "]}";
  manifest.close();
  const std::string cmd = std::string("HONE_NODE_MODULES=") + HONE_NODE_MODULES + " " + HONE_TEST_NODE + " " +
                          HONE_ORT_RUN + " " + model.string() + " " +
                          (dir / "manifest.json").string() + " " + (dir / "ort").string();
  REQUIRE(std::system(cmd.c_str()) == 0);
  // outputs.json: {"outputs":[{"name":"output","dims":[4,10]}, ...]}
  std::ifstream js(dir / "ort" / "outputs.json");
  const std::string text((std::istreambuf_iterator<char>(js)), {});
  std::vector<hone::Tensor<float>> outs;
  std::size_t pos = 0;
  for (int k = 0;; ++k) {
    pos = text.find("\"dims\":[", pos);
    if (pos == std::string::npos) break;
    pos += 8;
    std::vector<std::int64_t> dims;
    while (text[pos] != ']') {
      std::size_t used = 0;
      dims.push_back(std::stoll(text.substr(pos), &used));
      pos += used;
      if (text[pos] == ',') ++pos;
    }
    hone::Tensor<float> t{hone::Shape(std::span<const std::int64_t>(dims))};
    std::ifstream(dir / "ort" / ("output_" + std::to_string(k) + ".bin"), std::ios::binary)
        .read(reinterpret_cast<char*>(t.data()), t.numel() * 4);
    outs.push_back(t);
  }
  return outs;
}

/// Same inputs, outputs, nodes (op, inputs, outputs, attributes) and parameters.
void check_same_graph(const hone::Graph<float>& a, const hone::Graph<float>& b) {
  REQUIRE(a.inputs().size() == b.inputs().size());
  for (std::size_t i = 0; i < a.inputs().size(); ++i) {
    CHECK(a.inputs()[i].name == b.inputs()[i].name);
    CHECK(a.inputs()[i].shape == b.inputs()[i].shape);
    CHECK(a.inputs()[i].batched == b.inputs()[i].batched);
  }
  CHECK(a.outputs() == b.outputs());
  REQUIRE(a.nodes().size() == b.nodes().size());
  for (std::size_t i = 0; i < a.nodes().size(); ++i) {
    INFO("node " << a.nodes()[i].name);
    CHECK(a.nodes()[i].op == b.nodes()[i].op);
    CHECK(a.nodes()[i].inputs == b.nodes()[i].inputs);
    CHECK(a.nodes()[i].outputs == b.nodes()[i].outputs);
    CHECK(a.nodes()[i].attrs.all() == b.nodes()[i].attrs.all());
  }
  REQUIRE(a.parameters().size() == b.parameters().size());
  for (const auto& p : a.parameters()) {
    INFO("parameter " << p.name);
    const auto& q = b.parameter(p.name);
    CHECK(p.trainable == q.trainable);
    CHECK(p.buffer == q.buffer);
    CHECK(p.constant == q.constant);
    CHECK(hone_test::relative_error(p.data, q.data) == 0.0);
  }
}

hone::Tensor<float> model_input(const std::string& model) {
  return ox::to_tensor<float>(ox::read_tensor_file(env("HONE_ONNX_MODELS_DIR") + "/" + model + "_input.pb"));
}

}  // namespace

TEST_CASE("import -> export -> import is identical for PyTorch exports", "[onnx][roundtrip]") {
  for (const char* file : {"resnet18_op13_bn", "mobilenet_v2_op11", "mobilenet_v2_op13_bn", "squeezenet1_1_op17"}) {
    INFO(file);
    const hone::Graph<float> g = ox::load<float>(env("HONE_ONNX_MODELS_DIR") + "/" + file + ".onnx");
    const fs::path dir = scratch(file);
    ox::save(g, (dir / "export.onnx").string());
    const hone::Graph<float> back = ox::load<float>((dir / "export.onnx").string());
    check_same_graph(g, back);
    fs::remove_all(dir);
  }
}

TEST_CASE("a model fine-tuned by hone and exported runs in ONNX Runtime with hone's outputs",
          "[onnx][roundtrip][ort]") {
  const std::string file = GENERATE(std::string("resnet18_op13_bn"), std::string("mobilenet_v2_op13_bn"),
                                    std::string("squeezenet1_1_op13_bn"));
  const std::string model = file.substr(0, file.find("_op"));
  INFO(file);
  hone::Graph<float> g = ox::load<float>(env("HONE_ONNX_MODELS_DIR") + "/" + file + ".onnx");
  const hone::Tensor<float> x = model_input(model);

  // Fine-tune: a classification head on the logits and two SGD steps in train mode, which
  // changes the weights and the BatchNorm running statistics.
  g.add_input("labels", hone::Shape{1}, true);
  g.add_node("SoftmaxCrossEntropyLoss", {"output", "labels"}, {"loss"}, {}, "loss");
  g.add_output("loss");  // outputs: "output", "loss"
  const hone::Tensor<float> labels = hone::Tensor<float>::from(hone::Shape{4}, {1.f, 2.f, 3.f, 4.f});
  {
    hone::Session<float> s(g, {.mode = hone::Mode::train, .seed = 1});
    for (int step = 0; step < 2; ++step) {
      s.zero_grad();
      s.forward({x, labels});
      s.backward({hone::Tensor<float>(), hone::Tensor<float>(hone::Shape{}, 1.f)});
      for (auto& p : g.parameters()) {
        if (!p.trainable) continue;
        const auto grad = s.grad(p.name);
        for (std::int64_t i = 0; i < p.data.numel(); ++i) p.data[i] -= 0.01f * grad[i];
      }
    }
  }
  hone::Session<float> eval(g, {.mode = hone::Mode::inference});
  const auto hone_out = eval.forward({x, labels});

  const fs::path dir = scratch(model + "_ort");
  ox::save(g, (dir / "tuned.onnx").string(), {.outputs = {"output"}});
  const auto ort = run_ort(dir / "tuned.onnx", {"input"}, {x}, dir);
  REQUIRE(ort.size() == 1);
  CHECK(hone_test::relative_error(ort[0], hone_out[0]) <= 1e-5);

  // Deployment: everything frozen, BatchNorm folded into the convolutions.
  g.freeze();
  ox::save(g, (dir / "folded.onnx").string(), {.outputs = {"output"}, .fold_batch_norm = true});
  const ox::ModelProto folded = ox::read_model_file((dir / "folded.onnx").string());
  for (const auto& n : folded.graph.node) CHECK(n.op_type != "BatchNormalization");
  const auto ort_folded = run_ort(dir / "folded.onnx", {"input"}, {x}, dir);
  REQUIRE(ort_folded.size() == 1);
  CHECK(hone_test::relative_error(ort_folded[0], hone_out[0]) <= 1e-5);
  fs::remove_all(dir);
}
