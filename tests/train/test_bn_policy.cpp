// Tests for hone/train/bn_policy.hpp and the hone_statistics attribute of ops/norm.hpp:
// a frozen BatchNorm computes in Mode::train exactly what it computes in Mode::eval, its
// gradients match central finite differences (double), its running statistics and frozen
// parameters stay bit-identical through SGD steps; the exporter writes no hone attribute;
// AdaBN's statistics equal the mean and variance of all target samples, computed here
// directly from the batches (for the second BatchNorm through a hand-written BatchNorm,
// ReLU and 1x1 convolution).
#include <catch2/catch.hpp>

#include <hone/graph/session.hpp>
#include <hone/onnx/export.hpp>
#include <hone/train/bn_policy.hpp>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "surgery_test_util.hpp"

using hone::Builder;
using hone::Graph;
using hone::Mode;
using hone::Session;
using hone::Shape;
using hone::Tensor;
using hone::Var;
namespace ht = hone::train;

namespace {

template <class T>
bool identical(const Tensor<T>& a, const Tensor<T>& b) {
  if (!(a.shape() == b.shape())) return false;
  for (std::int64_t i = 0; i < a.numel(); ++i)
    if (a[i] != b[i]) return false;
  return true;
}

/// x (N,2,3,3) -> bn1 -> relu -> 1x1 conv (3 channels, bias) "conv" -> bn2.
template <class T>
Graph<T> bn_conv_bn() {
  Builder<T> b(4);
  const Var x = b.input("x", {2, 3, 3});
  Var h = b.relu(b.batch_norm(x, "bn1"));
  h = b.batch_norm(b.conv(h, 3, {.kernel = 1}, "conv"), "bn2");
  b.output(h);
  Graph<T> g = b.build();
  hone_test::perturb_batch_norms(g);
  return g;
}

std::map<std::string, Tensor<double>> snapshot(const Graph<double>& g) {
  std::map<std::string, Tensor<double>> out;
  for (const auto& p : g.parameters()) out[p.name] = p.data.clone();
  return out;
}

}  // namespace

TEST_CASE("bn policy: a frozen BatchNorm computes in train mode what eval mode computes",
          "[train][bn]") {
  hone_test::ResNetish<float> m = hone_test::resnetish<float>(2);
  Graph<float>& g = m.graph;
  hone_test::perturb_batch_norms(g);
  const Tensor<float> x = hone_test::wave<float>({3, 3, 8, 8}, 0.7, 0.3);
  Session<float> eval(g, {.mode = Mode::eval});
  const Tensor<float> want = eval.forward({x})[0];
  Session<float> train(g, {.mode = Mode::train});
  // Not vacuous: with batch statistics the output differs.
  CHECK_FALSE(identical(train.forward({x})[0], want));
  hone_test::perturb_batch_norms(g);  // undo that forward's running-statistics update
  CHECK(ht::set_bn_policy(g, ht::BnPolicy::frozen) == 6);
  CHECK(identical(train.forward({x})[0], want));
  for (const auto& node : g.nodes())
    if (node.op == "BatchNormalization") CHECK(ht::uses_running_stats(node));
  // Back to normal for one stage only; the pattern also matches a module path.
  CHECK(ht::set_bn_policy(g, ht::BnPolicy::train, "layer2.*") == 3);
  CHECK(ht::bn_policy(g.nodes()[1]) == ht::BnPolicy::frozen);
  CHECK_FALSE(identical(train.forward({x})[0], want));
  CHECK_THROWS_WITH(ht::set_bn_policy(g, ht::BnPolicy::frozen, "layer3.*"),
                    Catch::Contains("selects no BatchNormalization layer; they are bn1, layer1.0.bn1"));
}

