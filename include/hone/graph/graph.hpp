// hone/graph/graph.hpp — the graph IR: the single representation of a model.
//
// A Graph<T> holds graph inputs (shapes with a symbolic batch dimension), named parameters
// (trainable flag, group) and buffers (e.g. BatchNorm running statistics), nodes that refer
// to values by name, and graph outputs. Names follow ONNX: a parameter's name is its
// initializer name (`layer4.1.conv2.weight`). Nodes may be added in any order; analyze()
// resolves names, orders the nodes topologically, infers every shape and reports the first
// problem with a message naming the node:
//   [hone.graph.dangling] node "fc" (Gemm): input "feat" is not produced by any node ...
//   [hone.graph.cycle]    nodes "a", "b" form a cycle
//   [hone.shape]          node "conv1" (Conv): weight (8, 3, 3, 3) expects 3 input channels ...
// Activations are NCHW (see docs/architecture.md for why the reference stage keeps NCHW).
#pragma once

#include <algorithm>      // std::sort, std::remove_if
#include <cstddef>        // std::size_t
#include <limits>         // npos
#include <queue>          // Kahn's algorithm
#include <string>         // names
#include <unordered_map>  // name -> value id
#include <utility>        // std::move
#include <vector>         // storage

#include "hone/core/error.hpp"
#include "hone/core/shape.hpp"
#include "hone/core/tensor.hpp"
#include "hone/graph/node.hpp"
#include "hone/ops/registry.hpp"

namespace hone {

inline constexpr std::size_t npos = std::numeric_limits<std::size_t>::max();

/// A named tensor of the model: a trainable or frozen parameter, or a buffer (state updated
/// by forward, such as BatchNorm running statistics; never trained).
template <class T>
struct Parameter {
  std::string name;
  Tensor<T> data;
  bool trainable = true;  ///< false for frozen parameters and for every buffer
  std::string group;      ///< free-form tag (e.g. "backbone", "head") for optimizer groups
  bool buffer = false;
  bool constant = false;  ///< a fixed tensor of the model (e.g. an imported ONNX constant):
                          ///< never trainable, never touched by freeze/unfreeze
};

/// A graph input: its shape, whose first extent is the batch when `batched` (that extent is
/// then only an example; any batch size is accepted at run time).
struct GraphInput {
  std::string name;
  Shape shape;
  bool batched = true;
};

enum class ValueKind { input, parameter, buffer, activation };

/// What analyze() finds: value ids, kinds and shapes, the topological order, per-node ids.
struct GraphAnalysis {
  std::vector<std::string> names;
  std::unordered_map<std::string, std::size_t> id;
  std::vector<ValueKind> kind;
  std::vector<Shape> shapes;
  std::vector<std::size_t> param;     ///< index into parameters(), or npos
  std::vector<std::size_t> producer;  ///< node index, or npos
  std::vector<std::size_t> order;     ///< node indices, producers before consumers
  std::vector<std::vector<std::size_t>> node_inputs, node_outputs;
  std::vector<std::size_t> inputs, outputs;

  std::size_t value(const std::string& name) const {
    auto it = id.find(name);
    if (it == id.end())
      throw InvalidArgument("hone.graph.unknown_value",
                            detail::concat("no value is named \"", name, "\""));
    return it->second;
  }
};

template <class T>
class Graph {
 public:
  /// Declares a graph input. Throws InvalidArgument (hone.graph.duplicate) for a used name.
  void add_input(const std::string& name, const Shape& shape, bool batched = true) {
    if (batched && shape.rank() == 0)
      throw ShapeError(detail::concat("input \"", name, "\": a batched input needs rank >= 1"));
    claim(name);
    inputs_.push_back({name, shape, batched});
  }

