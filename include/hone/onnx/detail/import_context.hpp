// hone/onnx/detail/import_context.hpp — the state of one ONNX import: the Graph being built,
// the constants known so far (for folding), the static shape of every value, which values
// carry the symbolic batch on axis 0, and the helpers op translations use (attributes,
// constant inputs, emitting hone nodes).
#pragma once

#include <map>      // constants, shapes
#include <set>      // names
#include <string>   // names and messages
#include <utility>  // std::move
#include <vector>   // inputs, outputs

#include "hone/graph/graph.hpp"
#include "hone/ops/registry.hpp"
#include "hone/onnx/detail/fold.hpp"
#include "hone/onnx/proto.hpp"

namespace hone::onnx::detail {

/// What an initializer becomes in the graph.
enum class Role { constant, trainable, buffer };

template <class T>
struct Context {
  Graph<T> graph;
  std::int64_t opset = 0;
  std::string base_dir = ".";                ///< for external tensor data
  std::map<std::string, Const> consts;       ///< foldable values known at import time
  std::map<std::string, Role> roles;         ///< of initializers, from their consumers
  std::map<std::string, Shape> shapes;       ///< static shape of every graph value
  std::set<std::string> batch0;              ///< values whose axis 0 is the symbolic batch
  std::set<std::string> in_graph;            ///< names that are graph values already
  std::set<std::string> node_names;

  // The node being translated.
  const NodeProto* node = nullptr;
  std::string name;  ///< unique hone node name

  std::string where() const {
    return hone::detail::concat("node \"", name, "\" (", node->op_type, ", opset ", opset, "): ");
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw InvalidArgument("hone.onnx.import", where() + what);
  }
  [[noreturn]] void unsupported(const std::string& what) const {
    throw UnsupportedError("hone.onnx.unsupported", where() + what);
  }

  // --- inputs ---------------------------------------------------------------------------
  std::size_t num_inputs() const { return node->input.size(); }
  bool has_input(std::size_t i) const { return i < node->input.size() && !node->input[i].empty(); }
  const std::string& input(std::size_t i) const {
    if (!has_input(i)) fail(hone::detail::concat("input ", i, " is missing"));
    return node->input[i];
  }
  bool is_const(std::size_t i) const { return has_input(i) && consts.count(node->input[i]) != 0; }
  /// Input i as a constant; a computed value here is an error naming the input.
  const Const& const_input(std::size_t i, const char* what) const {
    const std::string& n = input(i);
    auto it = consts.find(n);
    if (it == consts.end())
      unsupported(hone::detail::concat("input ", i, " (", what, ", \"", n,
                                       "\") must be a constant (an initializer or folded "
                                       "from constants); hone needs it at import time"));
    return it->second;
  }
  /// All inputs are known constants (so the node can be folded).
  bool all_const() const {
    for (std::size_t i = 0; i < node->input.size(); ++i)
      if (!node->input[i].empty() && !consts.count(node->input[i])) return false;
    return true;
  }
  const Shape& shape_of(const std::string& value) const {
    auto it = shapes.find(value);
    if (it == shapes.end()) fail("unknown input \"" + value + "\" (not produced before this node)");
    return it->second;
  }
  const Shape& input_shape(std::size_t i) {
    const std::string& n = input(i);
    if (!shapes.count(n)) {
      auto c = consts.find(n);
      if (c == consts.end()) fail("unknown input \"" + n + "\" (not produced before this node)");
      shapes[n] = Shape(std::span<const std::int64_t>(c->second.dims));
    }
    return shapes.at(n);
  }

  /// Input i as a graph value: a constant becomes a parameter, buffer or constant of the
  /// graph (by its role) the first time a computing node reads it.
  std::string value(std::size_t i) {
    const std::string& n = input(i);
    materialize(n);
    return n;
  }
  void materialize(const std::string& n) {
    if (in_graph.count(n)) return;
    auto c = consts.find(n);
    if (c == consts.end()) fail("unknown input \"" + n + "\" (not produced before this node)");
    if (c->second.has_batch())
      fail("\"" + n + "\" depends on the batch size and cannot be used as a tensor");
    Tensor<T> t{Shape(std::span<const std::int64_t>(c->second.dims))};
    for (std::int64_t k = 0; k < t.numel(); ++k)
      t[k] = static_cast<T>(c->second.real(static_cast<std::size_t>(k)));
    auto role = roles.find(n);
    const Role r = role == roles.end() ? Role::constant : role->second;
    if (r == Role::trainable) graph.add_parameter(n, t, true);
    else if (r == Role::buffer) graph.add_buffer(n, t);
    else graph.add_constant(n, t);
    in_graph.insert(n);
    shapes[n] = t.shape();
  }

