// hone/ops/conv.hpp — Conv (ONNX) over 1, 2 or 3 spatial axes: strides, asymmetric pads or
// auto_pad, dilations, groups (depthwise included), optional bias. Inputs X (N,C,spatial...),
// W (OC,C/group,kernel...), B (OC); spatial is (W), (H,W) or (D,H,W).
//
// double runs the reference loops (kernels/reference/conv.hpp), the oracle. float runs the
// multi-threaded kernels of kernels/conv.hpp (im2col + GEMM per image, images over the
// threads; 1x1 straight to GEMM; direct depthwise loops); the gradient table checks it
// against double.
// 1-D and 2-D inputs use unit leading axes of the same 3-axis geometry.
#pragma once

#include <algorithm>    // std::fill_n
#include <type_traits>  // the float path
#include <vector>       // shapes

#include "hone/kernels/conv.hpp"
#include "hone/kernels/reference/conv.hpp"
#include "hone/ops/op.hpp"

namespace hone::ops {

namespace detail_conv {

inline kernels::reference::ConvGeometry geometry(const Node& node, std::span<const Shape> in) {
  using hone::detail::shape_fail;
  const Shape& x = in[0];
  const Shape& w = in[1];
  const std::size_t nd = hone::detail::spatial_axes(node, x);
  if (w.rank() != x.rank())
    shape_fail(node, "weight W must have rank ", x.rank(), " (OC, C/group, kernel...) for input ", x,
               ", got shape ", w);
  const auto strides = hone::detail::spatial_attr(node, "strides", nd, 1);
  const auto dil = hone::detail::spatial_attr(node, "dilations", nd, 1);
  for (auto s : strides)
    if (s < 1) shape_fail(node, "strides must be >= 1");
  for (auto d : dil)
    if (d < 1) shape_fail(node, "dilations must be >= 1");
  const std::vector<std::int64_t> spatial(x.begin() + 2, x.end()), kernel(w.begin() + 2, w.end());
  if (node.attrs.has("kernel_shape") && node.attrs.get_ints("kernel_shape", {}) != kernel)
    shape_fail(node, "kernel_shape does not match weight ", w);
  const auto pads = hone::detail::resolve_pads(node, spatial, kernel, strides, dil);
  for (auto p : pads)
    if (p < 0) shape_fail(node, "pads must be >= 0");
  const std::int64_t group = node.attrs.get_int("group", 1);
  if (group < 1) shape_fail(node, "group must be >= 1, got ", group);
  if (w[1] * group != x[1])
    shape_fail(node, "weight ", w, " expects ", w[1] * group, " input channels",
               group > 1 ? hone::detail::concat(" (", w[1], " per group x ", group, " groups)")
                         : std::string(),
               " but the input has ", x[1]);
  if (w[0] % group != 0)
    shape_fail(node, "weight ", w, " has ", w[0], " output channels, not divisible by group ",
               group);
  if (in.size() > 2 && !(in[2] == Shape{w[0]}))
    shape_fail(node, "bias B must have shape (", w[0], "), got ", in[2]);
  kernels::reference::ConvGeometry g{};
  g.n = x[0];
  g.c = x[1];
  g.oc = w[0];
  g.groups = group;
  for (std::size_t i = 0; i < nd; ++i) {
    const std::size_t a = 3 - nd + i;  // spatial axis i lands on D, H or W
    g.in[a] = spatial[i];
    g.k[a] = kernel[i];
    g.stride[a] = strides[i];
    g.dilation[a] = dil[i];
    g.pad_begin[a] = pads[i];
    const std::int64_t span = spatial[i] + pads[i] + pads[i + nd] - dil[i] * (kernel[i] - 1) - 1;
    if (span < 0)
      shape_fail(node, "the dilated kernel (", dil[i] * (kernel[i] - 1) + 1, ") on spatial axis ", i,
                 " is larger than the padded input ", x);
    g.out[a] = span / strides[i] + 1;
  }
  return g;
}

inline std::vector<Shape> infer(const Node& node, std::span<const Shape> in) {
  const auto g = geometry(node, in);
  std::vector<std::int64_t> out = {g.n, g.oc};
  for (std::size_t a = 5 - in[0].rank(); a < 3; ++a) out.push_back(g.out[a]);
  return {hone::detail::to_shape(out)};
}

template <class T>
void forward(ForwardArgs<T>& a) {
  const Shape shapes[2] = {a.inputs[0].shape(), a.inputs[1].shape()};
  const auto g = geometry(a.node, shapes);
  const T* bias = a.inputs.size() > 2 ? a.inputs[2].data() : nullptr;
  if constexpr (std::is_same_v<T, float>)
    kernels::conv_forward(g, a.inputs[0].data(), a.inputs[1].data(), bias, a.outputs[0].data());
  else
    kernels::reference::conv_forward(g, a.inputs[0].data(), a.inputs[1].data(), bias,
                                     a.outputs[0].data());
}

/// Assigns its gradients (OpDef::assigns_grads): the float kernels write dx (assign_dx);
/// the weight and bias gradients, which the kernels add into, are zeroed first (small).
template <class T>
void backward(BackwardArgs<T>& a) {
  const auto g = geometry(a.node, a.input_shapes);
  const T* dy = a.grad_outputs[0].data();
  for (std::size_t i = 1; i < a.grad_inputs.size(); ++i)
    if (a.need_grad[i]) std::fill_n(a.grad_inputs[i].data(), a.grad_inputs[i].numel(), T(0));
  if constexpr (std::is_same_v<T, float>) {
    if (a.need_grad[0] || a.need_grad[1])
      kernels::conv_backward(g, dy, a.need_grad[1] ? a.inputs[0].data() : nullptr,
                    a.need_grad[0] ? a.inputs[1].data() : nullptr,
                    a.need_grad[0] ? a.grad_inputs[0].data() : nullptr,
                    a.need_grad[1] ? a.grad_inputs[1].data() : nullptr, true);
  } else {
    if (a.need_grad[0]) std::fill_n(a.grad_inputs[0].data(), a.grad_inputs[0].numel(), T(0));
    if (a.need_grad[0])
      kernels::reference::conv_backward_data(g, dy, a.inputs[1].data(), a.grad_inputs[0].data());
    if (a.need_grad[1])
      kernels::reference::conv_backward_weight(g, dy, a.inputs[0].data(), a.grad_inputs[1].data());
  }
  if (a.need_grad.size() > 2 && a.need_grad[2])
    kernels::reference::conv_backward_bias(g, dy, a.grad_inputs[2].data());
}

inline SaveSpec saves(const Node&, const std::vector<bool>& need, bool) {
  SaveSpec s = hone::detail::save_none(need.size(), 1);
  s.inputs[1] = need[0];  // dX reads W
  s.inputs[0] = need[1];  // dW reads X
  return s;
}

}  // namespace detail_conv

template <class T>
void register_conv(std::vector<OpDef<T>>& table) {
  table.push_back({"Conv", 2, 3, detail_conv::infer, detail_conv::forward<T>,
                   detail_conv::backward<T>, detail_conv::saves, true, true});
}

}  // namespace hone::ops
