// hone/graph/fusion.hpp — Conv -> BatchNormalization -> Relu/Clip as one kernel call, for
// Session in Mode::inference (SessionOptions::fuse, on by default).
//
// A chain is a float Conv followed by a BatchNormalization that normalises with its running
// statistics, or by a Relu or Clip, or by both (Conv -> BN -> Relu/Clip), where each value
// inside the chain is read by the next node only and is not a graph output, the
// BatchNormalization has one output and its scale, bias, mean and variance are not computed
// by the graph (parameters, buffers or inputs). The chain runs as one convolution with the
// BatchNormalization folded into the weights and bias (w' = w * s, b' = (b - mean) * s +
// beta, s = scale / sqrt(var + epsilon), in double and rounded once) and the activation
// applied to each image's output while it is in cache; the values inside the chain are
// never materialised. Results differ from the unfused ops by float rounding only (the
// BatchNormalization is applied before the sum instead of after it). Mode::train and
// Mode::eval never fuse: backward needs the intermediate values.
#pragma once

#include <cmath>    // std::sqrt
#include <cstddef>  // std::size_t
#include <limits>   // infinity
#include <string>   // op names
#include <vector>   // chains

#include "hone/core/tensor.hpp"
#include "hone/graph/graph.hpp"
#include "hone/kernels/conv.hpp"
#include "hone/ops/conv.hpp"
#include "hone/ops/norm.hpp"

namespace hone::detail_fusion {

inline constexpr std::size_t none = static_cast<std::size_t>(-1);

/// The nodes fused into a Conv node: its BatchNormalization and activation (none if absent).
struct ConvChain {
  std::size_t bn = none, act = none;
  bool fused() const { return bn != none || act != none; }
};

/// Per node: the chain it heads (only Conv nodes head one). absorbed[n] is true for the
/// BatchNormalization and activation nodes that a chain runs.
struct FusionPlan {
  std::vector<ConvChain> chains;
  std::vector<bool> absorbed;
};

/// The chains of graph analysis a (nodes in a.order); outputs marks graph outputs.
inline FusionPlan plan_fusion(const std::vector<Node>& nodes, const GraphAnalysis& a, const std::vector<bool>& is_output) {
  FusionPlan p;
  p.chains.assign(nodes.size(), {});
  p.absorbed.assign(nodes.size(), false);
  std::vector<std::vector<std::size_t>> readers(a.names.size());
  for (std::size_t n : a.order)
    for (std::size_t v : a.node_inputs[n]) readers[v].push_back(n);
  // The single node reading value v (as its first input), or none.
  auto sole_reader = [&](std::size_t v) -> std::size_t {
    if (is_output[v] || readers[v].size() != 1) return none;
    const std::size_t r = readers[v][0];
    return a.node_inputs[r].size() >= 1 && a.node_inputs[r][0] == v ? r : none;
  };
  auto activation = [&](std::size_t n) {
    return n != none && (nodes[n].op == "Relu" || nodes[n].op == "Clip") && a.node_inputs[n].size() == 1 &&
           a.node_outputs[n].size() == 1;
  };
  for (std::size_t n : a.order) {
    if (nodes[n].op != "Conv" || a.node_outputs[n].size() != 1 || p.absorbed[n]) continue;
    ConvChain c;
    std::size_t next = sole_reader(a.node_outputs[n][0]);
    if (next != none && nodes[next].op == "BatchNormalization" && a.node_outputs[next].size() == 1 &&
        a.node_inputs[next].size() == 5 && !ops::detail_bn::batch_statistics(nodes[next], false)) {
      bool computed = false;
      for (std::size_t k = 1; k < 5; ++k) computed = computed || a.kind[a.node_inputs[next][k]] == ValueKind::activation;
      if (!computed) {
        c.bn = next;
        next = sole_reader(a.node_outputs[next][0]);
      }
    }
    if (activation(next)) c.act = next;
    if (!c.fused()) continue;
    p.chains[n] = c;
    if (c.bn != none) p.absorbed[c.bn] = true;
    if (c.act != none) p.absorbed[c.act] = true;
  }
  return p;
}

/// The value index the chain headed by conv node n writes (the last node's output).
inline std::size_t chain_output(const GraphAnalysis& a, std::size_t n, const ConvChain& c) {
  return a.node_outputs[c.act != none ? c.act : c.bn != none ? c.bn : n][0];
}

/// A display name for profiles: "Conv+BatchNormalization+Relu".
inline std::string chain_name(const std::vector<Node>& nodes, const ConvChain& c) {
  std::string s = "Conv";
  if (c.bn != none) s += "+BatchNormalization";
  if (c.act != none) s += "+" + nodes[c.act].op;
  return s;
}

/// Runs the chain headed by conv node `conv`: conv_in are its inputs (x, w[, b]), bn_in the
/// BatchNormalization's five inputs (ignored without one); writes out (the chain's output).
inline void run_chain(const std::vector<Node>& nodes, std::size_t conv, const ConvChain& c,
                      const std::vector<Tensor<float>>& conv_in, const std::vector<Tensor<float>>& bn_in,
                      Tensor<float>& out) {
  const Shape shapes[2] = {conv_in[0].shape(), conv_in[1].shape()};
  const auto g = ops::detail_conv::geometry(nodes[conv], shapes);
  const float* w = conv_in[1].data();
  const float* bias = conv_in.size() > 2 ? conv_in[2].data() : nullptr;
  std::vector<float> folded_w, folded_b;
  if (c.bn != none) {
    const double eps = nodes[c.bn].attrs.get_float("epsilon", 1e-5);
    const std::int64_t per = conv_in[1].numel() / g.oc;
    folded_w.resize(static_cast<std::size_t>(conv_in[1].numel()));
    folded_b.resize(static_cast<std::size_t>(g.oc));
    for (std::int64_t o = 0; o < g.oc; ++o) {
      const double s = static_cast<double>(bn_in[1][o]) / std::sqrt(static_cast<double>(bn_in[4][o]) + eps);
      const double b = bias ? static_cast<double>(bias[o]) : 0.0;
      folded_b[static_cast<std::size_t>(o)] =
          static_cast<float>((b - static_cast<double>(bn_in[3][o])) * s + static_cast<double>(bn_in[2][o]));
      for (std::int64_t i = 0; i < per; ++i)
        folded_w[static_cast<std::size_t>(o * per + i)] = static_cast<float>(static_cast<double>(w[o * per + i]) * s);
    }
    w = folded_w.data();
    bias = folded_b.data();
  }
  kernels::ConvEpilogue ep;
  if (c.act != none) {
    const Node& act = nodes[c.act];
    if (act.op == "Relu") {
      ep.kind = kernels::ConvEpilogue::relu;
    } else {
      ep.kind = kernels::ConvEpilogue::clip;
      ep.lo = static_cast<float>(act.attrs.get_float("min", -std::numeric_limits<double>::infinity()));
      ep.hi = static_cast<float>(act.attrs.get_float("max", std::numeric_limits<double>::infinity()));
    }
  }
  kernels::conv_forward(g, conv_in[0].data(), w, bias, out.data(), ep);
}

}  // namespace hone::detail_fusion