TEST_CASE("bn policy: frozen BatchNorm gradients match finite differences in train mode",
          "[train][bn][grad]") {
  Graph<double> g = bn_conv_bn<double>();
  // Only bn1 frozen (its scale stays trainable), so bn2 keeps training-mode gradients.
  ht::set_bn_policy(g, ht::BnPolicy::frozen, "bn1");
  Session<double> s(g, {.mode = Mode::train, .grad_inputs = {"x"}});
  Tensor<double> x = hone_test::wave<double>({2, 2, 3, 3}, 0.9, 0.2);
  const Tensor<double> r = hone_test::wave<double>({2, 3, 3, 3}, 1.7);  // loss = sum(r * y)
  auto loss = [&]() {
    Session<double> probe(g, {.mode = Mode::train});
    const Tensor<double> y = probe.forward({x})[0];
    double l = 0;
    for (std::int64_t i = 0; i < y.numel(); ++i) l += r[i] * y[i];
    return l;
  };
  const auto stats_before = snapshot(g);
  s.forward({x});
  s.backward({r});
  const Tensor<double> gx = s.grad("x");
  const Tensor<double> gscale = s.grad("bn1.weight");
  const double h = 1e-6;
  double worst = 0;
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    const double keep = x[i];
    x[i] = keep + h;
    const double up = loss();
    x[i] = keep - h;
    const double down = loss();
    x[i] = keep;
    worst = std::max(worst, std::fabs((up - down) / (2 * h) - gx[i]) / (1 + std::fabs(gx[i])));
  }
  CHECK(worst < 1e-7);
  Tensor<double>& scale = g.parameter("bn1.weight").data;
  for (std::int64_t c = 0; c < scale.numel(); ++c) {
    const double keep = scale[c];
    scale[c] = keep + h;
    const double up = loss();
    scale[c] = keep - h;
    const double down = loss();
    scale[c] = keep;
    CHECK(std::fabs((up - down) / (2 * h) - gscale[c]) < 1e-7 * (1 + std::fabs(gscale[c])));
  }
  // Frozen statistics never moved (through all those train-mode forwards); bn2's did.
  CHECK(identical(g.parameter("bn1.running_mean").data, stats_before.at("bn1.running_mean")));
  CHECK(identical(g.parameter("bn1.running_var").data, stats_before.at("bn1.running_var")));
  CHECK_FALSE(identical(g.parameter("bn2.running_mean").data, stats_before.at("bn2.running_mean")));
}

TEST_CASE("bn policy: frozen BatchNorm statistics and parameters survive SGD bit for bit",
          "[train][bn]") {
  hone_test::ResNetish<float> m = hone_test::resnetish<float>(3);
  Graph<float>& g = m.graph;
  hone_test::perturb_batch_norms(g);
  ht::set_bn_policy(g, ht::BnPolicy::frozen, "layer1.*", false);
  CHECK_FALSE(g.parameter("layer1.0.bn2.weight").trainable);
  CHECK(g.parameter("layer1.0.conv2.weight").trainable);
  std::map<std::string, Tensor<float>> before;
  for (const auto& p : g.parameters()) before[p.name] = p.data.clone();
  Session<float> s(g, {.mode = Mode::train});
  for (int step = 0; step < 3; ++step) {
    s.zero_grad();
    s.forward({hone_test::wave<float>({4, 3, 8, 8}, 0.3 + 0.1 * step)});
    s.backward({hone_test::wave<float>({4, 5}, 1.1)});
    for (auto& p : g.parameters())
      if (s.has_grad(p.name)) {
        const Tensor<float> grad = s.grad(p.name);
        for (std::int64_t i = 0; i < p.data.numel(); ++i) p.data[i] -= 0.05f * grad[i];
      }
  }
  for (const auto& p : g.parameters()) {
    INFO(p.name);
    const bool frozen_bn = p.name.rfind("layer1.0.bn", 0) == 0;
    if (frozen_bn || p.buffer) {
      // layer1's statistics and affine parameters are frozen; every other statistic moved.
      CHECK(identical(p.data, before[p.name]) == frozen_bn);
    } else {
      CHECK_FALSE(identical(p.data, before[p.name]));  // trained
    }
  }
}

TEST_CASE("bn policy: the ONNX export writes no hone attribute", "[train][bn][onnx]") {
  Graph<float> g = bn_conv_bn<float>();
  ht::set_bn_policy(g, ht::BnPolicy::frozen, "bn1");
  ht::set_bn_policy(g, ht::BnPolicy::adabn, "bn2");
  const hone::onnx::ModelProto model = hone::onnx::export_model(g);
  int bn = 0;
  for (const auto& node : model.graph.node) {
    for (const auto& a : node.attribute) CHECK(a.name.rfind("hone_", 0) == std::string::npos);
    if (node.op_type == "BatchNormalization") {
      ++bn;
      CHECK(node.attribute.size() == 2);  // epsilon and momentum
    }
  }
  CHECK(bn == 2);
}

TEST_CASE("bn policy: the adabn policy normalises with batch statistics in eval mode", "[train][bn]") {
  Graph<float> g = bn_conv_bn<float>();
  Graph<float> reference = g;
  for (auto& p : reference.parameters()) p.data = p.data.clone();
  const Tensor<float> x = hone_test::wave<float>({4, 2, 3, 3}, 0.6, 0.5);
  Session<float> train(reference, {.mode = Mode::train});
  const Tensor<float> want = train.forward({x})[0];
  ht::set_bn_policy(g, ht::BnPolicy::adabn);
  Session<float> eval(g, {.mode = Mode::eval});
  CHECK(identical(eval.forward({x})[0], want));
  CHECK(identical(g.parameter("bn2.running_var").data, reference.parameter("bn2.running_var").data));
}

