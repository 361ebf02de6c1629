// hone/ops/conv.hpp — Conv (ONNX) over 1, 2 or 3 spatial axes: strides, asymmetric pads or
// auto_pad, dilations, groups (depthwise included), optional bias. Inputs X (N,C,spatial...),
// W (OC,C/group,kernel...), B (OC); spatial is (W), (H,W) or (D,H,W).
//
// double runs the reference loops (kernels/reference/conv.hpp), the oracle. float lowers each
// image and group to a GEMM through im2col and calls hone::gemm (multi-threaded): a stopgap
// until the NHWC implicit-GEMM kernels; the gradient table checks it against double.
// 1-D and 2-D inputs use unit leading axes of the same 3-axis geometry.
#pragma once

#include <type_traits>  // the float path, std::conditional_t
#include <vector>       // shapes, masks, the im2col buffer

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

// x is (C,spatial...) of one image; col is (C/g*K, out) for group grp, K the kernel size and
// out the output size: row (ci, tap) holds the input element each output position multiplies
// with w[., ci, tap] (0 in the padding). With Scatter, the reverse: col is added back into x
// (col2im).
template <bool Scatter>
void im2col(const kernels::reference::ConvGeometry& g, std::int64_t grp,
            std::conditional_t<Scatter, float*, const float*> x, float* col) {
  const std::int64_t cg = g.c / g.groups;
  for (std::int64_t ci = 0; ci < cg; ++ci) {
    auto* plane = x + (grp * cg + ci) * g.in_size();
    for (std::int64_t a = 0; a < g.k[0]; ++a)
      for (std::int64_t b = 0; b < g.k[1]; ++b)
        for (std::int64_t e = 0; e < g.k[2]; ++e) {
          float* row = col + (ci * g.kernel_size() + (a * g.k[1] + b) * g.k[2] + e) * g.out_size();
          for (std::int64_t i = 0; i < g.out[0]; ++i) {
            const std::int64_t z = i * g.stride[0] - g.pad_begin[0] + a * g.dilation[0];
            for (std::int64_t j = 0; j < g.out[1]; ++j) {
              const std::int64_t y = j * g.stride[1] - g.pad_begin[1] + b * g.dilation[1];
              const bool row_inside = z >= 0 && z < g.in[0] && y >= 0 && y < g.in[1];
              float* out = row + (i * g.out[1] + j) * g.out[2];
              for (std::int64_t l = 0; l < g.out[2]; ++l) {
                const std::int64_t xi = l * g.stride[2] - g.pad_begin[2] + e * g.dilation[2];
                const bool inside = row_inside && xi >= 0 && xi < g.in[2];
                const std::int64_t at = (z * g.in[1] + y) * g.in[2] + xi;
                if constexpr (Scatter) {
                  if (inside) plane[at] += out[l];
                } else {
                  out[l] = inside ? plane[at] : 0.0f;
                }
              }
            }
          }
        }
  }
}

inline void forward_gemm(const kernels::reference::ConvGeometry& g, const float* x,
                         const float* w, const float* bias, float* y) {
  const std::int64_t cg = g.c / g.groups, ocg = g.oc / g.groups, osz = g.out_size();
  const std::int64_t k = cg * g.kernel_size();
  std::vector<float> col(static_cast<std::size_t>(k * osz));
  for (std::int64_t n = 0; n < g.n; ++n)
    for (std::int64_t grp = 0; grp < g.groups; ++grp) {
      im2col<false>(g, grp, x + n * g.c * g.in_size(), col.data());
      float* out = y + (n * g.oc + grp * ocg) * osz;
      hone::gemm(Trans::No, Trans::No, ocg, osz, k, 1.0f, w + grp * ocg * k, k, col.data(), osz,
                 0.0f, out, osz);
      if (bias)
        for (std::int64_t o = 0; o < ocg; ++o)
          for (std::int64_t s = 0; s < osz; ++s) out[o * osz + s] += bias[grp * ocg + o];
    }
}

inline void backward_gemm(const kernels::reference::ConvGeometry& g, const float* dy,
                          const float* x, const float* w, float* dx, float* dw) {
  const std::int64_t cg = g.c / g.groups, ocg = g.oc / g.groups, osz = g.out_size();
  const std::int64_t k = cg * g.kernel_size();
  std::vector<float> col(static_cast<std::size_t>(k * osz));
  for (std::int64_t n = 0; n < g.n; ++n)
    for (std::int64_t grp = 0; grp < g.groups; ++grp) {
      const float* dyg = dy + (n * g.oc + grp * ocg) * osz;
      if (dw) {  // dW_g (ocg, k) += dY_g (ocg, osz) col^T
        im2col<false>(g, grp, x + n * g.c * g.in_size(), col.data());
        hone::gemm(Trans::No, Trans::Yes, ocg, k, osz, 1.0f, dyg, osz, col.data(), osz, 1.0f,
                   dw + grp * ocg * k, k);
      }
      if (dx) {  // dcol (k, osz) = W_g^T dY_g, scattered back into dx
        hone::gemm(Trans::Yes, Trans::No, k, osz, ocg, 1.0f, w + grp * ocg * k, k, dyg, osz, 0.0f,
                   col.data(), osz);
        im2col<true>(g, grp, dx + n * g.c * g.in_size(), col.data());
      }
    }
}

template <class T>
void forward(ForwardArgs<T>& a) {
  const Shape shapes[2] = {a.inputs[0].shape(), a.inputs[1].shape()};
  const auto g = geometry(a.node, shapes);
  const T* bias = a.inputs.size() > 2 ? a.inputs[2].data() : nullptr;
  if constexpr (std::is_same_v<T, float>)
    forward_gemm(g, a.inputs[0].data(), a.inputs[1].data(), bias, a.outputs[0].data());
  else
    kernels::reference::conv_forward(g, a.inputs[0].data(), a.inputs[1].data(), bias,
                                     a.outputs[0].data());
}

template <class T>
void backward(BackwardArgs<T>& a) {
  const auto g = geometry(a.node, a.input_shapes);
  const T* dy = a.grad_outputs[0].data();
  if constexpr (std::is_same_v<T, float>) {
    if (a.need_grad[0] || a.need_grad[1])
      backward_gemm(g, dy, a.need_grad[1] ? a.inputs[0].data() : nullptr,
                    a.need_grad[0] ? a.inputs[1].data() : nullptr,
                    a.need_grad[0] ? a.grad_inputs[0].data() : nullptr,
                    a.need_grad[1] ? a.grad_inputs[1].data() : nullptr);
  } else {
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
                   detail_conv::backward<T>, detail_conv::saves});
}

}  // namespace hone::ops
