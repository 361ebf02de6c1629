// hone/train/surgery.hpp — model surgery for fine-tuning: list a model's layers and blocks,
// find and replace its classifier head, cut it into a feature extractor, split it in two for
// feature caching, and attach a head built with the Builder.
//
//   auto g = hone::onnx::load<float>("resnet18.onnx");
//   hone::train::replace_head(g, 10);            // fc: 1000 -> 10 classes, fresh weights
//   hone::train::truncate_at(g, "/Flatten_output_0");   // (N, 512) features
//
// A *layer* is a node that reads a parameter (not a buffer or constant): Conv, Gemm, MatMul
// with a parameter operand, BatchNormalization, the bias Add after a MatMul, PRelu, ...
// Its *module path* is PyTorch's module name: taken from its first parameter's name when that
// is dotted ("layer4.1.conv2.weight" -> "layer4.1.conv2"); otherwise (exports with BatchNorm
// folded name parameters "onnx::Conv_497") from the name scope PyTorch >= 1.13 gives the node
// ("/layer1/layer1.0/conv1/Conv" -> "layer1.0.conv1"); otherwise the node name. Layers are
// numbered (depth) in the graph's topological order.
// A *block* groups consecutive layers for gradual unfreezing and per-block learning rates:
// the module path cut after its first purely numeric component ("layer1.0.conv1" ->
// "layer1.0", "features.3.conv.0.0" -> "features.3"), else its first component ("conv1",
// "fc"). ResNet-18 has the blocks conv1, bn1, layer1.0, ..., layer4.1, fc.
// Every function here leaves a valid graph (or throws and leaves it unchanged); a Session
// bound to a graph must be recreated after truncate_at, attach_head or replace_head.
#pragma once

#include <algorithm>    // std::find, std::min, std::stable_sort
#include <cmath>        // std::sqrt
#include <cstdint>      // std::int64_t
#include <functional>   // attach_head's head builder
#include <set>          // name sets
#include <string>       // names
#include <string_view>  // name parsing
#include <type_traits>  // std::type_identity_t: T comes from the graph, not the callable
#include <utility>      // std::move, std::pair
#include <vector>       // lists

#include "hone/core/error.hpp"
#include "hone/core/init.hpp"
#include "hone/core/rng.hpp"
#include "hone/graph/builder.hpp"
#include "hone/graph/graph.hpp"

