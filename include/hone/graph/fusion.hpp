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
// Mode::eval never fuse a convolution: its backward needs the intermediate values.
//
// In Mode::train and Mode::eval (SessionOptions::fuse), a BatchNormalization followed by a
// Relu or Clip runs as one kernel, forward and backward (ops/norm.hpp forward_act /
// backward_act), under the same conditions on the value between them (read by the
// activation only, not a graph output; the BatchNormalization has one output). The pair's
// results are bit-identical to the two ops'; the value between them and its gradient are
// never written.
#pragma once

#include <cmath>    // std::sqrt
#include <cstddef>  // std::size_t
#include <cstdint>  // std::uint64_t keys
#include <limits>   // infinity
#include <optional>  // a prepared chain's key
#include <string>   // op names
#include <vector>   // chains

#include "hone/core/hash.hpp"
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

/// Mode::train / Mode::eval: per node, the Relu or Clip node fused into a BatchNormalization
/// node (none elsewhere); absorbed[n] is true for those activation nodes.
struct NormActPlan {
  std::vector<std::size_t> act;
  std::vector<bool> absorbed;
  bool empty() const { return act.empty(); }
  std::size_t at(std::size_t n) const { return act.empty() ? none : act[n]; }
  bool absorbed_at(std::size_t n) const { return !absorbed.empty() && absorbed[n]; }
};

/// The BatchNormalization -> Relu/Clip pairs of graph analysis a (empty plan if none).
inline NormActPlan plan_norm_act(const std::vector<Node>& nodes, const GraphAnalysis& a,
                                 const std::vector<bool>& is_output) {
  NormActPlan p;
  std::vector<std::vector<std::size_t>> readers(a.names.size());
  for (std::size_t n : a.order)
    for (std::size_t v : a.node_inputs[n]) readers[v].push_back(n);
  for (std::size_t n : a.order) {
    if (nodes[n].op != "BatchNormalization" || a.node_outputs[n].size() != 1 || a.node_inputs[n].size() != 5)
      continue;
    const std::size_t y = a.node_outputs[n][0];
    if (is_output[y] || readers[y].size() != 1) continue;
    const std::size_t reader = readers[y][0];
    if ((nodes[reader].op != "Relu" && nodes[reader].op != "Clip") || a.node_inputs[reader].size() != 1 ||
        a.node_outputs[reader].size() != 1)
      continue;
    if (p.act.empty()) {
      p.act.assign(nodes.size(), none);
      p.absorbed.assign(nodes.size(), false);
    }
    p.act[n] = reader;
    p.absorbed[reader] = true;
  }
  return p;
}