namespace {

struct Moments {
  std::vector<double> mean, var;
};

/// Per-channel mean and variance of the (N, C, H, W) samples of all batches together.
Moments pooled(const std::vector<Tensor<double>>& batches, bool unbiased) {
  const std::int64_t c = batches[0].dim(1);
  Moments m{std::vector<double>(static_cast<std::size_t>(c), 0.0), std::vector<double>(static_cast<std::size_t>(c), 0.0)};
  double count = 0;
  for (const auto& b : batches) count += static_cast<double>(b.numel() / c);
  for (std::int64_t ch = 0; ch < c; ++ch) {
    double sum = 0;
    for (const auto& b : batches) {
      const std::int64_t inner = b.numel() / (b.dim(0) * c);
      for (std::int64_t n = 0; n < b.dim(0); ++n)
        for (std::int64_t i = 0; i < inner; ++i) sum += b[(n * c + ch) * inner + i];
    }
    const double mean = sum / count;
    double ss = 0;
    for (const auto& b : batches) {
      const std::int64_t inner = b.numel() / (b.dim(0) * c);
      for (std::int64_t n = 0; n < b.dim(0); ++n)
        for (std::int64_t i = 0; i < inner; ++i) ss += (b[(n * c + ch) * inner + i] - mean) * (b[(n * c + ch) * inner + i] - mean);
    }
    m.mean[static_cast<std::size_t>(ch)] = mean;
    m.var[static_cast<std::size_t>(ch)] = ss / (unbiased ? count - 1 : count);
  }
  return m;
}

/// bn2's input for one batch, by hand: BatchNorm bn1 (batch statistics when `batch_stats`,
/// else the given running ones), ReLU, then the 1x1 convolution.
Tensor<double> conv_input_to_bn2(const Graph<double>& g, const Tensor<double>& x, bool batch_stats) {
  const std::int64_t n = x.dim(0), c = 2, hw = 9;
  Moments m;
  if (batch_stats) {
    m = pooled({x}, false);  // normalisation uses the biased batch variance
  } else {
    for (std::int64_t ch = 0; ch < c; ++ch) {
      m.mean.push_back(g.parameter("bn1.running_mean").data[ch]);
      m.var.push_back(g.parameter("bn1.running_var").data[ch]);
    }
  }
  const auto& gamma = g.parameter("bn1.weight").data;
  const auto& beta = g.parameter("bn1.bias").data;
  const auto& w = g.parameter("conv.weight").data;  // (3, 2, 1, 1)
  const auto& bias = g.parameter("conv.bias").data;
  Tensor<double> out({n, 3, 3, 3});
  for (std::int64_t s = 0; s < n; ++s)
    for (std::int64_t o = 0; o < 3; ++o)
      for (std::int64_t i = 0; i < hw; ++i) {
        double acc = bias[o];
        for (std::int64_t ch = 0; ch < c; ++ch) {
          const auto k = static_cast<std::size_t>(ch);
          const double z = (x[(s * c + ch) * hw + i] - m.mean[k]) / std::sqrt(m.var[k] + 1e-5) * gamma[ch] + beta[ch];
          acc += w[o * c + ch] * std::max(z, 0.0);
        }
        out[(s * 3 + o) * hw + i] = acc;
      }
  return out;
}

void check_close(const Tensor<double>& got, const std::vector<double>& want) {
  REQUIRE(static_cast<std::size_t>(got.numel()) == want.size());
  for (std::size_t k = 0; k < want.size(); ++k)
    CHECK(std::fabs(got[static_cast<std::int64_t>(k)] - want[k]) <= 1e-12 * (1 + std::fabs(want[k])));
}

}  // namespace

