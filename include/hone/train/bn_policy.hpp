// hone/train/bn_policy.hpp — how BatchNormalization layers behave while fine-tuning, and
// AdaBN (re-estimating their running statistics on target-domain data).
//
//   hone::train::set_bn_policy(g, hone::train::BnPolicy::frozen);          // all BN layers
//   hone::train::set_bn_policy(g, hone::train::BnPolicy::train, "layer4.*");
//   hone::train::adabn(g, [&]() { return loader_batch(); });               // target data
//
// With small fine-tuning batches, batch statistics are noisy and the pretrained running
// statistics are better: Keras's fine-tuning guide keeps BatchNorm in inference mode while
// the rest trains. BnPolicy::frozen does that per layer, also when the Session runs in
// Mode::train. It is stored as the node attribute hone_statistics (read by
// hone/ops/norm.hpp), so it travels with the graph, costs nothing at run time, and is not
// written by the ONNX exporter (BatchNormalization exports in inference form either way).
// Layers are selected with a glob (select.hpp) matched against the layer's module path
// ("layer4.1.bn2"), its node name, and its parameter and buffer names; a pattern that
// selects no BatchNorm throws InvalidArgument (hone.train.no_match).
#pragma once

#include <algorithm>    // std::find
#include <cstdint>      // std::int64_t
#include <functional>   // adabn's batch source
#include <optional>     // end of the batch source
#include <string>       // names
#include <type_traits>  // std::type_identity_t: T comes from the graph, not the callable
#include <vector>       // lists

#include "hone/core/error.hpp"
#include "hone/core/tensor.hpp"
#include "hone/graph/graph.hpp"
#include "hone/graph/session.hpp"
#include "hone/train/select.hpp"
#include "hone/train/surgery.hpp"

