// hone/graph/builder.hpp — building a Graph in C++: a functional Builder (values in, values
// out, so residual connections are an `add`) and a Sequential wrapper for plain stacks.
//
// Layers with parameters are named by the caller ("conv1") or generated from a per-kind
// counter ("conv1", "conv2", "bn1", "fc1"); their parameters get PyTorch/ONNX initializer
// names: conv1.weight, conv1.bias, bn1.weight, bn1.bias, bn1.running_mean, bn1.running_var,
// fc1.weight (out, in), fc1.bias. So a built model and the same model exported from PyTorch
// and imported from ONNX have the same parameter names and the same nodes (Conv, Gemm with
// transB=1, BatchNormalization with ONNX momentum, Relu, Clip for ReLU6, ...).
// Initialisation follows PyTorch's defaults: Kaiming uniform with a = sqrt(5) for weights,
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for biases, BatchNorm weight 1, bias 0, running mean 0,
// running var 1. Parameter k draws from Generator(seed).fork(k).
#pragma once

#include <cmath>    // std::sqrt
#include <cstdint>  // std::int64_t
#include <map>      // per-kind name counters
#include <string>   // names
#include <utility>  // std::move
#include <vector>   // shapes, inputs

#include "hone/core/init.hpp"
#include "hone/graph/graph.hpp"

namespace hone {

/// A value while building: its name and its shape (batch extent 1 for batched inputs).
struct Var {
  std::string name;
  Shape shape;
};

struct Conv2dOptions {
  std::int64_t kernel = 3;
  std::int64_t stride = 1;
  std::int64_t padding = 0;  ///< on all four sides; use `pads` for asymmetric padding
  std::vector<std::int64_t> pads = {};  ///< ONNX order: top, left, bottom, right
  std::int64_t dilation = 1;
  std::int64_t groups = 1;
  bool bias = true;
};

struct Pool2dOptions {
  std::int64_t kernel = 2;
  std::int64_t stride = 0;  ///< 0: equal to kernel (PyTorch's default)
  std::int64_t padding = 0;
  bool ceil_mode = false;
  bool count_include_pad = false;  ///< AveragePool only
};

struct CrossEntropyOptions {
  double label_smoothing = 0.0;
  std::vector<double> class_weights = {};  ///< one per class, or empty
  std::int64_t ignore_index = -100;
  bool use_ignore_index = false;
};

template <class T>
class Builder {
 public:
  explicit Builder(std::uint64_t seed = 0) : gen_(seed) {}

  /// Continues building on an existing graph (e.g. a new head on an imported backbone,
  /// hone/train/surgery.hpp's attach_head): reach its values with value(); generated layer
  /// names skip the names the graph already uses. New parameters draw from
  /// Generator(seed).fork(k) as in a fresh builder.
  explicit Builder(Graph<T> graph, std::uint64_t seed = 0) : graph_(std::move(graph)), gen_(seed) {}

  /// A value of the graph being built (input, parameter or node output) with its shape as
  /// analysed with the declared input shapes. Throws InvalidArgument for an unknown name.
  Var value(const std::string& name) const {
    const GraphAnalysis a = graph_.analyze();
    return {name, a.shapes[a.value(name)]};
  }

  /// A batched graph input; `shape` excludes the batch: {3, 224, 224}.
  Var input(const std::string& name, std::initializer_list<std::int64_t> shape) {
    std::vector<std::int64_t> dims = {1};
    dims.insert(dims.end(), shape.begin(), shape.end());
    const Shape s = hone::detail::to_shape(dims);
    graph_.add_input(name, s, true);
    return {name, s};
  }
  /// An input of exactly this shape, without a batch dimension (e.g. class weights).
  Var input_unbatched(const std::string& name, const Shape& shape) {
    graph_.add_input(name, shape, false);
    return {name, shape};
  }

  /// Any op: adds the node and infers the output shape; throws as Graph::analyze().
  Var op(const std::string& type, const std::vector<Var>& inputs, Attributes attrs = {},
         std::string name = {}) {
    if (name.empty()) name = next_name(lower(type));
    std::vector<std::string> in_names;
    std::vector<Shape> in_shapes;
    for (const auto& v : inputs) {
      in_names.push_back(v.name);
      in_shapes.push_back(v.shape);
    }
    const auto* def = ops::find_op<T>(type);
    if (!def)
      throw UnsupportedError("hone.graph.unsupported_op",
                             detail::concat("op ", type, " is not supported; supported: ",
                                            ops::supported_ops<T>()));
    Node& node = graph_.add_node(type, in_names, {name}, std::move(attrs), name);
    detail::check_arity(*def, node);
    const auto out = def->infer(node, in_shapes);
    return {name, out[0]};
  }