  /// Adds a parameter (an ONNX initializer). Throws InvalidArgument for a used name. The
  /// returned reference (like those of add_buffer and add_node) is valid until the next add.
  Parameter<T>& add_parameter(const std::string& name, Tensor<T> data, bool trainable = true,
                              std::string group = {}) {
    claim(name);
    params_.push_back({name, std::move(data), trainable, std::move(group), false});
    return params_.back();
  }

  /// Adds a buffer: state that forward may update (running statistics), never trained.
  Parameter<T>& add_buffer(const std::string& name, Tensor<T> data, std::string group = {}) {
    claim(name);
    params_.push_back({name, std::move(data), false, std::move(group), true});
    return params_.back();
  }

  /// Adds a constant: a fixed tensor read by nodes (an ONNX initializer or Constant that is
  /// neither a weight nor running state). Never trainable; freeze/unfreeze skip it.
  Parameter<T>& add_constant(const std::string& name, Tensor<T> data) {
    claim(name);
    params_.push_back({name, std::move(data), false, "", false, true});
    return params_.back();
  }

  /// Adds a node; `name` defaults to "<op>_<index>". Names are checked by analyze().
  Node& add_node(std::string op, std::vector<std::string> inputs,
                 std::vector<std::string> outputs, Attributes attrs = {}, std::string name = {}) {
    if (name.empty()) name = detail::concat(op, "_", nodes_.size());
    nodes_.push_back({std::move(name), std::move(op), std::move(inputs), std::move(outputs),
                      std::move(attrs)});
    return nodes_.back();
  }

  /// Marks a value as a graph output.
  void add_output(const std::string& name) { outputs_.push_back(name); }

  /// Replaces the list of graph outputs (checked by analyze()).
  void set_outputs(std::vector<std::string> names) { outputs_ = std::move(names); }

  /// Model surgery (hone/train/surgery.hpp): removes the nodes, parameters (or buffers,
  /// constants) and graph inputs for which `drop` returns true, keeping the order of the
  /// rest, and returns how many were removed. References into the graph are invalidated;
  /// nothing else is checked here, analyze() reports what a removal left dangling.
  template <class Pred>
  std::size_t remove_nodes_if(Pred drop) {
    return erase_if(nodes_, drop);
  }
  template <class Pred>
  std::size_t remove_parameters_if(Pred drop) {
    return erase_if(params_, drop);
  }
  template <class Pred>
  std::size_t remove_inputs_if(Pred drop) {
    return erase_if(inputs_, drop);
  }

  const std::vector<GraphInput>& inputs() const noexcept { return inputs_; }
  const std::vector<std::string>& outputs() const noexcept { return outputs_; }
  const std::vector<Node>& nodes() const noexcept { return nodes_; }
  /// Mutable nodes, for editing attributes in place (BatchNorm policies, head surgery);
  /// value names and ops may be changed too, analyze() checks the result.
  std::vector<Node>& nodes() noexcept { return nodes_; }
  std::vector<Parameter<T>>& parameters() noexcept { return params_; }
  const std::vector<Parameter<T>>& parameters() const noexcept { return params_; }

  bool has_parameter(const std::string& name) const { return find_param(name) != npos; }

  /// The parameter or buffer called name; throws InvalidArgument (hone.graph.unknown_value).
  Parameter<T>& parameter(const std::string& name) {
    return params_[checked_param(name)];
  }
  const Parameter<T>& parameter(const std::string& name) const {
    return params_[checked_param(name)];
  }

  /// Sets the trainable flag of every parameter (not buffer or constant) whose name starts with prefix
  /// ("" = all). Returns how many were changed or confirmed.
  std::size_t set_trainable(const std::string& prefix, bool trainable) {
    std::size_t count = 0;
    for (auto& p : params_)
      if (!p.buffer && !p.constant && p.name.compare(0, prefix.size(), prefix) == 0) {
        p.trainable = trainable;
        ++count;
      }
    return count;
  }
  std::size_t freeze(const std::string& prefix = {}) { return set_trainable(prefix, false); }
  std::size_t unfreeze(const std::string& prefix = {}) { return set_trainable(prefix, true); }

