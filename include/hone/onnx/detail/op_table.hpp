// hone/onnx/detail/op_table.hpp — ONNX op -> hone node(s), for opsets 7 to 18.
//
// Each translation reads the ONNX node through the import Context, folds it when all its
// inputs are constants and the op is part of the shape arithmetic exporters emit, turns
// inputs that later opsets pass as constant tensors (Clip min/max, Reshape shape, Split
// sizes, Slice starts/ends/axes/steps, Pad pads/value, Squeeze/Unsqueeze/Reduce axes,
// Dropout ratio) into hone's attributes, and emits the hone node(s).
#pragma once

#include <cmath>      // infinity
#include <limits>     // infinity
#include <map>        // the table
#include <string>     // op names
#include <vector>     // attribute lists

#include "hone/onnx/detail/import_context.hpp"

namespace hone::onnx::detail {

template <class T>
using Translate = void (*)(Context<T>&);

/// Emits the node as the same hone op with its attributes as they are.
template <class T>
void same_op(Context<T>& c) {
  std::vector<std::string> in, out;
  for (std::size_t i = 0; i < c.num_inputs(); ++i)
    if (c.has_input(i)) in.push_back(c.value(i));
    else c.unsupported(hone::detail::concat("an omitted optional input (", i, ") is not supported"));
  for (std::size_t i = 0; i < c.num_outputs(); ++i)
    if (c.has_output(i)) out.push_back(c.output(i));
  c.emit(c.node->op_type, in, out, c.attributes());
}

/// Emits op on input 0 only (attributes as given).
template <class T>
void unary(Context<T>& c, const std::string& op, Attributes a) {
  c.emit(op, {c.value(0)}, {c.output(0)}, std::move(a));
}

/// A single output that may not be consumed: refuses optional outputs that are present.
template <class T>
void only_first_output(Context<T>& c, const char* what) {
  for (std::size_t i = 1; i < c.num_outputs(); ++i)
    if (c.has_output(i)) c.unsupported(hone::detail::concat("output ", i, " (", what, ") is not supported"));
}

// --- element-wise ---------------------------------------------------------------------------

template <class T>
void binary(Context<T>& c) {
  if (c.opset < 7) c.unsupported("opsets before 7 (legacy broadcast attribute) are not supported");
  if (c.all_const()) {
    Const out;
    if (fold_binary(c.node->op_type, c.consts.at(c.input(0)), c.consts.at(c.input(1)), out, c.where())) {
      c.set_const(0, std::move(out));
      return;
    }
  }
  c.emit(c.node->op_type, {c.value(0), c.value(1)}, {c.output(0)}, {});
}

template <class T>
void clip(Context<T>& c) {
  Attributes a;
  if (c.opset < 11) {
    a.set_float("min", c.attr_float("min", -std::numeric_limits<double>::infinity()));
    a.set_float("max", c.attr_float("max", std::numeric_limits<double>::infinity()));
  } else {
    if (c.has_input(1)) a.set_float("min", c.const_input(1, "min").real(0));
    if (c.has_input(2)) a.set_float("max", c.const_input(2, "max").real(0));
  }
  unary(c, "Clip", a);
}

// --- convolution, linear, normalisation, pooling ------------------------------------------------

template <class T>
void conv(Context<T>& c) {
  Attributes a = c.attributes();
  if (!a.has("kernel_shape")) {
    const Shape& w = c.input_shape(1);
    if (w.rank() < 3) c.fail("weight " + w.to_string() + " must have rank >= 3 (out, in/group, kernel...)");
    std::vector<std::int64_t> ks(w.begin() + 2, w.end());
    a.set_ints("kernel_shape", ks);
  }
  std::vector<std::string> in = {c.value(0), c.value(1)};
  if (c.has_input(2)) in.push_back(c.value(2));
  c.emit("Conv", in, {c.output(0)}, a);
}

template <class T>
void gemm(Context<T>& c) {
  Attributes a = c.attributes();
  std::vector<std::string> in = {c.value(0), c.value(1)};
  if (c.has_input(2)) in.push_back(c.value(2));
  c.emit("Gemm", in, {c.output(0)}, a, c.attr_int("transA", 0) == 0);
}

template <class T>
void matmul(Context<T>& c) {
  const bool batch = c.input_shape(0).rank() >= 2;
  c.emit("MatMul", {c.value(0), c.value(1)}, {c.output(0)}, {}, batch);
}

template <class T>
void batch_norm(Context<T>& c) {
  if (c.opset < 7) c.unsupported("opsets before 7 (is_test, consumed_inputs) are not supported");
  if (c.opset < 9 && c.attr_int("spatial", 1) != 1)
    c.unsupported("spatial=0 (per-activation statistics) is not supported");
  Attributes a;
  a.set_float("epsilon", c.attr_float("epsilon", 1e-5));
  a.set_float("momentum", c.attr_float("momentum", 0.9));
  const bool onnx_training = c.opset >= 14 && c.attr_int("training_mode", 0) != 0;
  // A graph exported in training mode follows ONNX (running variance from the biased batch
  // variance); an inference export fine-tuned in hone follows PyTorch, where such models
  // come from (unbiased).
  a.set_int("unbiased_running_var", onnx_training ? 0 : 1);
  std::vector<std::string> in;
  for (std::size_t i = 0; i < 5; ++i) in.push_back(c.value(i));
  std::vector<std::string> out = {c.output(0)};
  if (c.opset >= 14) {
    for (std::size_t i = 1; i < 3; ++i)
      if (c.has_output(i)) {
        while (out.size() < i) out.push_back(c.name + "_unused_" + std::to_string(out.size()));
        out.push_back(c.output(i));
      }
  } else {
    only_first_output(c, "training statistics of opsets before 14");
  }
  c.emit("BatchNormalization", in, out, a);
}

template <class T>
void pool(Context<T>& c) {
  only_first_output(c, "MaxPool Indices (int64 tensors are not supported)");
  if (c.attr_int("storage_order", 0) != 0) c.unsupported("storage_order=1 is not supported");
  unary(c, c.node->op_type, c.attributes());
}

template <class T>
void softmax(Context<T>& c) {
  Attributes a = c.attributes();
  if (c.opset >= 13) {
    unary(c, c.node->op_type, a);
    return;
  }
  // Before opset 13: the input is coerced to 2-D at `axis` (default 1) and normalised over
  // the trailing block. Equal to the opset-13 op when axis is the last axis.
  const Shape x = c.input_shape(0);
  const auto r = static_cast<std::int64_t>(x.rank());
  std::int64_t axis = c.attr_int("axis", 1);
  if (axis < 0) axis += r;
  if (axis == r - 1) {
    a.set_int("axis", -1);
    unary(c, c.node->op_type, a);
    return;
  }
  Attributes fa, sa, ra;
  fa.set_int("axis", axis);
  sa.set_int("axis", -1);
  std::vector<std::int64_t> back(x.begin(), x.end());
  if (c.batch0.count(c.input(0))) back[0] = -1;
  ra.set_ints("shape", back);
  const std::string flat = c.name + "/flat", soft = c.name + "/soft";
  c.emit("Flatten", {c.value(0)}, {flat}, fa, axis > 0, "/flatten");
  c.emit(c.node->op_type, {flat}, {soft}, sa, axis > 0, "/softmax");
  c.emit("Reshape", {soft}, {c.output(0)}, ra, true, "/reshape");
}

template <class T>
void dropout(Context<T>& c) {
  for (std::size_t i = 1; i < c.num_outputs(); ++i)
    if (c.has_output(i)) c.unsupported("the mask output (bool tensors) is not supported");
  Attributes a;
  a.set_float("ratio", c.opset < 12 ? c.attr_float("ratio", 0.5)
                                    : (c.has_input(1) ? c.const_input(1, "ratio").real(0) : 0.5));
  unary(c, "Dropout", a);
}

// --- shape ops (folded on constants) -------------------------------------------------------

template <class T>
void shape_op(Context<T>& c) {
  const Shape& s = c.input_shape(0);
  std::vector<std::int64_t> dims(s.begin(), s.end());
  if (c.batch0.count(c.input(0)) && !dims.empty()) dims[0] = kBatch;
  const auto r = static_cast<std::int64_t>(dims.size());
  std::int64_t start = c.attr_int("start", 0), end = c.attr_int("end", r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::clamp<std::int64_t>(start, 0, r);
  end = std::clamp<std::int64_t>(end, start, r);
  c.set_const(0, Const::int_vector(std::vector<std::int64_t>(dims.begin() + start, dims.begin() + end)));
}

template <class T>
void constant(Context<T>& c);  // defined in import.hpp (needs tensor decoding)
template <class T>
void constant_of_shape(Context<T>& c);

template <class T>
void gather(Context<T>& c) {
  if (!c.all_const()) c.unsupported("Gather is supported on constants only (shape arithmetic)");
  c.set_const(0, fold_gather(c.consts.at(c.input(0)), c.consts.at(c.input(1)), c.attr_int("axis", 0), c.where()));
}

template <class T>
void cast(Context<T>& c) {
  const int to = static_cast<int>(c.attr_int("to", 1));
  if (c.is_const(0)) {
    c.set_const(0, fold_cast(c.consts.at(c.input(0)), to));
    return;
  }
  if (is_integer_type(to)) c.unsupported("Cast of a computed tensor to an integer type is not supported");
  unary(c, "Identity", {});  // float <-> double <-> half: hone computes in T throughout
}

template <class T>
void range(Context<T>& c) {
  c.set_const(0, fold_range(c.const_input(0, "start"), c.const_input(1, "limit"), c.const_input(2, "delta"), c.where()));
}

template <class T>
void expand(Context<T>& c) {
  if (!c.all_const()) c.unsupported("Expand is supported on constants only (shape arithmetic)");
  c.set_const(0, fold_expand(c.consts.at(c.input(0)), c.const_input(1, "shape").as_ints(), c.where()));
}

template <class T>
std::vector<std::int64_t> axes_of(Context<T>& c, std::int64_t from_opset, std::size_t slot) {
  if (c.opset < from_opset) return c.attr_ints("axes", {});
  return c.has_input(slot) ? c.const_input(slot, "axes").as_ints() : std::vector<std::int64_t>{};
}

template <class T>
void squeeze_like(Context<T>& c) {
  const bool unsq = c.node->op_type == "Unsqueeze";
  auto axes = axes_of(c, 13, 1);
  if (c.is_const(0)) {
    Const v = c.consts.at(c.input(0));
    auto dims = v.dims;
    if (unsq) {
      const auto r = static_cast<std::int64_t>(dims.size() + axes.size());
      std::vector<bool> at(static_cast<std::size_t>(r), false);
      for (auto a : axes) at[static_cast<std::size_t>(norm_axis(a, r, c.where()))] = true;
      std::vector<std::int64_t> nd;
      std::size_t k = 0;
      for (std::int64_t i = 0; i < r; ++i) nd.push_back(at[static_cast<std::size_t>(i)] ? 1 : dims[k++]);
      v.dims = nd;
    } else {
      const auto r = static_cast<std::int64_t>(dims.size());
      std::vector<std::int64_t> nd;
      for (std::int64_t i = 0; i < r; ++i) {
        bool drop = axes.empty() ? dims[static_cast<std::size_t>(i)] == 1 : false;
        for (auto a : axes) drop = drop || norm_axis(a, r, c.where()) == i;
        if (!drop) nd.push_back(dims[static_cast<std::size_t>(i)]);
      }
      v.dims = nd;
    }
    c.set_const(0, v);
    return;
  }
  Attributes a;
  if (!axes.empty() || unsq) a.set_ints("axes", axes);
  bool keeps = true;
  for (auto ax : axes) keeps = keeps && ax != 0 && !(unsq && ax == -static_cast<std::int64_t>(c.input_shape(0).rank()) - 1);
  c.emit(c.node->op_type, {c.value(0)}, {c.output(0)}, a, keeps);
}

template <class T>
void concat(Context<T>& c) {
  if (c.opset < 4 && !c.attr("axis")) c.unsupported("opsets before 4 (default axis 1) need an explicit axis");
  const std::int64_t axis = c.attr_int("axis", 0);
  if (c.all_const()) {
    std::vector<const Const*> parts;
    for (std::size_t i = 0; i < c.num_inputs(); ++i)
      if (c.has_input(i)) parts.push_back(&c.consts.at(c.input(i)));
    c.set_const(0, fold_concat(parts, axis, c.where()));
    return;
  }
  std::vector<std::string> in;
  for (std::size_t i = 0; i < c.num_inputs(); ++i)
    if (c.has_input(i)) in.push_back(c.value(i));
  Attributes a;
  a.set_int("axis", axis);
  c.emit("Concat", in, {c.output(0)}, a, axis != 0 && axis != -static_cast<std::int64_t>(c.input_shape(0).rank()));
}

template <class T>
void reshape(Context<T>& c) {
  std::vector<std::int64_t> shape = c.opset < 5 ? c.attr_ints("shape", {}) : c.const_input(1, "shape").as_ints();
  if (c.is_const(0)) {
    Const v = c.consts.at(c.input(0));
    std::int64_t known = 1, infer = -1;
    for (std::size_t i = 0; i < shape.size(); ++i) {
      if (shape[i] == 0 && c.attr_int("allowzero", 0) == 0) shape[i] = v.dims.at(i);
      if (shape[i] == -1) infer = static_cast<std::int64_t>(i);
      else known *= shape[i];
    }
    if (infer >= 0) shape[static_cast<std::size_t>(infer)] = known ? v.numel() / known : 0;
    v.dims = shape;
    if (v.numel() != static_cast<std::int64_t>(v.size())) c.fail("Reshape of a constant to a shape of another size");
    c.set_const(0, v);
    return;
  }
  bool keeps = !shape.empty() && (shape[0] == 0 || shape[0] == kBatch);
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] != kBatch) continue;
    if (i == 0 && c.batch0.count(c.input(0))) shape[i] = 0;
    else c.unsupported("the target shape uses the batch size at axis " + std::to_string(i) +
                       "; hone supports the batch only as axis 0 of the reshaped value");
  }
  Attributes a;
  a.set_ints("shape", shape);
  if (c.opset >= 14) a.set_int("allowzero", c.attr_int("allowzero", 0));
  // An input with a symbolic batch reshaped to a fixed first extent (e.g. [1, -1] from an
  // export with batch 1) becomes [-1, ...] only when that is what the exporter meant: left
  // as given, so a wrong batch gives a clear shape error.
  c.emit("Reshape", {c.value(0)}, {c.output(0)}, a, keeps);
}

