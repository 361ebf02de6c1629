// hone/ops/shape_ops.hpp — ops that move elements without arithmetic: Flatten (axis),
// Reshape (the target shape as the `shape` attribute, 0 copies the input extent, one -1 is
// inferred; ONNX passes it as a constant input, which the importer folds into the
// attribute), Squeeze and Unsqueeze (`axes` attribute, as before opset 13), Transpose
// (`perm`, default reversed) and Concat (`axis`).
//
// Outputs are copies, not views, so every value owns its bytes and the session's memory
// accounting is exact. A reshape that aliases its input is a later optimisation.
#pragma once

#include <algorithm>  // std::copy_n, std::find, std::sort
#include <vector>     // shapes and masks

#include "hone/ops/op.hpp"

namespace hone::ops {

namespace detail_reshape {

inline Shape flatten_shape(const Node& node, const Shape& x) {
  const auto r = static_cast<std::int64_t>(x.rank());
  std::int64_t axis = node.attrs.get_int("axis", 1);
  if (axis < -r || axis > r)
    hone::detail::shape_fail(node, "axis ", axis, " is out of range for input ", x, " (valid: ",
                             -r, " to ", r, ")");
  if (axis < 0) axis += r;
  std::int64_t outer = 1, inner = 1;
  for (std::int64_t i = 0; i < r; ++i) (i < axis ? outer : inner) *= x[static_cast<std::size_t>(i)];
  return Shape{outer, inner};
}

inline Shape reshape_shape(const Node& node, const Shape& x) {
  if (!node.attrs.has("shape")) hone::detail::shape_fail(node, "attribute shape is required");
  auto dims = node.attrs.get_ints("shape", {});
  const bool allow_zero = node.attrs.get_int("allowzero", 0) != 0;
  std::int64_t known = 1;
  int inferred = -1;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == 0 && !allow_zero) {
      if (i >= x.rank())
        hone::detail::shape_fail(node, "shape[", i, "] = 0 copies an axis that input ", x,
                                 " does not have");
      dims[i] = x[i];
    }
    if (dims[i] == -1) {
      if (inferred >= 0) hone::detail::shape_fail(node, "more than one extent is -1");
      inferred = static_cast<int>(i);
    } else if (dims[i] < 0) {
      hone::detail::shape_fail(node, "extent ", dims[i], " is negative");
    } else {
      known *= dims[i];
    }
  }
  if (inferred >= 0) {
    if (known == 0 || x.numel() % known != 0)
      hone::detail::shape_fail(node, "cannot infer the -1 extent of the target shape for input ",
                               x, " (", x.numel(), " elements)");
    dims[static_cast<std::size_t>(inferred)] = x.numel() / known;
  }
  const Shape s = hone::detail::to_shape(dims);
  if (s.numel() != x.numel())
    hone::detail::shape_fail(node, "target shape ", s, " holds ", s.numel(),
                             " elements but input ", x, " holds ", x.numel());
  return s;
}

inline std::vector<std::int64_t> norm_axes(const Node& node, std::int64_t rank) {
  auto axes = node.attrs.get_ints("axes", {});
  for (auto& a : axes) {
    if (a < -rank || a >= rank)
      hone::detail::shape_fail(node, "axis ", a, " is out of range for rank ", rank);
    if (a < 0) a += rank;
  }
  std::sort(axes.begin(), axes.end());
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end())
    hone::detail::shape_fail(node, "axes has a repeated axis");
  return axes;
}

inline Shape squeeze_shape(const Node& node, const Shape& x) {
  const auto r = static_cast<std::int64_t>(x.rank());
  const auto axes = norm_axes(node, r);
  std::vector<std::int64_t> out;
  for (std::int64_t i = 0; i < r; ++i) {
    const bool listed = std::find(axes.begin(), axes.end(), i) != axes.end();
    const std::int64_t d = x[static_cast<std::size_t>(i)];
    if (listed && d != 1)
      hone::detail::shape_fail(node, "cannot squeeze axis ", i, " of extent ", d, " in ", x);
    if (axes.empty() ? d != 1 : !listed) out.push_back(d);
  }
  return hone::detail::to_shape(out);
}

