// hone/train/select.hpp — choosing what to train: freeze and unfreeze parameters by glob
// pattern, by depth, by kind (biases, BatchNorm affine, head), and summarise the result.
//
//   hone::train::freeze(g);                       // everything
//   hone::train::unfreeze(g, "layer4.*");         // the last stage
//   hone::train::unfreeze(g, "fc.*");
//   std::cout << hone::train::describe(g);
//
// Patterns are globs over whole parameter names: '*' matches any run of characters, dots
// included ("layer4.*" matches "layer4.1.conv2.weight"), '?' matches one character, every
// other character matches itself (there is no escape and no character class). Only
// parameters change: buffers (running statistics) and constants are never trainable. A
// pattern that matches no parameter throws InvalidArgument (hone.train.no_match) listing
// some parameter names, since a mistyped pattern would otherwise silently train the wrong
// layers. The Session reads the flags at every forward: a frozen parameter gets no gradient
// and the layers below the lowest trainable one run forward only.
#pragma once

#include <algorithm>    // std::max
#include <cstdint>      // std::int64_t
#include <set>          // names
#include <sstream>      // describe's table
#include <string>       // names
#include <string_view>  // glob_match
#include <vector>       // lists

#include "hone/core/error.hpp"
#include "hone/graph/graph.hpp"
#include "hone/train/surgery.hpp"

