// hone/onnx/export.hpp — hone Graph -> ONNX model (opset 17).
//
//   hone::onnx::save(graph, "finetuned.onnx", {.outputs = {"logits"}, .fold_batch_norm = true});
//
// Parameters, buffers and constants become initializers under their names; a batched graph
// input gets the symbolic first extent "batch" (and so does every output whose first extent
// follows the batch). hone's attribute forms are written in opset 17's: Clip bounds, Reshape
// shapes, Squeeze/Unsqueeze/ReduceSum axes, Split sizes, Slice ranges, Pad pads and value,
// Dropout ratio become initializer inputs named "<node>/<operand>"; Gelu (opset 20) becomes
// its erf formula. hone-only ops (MeanSquaredError, BinaryCrossEntropyWithLogits, label
// smoothing) cannot be exported: export the values before the loss with `outputs`.
// Attributes named "hone_..." are hone-private and never written (a BatchNorm policy exports
// as the plain inference-form BatchNormalization). With fold_batch_norm, each
// BatchNormalization whose parameters are all frozen and whose input is a Conv read by
// nothing else is folded into that Conv (for deployment).
#pragma once

#include <cmath>    // std::sqrt
#include <fstream>  // save
#include <map>      // initializer lookup
#include <set>      // reached values
#include <string>   // names
#include <vector>   // lists

#include "hone/graph/graph.hpp"
#include "hone/onnx/proto.hpp"

namespace hone::onnx {

struct ExportOptions {
  /// Values to export as graph outputs (default: the graph's outputs). Only the nodes they
  /// need are exported.
  std::vector<std::string> outputs = {};
  /// Fold frozen BatchNormalization into the preceding Conv.
  bool fold_batch_norm = false;
  std::string producer_version = "0.1";
  std::vector<std::pair<std::string, std::string>> metadata = {};
};

namespace detail {

template <class T>
constexpr int elem_type() {
  return sizeof(T) == 8 ? TensorProto::DOUBLE : TensorProto::FLOAT;
}

inline AttributeProto attr_int(const std::string& name, std::int64_t v) {
  AttributeProto a;
  a.name = name;
  a.type = AttributeProto::INT;
  a.i = v;
  return a;
}

/// Writes hone attributes except those in `drop` and hone-private ones (named "hone_...",
/// e.g. a BatchNorm's hone_statistics policy), which ONNX does not define.
inline void put_attributes(NodeProto& n, const Attributes& attrs, const std::set<std::string>& drop) {
  for (const auto& [name, v] : attrs.all()) {
    if (drop.count(name) || name.rfind("hone_", 0) == 0) continue;
    AttributeProto a;
    a.name = name;
    if (auto* i = std::get_if<std::int64_t>(&v)) {
      a.type = AttributeProto::INT;
      a.i = *i;
    } else if (auto* f = std::get_if<double>(&v)) {
      a.type = AttributeProto::FLOAT;
      a.f = static_cast<float>(*f);
    } else if (auto* is = std::get_if<std::vector<std::int64_t>>(&v)) {
      a.type = AttributeProto::INTS;
      a.ints = *is;
    } else if (auto* fs = std::get_if<std::vector<double>>(&v)) {
      a.type = AttributeProto::FLOATS;
      a.floats.assign(fs->begin(), fs->end());
    } else {
      a.type = AttributeProto::STRING;
      a.s = std::get<std::string>(v);
    }
    n.attribute.push_back(std::move(a));
  }
}

template <class T>
class Exporter {
 public:
  Exporter(const Graph<T>& g, const ExportOptions& o) : g_(g), o_(o) {}