inline Shape unsqueeze_shape(const Node& node, const Shape& x) {
  const auto r = static_cast<std::int64_t>(x.rank() + node.attrs.get_ints("axes", {}).size());
  const auto axes = norm_axes(node, r);
  std::vector<std::int64_t> out;
  std::size_t src = 0;
  for (std::int64_t i = 0; i < r; ++i)
    out.push_back(std::find(axes.begin(), axes.end(), i) != axes.end() ? 1 : x[src++]);
  return hone::detail::to_shape(out);
}

template <Shape (*F)(const Node&, const Shape&)>
std::vector<Shape> infer(const Node& node, std::span<const Shape> in) {
  return {F(node, in[0])};
}

template <class T>
void forward(ForwardArgs<T>& a) {
  std::copy_n(a.inputs[0].data(), a.inputs[0].numel(), a.outputs[0].data());
}

template <class T>
void backward(BackwardArgs<T>& a) {
  const std::int64_t n = a.input_shapes[0].numel();
  for (std::int64_t i = 0; i < n; ++i) a.grad_inputs[0][i] += a.grad_outputs[0][i];
}

inline SaveSpec saves(const Node&, const std::vector<bool>& need, bool) {
  return hone::detail::save_none(need.size(), 1);
}

}  // namespace detail_reshape

namespace detail_transpose {

inline std::vector<std::int64_t> perm(const Node& node, std::size_t rank) {
  std::vector<std::int64_t> p(rank);
  for (std::size_t i = 0; i < rank; ++i) p[i] = static_cast<std::int64_t>(rank - 1 - i);
  p = node.attrs.get_ints("perm", p);
  std::vector<bool> seen(rank, false);
  if (p.size() != rank)
    hone::detail::shape_fail(node, "perm has ", p.size(), " entries for an input of rank ", rank);
  for (auto v : p) {
    if (v < 0 || v >= static_cast<std::int64_t>(rank) || seen[static_cast<std::size_t>(v)])
      hone::detail::shape_fail(node, "perm is not a permutation of 0..", rank - 1);
    seen[static_cast<std::size_t>(v)] = true;
  }
  return p;
}

inline std::vector<Shape> infer(const Node& node, std::span<const Shape> in) {
  const auto p = perm(node, in[0].rank());
  std::vector<std::int64_t> out(p.size());
  for (std::size_t i = 0; i < p.size(); ++i) out[i] = in[0][static_cast<std::size_t>(p[i])];
  return {hone::detail::to_shape(out)};
}

/// Calls f(out_flat, in_flat) for every element of the transposed tensor.
template <class F>
void walk(const Shape& x, const std::vector<std::int64_t>& p, F&& f) {
  const std::size_t r = x.rank();
  const auto xs = x.strides();
  std::array<std::int64_t, Shape::max_rank> os{}, idx{}, oe{};
  for (std::size_t i = 0; i < r; ++i) {
    os[i] = xs[static_cast<std::size_t>(p[i])];
    oe[i] = x[static_cast<std::size_t>(p[i])];
  }
  const std::int64_t n = x.numel();
  for (std::int64_t flat = 0; flat < n; ++flat) {
    std::int64_t src = 0;
    for (std::size_t d = 0; d < r; ++d) src += idx[d] * os[d];
    f(flat, src);
    for (std::size_t d = r; d-- > 0;) {
      if (++idx[d] < oe[d]) break;
      idx[d] = 0;
    }
  }
}

template <class T>
void forward(ForwardArgs<T>& a) {
  const auto p = perm(a.node, a.inputs[0].rank());
  walk(a.inputs[0].shape(), p, [&](std::int64_t o, std::int64_t i) {
    a.outputs[0][o] = a.inputs[0][i];
  });
}

template <class T>
void backward(BackwardArgs<T>& a) {
  const auto p = perm(a.node, a.input_shapes[0].rank());
  walk(a.input_shapes[0], p, [&](std::int64_t o, std::int64_t i) {
    a.grad_inputs[0][i] += a.grad_outputs[0][o];
  });
}

}  // namespace detail_transpose

