// PyTorch parity of the graph, the op set and autograd: the networks of
// tests/parity/gen_graph_parity.py rebuilt with hone's builder API, loaded with PyTorch's
// initial parameters, trained for 3 SGD-momentum steps in float32 and compared with what
// PyTorch recorded: logits and loss (1e-4 relative), every parameter gradient (1e-3), the
// parameters and BatchNorm running statistics after the steps, and the eval-mode logits.
// The fixtures are written at test time by the generator (ctest fixture "parity-graph"),
// whose directory arrives in HONE_PARITY_DIR.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <set>
#include <string>

#include "fixture.hpp"
#include "hone/hone.hpp"

namespace {

using hone::Builder;
using hone::Var;
using hone_test::Fixture;
using hone_test::relative_error;

constexpr double kOutputTol = 1e-4;
constexpr double kGradTol = 1e-3;
constexpr double kGradFloor = 1e-3;

std::string fixture_path(const char* file) {
  const char* dir = std::getenv("HONE_PARITY_DIR");
  if (!dir) FAIL("HONE_PARITY_DIR is not set (ctest sets it; the generator writes the fixtures)");
  return std::string(dir) + "/" + file;
}

// --- the networks, with PyTorch's module names ------------------------------------------

Var conv_bn(Builder<float>& b, Var x, std::int64_t out, std::int64_t k, std::int64_t stride,
            const std::string& conv, const std::string& bn, std::int64_t groups = 1) {
  x = b.conv(x, out, {.kernel = k, .stride = stride, .padding = k / 2, .groups = groups,
                      .bias = false}, conv);
  return b.batch_norm(x, bn);
}

Var basic_block(Builder<float>& b, Var x, std::int64_t out, std::int64_t stride,
                const std::string& p) {
  Var identity = x;
  if (stride != 1 || x.shape[1] != out)
    identity = conv_bn(b, x, out, 1, stride, p + ".downsample.0", p + ".downsample.1");
  Var h = b.relu(conv_bn(b, x, out, 3, stride, p + ".conv1", p + ".bn1"));
  h = conv_bn(b, h, out, 3, 1, p + ".conv2", p + ".bn2");
  return b.relu(b.add(h, identity));
}

hone::Graph<float> tiny_resnet() {
  Builder<float> b;
  Var x = b.input("input", {3, 16, 16});
  Var labels = b.input("labels", {});
  Var h = b.relu(conv_bn(b, x, 8, 3, 1, "conv1", "bn1"));
  h = b.max_pool(h, {.kernel = 3, .stride = 2, .padding = 1});
  h = basic_block(b, h, 8, 1, "layer1.0");
  h = basic_block(b, h, 16, 2, "layer2.0");
  Var logits = b.linear(b.flatten(b.global_avg_pool(h)), 10, true, "fc");
  b.output(b.cross_entropy(logits, labels));
  b.output(logits);
  return b.build();
}

Var inverted_residual(Builder<float>& b, Var x, std::int64_t out, std::int64_t stride,
                      std::int64_t expand, const std::string& p) {
  const std::int64_t hidden = x.shape[1] * expand;
  Var h = b.relu6(conv_bn(b, x, hidden, 1, 1, p + ".conv.0", p + ".conv.1"));
  h = b.relu6(conv_bn(b, h, hidden, 3, stride, p + ".conv.3", p + ".conv.4", hidden));
  h = conv_bn(b, h, out, 1, 1, p + ".conv.6", p + ".conv.7");
  return stride == 1 && x.shape[1] == out ? b.add(x, h) : h;
}

hone::Graph<float> tiny_mobilenet_v2() {
  Builder<float> b;
  Var x = b.input("input", {3, 16, 16});
  Var labels = b.input("labels", {});
  Var h = b.relu6(conv_bn(b, x, 16, 3, 2, "features.0.0", "features.0.1"));
  h = inverted_residual(b, h, 16, 1, 2, "features.1");
  h = inverted_residual(b, h, 24, 2, 3, "features.2");
  h = b.relu6(conv_bn(b, h, 32, 1, 1, "features.3.0", "features.3.1"));
  Var logits = b.linear(b.flatten(b.global_avg_pool(h)), 10, true, "classifier");
  b.output(b.cross_entropy(logits, labels));
  b.output(logits);
  return b.build();
}

// --- the check ----------------------------------------------------------------------------

void check_close(const std::string& what, const hone::Tensor<float>& got,
                 const hone::Tensor<float>& want, double tol, double floor = 0) {
  const double err = relative_error(got, want, floor);
  INFO(what << ": hone " << got.shape().to_string() << " vs PyTorch " << want.shape().to_string()
            << ", relative error " << err << " (tolerance " << tol << ")");
  CHECK(err <= tol);
}

void run_parity(hone::Graph<float> graph, const char* file) {
  const Fixture fx(fixture_path(file));

  // Same parameter and buffer names as PyTorch's state_dict, loaded from it.
  std::set<std::string> hone_names, torch_names;
  for (const auto& p : graph.parameters()) hone_names.insert(p.name);
  for (const auto& n : fx.names("init/")) torch_names.insert(n);
  REQUIRE(hone_names == torch_names);
  for (auto& p : graph.parameters()) {
    const auto& src = fx["init/" + p.name];
    REQUIRE(p.data.shape() == src.shape());
    std::copy(src.begin(), src.end(), p.data.begin());
  }

  const float lr = fx["sgd"][0], momentum = fx["sgd"][1], weight_decay = fx["sgd"][2];
  std::map<std::string, hone::Tensor<float>> velocity;
  hone::Session<float> session(graph, {.mode = hone::Mode::train, .seed = 0});
  for (int step = 0; step < 3; ++step) {
    const std::string s = "step" + std::to_string(step) + "/";
    session.zero_grad();
    const auto out = session.forward({fx["input"], fx["labels"]});
    check_close(s + "loss", out[0].reshape({}), fx[s + "loss"], kOutputTol);
    check_close(s + "logits", out[1], fx[s + "logits"], kOutputTol);
    session.backward();
    // A gradient that is zero in exact arithmetic (a BatchNorm bias whose output reaches
    // another train-mode BatchNorm through linear ops only: the batch mean removes it) is
    // rounding noise in both implementations; its scale is floored at kGradFloor times the
    // step's largest gradient.
    double step_scale = 0;
    for (const auto& name : fx.names(s + "grad/"))
      step_scale = std::max(step_scale, hone_test::max_abs(fx[s + "grad/" + name]));
    for (const auto& name : fx.names(s + "grad/"))
      check_close(s + "grad/" + name, session.grad(name), fx[s + "grad/" + name], kGradTol,
                  kGradFloor * step_scale);
    // torch.optim.SGD: g += wd * p; v = momentum * v + g (v = g on the first step); p -= lr * v.
    for (auto& p : graph.parameters()) {
      if (!p.trainable) continue;
      const hone::Tensor<float> g = session.grad(p.name);
      auto [it, first] = velocity.try_emplace(p.name, p.data.shape());
      hone::Tensor<float>& v = it->second;
      for (std::int64_t i = 0; i < p.data.numel(); ++i) {
        const float gi = g[i] + weight_decay * p.data[i];
        v[i] = first ? gi : momentum * v[i] + gi;
        p.data[i] -= lr * v[i];
      }
    }
  }
  for (const auto& p : graph.parameters())
    check_close("final/" + p.name, p.data, fx["final/" + p.name], kOutputTol);

  session.set_mode(hone::Mode::eval);
  const auto out = session.forward({fx["input"], fx["labels"]});
  check_close("eval/logits", out[1], fx["eval/logits"], kOutputTol);
}

}  // namespace

TEST_CASE("ResNet-style network matches PyTorch for 3 SGD-momentum steps", "[parity]") {
  run_parity(tiny_resnet(), "resnet.fix");
}

TEST_CASE("MobileNetV2-style network matches PyTorch for 3 SGD-momentum steps",
          "[parity]") {
  run_parity(tiny_mobilenet_v2(), "mobilenet.fix");
}