  Var conv(const Var& x, std::int64_t out_channels, const Conv2dOptions& o = {},
           std::string name = {}) {
    if (name.empty()) name = next_name("conv");
    if (x.shape.rank() != 4)
      throw ShapeError(detail::concat("conv \"", name, "\": input ", x.shape, " is not NCHW"));
    const std::int64_t in_channels = x.shape[1];
    if (o.groups < 1 || in_channels % o.groups != 0)
      throw ShapeError(detail::concat("conv \"", name, "\": ", in_channels,
                                      " input channels are not divisible by groups ", o.groups));
    Tensor<T> w({out_channels, in_channels / o.groups, o.kernel, o.kernel});
    init_weight(w);
    graph_.add_parameter(name + ".weight", w);
    std::vector<Var> in = {x, {name + ".weight", w.shape()}};
    if (o.bias) in.push_back(add_bias(name + ".bias", out_channels, init::fans(w.shape()).first));
    Attributes a;
    a.set_ints("kernel_shape", {o.kernel, o.kernel})
        .set_ints("strides", {o.stride, o.stride})
        .set_ints("pads", o.pads.empty() ? std::vector<std::int64_t>(4, o.padding) : o.pads)
        .set_ints("dilations", {o.dilation, o.dilation})
        .set_int("group", o.groups);
    return op("Conv", in, a, name);
  }

  /// Fully connected layer y = x W^T + b with W (out, in): ONNX Gemm with transB = 1.
  Var linear(const Var& x, std::int64_t out_features, bool bias = true, std::string name = {}) {
    if (name.empty()) name = next_name("fc");
    if (x.shape.rank() != 2)
      throw ShapeError(detail::concat("linear \"", name, "\": input ", x.shape,
                                      " must be (N, features); flatten it first"));
    Tensor<T> w({out_features, x.shape[1]});
    init_weight(w);
    graph_.add_parameter(name + ".weight", w);
    std::vector<Var> in = {x, {name + ".weight", w.shape()}};
    if (bias) in.push_back(add_bias(name + ".bias", out_features, x.shape[1]));
    Attributes a;
    a.set_int("transB", 1);
    return op("Gemm", in, a, name);
  }

  /// BatchNormalization; momentum in ONNX's convention (0.9 = PyTorch's 0.1).
  Var batch_norm(const Var& x, std::string name = {}, double epsilon = 1e-5,
                 double momentum = 0.9) {
    if (name.empty()) name = next_name("bn");
    if (x.shape.rank() < 2)
      throw ShapeError(detail::concat("batch_norm \"", name, "\": input ", x.shape, " has no channel axis"));
    const std::int64_t c = x.shape[1];
    graph_.add_parameter(name + ".weight", Tensor<T>({c}, T(1)));
    graph_.add_parameter(name + ".bias", Tensor<T>({c}, T(0)));
    graph_.add_buffer(name + ".running_mean", Tensor<T>({c}, T(0)));
    graph_.add_buffer(name + ".running_var", Tensor<T>({c}, T(1)));
    Attributes a;
    a.set_float("epsilon", epsilon).set_float("momentum", momentum).set_int("unbiased_running_var", 1);
    const Shape cs{c};
    return op("BatchNormalization",
              {x, {name + ".weight", cs}, {name + ".bias", cs}, {name + ".running_mean", cs},
               {name + ".running_var", cs}},
              a, name);
  }

  Var relu(const Var& x) { return op("Relu", {x}); }
  /// ReLU6 as ONNX exports it: Clip(0, 6).
  Var relu6(const Var& x) {
    Attributes a;
    a.set_float("min", 0.0).set_float("max", 6.0);
    return op("Clip", {x}, a);
  }
  Var add(const Var& a, const Var& b) { return op("Add", {a, b}); }

  Var max_pool(const Var& x, const Pool2dOptions& o = {}) { return pool("MaxPool", x, o); }
  Var avg_pool(const Var& x, const Pool2dOptions& o = {}) { return pool("AveragePool", x, o); }
  Var global_avg_pool(const Var& x) { return op("GlobalAveragePool", {x}); }
  Var flatten(const Var& x, std::int64_t axis = 1) {
    Attributes a;
    a.set_int("axis", axis);
    return op("Flatten", {x}, a);
  }
  Var reshape(const Var& x, std::vector<std::int64_t> shape) {
    Attributes a;
    a.set_ints("shape", std::move(shape));
    return op("Reshape", {x}, a);
  }

