// hone/ops/slice.hpp — ops that select or pad regions: Split (axis, `split` sizes or equal
// parts, one output per part), Slice (starts, ends, axes, steps as attributes, negative
// steps included, ONNX clamping rules) and Pad (pads as [x1_begin, ..., x1_end, ...],
// negative pads crop; mode constant with `value`, edge or reflect). As elsewhere, recent
// opsets pass these as constant inputs; the importer folds them into attributes.
#pragma once

#include <algorithm>  // std::clamp
#include <string>     // the pad mode
#include <vector>     // per-axis index maps

#include "hone/ops/op.hpp"
#include "hone/ops/shape_ops.hpp"  // detail_concat::runs

namespace hone::ops {

namespace detail_gather {

/// For each axis, the source index of every output index (-1: outside the input).
using Maps = std::vector<std::vector<std::int64_t>>;

inline Shape out_shape(const Maps& maps) {
  std::vector<std::int64_t> dims;
  for (const auto& m : maps) dims.push_back(static_cast<std::int64_t>(m.size()));
  return hone::detail::to_shape(dims);
}

/// Calls f(out_flat, src_flat or -1) for every output element.
template <class F>
void walk(const Shape& x, const Maps& maps, F&& f) {
  const std::size_t r = maps.size();
  const auto xs = x.strides();
  const Shape out = out_shape(maps);
  const std::int64_t n = out.numel();
  std::array<std::int64_t, Shape::max_rank> idx{};
  for (std::int64_t flat = 0; flat < n; ++flat) {
    std::int64_t src = 0;
    for (std::size_t d = 0; d < r && src >= 0; ++d) {
      const std::int64_t s = maps[d][static_cast<std::size_t>(idx[d])];
      src = s < 0 ? -1 : src + s * xs[d];
    }
    f(flat, src);
    for (std::size_t d = r; d-- > 0;) {
      if (++idx[d] < out[d]) break;
      idx[d] = 0;
    }
  }
}

inline Maps slice_maps(const Node& node, const Shape& x) {
  const auto r = static_cast<std::int64_t>(x.rank());
  const auto starts = node.attrs.get_ints("starts", {});
  const auto ends = node.attrs.get_ints("ends", {});
  std::vector<std::int64_t> axes(starts.size());
  for (std::size_t i = 0; i < axes.size(); ++i) axes[i] = static_cast<std::int64_t>(i);
  axes = node.attrs.get_ints("axes", axes);
  const auto steps = node.attrs.get_ints("steps", std::vector<std::int64_t>(starts.size(), 1));
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    hone::detail::shape_fail(node, "starts, ends, axes and steps must have the same length");
  Maps maps(x.rank());
  for (std::size_t d = 0; d < x.rank(); ++d)
    for (std::int64_t i = 0; i < x[d]; ++i) maps[d].push_back(i);
  std::vector<bool> seen(x.rank(), false);
  for (std::size_t k = 0; k < starts.size(); ++k) {
    std::int64_t axis = axes[k];
    if (axis < -r || axis >= r) hone::detail::shape_fail(node, "axis ", axis, " is out of range for input ", x);
    if (axis < 0) axis += r;
    const auto a = static_cast<std::size_t>(axis);
    if (seen[a]) hone::detail::shape_fail(node, "axis ", axis, " is sliced twice");
    seen[a] = true;
    const std::int64_t dim = x[a], step = steps[k];
    if (step == 0) hone::detail::shape_fail(node, "steps must not be 0");
    std::int64_t s = starts[k], e = ends[k];
    if (s < 0) s += dim;
    if (e < 0) e += dim;
    if (step > 0) {
      s = std::clamp<std::int64_t>(s, 0, dim);
      e = std::clamp<std::int64_t>(e, 0, dim);
    } else {
      s = std::clamp<std::int64_t>(s, 0, dim - 1);
      e = std::clamp<std::int64_t>(e, -1, dim - 1);
    }
    maps[a].clear();
    for (std::int64_t i = s; step > 0 ? i < e : i > e; i += step) maps[a].push_back(i);
  }
  return maps;
}

inline std::int64_t pad_source(std::int64_t i, std::int64_t dim, const std::string& mode) {
  if (i >= 0 && i < dim) return i;
  if (mode == "edge") return i < 0 ? 0 : dim - 1;
  if (mode == "reflect") return i < 0 ? -i : 2 * (dim - 1) - i;
  return -1;
}

inline Maps pad_maps(const Node& node, const Shape& x) {
  const auto pads = node.attrs.get_ints("pads", {});
  const std::string mode = node.attrs.get_string("mode", "constant");
  if (mode != "constant" && mode != "edge" && mode != "reflect")
    throw UnsupportedError(hone::detail::node_prefix(node) + "mode \"" + mode +
                           "\" is not supported (constant, edge, reflect)");
  if (pads.size() != 2 * x.rank())
    hone::detail::shape_fail(node, "pads needs ", 2 * x.rank(), " values for input ", x, ", got ",
                             pads.size());
  Maps maps(x.rank());
  for (std::size_t d = 0; d < x.rank(); ++d) {
    const std::int64_t b = pads[d], e = pads[d + x.rank()], dim = x[d];
    if (dim + b + e < 0) hone::detail::shape_fail(node, "pads crop more than axis ", d, " holds");
    if (mode == "reflect" && (b >= dim || e >= dim))
      hone::detail::shape_fail(node, "reflect padding of ", std::max(b, e),
                               " needs an extent above it, axis ", d, " has ", dim);
    if (mode == "edge" && dim == 0 && (b > 0 || e > 0))
      hone::detail::shape_fail(node, "edge padding of an empty axis");
    for (std::int64_t i = 0; i < dim + b + e; ++i) maps[d].push_back(pad_source(i - b, dim, mode));
  }
  return maps;
}

template <Maps (*M)(const Node&, const Shape&)>
std::vector<Shape> infer(const Node& node, std::span<const Shape> in) {
  return {out_shape(M(node, in[0]))};
}

template <class T, Maps (*M)(const Node&, const Shape&)>
void forward(ForwardArgs<T>& a) {
  const T fill = static_cast<T>(a.node.attrs.get_float("value", 0.0));
  walk(a.inputs[0].shape(), M(a.node, a.inputs[0].shape()), [&](std::int64_t o, std::int64_t s) {
    a.outputs[0][o] = s < 0 ? fill : a.inputs[0][s];
  });
}

template <class T, Maps (*M)(const Node&, const Shape&)>
void backward(BackwardArgs<T>& a) {
  walk(a.input_shapes[0], M(a.node, a.input_shapes[0]), [&](std::int64_t o, std::int64_t s) {
    if (s >= 0) a.grad_inputs[0][s] += a.grad_outputs[0][o];
  });
}

}  // namespace detail_gather

namespace detail_split {

inline std::vector<std::int64_t> sizes(const Node& node, const Shape& x, std::size_t& axis) {
  axis = x.normalize_axis(node.attrs.get_int("axis", 0));
  const std::int64_t dim = x[axis];
  const auto parts = static_cast<std::int64_t>(node.outputs.size());
  std::vector<std::int64_t> s = node.attrs.get_ints("split", {});
  if (s.empty()) {
    if (parts == 0 || dim % parts != 0)
      hone::detail::shape_fail(node, "axis ", axis, " of ", x, " (", dim,
                               ") does not split into ", parts, " equal parts; give `split`");
    s.assign(node.outputs.size(), dim / parts);
  }
  std::int64_t total = 0;
  for (auto v : s) total += v;
  if (s.size() != node.outputs.size() || total != dim)
    hone::detail::shape_fail(node, "split sizes must be one per output and sum to ", dim);
  return s;
}

inline std::vector<Shape> infer(const Node& node, std::span<const Shape> in) {
  std::size_t axis = 0;
  const auto s = sizes(node, in[0], axis);
  std::vector<Shape> out;
  for (auto v : s) {
    Shape o = in[0];
    o.set(axis, v);
    out.push_back(o);
  }
  return out;
}

template <class T>
void forward(ForwardArgs<T>& a) {
  std::vector<Shape> shapes;
  for (const auto& t : a.outputs) shapes.push_back(t.shape());
  std::size_t axis = 0;
  (void)sizes(a.node, a.inputs[0].shape(), axis);
  detail_concat::runs(shapes, axis, [&](std::size_t k, std::int64_t part, std::int64_t whole, std::int64_t len) {
    std::copy_n(a.inputs[0].data() + whole, len, a.outputs[k].data() + part);
  });
}

template <class T>
void backward(BackwardArgs<T>& a) {
  std::size_t axis = 0;
  (void)sizes(a.node, a.input_shapes[0], axis);
  detail_concat::runs(a.output_shapes, axis, [&](std::size_t k, std::int64_t part, std::int64_t whole, std::int64_t len) {
    for (std::int64_t i = 0; i < len; ++i) a.grad_inputs[0][whole + i] += a.grad_outputs[k][part + i];
  });
}

}  // namespace detail_split

template <class T>
void register_slice(std::vector<OpDef<T>>& table) {
  using namespace detail_gather;
  table.push_back({"Slice", 1, 1, infer<slice_maps>, forward<T, slice_maps>,
                   backward<T, slice_maps>, hone::detail::save_none_fn});
  table.push_back({"Pad", 1, 1, infer<pad_maps>, forward<T, pad_maps>, backward<T, pad_maps>,
                   hone::detail::save_none_fn});
  table.push_back({"Split", 1, 1, detail_split::infer, detail_split::forward<T>,
                   detail_split::backward<T>, hone::detail::save_none_fn});
}

}  // namespace hone::ops