  ModelProto run() {
    ModelProto m;
    m.ir_version = 8;
    m.producer_name = "hone";
    m.producer_version = o_.producer_version;
    OperatorSetIdProto op;
    op.domain = "";
    op.version = 17;
    m.opset_import.push_back(op);
    for (const auto& [k, v] : o_.metadata) {
      StringStringEntryProto e;
      e.key = k;
      e.value = v;
      m.metadata_props.push_back(e);
    }
    graph_ = &m.graph;
    graph_->name = "hone";
    const std::vector<std::string> outs = o_.outputs.empty() ? g_.outputs() : o_.outputs;
    const GraphAnalysis a1 = g_.analyze();
    const GraphAnalysis a2 = analyze_with_batch(2), a3 = analyze_with_batch(3);
    reach(a1, outs);
    if (o_.fold_batch_norm) plan_folds(a1);

    for (const auto& in : g_.inputs())
      if (reached_values_.count(in.name)) graph_->input.push_back(value_info(in.name, a2, a3));
    for (std::size_t p = 0; p < g_.parameters().size(); ++p) {
      const auto& prm = g_.parameters()[p];
      if (reached_values_.count(prm.name) && !folded_away_.count(prm.name))
        add_initializer(prm.name, prm.data);
    }
    for (std::size_t n : a1.order)
      if (reached_nodes_.count(n)) write_node(g_.nodes()[n], a1);
    for (const auto& name : outs) graph_->output.push_back(value_info(name, a2, a3));
    return m;
  }

 private:
  GraphAnalysis analyze_with_batch(std::int64_t batch) const {
    std::vector<Shape> shapes;
    for (const auto& in : g_.inputs()) {
      Shape s = in.shape;
      if (in.batched) {
        std::vector<std::int64_t> d(s.begin(), s.end());
        d[0] = batch;
        s = Shape(std::span<const std::int64_t>(d));
      }
      shapes.push_back(s);
    }
    return g_.analyze(&shapes);
  }

  void reach(const GraphAnalysis& a, const std::vector<std::string>& outs) {
    std::vector<std::size_t> stack;
    for (const auto& o : outs) stack.push_back(a.value(o));
    while (!stack.empty()) {
      const std::size_t v = stack.back();
      stack.pop_back();
      if (!reached_values_.insert(a.names[v]).second) continue;
      const std::size_t n = a.producer[v];
      if (n == npos || !reached_nodes_.insert(n).second) continue;
      for (std::size_t in : a.node_inputs[n]) stack.push_back(in);
    }
    for (std::size_t n : reached_nodes_) {
      const Node& node = g_.nodes()[n];
      if (node.op == "MeanSquaredError" || node.op == "BinaryCrossEntropyWithLogits" ||
          (node.op == "SoftmaxCrossEntropyLoss" && node.attrs.get_float("label_smoothing", 0) != 0))
        throw UnsupportedError("hone.onnx.export",
                               hone::detail::concat("node \"", node.name, "\" (", node.op,
                                                    ") has no ONNX equivalent; export the values "
                                                    "before the loss with ExportOptions::outputs"));
    }
  }

  // --- BatchNorm folding --------------------------------------------------------------------
  void plan_folds(const GraphAnalysis& a) {
    std::map<std::size_t, int> readers;
    for (std::size_t n : reached_nodes_)
      for (std::size_t v : a.node_inputs[n]) ++readers[v];
    for (const auto& o : g_.outputs()) ++readers[a.value(o)];
    for (std::size_t n : reached_nodes_) {
      const Node& bn = g_.nodes()[n];
      if (bn.op != "BatchNormalization") continue;
      const std::size_t x = a.node_inputs[n][0];
      const std::size_t conv = a.producer[x];
      if (conv == npos || g_.nodes()[conv].op != "Conv" || readers[x] != 1) continue;
      bool frozen = true;
      for (std::size_t k = 1; k < 5; ++k) {
        const std::size_t p = a.param[a.node_inputs[n][k]];
        frozen = frozen && p != npos && !g_.parameters()[p].trainable;
      }
      const std::size_t w = a.param[a.node_inputs[conv][1]];
      if (!frozen || w == npos) continue;
      fold_into_[conv] = n;
      skip_nodes_.insert(n);
      for (std::size_t k = 1; k < 5; ++k) folded_away_.insert(a.names[a.node_inputs[n][k]]);
      folded_away_.insert(a.names[a.node_inputs[conv][1]]);
      if (a.node_inputs[conv].size() > 2) folded_away_.insert(a.names[a.node_inputs[conv][2]]);
    }
  }