  /// A copy whose parameter, buffer and constant tensors are its own. A plain copy of a
  /// Graph shares them (Tensor has handle semantics), which is what a training view of the
  /// same model wants and what two independently trained models must not have.
  Graph clone() const {
    Graph out = *this;
    for (auto& p : out.params_) p.data = p.data.clone();
    return out;
  }

  /// Checks the graph and infers shapes with the declared input shapes. Throws as analyze().
  void validate() const { (void)analyze(); }

  /// Resolves names, orders nodes, infers shapes. When input_shapes is given (one per graph
  /// input), they replace the declared shapes; a batched input may change its first extent
  /// only. Throws InvalidArgument (hone.graph.*), UnsupportedError (hone.graph.unsupported_op)
  /// or ShapeError naming the node.
  GraphAnalysis analyze(const std::vector<Shape>* input_shapes = nullptr) const {
    GraphAnalysis a;
    auto define = [&](const std::string& name, ValueKind kind, Shape shape, std::size_t param,
                      std::size_t producer) {
      if (a.id.count(name))
        throw InvalidArgument("hone.graph.duplicate",
                              detail::concat("value \"", name, "\" is defined more than once",
                                             producer != npos
                                                 ? detail::concat(" (again by node \"",
                                                                  nodes_[producer].name, "\")")
                                                 : std::string()));
      a.id[name] = a.names.size();
      a.names.push_back(name);
      a.kind.push_back(kind);
      a.shapes.push_back(shape);
      a.param.push_back(param);
      a.producer.push_back(producer);
    };
    if (input_shapes && input_shapes->size() != inputs_.size())
      throw InvalidArgument(detail::concat("the graph has ", inputs_.size(), " inputs, ",
                                           input_shapes->size(), " were given"));
    for (std::size_t i = 0; i < inputs_.size(); ++i) {
      const auto& in = inputs_[i];
      Shape s = in.shape;
      if (input_shapes) {
        const Shape& given = (*input_shapes)[i];
        bool ok = given.rank() == s.rank();
        for (std::size_t d = in.batched ? 1 : 0; ok && d < s.rank(); ++d) ok = given[d] == s[d];
        if (!ok)
          throw ShapeError(detail::concat("input \"", in.name, "\" expects shape ",
                                          describe(in), " but got ", given));
        s = given;
      }
      define(in.name, ValueKind::input, s, npos, npos);
      a.inputs.push_back(a.id[in.name]);
    }
    for (std::size_t p = 0; p < params_.size(); ++p)
      define(params_[p].name, params_[p].buffer ? ValueKind::buffer : ValueKind::parameter,
             params_[p].data.shape(), p, npos);
    for (std::size_t n = 0; n < nodes_.size(); ++n)
      for (const auto& out : nodes_[n].outputs) define(out, ValueKind::activation, Shape{}, npos, n);

    // Resolve inputs and build the dependency counts.
    a.node_inputs.resize(nodes_.size());
    a.node_outputs.resize(nodes_.size());
    std::vector<std::size_t> pending(nodes_.size(), 0);
    std::vector<std::vector<std::size_t>> consumers(nodes_.size());
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
      const Node& node = nodes_[n];
      if (ops::find_op<T>(node.op) == nullptr)
        throw UnsupportedError("hone.graph.unsupported_op",
                               detail::concat(detail::node_prefix(node), "op ", node.op,
                                              " is not supported; supported: ",
                                              ops::supported_ops<T>()));
      for (const auto& in : node.inputs) {
        auto it = a.id.find(in);
        if (it == a.id.end())
          throw InvalidArgument("hone.graph.dangling",
                                detail::concat(detail::node_prefix(node), "input \"", in,
                                               "\" is not a graph input, parameter or output of "
                                               "any node"));
        a.node_inputs[n].push_back(it->second);
        const std::size_t prod = a.producer[it->second];
        if (prod != npos) {
          ++pending[n];
          consumers[prod].push_back(n);
        }
      }
      for (const auto& out : node.outputs) a.node_outputs[n].push_back(a.id[out]);
    }
    for (const auto& out : outputs_) {
      if (!a.id.count(out))
        throw InvalidArgument("hone.graph.dangling",
                              detail::concat("graph output \"", out, "\" is not defined"));
      a.outputs.push_back(a.id[out]);
    }