namespace hone::train {

/// Whether `name` matches the glob `pattern` as a whole: '*' any run of characters (dots
/// included, possibly empty), '?' exactly one character, anything else itself.
inline bool glob_match(std::string_view pattern, std::string_view name) {
  std::size_t p = 0, n = 0, star = std::string_view::npos, resume = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p;
      ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

/// Counts of a graph's tensors by role, in elements (params) and tensors.
struct ParamSummary {
  std::int64_t trainable_params = 0;  ///< elements of trainable parameters
  std::int64_t frozen_params = 0;     ///< elements of frozen parameters
  std::int64_t buffers = 0;           ///< elements of buffers (running statistics)
  std::int64_t constants = 0;         ///< elements of constants
  std::size_t trainable_tensors = 0;
  std::size_t frozen_tensors = 0;
};

namespace detail {

template <class T>
std::vector<std::string> weight_names(const Graph<T>& g) {
  std::vector<std::string> out;
  for (const auto& p : g.parameters())
    if (is_weight(p)) out.push_back(p.name);
  return out;
}

/// Sets `trainable` on the parameters matching `pattern`; throws when none matches.
template <class T>
std::size_t set_matching(Graph<T>& g, const std::string& pattern, bool trainable, const char* who) {
  std::size_t count = 0, others = 0;
  for (auto& p : g.parameters()) {
    if (!glob_match(pattern, p.name)) continue;
    if (is_weight(p)) {
      p.trainable = trainable;
      ++count;
    } else {
      ++others;
    }
  }
  if (count > 0) return count;
  std::string hint;
  if (others > 0) {
    hint = " (it matches only buffers or constants, which are never trainable)";
  } else {
    const std::string wider = pattern + ".*";
    for (const auto& p : g.parameters())
      if (is_weight(p) && glob_match(wider, p.name)) {
        hint = concat(" (patterns match whole names: did you mean \"", wider, "\"?)");
        break;
      }
  }
  throw InvalidArgument("hone.train.no_match",
                        concat(who, "(\"", pattern, "\"): the pattern matches no parameter", hint,
                               "; '*' matches any run of characters including dots, '?' one "
                               "character; parameters are named ",
                               some_names(weight_names(g))));
}

/// Sets every parameter's flag; returns how many there are.
template <class T>
std::size_t set_all(Graph<T>& g, bool trainable) {
  std::size_t count = 0;
  for (auto& p : g.parameters())
    if (is_weight(p)) {
      p.trainable = trainable;
      ++count;
    }
  return count;
}

/// Makes exactly the parameters in `names` trainable (all others frozen); returns how many.
template <class T>
std::size_t train_only(Graph<T>& g, const std::set<std::string>& names) {
  std::size_t count = 0;
  for (auto& p : g.parameters())
    if (is_weight(p)) {
      p.trainable = names.count(p.name) != 0;
      count += p.trainable;
    }
  return count;
}

}  // namespace detail

/// Freezes every parameter. Returns how many there are.
template <class T>
std::size_t freeze(Graph<T>& graph) {
  return detail::set_all(graph, false);
}

/// Makes every parameter trainable. Returns how many there are.
template <class T>
std::size_t unfreeze(Graph<T>& graph) {
  return detail::set_all(graph, true);
}

/// Freezes the parameters whose names match `pattern`. Returns how many matched; throws
/// InvalidArgument (hone.train.no_match) when none does.
template <class T>
std::size_t freeze(Graph<T>& graph, const std::string& pattern) {
  return detail::set_matching(graph, pattern, false, "freeze");
}

/// Makes the parameters whose names match `pattern` trainable. Returns how many matched;
/// throws InvalidArgument (hone.train.no_match) when none does.
template <class T>
std::size_t unfreeze(Graph<T>& graph, const std::string& pattern) {
  return detail::set_matching(graph, pattern, true, "unfreeze");
}

/// Freezes the parameters of the layers before depth `depth` (layers(), topological order)
/// and makes those of the layers from `depth` on trainable; parameters no node reads are
/// left alone, and one read both before and after the cut ends up trainable. depth 0
/// trains everything, depth == layers().size() freezes everything. Returns the number of
/// parameter tensors frozen. Throws InvalidArgument when depth > layers().size().
template <class T>
std::size_t freeze_until(Graph<T>& graph, std::size_t depth) {
  const std::vector<LayerInfo> all = layers(graph);
  if (depth > all.size())
    throw InvalidArgument("hone.train.freeze_until",
                          hone::detail::concat("freeze_until: depth ", depth, " is past the last layer; the graph has ",
                                         all.size(), " layers (depths 0 to ", all.size(), ")"));
  std::set<std::string> early, late;
  for (const auto& layer : all)
    for (const auto& p : layer.param_names) (layer.depth < depth ? early : late).insert(p);
  std::size_t frozen = 0;
  for (auto& p : graph.parameters()) {
    if (!detail::is_weight(p)) continue;
    if (late.count(p.name)) {
      p.trainable = true;
    } else if (early.count(p.name)) {
      p.trainable = false;
      ++frozen;
    }
  }
  return frozen;
}

/// freeze_until at the first layer that `name` designates: its module path ("layer3.0.conv1"),
/// a module path prefix ending at a dot ("layer3", "layer3.0"), its node name, or one of its
/// parameter names ("layer3.0.conv1.weight"). Returns the number of tensors frozen. Throws
/// InvalidArgument (hone.train.freeze_until) listing the blocks when nothing matches.
template <class T>
std::size_t freeze_until(Graph<T>& graph, const std::string& name) {
  for (const auto& layer : layers(graph)) {
    const bool module = layer.name == name ||
                        (layer.name.size() > name.size() && layer.name.compare(0, name.size(), name) == 0 &&
                         layer.name[name.size()] == '.');
    const bool param = std::find(layer.param_names.begin(), layer.param_names.end(), name) !=
                       layer.param_names.end();
    if (module || param || layer.node == name) return freeze_until(graph, layer.depth);
  }
  throw InvalidArgument("hone.train.freeze_until",
                        hone::detail::concat("freeze_until(\"", name,
                                       "\"): no layer has this module path, node or parameter name; "
                                       "the blocks are ", detail::some_names(block_names(graph), 12)));
}

/// BitFit: trains only the biases (Conv, Gemm and MatMul-Add biases, BatchNorm shifts, and
/// any parameter named "bias" or "*.bias"), freezing everything else. Norm biases are
/// included, as in BitFit's own code; BatchNorm scales are not. The head's weight stays
/// frozen too: a new head needs unfreeze(graph, head.weight) as well (what BitFit does for
/// its classifier). Returns the number of trainable tensors; throws InvalidArgument when the
/// graph has no bias.
template <class T>
std::size_t train_biases_only(Graph<T>& graph) {
  const GraphAnalysis a = graph.analyze();
  std::set<std::string> biases;
  auto mark = [&](std::size_t n, std::size_t k) {
    if (k < a.node_inputs[n].size()) biases.insert(a.names[a.node_inputs[n][k]]);
  };
  for (std::size_t n = 0; n < graph.nodes().size(); ++n) {
    const Node& node = graph.nodes()[n];
    if (node.op == "Conv" || node.op == "Gemm" || node.op == "BatchNormalization") mark(n, 2);
    if (node.op == "Add" && a.node_inputs[n].size() == 2)
      for (std::size_t k = 0; k < 2; ++k) {
        const std::size_t m = a.producer[a.node_inputs[n][1 - k]];
        if (m != npos && (graph.nodes()[m].op == "MatMul" || graph.nodes()[m].op == "Gemm")) mark(n, k);
      }
  }
  for (const auto& p : graph.parameters())
    if (p.name == "bias" || (p.name.size() > 5 && p.name.compare(p.name.size() - 5, 5, ".bias") == 0))
      biases.insert(p.name);
  const std::size_t count = detail::train_only(graph, biases);
  if (count == 0)
    throw InvalidArgument("hone.train.no_match", "train_biases_only: the graph has no bias parameter");
  return count;
}

/// Trains only the BatchNorm scales and shifts, freezing everything else. Returns the
/// number of trainable tensors; throws InvalidArgument when the graph has no BatchNorm
/// with parameters.
template <class T>
std::size_t train_bn_affine_only(Graph<T>& graph) {
  std::set<std::string> affine;
  for (const Node& node : graph.nodes())
    if (node.op == "BatchNormalization")
      for (std::size_t k = 1; k < 3 && k < node.inputs.size(); ++k) affine.insert(node.inputs[k]);
  const std::size_t count = detail::train_only(graph, affine);
  if (count == 0)
    throw InvalidArgument("hone.train.no_match",
                          "train_bn_affine_only: the graph has no BatchNormalization scale or shift parameter");
  return count;
}

/// Trains only the head found by find_head (weight and bias), freezing everything else.
/// Returns the number of trainable tensors; throws what find_head throws.
template <class T>
std::size_t train_head_only(Graph<T>& graph) {
  const HeadInfo h = find_head(graph);
  std::set<std::string> names = {h.weight};
  if (!h.bias.empty()) names.insert(h.bias);
  return detail::train_only(graph, names);
}

/// Element and tensor counts of the graph's parameters by role.
template <class T>
ParamSummary summarize(const Graph<T>& graph) {
  ParamSummary s;
  for (const auto& p : graph.parameters()) {
    const std::int64_t n = p.data.numel();
    if (p.buffer) {
      s.buffers += n;
    } else if (p.constant) {
      s.constants += n;
    } else if (p.trainable) {
      s.trainable_params += n;
      ++s.trainable_tensors;
    } else {
      s.frozen_params += n;
      ++s.frozen_tensors;
    }
  }
  return s;
}

/// A table of the layers (depth, module path, op, output shape with N for the batch,
/// parameter count, trainable: yes / no / partly) and a totals line from summarize().
template <class T>
std::string describe(const Graph<T>& graph) {
  const GraphAnalysis a = graph.analyze();
  const std::vector<bool> batched = detail::follows_batch(graph, a);
  struct Row {
    std::string depth, name, op, shape, params, trainable;
  };
  std::vector<Row> rows = {{"depth", "layer", "op", "output", "params", "trainable"}};
  for (const LayerInfo& layer : layers(graph)) {
    std::string shape = layer.output_shape.to_string();
    if (batched[a.value(layer.output)] && shape.size() > 2) {
      const auto comma = shape.find(',');
      shape = "(N" + (comma == std::string::npos ? std::string(")") : shape.substr(comma));
    }
    std::size_t n_trainable = 0;
    for (const auto& p : layer.param_names) n_trainable += graph.parameter(p).trainable;
    rows.push_back({std::to_string(layer.depth), layer.name, layer.op, shape, std::to_string(layer.params),
                    n_trainable == 0 ? "no" : n_trainable == layer.param_names.size() ? "yes" : "partly"});
  }
  std::size_t w[6] = {};
  for (const Row& r : rows) {
    const std::string* cells[6] = {&r.depth, &r.name, &r.op, &r.shape, &r.params, &r.trainable};
    for (std::size_t c = 0; c < 6; ++c) w[c] = std::max(w[c], cells[c]->size());
  }
  std::ostringstream os;
  for (const Row& r : rows) {
    const std::string* cells[6] = {&r.depth, &r.name, &r.op, &r.shape, &r.params, &r.trainable};
    for (std::size_t c = 0; c < 6; ++c) {
      const bool right = c == 0 || c == 4;
      const std::string pad(w[c] - cells[c]->size(), ' ');
      os << (right ? pad + *cells[c] : *cells[c] + (c == 5 ? std::string() : pad)) << (c == 5 ? "\n" : "  ");
    }
  }
  const ParamSummary s = summarize(graph);
  os << "trainable: " << s.trainable_params << " elements in " << s.trainable_tensors
     << " tensors; frozen: " << s.frozen_params << " in " << s.frozen_tensors
     << " tensors; buffers: " << s.buffers << "; constants: " << s.constants << "\n";
  return os.str();
}

}  // namespace hone::train