namespace detail_concat {

inline std::size_t axis_of(const Node& node, const Shape& first) {
  const auto r = static_cast<std::int64_t>(first.rank());
  std::int64_t axis = node.attrs.get_int("axis", 0);
  if (axis < -r || axis >= r)
    hone::detail::shape_fail(node, "axis ", axis, " is out of range for input ", first);
  return static_cast<std::size_t>(axis < 0 ? axis + r : axis);
}

inline std::vector<Shape> infer(const Node& node, std::span<const Shape> in) {
  const std::size_t axis = axis_of(node, in[0]);
  std::vector<std::int64_t> out(in[0].begin(), in[0].end());
  for (std::size_t k = 1; k < in.size(); ++k) {
    bool ok = in[k].rank() == in[0].rank();
    for (std::size_t d = 0; ok && d < in[0].rank(); ++d)
      if (d != axis && in[k][d] != in[0][d]) ok = false;
    if (!ok)
      hone::detail::shape_fail(node, "input ", k, " ", in[k], " does not match input 0 ", in[0],
                               " outside axis ", axis);
    out[axis] += in[k][axis];
  }
  return {hone::detail::to_shape(out)};
}

/// Calls f(input k, offset in input, offset in output, run length) for each contiguous run.
template <class F>
void runs(std::span<const Shape> in, std::size_t axis, F&& f) {
  std::int64_t outer = 1, inner = 1, total = 0;
  for (std::size_t d = 0; d < axis; ++d) outer *= in[0][d];
  for (std::size_t d = axis + 1; d < in[0].rank(); ++d) inner *= in[0][d];
  for (const auto& s : in) total += s[axis];
  for (std::int64_t o = 0; o < outer; ++o) {
    std::int64_t at = 0;
    for (std::size_t k = 0; k < in.size(); ++k) {
      const std::int64_t len = in[k][axis] * inner;
      f(k, o * len, (o * total + at) * inner, len);
      at += in[k][axis];
    }
  }
}

template <class T>
void forward(ForwardArgs<T>& a) {
  std::vector<Shape> shapes;
  for (const auto& t : a.inputs) shapes.push_back(t.shape());
  runs(shapes, axis_of(a.node, shapes[0]),
       [&](std::size_t k, std::int64_t src, std::int64_t dst, std::int64_t len) {
         std::copy_n(a.inputs[k].data() + src, len, a.outputs[0].data() + dst);
       });
}

template <class T>
void backward(BackwardArgs<T>& a) {
  runs(a.input_shapes, axis_of(a.node, a.input_shapes[0]),
       [&](std::size_t k, std::int64_t src, std::int64_t dst, std::int64_t len) {
         if (!a.need_grad[k]) return;
         for (std::int64_t i = 0; i < len; ++i)
           a.grad_inputs[k][src + i] += a.grad_outputs[0][dst + i];
       });
}

}  // namespace detail_concat

template <class T>
void register_shape_ops(std::vector<OpDef<T>>& table) {
  using namespace detail_reshape;
  table.push_back({"Flatten", 1, 1, infer<flatten_shape>, forward<T>, backward<T>, saves});
  table.push_back({"Reshape", 1, 1, infer<reshape_shape>, forward<T>, backward<T>, saves});
  table.push_back({"Squeeze", 1, 1, infer<squeeze_shape>, forward<T>, backward<T>, saves});
  table.push_back({"Unsqueeze", 1, 1, infer<unsqueeze_shape>, forward<T>, backward<T>, saves});
  table.push_back({"Transpose", 1, 1, detail_transpose::infer, detail_transpose::forward<T>,
                   detail_transpose::backward<T>, saves});
  table.push_back({"Concat", 1, 64, detail_concat::infer, detail_concat::forward<T>,
                   detail_concat::backward<T>, saves});
}

}  // namespace hone::ops