    // Kahn's algorithm, smallest index first, so the order is deterministic and follows
    // insertion order where dependencies allow.
    std::priority_queue<std::size_t, std::vector<std::size_t>, std::greater<>> ready;
    for (std::size_t n = 0; n < nodes_.size(); ++n)
      if (pending[n] == 0) ready.push(n);
    while (!ready.empty()) {
      const std::size_t n = ready.top();
      ready.pop();
      a.order.push_back(n);
      for (std::size_t c : consumers[n])
        if (--pending[c] == 0) ready.push(c);
    }
    if (a.order.size() != nodes_.size()) {
      std::string names;
      for (std::size_t n = 0; n < nodes_.size(); ++n)
        if (pending[n] != 0) names += detail::concat(names.empty() ? "" : ", ", "\"", nodes_[n].name, "\"");
      throw InvalidArgument("hone.graph.cycle",
                            detail::concat("nodes ", names, " form a cycle (or depend on one)"));
    }

    // Shape inference in order.
    for (std::size_t n : a.order) {
      const Node& node = nodes_[n];
      const auto* def = ops::find_op<T>(node.op);
      detail::check_arity(*def, node);
      std::vector<Shape> in;
      for (std::size_t v : a.node_inputs[n]) in.push_back(a.shapes[v]);
      std::vector<Shape> out = def->infer(node, in);
      if (out.size() != node.outputs.size())
        throw InvalidArgument("hone.graph.arity",
                              detail::concat(detail::node_prefix(node), "produces ", out.size(),
                                             " outputs, the node names ", node.outputs.size()));
      for (std::size_t k = 0; k < out.size(); ++k) a.shapes[a.node_outputs[n][k]] = out[k];
    }
    return a;
  }

  /// "(N, 3, 224, 224)" for a batched input.
  static std::string describe(const GraphInput& in) {
    std::string s = in.shape.to_string();
    if (in.batched) {
      const auto comma = s.find(',');
      s = "(N" + (comma == std::string::npos ? std::string(")") : s.substr(comma));
    }
    return s;
  }

 private:
  void claim(const std::string& name) {
    if (name.empty()) throw InvalidArgument("hone.graph.name", "a value name must not be empty");
    for (const auto& in : inputs_)
      if (in.name == name) duplicate(name);
    if (find_param(name) != npos) duplicate(name);
  }
  template <class V, class Pred>
  static std::size_t erase_if(std::vector<V>& v, Pred& drop) {
    const auto end = std::remove_if(v.begin(), v.end(), [&](const V& x) { return drop(x); });
    const auto removed = static_cast<std::size_t>(v.end() - end);
    v.erase(end, v.end());
    return removed;
  }
  [[noreturn]] static void duplicate(const std::string& name) {
    throw InvalidArgument("hone.graph.duplicate",
                          detail::concat("value \"", name, "\" is defined more than once"));
  }
  std::size_t find_param(const std::string& name) const {
    for (std::size_t i = 0; i < params_.size(); ++i)
      if (params_[i].name == name) return i;
    return npos;
  }
  std::size_t checked_param(const std::string& name) const {
    const std::size_t i = find_param(name);
    if (i == npos)
      throw InvalidArgument("hone.graph.unknown_value",
                            detail::concat("no parameter or buffer is named \"", name, "\""));
    return i;
  }

  std::vector<GraphInput> inputs_;
  std::vector<Parameter<T>> params_;
  std::vector<Node> nodes_;
  std::vector<std::string> outputs_;
};

}  // namespace hone
