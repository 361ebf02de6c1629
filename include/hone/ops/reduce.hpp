// hone/ops/reduce.hpp — ReduceSum and ReduceMean (ONNX: `axes` as an attribute as before
// opset 13/18, all axes when absent; keepdims, default 1; an importer folds a constant axes
// input into the attribute) and Dropout (attribute ratio, default 0.5; train mode drops
// each element with probability ratio and scales the rest by 1/(1-ratio), drawing from the
// node's seeded stream; eval and inference modes pass the input through).
#pragma once

#include <algorithm>  // std::copy_n
#include <vector>     // shapes and masks

#include "hone/ops/elementwise.hpp"  // detail_binary::Broadcast
#include "hone/ops/op.hpp"

namespace hone::ops {

namespace detail_reduce {

/// The reduced shape with kept (extent 1) axes; `keep` says whether the result keeps them.
inline Shape kept_shape(const Node& node, const Shape& x) {
  const auto r = static_cast<std::int64_t>(x.rank());
  std::vector<std::int64_t> dims(x.begin(), x.end());
  const bool all = !node.attrs.has("axes");
  std::vector<bool> reduce(x.rank(), all);
  for (auto a : node.attrs.get_ints("axes", {})) {
    if (a < -r || a >= r)
      hone::detail::shape_fail(node, "axis ", a, " is out of range for input ", x);
    reduce[static_cast<std::size_t>(a < 0 ? a + r : a)] = true;
  }
  for (std::size_t i = 0; i < dims.size(); ++i)
    if (reduce[i]) dims[i] = 1;
  return hone::detail::to_shape(dims);
}

inline std::vector<Shape> infer(const Node& node, std::span<const Shape> in) {
  const Shape kept = kept_shape(node, in[0]);
  if (node.attrs.get_int("keepdims", 1) != 0) return {kept};
  const auto r = static_cast<std::int64_t>(in[0].rank());
  const bool all = !node.attrs.has("axes");
  std::vector<bool> reduce(in[0].rank(), all);
  for (auto a : node.attrs.get_ints("axes", {})) reduce[static_cast<std::size_t>(a < 0 ? a + r : a)] = true;
  std::vector<std::int64_t> dims;
  for (std::size_t i = 0; i < in[0].rank(); ++i)
    if (!reduce[i]) dims.push_back(in[0][i]);
  return {hone::detail::to_shape(dims)};
}

template <class T, bool Mean>
void forward(ForwardArgs<T>& a) {
  const Shape& x = a.inputs[0].shape();
  const Shape kept = kept_shape(a.node, x);
  std::vector<double> acc(static_cast<std::size_t>(kept.numel()), 0.0);
  const detail_binary::Broadcast bc(x, kept, x);
  bc.for_each([&](std::int64_t o, std::int64_t, std::int64_t ib) {
    acc[static_cast<std::size_t>(ib)] += static_cast<double>(a.inputs[0][o]);
  });
  const double count = kept.numel() == 0 ? 1.0 : static_cast<double>(x.numel() / kept.numel());
  for (std::size_t i = 0; i < acc.size(); ++i)
    a.outputs[0][static_cast<std::int64_t>(i)] = static_cast<T>(Mean ? acc[i] / count : acc[i]);
}

template <class T, bool Mean>
void backward(BackwardArgs<T>& a) {
  const Shape& x = a.input_shapes[0];
  const Shape kept = kept_shape(a.node, x);
  const T scale = Mean ? static_cast<T>(kept.numel()) / static_cast<T>(x.numel()) : T(1);
  const detail_binary::Broadcast bc(x, kept, x);
  bc.for_each([&](std::int64_t o, std::int64_t, std::int64_t ib) {
    a.grad_inputs[0][o] += a.grad_outputs[0][ib] * scale;
  });
}

}  // namespace detail_reduce

namespace detail_dropout {

inline std::vector<Shape> infer(const Node& node, std::span<const Shape> in) {
  const double ratio = node.attrs.get_float("ratio", 0.5);
  if (!(ratio >= 0 && ratio < 1))
    throw InvalidArgument(hone::detail::node_prefix(node) +
                          hone::detail::concat("ratio must be in [0, 1), got ", ratio));
  if (node.outputs.size() > 1)
    throw UnsupportedError(hone::detail::node_prefix(node) + "the mask output is not supported");
  return {in[0]};
}

template <class T>
void forward(ForwardArgs<T>& a) {
  const std::int64_t n = a.inputs[0].numel();
  const double ratio = a.node.attrs.get_float("ratio", 0.5);
  if (!a.training || ratio == 0) {
    std::copy_n(a.inputs[0].data(), n, a.outputs[0].data());
    return;
  }
  Tensor<T> scale(a.inputs[0].shape());
  const T keep = static_cast<T>(1.0 / (1.0 - ratio));
  for (std::int64_t i = 0; i < n; ++i) {
    scale[i] = a.gen.uniform_double() < ratio ? T(0) : keep;
    a.outputs[0][i] = a.inputs[0][i] * scale[i];
  }
  if (a.save) a.saved.push_back(scale);
}

template <class T>
void backward(BackwardArgs<T>& a) {
  const std::int64_t n = a.input_shapes[0].numel();
  for (std::int64_t i = 0; i < n; ++i)
    a.grad_inputs[0][i] += a.saved.empty() ? a.grad_outputs[0][i] : a.grad_outputs[0][i] * a.saved[0][i];
}

}  // namespace detail_dropout

template <class T>
void register_reduce(std::vector<OpDef<T>>& table) {
  using namespace detail_reduce;
  table.push_back({"ReduceSum", 1, 1, infer, forward<T, false>, backward<T, false>, hone::detail::save_none_fn});
  table.push_back({"ReduceMean", 1, 1, infer, forward<T, true>, backward<T, true>, hone::detail::save_none_fn});
  table.push_back({"Dropout", 1, 1, detail_dropout::infer, detail_dropout::forward<T>,
                   detail_dropout::backward<T>, hone::detail::save_none_fn});
}

}  // namespace hone::ops
