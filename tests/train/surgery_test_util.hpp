// tests/train/surgery_test_util.hpp — a small ResNet-like model built with the Builder
// (PyTorch's module names, one plain and one downsampling residual block) and input helpers,
// shared by the selection, surgery and BatchNorm-policy tests.
#pragma once

#include <cmath>
#include <string>

#include <hone/graph/builder.hpp>

namespace hone_test {

/// The model and the names of the values between its blocks.
template <class T>
struct ResNetish {
  hone::Graph<T> graph;
  std::string stem_out;    ///< relu after conv1/bn1: (N, 4, 8, 8)
  std::string block1_out;  ///< relu after layer1.0's addition: (N, 4, 8, 8)
  std::string block2_out;  ///< relu after layer2.0's addition: (N, 8, 4, 4)
  std::string features;    ///< flatten output: (N, 8)
  std::string logits;      ///< fc output: (N, 5)
};

/// x (N,3,8,8) -> conv1 -> bn1 -> relu -> layer1.0 (conv1 bn1 relu conv2 bn2 + skip, relu)
/// -> layer2.0 (stride 2, 8 channels, downsample.0/.1 on the skip) -> global average pool
/// -> flatten -> fc (5 classes). 20 parameter tensors, 1409 elements; 72 buffer elements.
template <class T>
ResNetish<T> resnetish(std::uint64_t seed = 1, bool with_loss = false) {
  hone::Builder<T> b(seed);
  ResNetish<T> m;
  const hone::Var x = b.input("x", {3, 8, 8});
  const hone::Conv2dOptions k3{.kernel = 3, .padding = 1, .bias = false};
  hone::Var h = b.relu(b.batch_norm(b.conv(x, 4, k3, "conv1"), "bn1"));
  m.stem_out = h.name;
  hone::Var y = b.relu(b.batch_norm(b.conv(h, 4, k3, "layer1.0.conv1"), "layer1.0.bn1"));
  y = b.batch_norm(b.conv(y, 4, k3, "layer1.0.conv2"), "layer1.0.bn2");
  h = b.relu(b.add(y, h));
  m.block1_out = h.name;
  y = b.relu(b.batch_norm(b.conv(h, 8, {.kernel = 3, .stride = 2, .padding = 1, .bias = false}, "layer2.0.conv1"),
                          "layer2.0.bn1"));
  y = b.batch_norm(b.conv(y, 8, k3, "layer2.0.conv2"), "layer2.0.bn2");
  const hone::Var d = b.batch_norm(b.conv(h, 8, {.kernel = 1, .stride = 2, .bias = false}, "layer2.0.downsample.0"),
                                   "layer2.0.downsample.1");
  h = b.relu(b.add(y, d));
  m.block2_out = h.name;
  const hone::Var f = b.flatten(b.global_avg_pool(h));
  m.features = f.name;
  const hone::Var logits = b.linear(f, 5, true, "fc");
  m.logits = logits.name;
  if (with_loss) {
    const hone::Var labels = b.input("labels", {});
    b.output(b.cross_entropy(logits, labels));
  } else {
    b.output(logits);
  }
  m.graph = b.build();
  return m;
}

/// A deterministic, non-trivial tensor: sin of a scaled index, plus an offset.
template <class T>
hone::Tensor<T> wave(const hone::Shape& s, double scale, double offset = 0.0) {
  hone::Tensor<T> t(s);
  for (std::int64_t i = 0; i < t.numel(); ++i)
    t[i] = static_cast<T>(std::sin(scale * static_cast<double>(i + 1)) + offset);
  return t;
}

/// Gives the BatchNorm layers non-trivial affine parameters and running statistics.
template <class T>
void perturb_batch_norms(hone::Graph<T>& g) {
  int k = 0;
  for (const auto& node : g.nodes()) {
    if (node.op != "BatchNormalization") continue;
    ++k;
    auto& gamma = g.parameter(node.inputs[1]).data;
    auto& beta = g.parameter(node.inputs[2]).data;
    auto& mean = g.parameter(node.inputs[3]).data;
    auto& var = g.parameter(node.inputs[4]).data;
    for (std::int64_t c = 0; c < gamma.numel(); ++c) {
      const double t = static_cast<double>(c + 1) * 0.7 + k;
      gamma[c] = static_cast<T>(1.0 + 0.3 * std::sin(t));
      beta[c] = static_cast<T>(0.2 * std::cos(t));
      mean[c] = static_cast<T>(0.1 * std::sin(2 * t));
      var[c] = static_cast<T>(1.0 + 0.4 * std::sin(3 * t) * std::sin(3 * t));
    }
  }
}

}  // namespace hone_test
