// hone/onnx/import.hpp — ONNX model -> hone Graph.
//
//   hone::Graph<float> g = hone::onnx::load<float>("resnet18.onnx");
//
// Every node of hone's op set is imported with the semantics of its opset (7 to 18);
// initializers become named parameters: weights and biases of Conv, Gemm and MatMul (and
// the bias Add after a MatMul), BatchNormalization scale and bias, and PRelu slopes are
// trainable; running statistics are buffers; anything else is a constant. The shape
// subgraphs exporters emit (Shape, Gather, Unsqueeze, Concat, Constant, ConstantOfShape,
// Cast, Slice, Squeeze, Range, Expand, arithmetic on constants) are folded at import time.
// A graph input whose first extent is symbolic (dim_param or unknown) keeps a symbolic
// batch. Errors: one UnsupportedError (hone.onnx.unsupported_op) listing every unsupported
// node at once; InvalidArgument / ShapeError naming the node for everything else.
#pragma once

#include <map>      // bound inputs
#include <set>      // names
#include <string>   // names and messages
#include <vector>   // lists

#include "hone/graph/graph.hpp"
#include "hone/onnx/detail/op_table.hpp"
#include "hone/onnx/proto.hpp"

namespace hone::onnx {

enum class BatchDim {
  automatic,   ///< axis 0 of an input is the batch when its extent is symbolic
  first_axis,  ///< axis 0 of every input of rank >= 1 is the batch, even when fixed
  none,        ///< every input has exactly its declared shape
};

struct ImportOptions {
  BatchDim batch = BatchDim::automatic;
  /// Graph inputs given a fixed value: they become constants (and are folded where an op
  /// needs a constant, e.g. a Reshape shape fed as an input). Keyed by input name.
  std::map<std::string, TensorProto> constant_inputs = {};
  /// Directory that external tensor data is resolved against (load() sets the model's).
  std::string base_dir = ".";
};

namespace detail {

/// A TensorProto as a folding constant (integers exact, reals as double).
inline Const to_const(const TensorProto& t, const std::string& base_dir) {
  Const c;
  c.dims.assign(t.dims.begin(), t.dims.end());
  c.onnx_type = t.data_type;
  c.integer = is_integer_type(t.data_type);
  if (c.integer) c.ints = tensor_to_int64(t, base_dir);
  else c.reals = tensor_to_double(t, base_dir);
  return c;
}

template <class T>
void constant(Context<T>& c) {
  const AttributeProto* a = nullptr;
  for (const auto& at : c.node->attribute) {
    if (at.name == "sparse_value" || at.name == "value_string" || at.name == "value_strings")
      c.unsupported("attribute " + at.name + " is not supported");
    a = &at;
  }
  if (!a) c.fail("Constant without a value attribute");
  Const v;
  if (a->name == "value") v = to_const(a->t, c.base_dir);
  else if (a->name == "value_float") {
    v.reals = {static_cast<double>(a->f)};
    v.onnx_type = 1;
  } else if (a->name == "value_floats") {
    v.reals.assign(a->floats.begin(), a->floats.end());
    v.dims = {static_cast<std::int64_t>(a->floats.size())};
    v.onnx_type = 1;
  } else if (a->name == "value_int") {
    v = Const::int_scalar(a->i);
  } else if (a->name == "value_ints") {
    v = Const::int_vector(a->ints);
  } else {
    c.fail("Constant has an unknown attribute " + a->name);
  }
  c.set_const(0, std::move(v));
}

template <class T>
void constant_of_shape(Context<T>& c) {
  const auto dims = c.const_input(0, "shape").as_ints();
  Const fill;
  if (const auto* a = c.attr("value")) fill = to_const(a->t, c.base_dir);
  else fill.reals = {0.0};
  if (fill.size() != 1) c.fail("ConstantOfShape value must hold one element");
  Const out;
  out.dims = dims;
  out.integer = fill.integer;
  out.onnx_type = fill.onnx_type;
  for (auto d : dims)
    if (d < 0 || d == kBatch) c.unsupported("ConstantOfShape with a symbolic or negative extent");
  detail::check_fold_size(dims, c.where());
  std::int64_t n = 1;
  for (auto d : dims) n *= d;
  if (out.integer) out.ints.assign(static_cast<std::size_t>(n), fill.ints[0]);
  else out.reals.assign(static_cast<std::size_t>(n), fill.reals[0]);
  c.set_const(0, std::move(out));
}

/// The opset of the default domain.
inline std::int64_t default_opset(const ModelProto& m) {
  for (const auto& o : m.opset_import)
    if (o.domain.empty() || o.domain == "ai.onnx") return o.version;
  return 0;
}

/// Roles of constant tensors (initializers, Constant outputs, and Identity copies of
/// either, which exporters emit for deduplicated weights) from their consumers.
inline std::map<std::string, Role> roles(const GraphProto& g) {
  std::set<std::string> inits;
  for (const auto& t : g.initializer) inits.insert(t.name);
  for (const auto& n : g.node)
    if ((n.op_type == "Constant" || (n.op_type == "Identity" && !n.input.empty() && inits.count(n.input[0]))) &&
        !n.output.empty())
      inits.insert(n.output[0]);
  std::set<std::string> matmul_out;
  for (const auto& n : g.node)
    if (n.op_type == "MatMul")
      for (const auto& o : n.output) matmul_out.insert(o);
  std::map<std::string, Role> r;
  auto mark = [&](const NodeProto& n, std::size_t i, Role role) {
    if (i >= n.input.size() || !inits.count(n.input[i])) return;
    auto [it, fresh] = r.try_emplace(n.input[i], role);
    if (!fresh && role == Role::buffer) it->second = Role::buffer;
    else if (!fresh && it->second == Role::constant) it->second = role;
  };
  for (const auto& n : g.node) {
    const std::string& op = n.op_type;
    if (op == "Conv") { mark(n, 1, Role::trainable); mark(n, 2, Role::trainable); }
    else if (op == "Gemm" || op == "MatMul") { mark(n, 0, Role::trainable); mark(n, 1, Role::trainable); mark(n, 2, Role::trainable); }
    else if (op == "BatchNormalization") {
      mark(n, 1, Role::trainable); mark(n, 2, Role::trainable);
      mark(n, 3, Role::buffer); mark(n, 4, Role::buffer);
    } else if (op == "PRelu") mark(n, 1, Role::trainable);
    else if (op == "Add" && n.input.size() == 2) {
      if (matmul_out.count(n.input[0])) mark(n, 1, Role::trainable);
      if (matmul_out.count(n.input[1])) mark(n, 0, Role::trainable);
    }
  }
  return r;
}

}  // namespace detail

/// Lists the nodes of a model that hone cannot import (empty when all are supported): one
/// line per node, "op (domain, opset N) node \"name\"".
inline std::vector<std::string> unsupported_nodes(const ModelProto& m) {
  const std::int64_t opset = detail::default_opset(m);
  const auto& t = detail::table<float>();
  std::vector<std::string> out;
  for (std::size_t i = 0; i < m.graph.node.size(); ++i) {
    const auto& n = m.graph.node[i];
    const bool default_domain = n.domain.empty() || n.domain == "ai.onnx";
    if (default_domain && t.count(n.op_type)) continue;
    std::int64_t v = opset;
    for (const auto& o : m.opset_import)
      if (o.domain == n.domain) v = o.version;
    std::string label = n.name;
    if (label.empty()) label = hone::detail::concat("#", i);
    out.push_back(hone::detail::concat(n.op_type, " (domain \"", default_domain ? "ai.onnx" : n.domain,
                                       "\", opset ", v, ") node \"", label, "\""));
  }
  return out;
}

/// Whether input `slot` of an ONNX `op` (at `opset`) must be known at import time: the
/// operands recent opsets pass as tensors but hone takes as attributes.
inline bool is_constant_operand(const std::string& op, std::size_t slot, std::int64_t opset) {
  if (slot == 0) return op == "ConstantOfShape" || op == "Range";
  if (op == "Reshape" || op == "Expand" || op == "Range") return true;
  if (op == "Clip") return opset >= 11;
  if (op == "Pad") return opset >= 11;
  if (op == "Dropout") return opset >= 12;
  if (op == "Slice") return opset >= 10;
  if (op == "Split" || op == "Squeeze" || op == "Unsqueeze" || op == "ReduceSum") return opset >= 13;
  if (op == "ReduceMean") return opset >= 18;
  return false;
}

/// The graph inputs that feed operands hone needs as constants (see is_constant_operand):
/// bind them with ImportOptions::constant_inputs.
inline std::set<std::string> constant_operand_inputs(const ModelProto& m) {
  const std::int64_t opset = detail::default_opset(m);
  std::set<std::string> inputs, out;
  for (const auto& in : m.graph.input) inputs.insert(in.name);
  for (const auto& n : m.graph.node)
    for (std::size_t i = 0; i < n.input.size(); ++i)
      if (inputs.count(n.input[i]) && is_constant_operand(n.op_type, i, opset)) out.insert(n.input[i]);
  return out;
}

/// Imports a parsed model. Throws UnsupportedError listing every unsupported node, or the
/// first error with the node named.
template <class T>
Graph<T> import_model(const ModelProto& model, const ImportOptions& options = {}) {
  using detail::Const;
  const GraphProto& g = model.graph;
  detail::Context<T> c;
  c.base_dir = options.base_dir;
  c.opset = detail::default_opset(model);
  if (c.opset < 1 || c.opset > 18)
    throw UnsupportedError("hone.onnx.unsupported_opset",
                           hone::detail::concat("the model uses opset ", c.opset,
                                                " of the default domain; hone imports opsets 1 to 18 "
                                                "(before 7 only ops whose semantics did not change)"));
  if (const auto bad = unsupported_nodes(model); !bad.empty()) {
    std::string list;
    for (const auto& b : bad) list += "\n  " + b;
    throw UnsupportedError("hone.onnx.unsupported_op",
                           hone::detail::concat(bad.size(), " node(s) use ops hone does not support:", list));
  }
  c.roles = detail::roles(g);

  std::set<std::string> init_names;
  for (const auto& t : g.initializer) {
    if (t.name.empty()) throw InvalidArgument("hone.onnx.import", "an initializer has no name");
    c.consts[t.name] = detail::to_const(t, options.base_dir);
    init_names.insert(t.name);
  }
  for (const auto& [name, t] : options.constant_inputs) {
    bool found = false;
    for (const auto& in : g.input) found = found || in.name == name;
    if (!found)
      throw InvalidArgument("hone.onnx.import", "constant_inputs: the graph has no input \"" + name + "\"");
    c.consts[name] = detail::to_const(t, options.base_dir);
  }

  for (const auto& in : g.input) {
    if (c.consts.count(in.name)) continue;  // an initializer listed as input (IR < 4), or bound
    const auto& tt = in.type.tensor_type;
    if (!in.type.has_tensor_type)
      throw UnsupportedError("hone.onnx.import", "graph input \"" + in.name + "\" is not a tensor");
    std::vector<std::int64_t> dims;
    bool batched = false;
    for (std::size_t k = 0; k < tt.shape.dim.size(); ++k) {
      const auto& d = tt.shape.dim[k];
      const bool symbolic = !d.has_dim_value || d.dim_value < 0;
      if (k == 0 && options.batch != BatchDim::none && (symbolic || options.batch == BatchDim::first_axis)) {
        batched = true;
        dims.push_back(symbolic ? 1 : d.dim_value);
      } else if (symbolic) {
        throw UnsupportedError("hone.onnx.import",
                               hone::detail::concat("graph input \"", in.name, "\" has a symbolic extent \"",
                                                    d.dim_param, "\" at axis ", k,
                                                    "; only axis 0 (the batch) may be symbolic"));
      } else {
        dims.push_back(d.dim_value);
      }
    }
    if (!tt.has_shape)
      throw UnsupportedError("hone.onnx.import", "graph input \"" + in.name + "\" has no shape");
    const Shape s{std::span<const std::int64_t>(dims)};
    c.graph.add_input(in.name, s, batched);
    c.shapes[in.name] = s;
    c.in_graph.insert(in.name);
    if (batched) c.batch0.insert(in.name);
  }

  const auto& table = detail::table<T>();
  for (std::size_t i = 0; i < g.node.size(); ++i) {
    const NodeProto& n = g.node[i];
    std::string name = n.name.empty() ? hone::detail::concat(n.op_type, "_", i) : n.name;
    if (c.node_names.count(name)) name += hone::detail::concat("#", i);
    c.node_names.insert(name);
    c.node = &n;
    c.name = name;
    for (const auto& in : n.input)
      if (!in.empty() && !c.consts.count(in) && !c.in_graph.count(in))
        c.fail("input \"" + in + "\" is not produced by an earlier node, an initializer or a "
               "graph input (the graph is not topologically sorted, or the value is dangling)");
    table.at(n.op_type)(c);
  }

  for (const auto& out : g.output) {
    if (!c.in_graph.count(out.name)) {
      if (!c.consts.count(out.name))
        throw InvalidArgument("hone.onnx.import", "graph output \"" + out.name + "\" is never produced");
      c.materialize(out.name);
    }
    c.graph.add_output(out.name);
  }
  c.graph.validate();
  return std::move(c.graph);
}

/// Reads and imports an .onnx file; external data is resolved next to it.
template <class T>
Graph<T> load(const std::string& path, ImportOptions options = {}) {
  const ModelProto model = read_model_file(path);
  if (options.base_dir == ".") {
    const auto slash = path.find_last_of('/');
    options.base_dir = slash == std::string::npos ? "." : path.substr(0, slash);
  }
  return import_model<T>(model, options);
}

}  // namespace hone::onnx