namespace hone::train {

/// One node that owns parameters.
struct LayerInfo {
  std::string name;         ///< module path, e.g. "layer4.1.conv2"
  std::string op;           ///< "Conv", "Gemm", "BatchNormalization", ...
  std::size_t depth = 0;    ///< 0, 1, ... in topological order of the layers
  std::int64_t params = 0;  ///< elements of its parameters (buffers and constants excluded)
  Shape output_shape;       ///< its first output, with the declared (example) batch
  std::vector<std::string> param_names;  ///< parameters it reads, in operand order
  std::string node;         ///< the node's name
  std::string output;       ///< the node's first output value
};

/// The classifier layer found by find_head.
struct HeadInfo {
  std::string node;        ///< the Gemm, MatMul or 1x1 Conv
  std::string op;
  std::string weight;      ///< its weight parameter
  std::string bias;        ///< its bias parameter, or empty
  std::string bias_node;   ///< the Add holding the bias after a MatMul, or empty
  std::int64_t in_features = 0;
  std::int64_t out_features = 0;  ///< the number of classes
  std::string input;       ///< the value the head reads (the features)
  std::string output;      ///< the head's (biased) output, the logits before any activation
};

/// prefix: the graph up to the cut value (its only output); suffix: the rest, with the cut
/// value as its first input.
template <class T>
struct SplitGraphs {
  Graph<T> prefix;
  Graph<T> suffix;
};

namespace detail {

using hone::detail::concat;

/// A trainable or frozen parameter (not a buffer or constant).
template <class T>
bool is_weight(const Parameter<T>& p) {
  return !p.buffer && !p.constant;
}

/// The parameters (not buffers or constants) a node reads, in operand order, without repeats.
template <class T>
std::vector<std::string> node_params(const Graph<T>& g, const GraphAnalysis& a, std::size_t n) {
  std::vector<std::string> out;
  for (std::size_t v : a.node_inputs[n]) {
    const std::size_t p = a.param[v];
    if (p == npos || !is_weight(g.parameters()[p])) continue;
    if (std::find(out.begin(), out.end(), a.names[v]) == out.end()) out.push_back(a.names[v]);
  }
  return out;
}

/// "layer1.0.conv1" from PyTorch's node scope "/layer1/layer1.0/conv1/Conv": each scope level
/// names a child of the previous one, Sequential children as "<parent>.<index>". Empty when
/// the name has no scope.
inline std::string scope_path(std::string_view node_name) {
  if (node_name.size() < 2 || node_name[0] != '/') return {};
  std::vector<std::string_view> parts;
  std::size_t start = 1;
  while (start <= node_name.size()) {
    std::size_t slash = node_name.find('/', start);
    if (slash == std::string_view::npos) slash = node_name.size();
    parts.push_back(node_name.substr(start, slash - start));
    start = slash + 1;
  }
  parts.pop_back();  // the op ("Conv", "Gemm_1")
  std::string path;
  std::string_view previous;
  for (std::string_view part : parts) {
    if (part.empty()) return {};
    std::string_view own = part;
    if (!previous.empty() && part.size() > previous.size() + 1 &&
        part.substr(0, previous.size()) == previous && part[previous.size()] == '.')
      own = part.substr(previous.size() + 1);
    if (!path.empty()) path += '.';
    path += own;
    previous = part;
  }
  return path;
}

/// The module path of a node whose first parameter is `first_param` (see the file comment).
inline std::string module_path(const Node& node, const std::string& first_param) {
  const auto dot = first_param.rfind('.');
  if (dot != std::string::npos && dot > 0 && first_param.find("::") == std::string::npos)
    return first_param.substr(0, dot);
  std::string scope = scope_path(node.name);
  return scope.empty() ? node.name : scope;
}

/// The block a module path belongs to (see the file comment).
inline std::string block_key(const std::string& path) {
  std::size_t start = 0;
  while (true) {
    std::size_t dot = path.find('.', start);
    const std::size_t end = dot == std::string::npos ? path.size() : dot;
    const std::string_view part = std::string_view(path).substr(start, end - start);
    bool numeric = !part.empty();
    for (char ch : part) numeric = numeric && ch >= '0' && ch <= '9';
    if (numeric) return path.substr(0, end);
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  const auto first = path.find('.');
  return first == std::string::npos ? path : path.substr(0, first);
}

/// Whether each value's first extent follows the batch: analyses once more with every
/// batched input one sample larger than declared.
template <class T>
std::vector<bool> follows_batch(const Graph<T>& g, const GraphAnalysis& a) {
  std::vector<bool> out(a.names.size(), false);
  std::vector<Shape> shapes;
  bool any = false;
  for (const auto& in : g.inputs()) {
    std::vector<std::int64_t> d(in.shape.begin(), in.shape.end());
    if (in.batched) {
      d[0] += 1;
      any = true;
    }
    shapes.push_back(hone::detail::to_shape(d));
  }
  if (!any) return out;
  const GraphAnalysis b = g.analyze(&shapes);
  for (std::size_t v = 0; v < a.names.size(); ++v)
    out[v] = a.shapes[v].rank() > 0 && b.shapes[v].rank() > 0 && a.shapes[v][0] != b.shapes[v][0];
  return out;
}

/// The nodes (by index) the values `roots` depend on, themselves included.
inline std::vector<bool> ancestors(const GraphAnalysis& a, std::size_t nodes,
                                   const std::vector<std::size_t>& roots) {
  std::vector<bool> needed(nodes, false), seen(a.names.size(), false);
  std::vector<std::size_t> stack = roots;
  while (!stack.empty()) {
    const std::size_t v = stack.back();
    stack.pop_back();
    if (seen[v]) continue;
    seen[v] = true;
    const std::size_t n = a.producer[v];
    if (n == npos || needed[n]) continue;
    needed[n] = true;
    for (std::size_t in : a.node_inputs[n]) stack.push_back(in);
  }
  return needed;
}

/// Removes the nodes the graph outputs do not need, then the parameters and graph inputs
/// no remaining node reads (inputs that are outputs stay). Returns the nodes removed.
template <class T>
std::size_t prune(Graph<T>& g) {
  const GraphAnalysis a = g.analyze();
  const std::vector<bool> needed = ancestors(a, g.nodes().size(), a.outputs);
  std::set<std::string> kept_outputs, read;
  for (std::size_t n = 0; n < needed.size(); ++n) {
    if (!needed[n]) continue;
    kept_outputs.insert(g.nodes()[n].outputs[0]);
    for (const auto& in : g.nodes()[n].inputs) read.insert(in);
  }
  for (const auto& o : g.outputs()) read.insert(o);
  const std::size_t removed =
      g.remove_nodes_if([&](const Node& node) { return !kept_outputs.count(node.outputs[0]); });
  g.remove_parameters_if([&](const Parameter<T>& p) { return !read.count(p.name); });
  g.remove_inputs_if([&](const GraphInput& in) { return !read.count(in.name); });
  g.validate();
  return removed;
}

/// Up to `limit` names from `names`, "a, b, c, ... (N in all)".
inline std::string some_names(const std::vector<std::string>& names, std::size_t limit = 6) {
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < limit; ++i) out += concat(i ? ", " : "", names[i]);
  if (names.size() > limit) out += concat(", ... (", names.size(), " in all)");
  if (names.empty()) out = "(none)";
  return out;
}

/// Levenshtein distance, for suggesting names close to a mistyped one.
inline std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

/// The `count` names of `candidates` closest to `name` (edit distance, then order).
inline std::vector<std::string> closest_names(const std::vector<std::string>& candidates,
                                              const std::string& name, std::size_t count = 4) {
  std::vector<std::pair<std::size_t, std::size_t>> ranked;  // (distance, index)
  for (std::size_t i = 0; i < candidates.size(); ++i) ranked.emplace_back(edit_distance(candidates[i], name), i);
  std::stable_sort(ranked.begin(), ranked.end());
  std::vector<std::string> out;
  for (std::size_t i = 0; i < ranked.size() && i < count; ++i) out.push_back(candidates[ranked[i].second]);
  return out;
}

/// Throws InvalidArgument (hone.train.unknown_value) when `value` is not an output of a node.
template <class T>
std::size_t node_output_value(const Graph<T>& g, const GraphAnalysis& a, const std::string& value,
                              const char* who) {
  const auto it = a.id.find(value);
  if (it == a.id.end() || a.kind[it->second] != ValueKind::activation) {
    std::vector<std::string> outputs;
    for (const auto& node : g.nodes())
      for (const auto& o : node.outputs) outputs.push_back(o);
    throw InvalidArgument("hone.train.unknown_value",
                          concat(who, ": \"", value, "\" ",
                                 it == a.id.end() ? "is not a value of the graph"
                                                  : "is a graph input or parameter, not a node output",
                                 "; the closest node outputs are ", some_names(closest_names(outputs, value))));
  }
  return it->second;
}

/// Ops find_head walks through from the graph output back to the classifier.
inline bool passes_through(const std::string& op) {
  static const std::set<std::string> ops = {
      "Flatten", "Reshape", "Squeeze", "Unsqueeze", "Identity", "Dropout", "Softmax", "LogSoftmax",
      "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "HardSigmoid", "HardSwish", "Elu", "Selu",
      "Gelu", "Softplus", "GlobalAveragePool", "AveragePool", "GlobalMaxPool", "MaxPool",
      "ReduceMean", "SoftmaxCrossEntropyLoss", "BinaryCrossEntropyWithLogits"};
  return ops.count(op) != 0;
}

/// The nodes reading the value `v` or anything computed from it.
inline std::vector<bool> descendants(const GraphAnalysis& a, std::size_t nodes, std::size_t v) {
  std::vector<bool> reached(nodes, false), seen(a.names.size(), false);
  seen[v] = true;
  for (std::size_t n : a.order) {
    bool reads = false;
    for (std::size_t in : a.node_inputs[n]) reads = reads || seen[in];
    if (!reads) continue;
    reached[n] = true;
    for (std::size_t out : a.node_outputs[n]) seen[out] = true;
  }
  return reached;
}

}  // namespace detail

/// The layers of the graph (nodes owning parameters) in topological order; see the file
/// comment for names and depths. Throws as Graph::analyze() for an invalid graph.
template <class T>
std::vector<LayerInfo> layers(const Graph<T>& graph) {
  const GraphAnalysis a = graph.analyze();
  std::vector<LayerInfo> out;
  for (std::size_t n : a.order) {
    std::vector<std::string> names = detail::node_params(graph, a, n);
    if (names.empty()) continue;
    const Node& node = graph.nodes()[n];
    LayerInfo info;
    info.name = detail::module_path(node, names[0]);
    info.op = node.op;
    info.depth = out.size();
    for (const auto& p : names) info.params += graph.parameter(p).data.numel();
    info.output_shape = a.shapes[a.node_outputs[n][0]];
    info.param_names = std::move(names);
    info.node = node.name;
    info.output = node.outputs[0];
    out.push_back(std::move(info));
  }
  return out;
}

namespace detail {
/// (block key, parameter names) per block, earliest first.
template <class T>
std::vector<std::pair<std::string, std::vector<std::string>>> block_groups(const Graph<T>& graph) {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  std::set<std::string> placed;
  for (const LayerInfo& layer : layers(graph)) {
    const std::string key = block_key(layer.name);
    if (out.empty() || out.back().first != key) out.emplace_back(key, std::vector<std::string>());
    for (const auto& p : layer.param_names)
      if (placed.insert(p).second) out.back().second.push_back(p);
  }
  std::erase_if(out, [](const auto& group) { return group.second.empty(); });
  return out;
}
}  // namespace detail

/// Parameter names grouped by block, earliest block first (see the file comment): for
/// gradual unfreezing (unfreeze the last group, then the one before, ...) and per-block
/// learning rates. A parameter read by several layers is in its first layer's group.
template <class T>
std::vector<std::vector<std::string>> blocks(const Graph<T>& graph) {
  std::vector<std::vector<std::string>> out;
  for (auto& group : detail::block_groups(graph)) out.push_back(std::move(group.second));
  return out;
}

/// The block key of each group of blocks(graph), in the same order ("conv1", "layer1.0").
template <class T>
std::vector<std::string> block_names(const Graph<T>& graph) {
  std::vector<std::string> out;
  for (auto& group : detail::block_groups(graph)) out.push_back(std::move(group.first));
  return out;
}

/// The classifier: the last Gemm or MatMul with a parameter weight (bias in its C operand
/// or in an Add right after it), or 1x1 Conv, that feeds the first graph output through
/// only shape, activation, pooling, dropout and loss ops (Flatten, Reshape, Softmax, Relu,
/// GlobalAveragePool as in SqueezeNet's Conv -> Relu -> GlobalAveragePool -> Flatten,
/// SoftmaxCrossEntropyLoss's logits, ...). Throws InvalidArgument (hone.train.no_head)
/// naming the node where the search stopped.
template <class T>
HeadInfo find_head(const Graph<T>& graph) {
  const GraphAnalysis a = graph.analyze();
  if (a.outputs.empty())
    throw InvalidArgument("hone.train.no_head", "find_head: the graph has no output");
  const auto& nodes = graph.nodes();
  auto weight_param = [&](std::size_t v) {
    const std::size_t p = a.param[v];
    return p != npos && detail::is_weight(graph.parameters()[p]);
  };
  std::size_t v = a.outputs[0];
  std::vector<std::string> path;
  while (true) {
    const std::size_t n = a.producer[v];
    if (n == npos)
      throw InvalidArgument("hone.train.no_head",
                            hone::detail::concat("find_head: walking back from graph output \"",
                                           a.names[a.outputs[0]], "\" reached \"", a.names[v],
                                           "\", which no node computes; the graph has no classifier layer"));
    const Node& node = nodes[n];
    const auto& in = a.node_inputs[n];
    HeadInfo h;
    h.node = node.name;
    h.op = node.op;
    h.output = node.outputs[0];
    std::size_t layer = npos;
    if (node.op == "Add" && in.size() == 2) {
      // A MatMul's bias: Add(MatMul(x, W), b) or Add(b, MatMul(x, W)).
      for (std::size_t k = 0; k < 2 && layer == npos; ++k) {
        const std::size_t m = a.producer[in[1 - k]];
        if (weight_param(in[k]) && m != npos && nodes[m].op == "MatMul" &&
            weight_param(a.node_inputs[m][1])) {
          layer = m;
          h.bias = a.names[in[k]];
          h.bias_node = node.name;
        }
      }
    } else if ((node.op == "Gemm" || node.op == "MatMul" || node.op == "Conv") && weight_param(in[1])) {
      layer = n;
    }
    if (layer != npos) {
      const Node& l = nodes[layer];
      const auto& lin = a.node_inputs[layer];
      const Shape& w = a.shapes[lin[1]];
      h.node = l.name;
      h.op = l.op;
      h.weight = a.names[lin[1]];
      h.input = a.names[lin[0]];
      bool ok = w.rank() == 2;
      if (l.op == "Gemm") {
        const bool tb = l.attrs.get_int("transB", 0) != 0;
        h.out_features = tb ? w[0] : w[1];
        h.in_features = tb ? w[1] : w[0];
        if (lin.size() > 2 && weight_param(lin[2])) h.bias = a.names[lin[2]];
      } else if (l.op == "MatMul") {
        h.in_features = ok ? w[0] : 0;
        h.out_features = ok ? w[1] : 0;
      } else {
        ok = w.rank() >= 3;
        for (std::size_t d = 2; d < w.rank(); ++d) ok = ok && w[d] == 1;
        h.out_features = w[0];
        h.in_features = w[1] * l.attrs.get_int("group", 1);
        if (lin.size() > 2 && weight_param(lin[2])) h.bias = a.names[lin[2]];
      }
      if (ok) return h;
    }
    if (layer == npos && detail::passes_through(node.op) && !in.empty()) {
      path.push_back(node.name);
      v = in[0];
      continue;
    }
    std::string walked;
    for (const auto& p : path) walked += hone::detail::concat(" <- \"", p, "\"");
    throw InvalidArgument(
        "hone.train.no_head",
        hone::detail::concat("find_head: graph output \"", a.names[a.outputs[0]], "\"", walked,
                       " <- node \"", node.name, "\" (", node.op,
                       "): the search stops there, since it is not a classifier layer (a Gemm or "
                       "MatMul with a parameter weight, or a 1x1 Conv) and not a shape, "
                       "activation, pooling or loss op it may look through; cut the model with "
                       "truncate_at and add a head with attach_head instead"));
  }
}

/// Replaces the head (find_head) by a freshly initialised one with `num_classes` outputs,
/// keeping its parameter names and making them trainable. Initialisation is PyTorch's
/// nn.Linear/nn.Conv2d default, as in Builder: weight Kaiming-uniform with a = sqrt(5)
/// (U(-1/sqrt(in), 1/sqrt(in))), bias U(-1/sqrt(in), 1/sqrt(in)), drawn from
/// Generator(seed).fork(0) and .fork(1) in PyTorch's (out, in) order. Reshape nodes after the
/// head whose target shape names the old class count get the new one. Returns the new head.
/// Throws InvalidArgument (find_head's, num_classes < 1, a grouped Conv head, or a graph
/// that no longer validates, e.g. class weights of the old width in the loss); the graph
/// is then unchanged.
template <class T>
HeadInfo replace_head(Graph<T>& graph, std::int64_t num_classes, std::uint64_t seed = 0) {
  if (num_classes < 1)
    throw InvalidArgument("hone.train.replace_head",
                          hone::detail::concat("replace_head: num_classes must be >= 1, got ", num_classes));
  const HeadInfo h = find_head(graph);
  Graph<T> g = graph;  // parameters are shared handles; the head gets new tensors below
  const Node* layer = nullptr;
  for (const auto& n : g.nodes())
    if (n.name == h.node && n.inputs.size() > 1 && n.inputs[1] == h.weight) layer = &n;
  const Shape old_w = g.parameter(h.weight).data.shape();
  if (h.op == "Conv" && layer->attrs.get_int("group", 1) != 1)
    throw InvalidArgument("hone.train.replace_head",
                          hone::detail::concat("replace_head: head \"", h.node,
                                         "\" is a grouped Conv; only group = 1 can be resized"));
  // PyTorch's layout (out, in, 1, ...), transposed afterwards for (in, out) weights.
  std::vector<std::int64_t> dims = {num_classes, h.in_features};
  for (std::size_t d = 2; d < old_w.rank(); ++d) dims.push_back(1);
  Tensor<T> w(hone::detail::to_shape(dims));
  Generator wg = Generator(seed).fork(0);
  init::kaiming_uniform(w, wg, std::sqrt(5.0));
  const bool transposed = h.op == "MatMul" || (h.op == "Gemm" && layer->attrs.get_int("transB", 0) == 0);
  if (transposed) {
    Tensor<T> t({h.in_features, num_classes});
    for (std::int64_t o = 0; o < num_classes; ++o)
      for (std::int64_t i = 0; i < h.in_features; ++i) t[i * num_classes + o] = w[o * h.in_features + i];
    w = t;
  }
  Parameter<T>& wp = g.parameter(h.weight);
  wp.data = w;
  wp.trainable = true;
  if (!h.bias.empty()) {
    Parameter<T>& bp = g.parameter(h.bias);
    std::vector<std::int64_t> bd(bp.data.shape().begin(), bp.data.shape().end());
    if (!bd.empty() && bd.back() == h.out_features) bd.back() = num_classes;
    Tensor<T> b(hone::detail::to_shape(bd));
    Generator bg = Generator(seed).fork(1);
    const double bound = 1.0 / std::sqrt(static_cast<double>(h.in_features));
    init::uniform(b, -bound, bound, bg);
    bp.data = b;
    bp.trainable = true;
  }
  if (num_classes != h.out_features) {
    const GraphAnalysis a = graph.analyze();
    const std::vector<bool> after = detail::descendants(a, g.nodes().size(), a.value(h.output));
    for (std::size_t n = 0; n < after.size(); ++n) {
      Node& node = g.nodes()[n];
      if (!after[n] || node.op != "Reshape") continue;
      auto shape = node.attrs.get_ints("shape", {});
      for (auto& d : shape)
        if (d == h.out_features) d = num_classes;
      node.attrs.set_ints("shape", shape);
    }
  }
  try {
    g.validate();
  } catch (const Error& e) {
    throw InvalidArgument("hone.train.replace_head",
                          hone::detail::concat("replace_head: with head \"", h.node, "\" resized from ",
                                         h.out_features, " to ", num_classes,
                                         " outputs the graph no longer validates: ", e.what()));
  }
  graph = std::move(g);
  return find_head(graph);
}

/// Makes `value` (a node output) the only graph output and removes every node, parameter,
/// buffer, constant and graph input no longer needed: a feature extractor. Returns the number
/// of nodes removed. Throws InvalidArgument (hone.train.unknown_value) for an unknown value
/// or one that no node computes, listing similar names.
template <class T>
std::size_t truncate_at(Graph<T>& graph, const std::string& value) {
  const GraphAnalysis a = graph.analyze();
  detail::node_output_value(graph, a, value, "truncate_at");
  Graph<T> g = graph;
  g.set_outputs({value});
  const std::size_t removed = detail::prune(g);
  graph = std::move(g);
  return removed;
}

/// Splits the graph at `value` (a node output): `prefix` is truncate_at(copy, value);
/// `suffix` holds the nodes after the cut that the outputs need, reads `value` as its first
/// graph input (batched when the value follows the batch, shape from shape inference),
/// followed by the original inputs only the suffix reads (labels), and has the original
/// outputs. Both have their own copies of the parameters they read (same names, trainable
/// flags and groups). Throws InvalidArgument (hone.train.split) when the cut is not clean:
/// a node after it reads another value computed before it (a residual connection crossing
/// the cut) or a graph input the prefix reads, naming the node and the value; or when a
/// graph output is computed before the cut.
template <class T>
SplitGraphs<T> split_at(const Graph<T>& graph, const std::string& value) {
  const GraphAnalysis a = graph.analyze();
  const std::size_t cut = detail::node_output_value(graph, a, value, "split_at");
  const auto& nodes = graph.nodes();
  const std::vector<bool> before = detail::ancestors(a, nodes.size(), {cut});
  const std::vector<bool> needed = detail::ancestors(a, nodes.size(), a.outputs);
  std::vector<bool> prefix_reads(a.names.size(), false);
  for (std::size_t n = 0; n < nodes.size(); ++n)
    if (before[n])
      for (std::size_t v : a.node_inputs[n]) prefix_reads[v] = true;
  for (std::size_t v : a.outputs)
    if (v != cut && a.producer[v] != npos && before[a.producer[v]])
      throw InvalidArgument("hone.train.split",
                            hone::detail::concat("split_at(\"", value, "\"): graph output \"", a.names[v],
                                           "\" is computed before the cut; the suffix could not produce it"));
  bool reads_cut = false;
  std::vector<bool> suffix_reads(a.names.size(), false);
  for (std::size_t n : a.order) {
    if (before[n] || !needed[n]) continue;
    for (std::size_t v : a.node_inputs[n]) {
      suffix_reads[v] = true;
      if (v == cut) {
        reads_cut = true;
        continue;
      }
      const bool early_activation = a.kind[v] == ValueKind::activation && before[a.producer[v]];
      const bool shared_input = a.kind[v] == ValueKind::input && prefix_reads[v];
      if (early_activation || shared_input)
        throw InvalidArgument(
            "hone.train.split",
            hone::detail::concat("split_at(\"", value, "\"): node \"", nodes[n].name, "\" (", nodes[n].op,
                           ") after the cut reads \"", a.names[v], "\", ",
                           early_activation ? "computed before the cut" : "a graph input the part before the cut reads",
                           "; only \"", value, "\" may cross it (a skip or residual connection "
                           "crosses here: cut between blocks instead)"));
    }
  }
  if (!reads_cut)
    throw InvalidArgument("hone.train.split",
                          hone::detail::concat("split_at(\"", value, "\"): no graph output depends on it"));

  SplitGraphs<T> out{graph, Graph<T>()};
  for (auto& p : out.prefix.parameters()) p.data = p.data.clone();
  truncate_at(out.prefix, value);

  Graph<T>& s = out.suffix;
  const std::vector<bool> batched = detail::follows_batch(graph, a);
  s.add_input(value, a.shapes[cut], batched[cut]);
  for (const auto& in : graph.inputs())
    if (suffix_reads[a.value(in.name)]) s.add_input(in.name, in.shape, in.batched);
  for (const auto& p : graph.parameters()) {
    if (!suffix_reads[a.value(p.name)]) continue;
    if (p.buffer) s.add_buffer(p.name, p.data.clone(), p.group);
    else if (p.constant) s.add_constant(p.name, p.data.clone());
    else s.add_parameter(p.name, p.data.clone(), p.trainable, p.group);
  }
  for (std::size_t n = 0; n < nodes.size(); ++n)
    if (!before[n] && needed[n])
      s.add_node(nodes[n].op, nodes[n].inputs, nodes[n].outputs, nodes[n].attrs, nodes[n].name);
  s.set_outputs(graph.outputs());
  s.validate();
  return out;
}

/// Adds a head built by `build` (given a Builder on the graph and the feature value, it
/// returns the head's output) that reads `feature_value`; the returned value becomes the
/// first graph output, followed by any value `build` marks with Builder::output. The old
/// outputs and everything only they needed are removed (as truncate_at). New parameters
/// draw from Generator(seed) as in a fresh Builder and are trainable. Returns the head's
/// output. Throws InvalidArgument for an unknown feature value, or what `build` throws; the
/// graph is then unchanged.
///
///   attach_head(g, "/Flatten_output_0", [](Builder<float>& b, const Var& f) {
///     return b.linear(b.relu(b.linear(f, 256, true, "head.0")), 10, true, "head.2");
///   });
template <class T>
Var attach_head(Graph<T>& graph, const std::string& feature_value,
                const std::type_identity_t<std::function<Var(Builder<T>&, const Var&)>>& build,
                std::uint64_t seed = 0) {
  const GraphAnalysis a = graph.analyze();
  if (!a.id.count(feature_value)) detail::node_output_value(graph, a, feature_value, "attach_head");
  const std::size_t old_outputs = graph.outputs().size();
  Builder<T> b(graph, seed);
  const Var features = b.value(feature_value);
  const Var head = build(b, features);
  Graph<T> g = b.build();
  std::vector<std::string> outs = {head.name};
  for (std::size_t i = old_outputs; i < g.outputs().size(); ++i)
    if (g.outputs()[i] != head.name) outs.push_back(g.outputs()[i]);
  g.set_outputs(std::move(outs));
  detail::prune(g);
  graph = std::move(g);
  return head;
}

}  // namespace hone::train