template <class T>
void flatten(Context<T>& c) {
  Attributes a;
  const std::int64_t axis = c.attr_int("axis", 1);
  a.set_int("axis", axis);
  c.emit("Flatten", {c.value(0)}, {c.output(0)}, a, axis != 0);
}

template <class T>
void transpose(Context<T>& c) {
  Attributes a = c.attributes();
  const auto perm = c.attr_ints("perm", {});
  const bool keeps = !perm.empty() && perm[0] == 0;
  c.emit("Transpose", {c.value(0)}, {c.output(0)}, a, keeps);
}

template <class T>
void slice(Context<T>& c) {
  std::vector<std::int64_t> starts, ends, axes, steps;
  if (c.opset < 10) {
    starts = c.attr_ints("starts", {});
    ends = c.attr_ints("ends", {});
    axes = c.attr_ints("axes", {});
  } else {
    starts = c.const_input(1, "starts").as_ints();
    ends = c.const_input(2, "ends").as_ints();
    if (c.has_input(3)) axes = c.const_input(3, "axes").as_ints();
    if (c.has_input(4)) steps = c.const_input(4, "steps").as_ints();
  }
  if (c.is_const(0)) {
    c.set_const(0, fold_slice(c.consts.at(c.input(0)), starts, ends, axes, steps, c.where()));
    return;
  }
  Attributes a;
  a.set_ints("starts", starts).set_ints("ends", ends);
  if (!axes.empty()) a.set_ints("axes", axes);
  if (!steps.empty()) a.set_ints("steps", steps);
  bool keeps = true;
  const auto r = static_cast<std::int64_t>(c.input_shape(0).rank());
  for (std::size_t i = 0; i < starts.size(); ++i)
    keeps = keeps && (axes.empty() ? static_cast<std::int64_t>(i) : norm_axis(axes[i], r, c.where())) != 0;
  c.emit("Slice", {c.value(0)}, {c.output(0)}, a, keeps);
}