namespace hone::train {

enum class BnPolicy {
  /// The session mode decides (the default): batch statistics and running-statistics
  /// updates in Mode::train, running statistics in Mode::eval and Mode::inference.
  train,
  /// Running statistics in every mode, never updated; forward and backward are exactly
  /// eval mode's (the gradient treats mean and variance as constants).
  frozen,
  /// Batch statistics in every mode, Mode::eval and Mode::inference included, and the
  /// running statistics keep being updated (ONNX momentum): prediction-time BatchNorm on a
  /// target stream. For a one-off re-estimation, use adabn() instead.
  adabn,
};

/// Whether a BatchNormalization node normalises with its running statistics in Mode::train
/// too (BnPolicy::frozen).
inline bool uses_running_stats(const Node& node) {
  return node.op == "BatchNormalization" && node.attrs.get_string("hone_statistics", "mode") == "running";
}

/// The policy a BatchNormalization node carries (train when it has none).
inline BnPolicy bn_policy(const Node& node) {
  const std::string s = node.attrs.get_string("hone_statistics", "mode");
  return s == "running" ? BnPolicy::frozen : s == "batch" ? BnPolicy::adabn : BnPolicy::train;
}

namespace detail {

/// Indices of the BatchNormalization nodes selected by `pattern` (see the file comment);
/// throws InvalidArgument (hone.train.no_match) listing the BatchNorm layers when none is.
template <class T>
std::vector<std::size_t> select_bn(const Graph<T>& g, const std::string& pattern, const char* who) {
  std::vector<std::size_t> out;
  std::vector<std::string> names;
  for (std::size_t n = 0; n < g.nodes().size(); ++n) {
    const Node& node = g.nodes()[n];
    if (node.op != "BatchNormalization") continue;
    std::string first;
    for (std::size_t k = 1; k < node.inputs.size() && first.empty(); ++k)
      if (g.has_parameter(node.inputs[k]) && is_weight(g.parameter(node.inputs[k]))) first = node.inputs[k];
    const std::string path = module_path(node, first.empty() ? node.inputs[1] : first);
    names.push_back(path);
    bool hit = glob_match(pattern, path) || glob_match(pattern, node.name);
    for (std::size_t k = 1; k < node.inputs.size(); ++k) hit = hit || glob_match(pattern, node.inputs[k]);
    if (hit) out.push_back(n);
  }
  if (out.empty())
    throw InvalidArgument("hone.train.no_match",
                          concat(who, ": \"", pattern, "\" selects no BatchNormalization layer; ",
                                 names.empty() ? std::string("the graph has none")
                                               : concat("they are ", some_names(names))));
  return out;
}

}  // namespace detail

/// Sets the policy of the BatchNormalization layers selected by `pattern` ("*": all) and
/// makes their scale and shift trainable or frozen per `affine_trainable` (their running
/// statistics are buffers, never trained). Returns the number of layers set. Throws
/// InvalidArgument (hone.train.no_match) when no BatchNorm is selected.
template <class T>
std::size_t set_bn_policy(Graph<T>& graph, BnPolicy policy, const std::string& pattern = "*",
                          bool affine_trainable = true) {
  const std::vector<std::size_t> selected = detail::select_bn(graph, pattern, "set_bn_policy");
  const char* value = policy == BnPolicy::frozen ? "running" : policy == BnPolicy::adabn ? "batch" : "mode";
  for (std::size_t n : selected) {
    Node& node = graph.nodes()[n];
    node.attrs.set_string("hone_statistics", value);
    for (std::size_t k = 1; k < 3 && k < node.inputs.size(); ++k)
      if (graph.has_parameter(node.inputs[k])) {
        Parameter<T>& p = graph.parameter(node.inputs[k]);
        if (detail::is_weight(p)) p.trainable = affine_trainable;
      }
  }
  return selected.size();
}

/// AdaBN: re-estimates the running mean and variance of the BatchNorm layers selected by
/// `pattern` on target data, leaving every parameter unchanged. `next_batch` returns one
/// tensor per graph input (or per input the selected layers depend on, so images suffice
/// when a loss also reads labels), or nullopt when the data is exhausted. The graph runs in
/// inference mode (no dropout, nothing saved) up to the selected layers; each selected layer
/// normalises every batch with that batch's statistics (as in training) while the others use
/// their running statistics. The new statistics are those of all samples of all batches
/// together: the mean over every position of every batch, and the variance around it,
/// unbiased (n - 1) when the node's unbiased_running_var is 1 (PyTorch's rule, set by the
/// builder and the importer), biased otherwise. For equal-size batches the mean is what
/// PyTorch's cumulative average (momentum=None) gives; its variance averages per-batch
/// variances and so misses the spread between batch means, which this estimate includes.
/// Returns the number of batches used. Throws InvalidArgument when there is no batch or a
/// batch has the wrong number of tensors, and what Session::forward throws; the graph's
/// statistics are only written after the last batch.
template <class T>
std::size_t adabn(Graph<T>& graph,
                  const std::type_identity_t<std::function<std::optional<std::vector<Tensor<T>>>()>>& next_batch,
                  const std::string& pattern = "*") {
  const std::vector<std::size_t> selected = detail::select_bn(graph, pattern, "adabn");
  Graph<T> work = graph;  // parameters shared with graph; the selected statistics get copies
  std::vector<std::string> outs;
  for (std::size_t n = 0; n < work.nodes().size(); ++n) {
    Node& node = work.nodes()[n];
    if (node.op != "BatchNormalization") continue;
    const bool chosen = std::find(selected.begin(), selected.end(), n) != selected.end();
    node.attrs.set_string("hone_statistics", chosen ? "batch" : "running");
    if (!chosen) continue;
    node.attrs.set_float("momentum", 0.0);  // running := the batch's statistics
    for (std::size_t k = 3; k < 5; ++k) {
      Parameter<T>& p = work.parameter(node.inputs[k]);
      p.data = p.data.clone();
    }
    outs.push_back(node.outputs[0]);
  }
  work.set_outputs(outs);
  detail::prune(work);
  // The work graph keeps the selected nodes (all are outputs) in their original order.
  std::vector<const Node*> nodes;
  for (const Node& node : work.nodes())
    if (std::find(outs.begin(), outs.end(), node.outputs[0]) != outs.end()) nodes.push_back(&node);

  struct Stats {
    double count = 0;
    std::vector<double> mean, m2;  // Chan et al.'s pairwise update
  };
  std::vector<Stats> acc(nodes.size());
  Session<T> session(work, {.mode = Mode::inference});
  std::size_t batches = 0;
  while (auto batch = next_batch()) {
    std::vector<Tensor<T>> inputs;
    if (batch->size() == work.inputs().size()) {
      inputs = *batch;
    } else if (batch->size() == graph.inputs().size()) {
      for (const auto& in : work.inputs())
        for (std::size_t i = 0; i < graph.inputs().size(); ++i)
          if (graph.inputs()[i].name == in.name) inputs.push_back((*batch)[i]);
    } else {
      std::vector<std::string> names;
      for (const auto& in : work.inputs()) names.push_back(in.name);
      throw InvalidArgument("hone.train.adabn",
                            hone::detail::concat("adabn: batch ", batches, " has ", batch->size(),
                                           " tensors; expected one per graph input (", graph.inputs().size(),
                                           ") or one for each of ", detail::some_names(names)));
    }
    for (const Node* node : nodes)
      for (std::size_t k = 3; k < 5; ++k)
        for (T& v : work.parameter(node->inputs[k]).data) v = T(0);
    session.forward(inputs);
    const GraphAnalysis& a = session.analysis();
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      const Node& node = *nodes[i];
      const Shape& x = a.shapes[a.value(node.inputs[0])];
      const std::int64_t c = x[1];
      const double n = static_cast<double>(x.numel() / c);
      const bool unbiased = node.attrs.get_int("unbiased_running_var", 0) != 0 && n > 1;
      const Tensor<T>& mean = work.parameter(node.inputs[3]).data;
      const Tensor<T>& var = work.parameter(node.inputs[4]).data;
      Stats& s = acc[i];
      if (s.mean.empty()) {
        s.mean.assign(static_cast<std::size_t>(c), 0.0);
        s.m2.assign(static_cast<std::size_t>(c), 0.0);
      }
      const double total = s.count + n;
      for (std::int64_t ch = 0; ch < c; ++ch) {
        const auto k = static_cast<std::size_t>(ch);
        const double mb = static_cast<double>(mean[ch]);
        const double m2b = static_cast<double>(var[ch]) * (unbiased ? n - 1 : n);
        const double delta = mb - s.mean[k];
        s.mean[k] += delta * n / total;
        s.m2[k] += m2b + delta * delta * s.count * n / total;
      }
      s.count = total;
    }
    ++batches;
  }
  if (batches == 0)
    throw InvalidArgument("hone.train.adabn",
                          "adabn: the batch source returned no batch; the running statistics are unchanged");
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const Node& node = *nodes[i];
    const Stats& s = acc[i];
    const bool unbiased = node.attrs.get_int("unbiased_running_var", 0) != 0 && s.count > 1;
    Tensor<T>& mean = graph.parameter(node.inputs[3]).data;
    Tensor<T>& var = graph.parameter(node.inputs[4]).data;
    for (std::size_t k = 0; k < s.mean.size(); ++k) {
      mean[static_cast<std::int64_t>(k)] = static_cast<T>(s.mean[k]);
      var[static_cast<std::int64_t>(k)] = static_cast<T>(s.m2[k] / (unbiased ? s.count - 1 : s.count));
    }
  }
  return batches;
}

/// adabn over a list of batches (each one tensor per graph input).
template <class T>
std::size_t adabn(Graph<T>& graph, const std::vector<std::vector<Tensor<T>>>& batches,
                  const std::string& pattern = "*") {
  std::size_t next = 0;
  return adabn<T>(
      graph,
      [&]() -> std::optional<std::vector<Tensor<T>>> {
        if (next == batches.size()) return std::nullopt;
        return batches[next++];
      },
      pattern);
}

}  // namespace hone::train