/// The fused activation of a Relu or Clip node (Clip's bounds from its min / max attributes).
inline ops::detail_bn::Activation norm_activation(const Node& act) {
  ops::detail_bn::Activation r;
  if (act.op == "Relu") {
    r.kind = ops::detail_bn::Activation::relu;
  } else {
    r.kind = ops::detail_bn::Activation::clip;
    r.lo = act.attrs.get_float("min", -std::numeric_limits<double>::infinity());
    r.hi = act.attrs.get_float("max", std::numeric_limits<double>::infinity());
  }
  return r;
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

/// A chain's weights kept between forward calls (SessionOptions::keep_prepared_weights):
/// the convolution's bias with the BatchNormalization folded in and, as the forward needs
/// them, its folded weights (im2col, depthwise and direct paths) or the Winograd transforms
/// of those (kernels/conv_winograd.hpp), which are then all it keeps of the weights. `key`
/// is the content hash (core/hash.hpp) of everything they were made from: the Conv's W
/// and B, the BatchNormalization's scale, bias, mean and variance, its epsilon and the
/// shapes; a forward whose key differs rebuilds them, so weights changed in place between
/// calls are picked up.
struct PreparedChain {
  std::optional<std::uint64_t> key;  // empty until first made
  std::vector<float> w, b;  // folded weights and bias (empty: the Conv's own, or not needed)
  std::vector<float> u;     // the Winograd transforms of the (folded) weights, or empty
  std::int64_t bytes() const {
    return static_cast<std::int64_t>((w.capacity() + b.capacity() + u.capacity()) * sizeof(float));
  }
};

/// The content hash of what a chain's prepared weights are made from.
inline std::uint64_t chain_key(const std::vector<Node>& nodes, const ConvChain& c,
                               const std::vector<Tensor<float>>& conv_in, const std::vector<Tensor<float>>& bn_in) {
  auto add = [](std::uint64_t h, const Tensor<float>& t) {
    const Shape& s = t.shape();
    h = content_hash(s.begin(), s.rank() * sizeof(std::int64_t), h);
    return content_hash(t.data(), static_cast<std::size_t>(t.numel()) * sizeof(float), h);
  };
  std::uint64_t h = content_hash(nullptr, 0, conv_in.size());
  for (std::size_t i = 1; i < conv_in.size(); ++i) h = add(h, conv_in[i]);
  if (c.bn != none) {
    const double eps = nodes[c.bn].attrs.get_float("epsilon", 1e-5);
    h = content_hash(&eps, sizeof eps, h);
    for (std::size_t i = 1; i < 5; ++i) h = add(h, bn_in[i]);
  }
  return h;
}

/// Runs the chain headed by conv node `conv`: conv_in are its inputs (x, w[, b]), bn_in the
/// BatchNormalization's five inputs (ignored without one); writes out (the chain's output).
/// With `keep`, the folded and transformed weights are taken from it when its key matches
/// and (re)built into it otherwise; without, they are made for this call only.
inline void run_chain(const std::vector<Node>& nodes, std::size_t conv, const ConvChain& c,
                      const std::vector<Tensor<float>>& conv_in, const std::vector<Tensor<float>>& bn_in,
                      Tensor<float>& out, PreparedChain* keep = nullptr) {
  const Shape shapes[2] = {conv_in[0].shape(), conv_in[1].shape()};
  const auto g = ops::detail_conv::geometry(nodes[conv], shapes);
  PreparedChain local;
  PreparedChain& p = keep ? *keep : local;
  if (keep) {
    const std::uint64_t key = chain_key(nodes, c, conv_in, bn_in);
    if (p.key != key) {
      p = PreparedChain{};
      p.key = key;
    }
  }
  const float* w = conv_in[1].data();
  const float* bias = conv_in.size() > 2 ? conv_in[2].data() : nullptr;
  const std::int64_t per = g.oc > 0 ? conv_in[1].numel() / g.oc : 0;  // weights per output channel
  // The BatchNormalization's per-channel factor, computed only when something is folded
  // (not on a forward that finds everything kept).
  std::vector<double> scale;
  auto bn_scale = [&]() -> const std::vector<double>& {
    if (scale.empty()) {
      const double eps = nodes[c.bn].attrs.get_float("epsilon", 1e-5);
      scale.resize(static_cast<std::size_t>(g.oc));
      for (std::int64_t o = 0; o < g.oc; ++o)
        scale[static_cast<std::size_t>(o)] =
            static_cast<double>(bn_in[1][o]) / std::sqrt(static_cast<double>(bn_in[4][o]) + eps);
    }
    return scale;
  };
  if (c.bn != none) {
    if (p.b.size() != static_cast<std::size_t>(g.oc)) {
      const std::vector<double>& sc = bn_scale();
      p.b.resize(static_cast<std::size_t>(g.oc));
      for (std::int64_t o = 0; o < g.oc; ++o) {
        const double b = bias ? static_cast<double>(bias[o]) : 0.0;
        p.b[static_cast<std::size_t>(o)] = static_cast<float>(
            (b - static_cast<double>(bn_in[3][o])) * sc[static_cast<std::size_t>(o)] + static_cast<double>(bn_in[2][o]));
      }
    }
    bias = p.b.data();
  }
  // The folded weights w' = w * s, in double and rounded once (into `into`).
  auto fold = [&](std::vector<float>& into) {
    const std::vector<double>& sc = bn_scale();
    into.resize(static_cast<std::size_t>(conv_in[1].numel()));
    for (std::int64_t o = 0; o < g.oc; ++o) {
      const double s = sc[static_cast<std::size_t>(o)];
      for (std::int64_t i = 0; i < per; ++i)
        into[static_cast<std::size_t>(o * per + i)] = static_cast<float>(static_cast<double>(w[o * per + i]) * s);
    }
  };
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
  namespace kd = kernels::detail_conv;
  if (keep && kernels::conv_winograd() && kd::winograd_applies(g)) {
    if (p.u.empty()) {
      std::vector<float> folded;
      if (c.bn != none) fold(folded);
      p.u.resize(static_cast<std::size_t>(kd::winograd_filter_floats(g)));
      kd::winograd_prepare(g, c.bn != none ? folded.data() : w, p.u.data());
    }
    kd::winograd_forward_prepared(g, conv_in[0].data(), p.u.data(), bias, out.data(), ep);
    return;
  }
  if (c.bn != none) {
    if (p.w.empty()) fold(p.w);
    w = p.w.data();
  }
  kernels::conv_forward(g, conv_in[0].data(), w, bias, out.data(), ep);
}

}  // namespace hone::detail_fusion