template <class T>
void split(Context<T>& c) {
  const std::int64_t axis = c.attr_int("axis", 0);
  std::vector<std::int64_t> sizes;
  if (c.opset < 13) sizes = c.attr_ints("split", {});
  else if (c.has_input(1)) sizes = c.const_input(1, "split").as_ints();
  if (sizes.empty() && c.opset >= 18 && c.attr("num_outputs")) {
    const Shape& x = c.input_shape(0);
    const std::int64_t n = x[x.normalize_axis(axis)], k = c.attr_int("num_outputs", 1);
    const std::int64_t chunk = (n + k - 1) / k;
    for (std::int64_t i = 0; i < k; ++i) sizes.push_back(std::max<std::int64_t>(0, std::min(chunk, n - i * chunk)));
  }
  Attributes a;
  a.set_int("axis", axis);
  if (!sizes.empty()) a.set_ints("split", sizes);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < c.num_outputs(); ++i) out.push_back(c.output(i));
  c.emit("Split", {c.value(0)}, out, a, axis != 0);
}

template <class T>
void pad(Context<T>& c) {
  Attributes a;
  a.set_string("mode", c.attr_string("mode", "constant"));
  std::vector<std::int64_t> pads;
  double value = 0;
  if (c.opset < 11) {
    pads = c.attr_ints("pads", {});
    value = c.attr_float("value", 0.0);
  } else {
    pads = c.const_input(1, "pads").as_ints();
    if (c.has_input(2)) value = c.const_input(2, "constant_value").real(0);
    if (c.has_input(3)) {  // opset 18: pads for the listed axes only
      const auto axes = c.const_input(3, "axes").as_ints();
      const auto r = static_cast<std::int64_t>(c.input_shape(0).rank());
      std::vector<std::int64_t> full(static_cast<std::size_t>(2 * r), 0);
      for (std::size_t i = 0; i < axes.size(); ++i) {
        const auto ax = static_cast<std::size_t>(norm_axis(axes[i], r, c.where()));
        full[ax] = pads.at(i);
        full[ax + static_cast<std::size_t>(r)] = pads.at(i + axes.size());
      }
      pads = full;
    }
  }
  a.set_ints("pads", pads).set_float("value", value);
  const bool keeps = !pads.empty() && pads[0] == 0 && pads[pads.size() / 2] == 0;
  c.emit("Pad", {c.value(0)}, {c.output(0)}, a, keeps);
}