  /// Writes the Conv with the BatchNorm folded in: W' = W s, b' = (b - mean) s + beta with
  /// s = gamma / sqrt(var + eps), per output channel; the Conv writes the BN's output.
  void write_folded_conv(const Node& conv, const Node& bn) {
    const Tensor<T>& w = g_.parameter(conv.inputs[1]).data;
    const Tensor<T>& gamma = g_.parameter(bn.inputs[1]).data;
    const Tensor<T>& beta = g_.parameter(bn.inputs[2]).data;
    const Tensor<T>& mean = g_.parameter(bn.inputs[3]).data;
    const Tensor<T>& var = g_.parameter(bn.inputs[4]).data;
    const double eps = bn.attrs.get_float("epsilon", 1e-5);
    const std::int64_t co = w.dim(0), per = w.numel() / co;
    Tensor<T> w2 = w.clone(), b2({co});
    for (std::int64_t c = 0; c < co; ++c) {
      const double s = static_cast<double>(gamma[c]) / std::sqrt(static_cast<double>(var[c]) + eps);
      for (std::int64_t i = 0; i < per; ++i) w2[c * per + i] = static_cast<T>(static_cast<double>(w[c * per + i]) * s);
      const double b = conv.inputs.size() > 2 ? static_cast<double>(g_.parameter(conv.inputs[2]).data[c]) : 0.0;
      b2[c] = static_cast<T>((b - static_cast<double>(mean[c])) * s + static_cast<double>(beta[c]));
    }
    const std::string wn = conv.inputs[1], bname = conv.inputs.size() > 2 ? conv.inputs[2] : conv.name + ".bias";
    add_initializer(wn, w2);
    add_initializer(bname, b2);
    NodeProto n = base(conv, {conv.inputs[0], wn, bname});
    n.output = {bn.outputs[0]};
    put_attributes(n, conv.attrs, {});
    graph_->node.push_back(std::move(n));
  }

  // --- nodes --------------------------------------------------------------------------------
  static NodeProto base(const Node& node, std::vector<std::string> inputs) {
    NodeProto n;
    n.name = node.name;
    n.op_type = node.op;
    n.input = std::move(inputs);
    n.output = node.outputs;
    return n;
  }

  std::string int_input(const Node& node, const std::string& what, const std::vector<std::int64_t>& v,
                        bool scalar = false) {
    TensorProto t;
    t.name = node.name + "/" + what;
    t.data_type = TensorProto::INT64;
    if (!scalar) t.dims = {static_cast<std::int64_t>(v.size())};
    t.int64_data = v;
    graph_->initializer.push_back(std::move(t));
    return node.name + "/" + what;
  }
  std::string real_input(const Node& node, const std::string& what, double v) {
    Tensor<T> t{Shape{}};
    t[0] = static_cast<T>(v);
    add_initializer(node.name + "/" + what, t);
    return node.name + "/" + what;
  }

  void write_node(const Node& node, const GraphAnalysis& a) {
    if (skip_nodes_.count(&node - g_.nodes().data())) return;
    if (auto f = fold_into_.find(static_cast<std::size_t>(&node - g_.nodes().data())); f != fold_into_.end()) {
      write_folded_conv(node, g_.nodes()[f->second]);
      return;
    }
    const std::string& op = node.op;
    const Attributes& at = node.attrs;
    std::vector<std::string> in = node.inputs;
    NodeProto n = base(node, in);
    std::set<std::string> drop;
    if (op == "Clip") {
      const double lo = at.get_float("min", -INFINITY), hi = at.get_float("max", INFINITY);
      n.input.push_back(std::isinf(lo) ? std::string() : real_input(node, "min", lo));
      if (!std::isinf(hi)) n.input.push_back(real_input(node, "max", hi));
      drop = {"min", "max"};
    } else if (op == "Reshape") {
      n.input.push_back(int_input(node, "shape", at.get_ints("shape", {})));
      drop = {"shape"};
    } else if (op == "Squeeze" || op == "Unsqueeze" || op == "ReduceSum") {
      if (at.has("axes")) n.input.push_back(int_input(node, "axes", at.get_ints("axes", {})));
      drop = {"axes"};
    } else if (op == "Split") {
      if (at.has("split")) n.input.push_back(int_input(node, "split", at.get_ints("split", {})));
      drop = {"split"};
    } else if (op == "Slice") {
      const auto starts = at.get_ints("starts", {});
      n.input.push_back(int_input(node, "starts", starts));
      n.input.push_back(int_input(node, "ends", at.get_ints("ends", {})));
      std::vector<std::int64_t> axes = at.get_ints("axes", {});
      if (axes.empty())
        for (std::size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<std::int64_t>(i));
      n.input.push_back(int_input(node, "axes", axes));
      n.input.push_back(int_input(node, "steps", at.get_ints("steps", std::vector<std::int64_t>(starts.size(), 1))));
      drop = {"starts", "ends", "axes", "steps"};
    } else if (op == "Pad") {
      n.input.push_back(int_input(node, "pads", at.get_ints("pads", {})));
      n.input.push_back(real_input(node, "value", at.get_float("value", 0.0)));
      drop = {"pads", "value"};
    } else if (op == "Dropout") {
      n.input.push_back(real_input(node, "ratio", at.get_float("ratio", 0.5)));
      drop = {"ratio"};
    } else if (op == "BatchNormalization") {
      n.output = {node.outputs[0]};
      drop = {"unbiased_running_var"};
      for (std::size_t k = 1; k < node.outputs.size(); ++k)
        if (reached_values_.count(node.outputs[k]))
          throw UnsupportedError("hone.onnx.export", "node \"" + node.name +
                                 "\": exporting BatchNormalization's running-statistics outputs is not supported");
    } else if (op == "SoftmaxCrossEntropyLoss") {
      drop = {"label_smoothing"};
    } else if (op == "Gelu") {
      write_gelu(node);
      return;
    }
    (void)a;
    put_attributes(n, at, drop);
    graph_->node.push_back(std::move(n));
  }