  // --- attributes -----------------------------------------------------------------------
  const AttributeProto* attr(const std::string& a) const {
    for (const auto& at : node->attribute)
      if (at.name == a) return &at;
    return nullptr;
  }
  std::int64_t attr_int(const std::string& a, std::int64_t fallback) const {
    const auto* p = attr(a);
    return p ? p->i : fallback;
  }
  double attr_float(const std::string& a, double fallback) const {
    const auto* p = attr(a);
    return p ? static_cast<double>(p->f) : fallback;
  }
  std::vector<std::int64_t> attr_ints(const std::string& a, std::vector<std::int64_t> fb) const {
    const auto* p = attr(a);
    return p ? p->ints : fb;
  }
  std::string attr_string(const std::string& a, std::string fallback) const {
    const auto* p = attr(a);
    return p ? p->s : fallback;
  }

  /// The node's int/float/list/string attributes as hone Attributes (tensor and graph
  /// attributes are left to the translation).
  Attributes attributes() const {
    Attributes out;
    for (const auto& a : node->attribute) {
      switch (a.type) {
        case AttributeProto::FLOAT: out.set_float(a.name, static_cast<double>(a.f)); break;
        case AttributeProto::INT: out.set_int(a.name, a.i); break;
        case AttributeProto::STRING: out.set_string(a.name, a.s); break;
        case AttributeProto::INTS: out.set_ints(a.name, a.ints); break;
        case AttributeProto::FLOATS:
          out.set_floats(a.name, std::vector<double>(a.floats.begin(), a.floats.end()));
          break;
        default: break;
      }
    }
    return out;
  }

  // --- outputs --------------------------------------------------------------------------
  std::size_t num_outputs() const { return node->output.size(); }
  bool has_output(std::size_t i) const { return i < node->output.size() && !node->output[i].empty(); }
  const std::string& output(std::size_t i) const {
    if (!has_output(i)) fail(hone::detail::concat("output ", i, " is missing"));
    return node->output[i];
  }
  void set_const(std::size_t out, Const c) { consts[output(out)] = std::move(c); }

  /// Adds a hone node (op `type`, inputs and outputs by value name) and infers its output
  /// shapes. `keeps_batch` says whether outputs keep a batched input's axis 0 as the batch.
  void emit(const std::string& type, const std::vector<std::string>& inputs,
            const std::vector<std::string>& outputs, Attributes attrs, bool keeps_batch = true,
            const std::string& suffix = {}) {
    const auto* def = ops::find_op<T>(type);
    if (!def) unsupported("hone has no " + type + " op");
    std::vector<Shape> in_shapes;
    bool batched = false;
    for (const auto& v : inputs) {
      materialize_if_const(v);
      in_shapes.push_back(shape_of(v));
      batched = batched || batch0.count(v);
    }
    Node& n = graph.add_node(type, inputs, outputs, std::move(attrs), name + suffix);
    std::vector<Shape> out;
    try {
      hone::detail::check_arity(*def, n);
      out = def->infer(n, in_shapes);
    } catch (const ShapeError& e) {
      throw ShapeError("hone.shape", prefixed(e.message()));
    } catch (const InvalidArgument& e) {
      throw InvalidArgument("hone.onnx.import", prefixed(e.message()));
    }
    if (out.size() != outputs.size())
      fail(hone::detail::concat("produces ", out.size(), " output(s), the node names ", outputs.size()));
    for (std::size_t k = 0; k < outputs.size(); ++k) {
      shapes[outputs[k]] = out[k];
      in_graph.insert(outputs[k]);
      if (batched && keeps_batch && out[k].rank() > 0) batch0.insert(outputs[k]);
    }
  }
  /// An op's message with the ONNX node and opset in front (ops already name the node).
  std::string prefixed(const std::string& m) const {
    const std::string own = "node \"" + name + "\" (" + node->op_type + "): ";
    const std::string rest = m.rfind(own, 0) == 0 ? m.substr(own.size()) : m;
    return where() + rest;
  }
  void materialize_if_const(const std::string& v) {
    if (!in_graph.count(v) && consts.count(v)) materialize(v);
  }
};

}  // namespace hone::onnx::detail