template <class T>
void reduce(Context<T>& c) {
  const bool sum = c.node->op_type == "ReduceSum";
  const auto axes = axes_of(c, sum ? 13 : 18, 1);
  if (axes.empty() && c.attr_int("noop_with_empty_axes", 0) != 0) {
    unary(c, "Identity", {});
    return;
  }
  Attributes a;
  a.set_int("keepdims", c.attr_int("keepdims", 1));
  if (!axes.empty()) a.set_ints("axes", axes);
  bool keeps = !axes.empty();
  for (auto ax : axes) keeps = keeps && ax != 0 && ax != -static_cast<std::int64_t>(c.input_shape(0).rank());
  c.emit(c.node->op_type, {c.value(0)}, {c.output(0)}, a, keeps);
}

template <class T>
void identity(Context<T>& c) {
  if (c.is_const(0)) {
    c.set_const(0, c.consts.at(c.input(0)));
    return;
  }
  unary(c, "Identity", {});
}

template <class T>
void loss(Context<T>& c) {
  std::vector<std::string> in = {c.value(0), c.value(1)};
  if (c.has_input(2)) in.push_back(c.value(2));
  std::vector<std::string> out = {c.output(0)};
  if (c.has_output(1)) out.push_back(c.output(1));
  c.emit("SoftmaxCrossEntropyLoss", in, out, c.attributes(), c.attr_string("reduction", "mean") == "none");
}