  /// Gelu(x) = 0.5 x (1 + erf(x / sqrt 2)).
  void write_gelu(const Node& node) {
    const std::string x = node.inputs[0], p = node.name + "/";
    auto emit = [&](const char* op, std::vector<std::string> in, const std::string& out) {
      NodeProto n;
      n.name = p + op;
      n.op_type = op;
      n.input = std::move(in);
      n.output = {out};
      graph_->node.push_back(std::move(n));
    };
    emit("Div", {x, real_input(node, "sqrt2", std::sqrt(2.0))}, p + "scaled");
    emit("Erf", {p + "scaled"}, p + "erf");
    emit("Add", {p + "erf", real_input(node, "one", 1.0)}, p + "onep");
    emit("Mul", {x, p + "onep"}, p + "xonep");
    emit("Mul", {p + "xonep", real_input(node, "half", 0.5)}, node.outputs[0]);
  }

  void add_initializer(const std::string& name, const Tensor<T>& t) {
    graph_->initializer.push_back(from_tensor(t, name));
  }

  /// The value's type; an extent that differs between batch 2 and batch 3 is "batch".
  ValueInfoProto value_info(const std::string& name, const GraphAnalysis& a1, const GraphAnalysis& a2) {
    ValueInfoProto v;
    v.name = name;
    v.type.has_tensor_type = true;
    v.type.tensor_type.elem_type = elem_type<T>();
    v.type.tensor_type.has_shape = true;
    const Shape& s1 = a1.shapes[a1.value(name)];
    const Shape& s2 = a2.shapes[a2.value(name)];
    for (std::size_t k = 0; k < s1.rank(); ++k) {
      TensorShapeProto::Dimension d;
      if (k == 0 && s1[0] != s2[0]) {
        d.dim_param = "batch";
      } else {
        d.has_dim_value = true;
        d.dim_value = s1[k];
      }
      v.type.tensor_type.shape.dim.push_back(d);
    }
    return v;
  }

  const Graph<T>& g_;
  const ExportOptions& o_;
  GraphProto* graph_ = nullptr;
  std::set<std::string> reached_values_;
  std::set<std::size_t> reached_nodes_;
  std::map<std::size_t, std::size_t> fold_into_;  ///< conv node -> bn node
  std::set<std::size_t> skip_nodes_;
  std::set<std::string> folded_away_;
};

}  // namespace detail

/// The graph as an ONNX model (opset 17). Throws UnsupportedError for hone-only ops.
template <class T>
ModelProto export_model(const Graph<T>& graph, const ExportOptions& options = {}) {
  return detail::Exporter<T>(graph, options).run();
}

/// Writes the graph to an .onnx file. Throws IOError naming the file when it cannot be written.
template <class T>
void save(const Graph<T>& graph, const std::string& path, const ExportOptions& options = {}) {
  write_model_file(export_model(graph, options), path);
}

}  // namespace hone::onnx