  /// Softmax cross-entropy of logits (N, C) against labels (N) holding class indices.
  Var cross_entropy(const Var& logits, const Var& labels, const CrossEntropyOptions& o = {}) {
    Attributes a;
    a.set_float("label_smoothing", o.label_smoothing);
    if (o.use_ignore_index) a.set_int("ignore_index", o.ignore_index);
    std::vector<Var> in = {logits, labels};
    if (!o.class_weights.empty()) {
      const std::string wname = next_name("class_weights");
      Tensor<T> w({static_cast<std::int64_t>(o.class_weights.size())});
      for (std::size_t i = 0; i < o.class_weights.size(); ++i)
        w[static_cast<std::int64_t>(i)] = static_cast<T>(o.class_weights[i]);
      graph_.add_constant(wname, w);  // fixed by the user: never trained or unfrozen
      in.push_back({wname, w.shape()});
    }
    return op("SoftmaxCrossEntropyLoss", in, a);
  }
  Var mse(const Var& a, const Var& b) { return op("MeanSquaredError", {a, b}); }

  void output(const Var& v) { graph_.add_output(v.name); }

  /// Validates and returns the graph (the builder is left empty).
  Graph<T> build() {
    graph_.validate();
    return std::move(graph_);
  }

 private:
  static std::string lower(std::string s) {
    for (char& ch : s)
      if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    return s;
  }
  std::string next_name(const std::string& kind) {
    std::string name;
    do name = kind + std::to_string(++counters_[kind]);
    while (taken(name));
    return name;
  }
  /// Whether a name is used by an input, parameter, node or node output of the graph.
  bool taken(const std::string& name) const {
    if (graph_.has_parameter(name)) return true;
    for (const auto& in : graph_.inputs())
      if (in.name == name) return true;
    for (const auto& n : graph_.nodes()) {
      if (n.name == name) return true;
      for (const auto& o : n.outputs)
        if (o == name) return true;
    }
    return false;
  }

  void init_weight(Tensor<T>& w) {
    Generator g = gen_.fork(param_counter_++);
    init::kaiming_uniform(w, g, std::sqrt(5.0));
  }
  Var add_bias(const std::string& name, std::int64_t n, std::int64_t fan_in) {
    Tensor<T> b({n});
    Generator g = gen_.fork(param_counter_++);
    const double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
    init::uniform(b, -bound, bound, g);
    graph_.add_parameter(name, b);
    return {name, b.shape()};
  }
  Var pool(const char* type, const Var& x, const Pool2dOptions& o) {
    Attributes a;
    const std::int64_t stride = o.stride == 0 ? o.kernel : o.stride;
    a.set_ints("kernel_shape", {o.kernel, o.kernel})
        .set_ints("strides", {stride, stride})
        .set_ints("pads", std::vector<std::int64_t>(4, o.padding))
        .set_int("ceil_mode", o.ceil_mode ? 1 : 0);
    if (std::string(type) == "AveragePool") a.set_int("count_include_pad", o.count_include_pad ? 1 : 0);
    return op(type, {x}, a);
  }

  Graph<T> graph_;
  Generator gen_;
  std::uint64_t param_counter_ = 0;
  std::map<std::string, int> counters_;
};

/// A plain stack of layers: each call applies a layer to the previous output.
template <class T>
class Sequential {
 public:
  /// `input_shape` excludes the batch: {3, 32, 32}. The input is named "input".
  explicit Sequential(std::initializer_list<std::int64_t> input_shape, std::uint64_t seed = 0)
      : b_(seed), x_(b_.input("input", input_shape)) {}

  Sequential& conv(std::int64_t out_channels, const Conv2dOptions& o = {}, std::string name = {}) {
    x_ = b_.conv(x_, out_channels, o, std::move(name));
    return *this;
  }
  Sequential& linear(std::int64_t out_features, bool bias = true, std::string name = {}) {
    x_ = b_.linear(x_, out_features, bias, std::move(name));
    return *this;
  }
  Sequential& batch_norm(std::string name = {}) {
    x_ = b_.batch_norm(x_, std::move(name));
    return *this;
  }
  Sequential& relu() { x_ = b_.relu(x_); return *this; }
  Sequential& relu6() { x_ = b_.relu6(x_); return *this; }
  Sequential& max_pool(const Pool2dOptions& o = {}) { x_ = b_.max_pool(x_, o); return *this; }
  Sequential& avg_pool(const Pool2dOptions& o = {}) { x_ = b_.avg_pool(x_, o); return *this; }
  Sequential& global_avg_pool() { x_ = b_.global_avg_pool(x_); return *this; }
  Sequential& flatten() { x_ = b_.flatten(x_); return *this; }
  /// Any op applied to the current output alone.
  Sequential& op(const std::string& type, Attributes attrs = {}) {
    x_ = b_.op(type, {x_}, std::move(attrs));
    return *this;
  }

  const Var& current() const noexcept { return x_; }
  Builder<T>& builder() noexcept { return b_; }

  /// Marks the current value as the output and returns the graph.
  Graph<T> build() {
    b_.output(x_);
    return b_.build();
  }

 private:
  Builder<T> b_;
  Var x_;
};

}  // namespace hone