TEST_CASE("adabn: the statistics are those of all target samples together", "[train][bn][adabn]") {
  // Three batches of different sizes and offsets: averaging per-batch statistics would give
  // other numbers (the batch means differ, and the batches weigh differently).
  const std::vector<Tensor<double>> xs = {hone_test::wave<double>({3, 2, 3, 3}, 0.9, 0.5),
                                          hone_test::wave<double>({5, 2, 3, 3}, 1.3, -0.2),
                                          hone_test::wave<double>({2, 2, 3, 3}, 0.4, 1.0)};
  std::vector<std::vector<Tensor<double>>> batches;
  for (const auto& x : xs) batches.push_back({x});

  for (const bool unbiased : {true, false}) {
    INFO("unbiased_running_var " << unbiased);
    Graph<double> g = bn_conv_bn<double>();
    for (auto& node : g.nodes())
      if (node.op == "BatchNormalization") node.attrs.set_int("unbiased_running_var", unbiased ? 1 : 0);
    ht::set_bn_policy(g, ht::BnPolicy::frozen);  // adabn overrides any policy, then restores it
    const auto before = snapshot(g);
    std::vector<Tensor<double>> conv_out;
    for (const auto& x : xs) conv_out.push_back(conv_input_to_bn2(g, x, true));

    CHECK(ht::adabn(g, batches) == 3);
    const Moments m1 = pooled(xs, unbiased);
    const Moments m2 = pooled(conv_out, unbiased);
    check_close(g.parameter("bn1.running_mean").data, m1.mean);
    check_close(g.parameter("bn1.running_var").data, m1.var);
    check_close(g.parameter("bn2.running_mean").data, m2.mean);
    check_close(g.parameter("bn2.running_var").data, m2.var);
    for (const auto& p : g.parameters())
      if (!p.buffer) CHECK(identical(p.data, before.at(p.name)));
    for (const auto& node : g.nodes())
      if (node.op == "BatchNormalization") {
        CHECK(ht::bn_policy(node) == ht::BnPolicy::frozen);
        CHECK(node.attrs.get_float("momentum", 0) == 0.9);
      }
  }
}

TEST_CASE("adabn: a pattern re-estimates some layers; the others normalise with running statistics",
          "[train][bn][adabn]") {
  const std::vector<Tensor<double>> xs = {hone_test::wave<double>({4, 2, 3, 3}, 0.8, 0.3),
                                          hone_test::wave<double>({3, 2, 3, 3}, 1.1, -0.4)};
  Graph<double> g = bn_conv_bn<double>();
  const auto before = snapshot(g);
  std::vector<Tensor<double>> conv_out;
  for (const auto& x : xs) conv_out.push_back(conv_input_to_bn2(g, x, false));
  std::size_t next = 0;
  const std::size_t used = ht::adabn<double>(g, [&]() -> std::optional<std::vector<Tensor<double>>> {
    if (next == xs.size()) return std::nullopt;
    return std::vector<Tensor<double>>{xs[next++]};
  }, "bn2");
  CHECK(used == 2);
  CHECK(identical(g.parameter("bn1.running_mean").data, before.at("bn1.running_mean")));
  CHECK(identical(g.parameter("bn1.running_var").data, before.at("bn1.running_var")));
  const Moments m2 = pooled(conv_out, true);
  check_close(g.parameter("bn2.running_mean").data, m2.mean);
  check_close(g.parameter("bn2.running_var").data, m2.var);

  // Errors: no batch, a batch of the wrong arity, a pattern selecting nothing; the
  // statistics stay as they are.
  const auto estimated = snapshot(g);
  CHECK_THROWS_WITH(ht::adabn(g, std::vector<std::vector<Tensor<double>>>{}), Catch::Contains("no batch"));
  CHECK_THROWS_WITH(ht::adabn(g, std::vector<std::vector<Tensor<double>>>{{xs[0], xs[1]}}),
                    Catch::Contains("has 2 tensors"));
  CHECK_THROWS_WITH(ht::adabn(g, std::vector<std::vector<Tensor<double>>>{{xs[0]}}, "bn9"),
                    Catch::Contains("\"bn9\" selects no BatchNormalization layer"));
  for (const auto& p : g.parameters()) CHECK(identical(p.data, estimated.at(p.name)));
}

TEST_CASE("adabn: images alone suffice when a loss also reads labels", "[train][bn][adabn]") {
  hone_test::ResNetish<float> m = hone_test::resnetish<float>(4, true);
  REQUIRE(m.graph.inputs().size() == 2);
  const std::vector<std::vector<Tensor<float>>> images = {{hone_test::wave<float>({2, 3, 8, 8}, 0.5, 0.7)}};
  CHECK(ht::adabn(m.graph, images, "bn1") == 1);
  // bn1 reads conv1's output; its new mean is that output's mean, checked against a
  // train-mode forward of the truncated model with momentum 0 (running := batch statistics).
  Graph<float> probe = m.graph;
  for (auto& p : probe.parameters()) p.data = p.data.clone();
  probe.nodes()[1].attrs.set_float("momentum", 0.0);
  probe.set_outputs({"bn1"});
  Session<float> s(probe, {.mode = Mode::train});
  s.forward({images[0][0], Tensor<float>({2})});
  for (std::int64_t c = 0; c < 4; ++c) {
    CHECK(m.graph.parameter("bn1.running_mean").data[c] == Approx(probe.parameter("bn1.running_mean").data[c]).epsilon(1e-6));
    CHECK(m.graph.parameter("bn1.running_var").data[c] == Approx(probe.parameter("bn1.running_var").data[c]).epsilon(1e-5));
  }
}