/// The translation table: ONNX op type (default domain) -> translation.
template <class T>
const std::map<std::string, Translate<T>>& table() {
  static const std::map<std::string, Translate<T>> t = {
      {"Conv", conv<T>}, {"Gemm", gemm<T>}, {"MatMul", matmul<T>},
      {"BatchNormalization", batch_norm<T>},
      {"Relu", same_op<T>}, {"LeakyRelu", same_op<T>}, {"PRelu", same_op<T>}, {"Clip", clip<T>},
      {"Sigmoid", same_op<T>}, {"HardSigmoid", same_op<T>}, {"HardSwish", same_op<T>},
      {"Tanh", same_op<T>}, {"Elu", same_op<T>}, {"Selu", same_op<T>}, {"Softplus", same_op<T>},
      {"Gelu", same_op<T>}, {"Sqrt", same_op<T>}, {"Exp", same_op<T>}, {"Log", same_op<T>},
      {"Neg", same_op<T>}, {"Abs", same_op<T>},
      {"Add", binary<T>}, {"Sub", binary<T>}, {"Mul", binary<T>}, {"Div", binary<T>}, {"Pow", binary<T>},
      {"MaxPool", pool<T>}, {"AveragePool", pool<T>},
      {"GlobalAveragePool", same_op<T>}, {"GlobalMaxPool", same_op<T>},
      {"Softmax", softmax<T>}, {"LogSoftmax", softmax<T>}, {"Dropout", dropout<T>},
      {"Identity", identity<T>}, {"Flatten", flatten<T>}, {"Reshape", reshape<T>},
      {"Transpose", transpose<T>}, {"Squeeze", squeeze_like<T>}, {"Unsqueeze", squeeze_like<T>},
      {"Concat", concat<T>}, {"Split", split<T>}, {"Slice", slice<T>}, {"Pad", pad<T>},
      {"ReduceMean", reduce<T>}, {"ReduceSum", reduce<T>},
      {"SoftmaxCrossEntropyLoss", loss<T>},
      {"Shape", shape_op<T>}, {"Gather", gather<T>}, {"Cast", cast<T>}, {"Range", range<T>},
      {"Expand", expand<T>}, {"Constant", constant<T>}, {"ConstantOfShape", constant_of_shape<T>},
  };
  return t;
}

}  // namespace hone::onnx::detail
