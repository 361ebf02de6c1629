// hone/ops/conv.hpp — Conv (ONNX, 2-D): stride, asymmetric pads or auto_pad, dilation, groups
// (depthwise included), optional bias. Inputs X (N,C,H,W), W (OC,C/group,KH,KW), B (OC).
//
// double runs the reference loops (kernels/reference/conv.hpp), the oracle. float lowers each
// image and group to a GEMM through im2col and calls hone::gemm (multi-threaded): a stopgap
// until the NHWC implicit-GEMM kernels; the gradient table checks it against double.
#pragma once

#include <type_traits>  // the float path, std::conditional_t
#include <vector>       // shapes, masks, the im2col buffer

#include "hone/kernels/reference/conv.hpp"
#include "hone/ops/op.hpp"

namespace hone::ops {

namespace detail_conv {

inline kernels::reference::Conv2dGeometry geometry(const Node& node, std::span<const Shape> in) {
  using hone::detail::shape_fail;
  const Shape& x = in[0];
  const Shape& w = in[1];
  hone::detail::expect_rank(node, x, 4, "input X");
  hone::detail::expect_rank(node, w, 4, "weight W");
  const auto strides = hone::detail::spatial_attr(node, "strides", 2, 1);
  const auto dil = hone::detail::spatial_attr(node, "dilations", 2, 1);
  const std::int64_t spatial[2] = {x[2], x[3]}, kernel[2] = {w[2], w[3]};
  const auto pads = hone::detail::resolve_pads(node, spatial, kernel, strides, dil);
  const std::int64_t group = node.attrs.get_int("group", 1);
  if (group < 1) shape_fail(node, "group must be >= 1, got ", group);
  for (auto s : strides)
    if (s < 1) shape_fail(node, "strides must be >= 1");
  for (auto d : dil)
    if (d < 1) shape_fail(node, "dilations must be >= 1");
  for (auto p : pads)
    if (p < 0) shape_fail(node, "pads must be >= 0");
  if (node.attrs.has("kernel_shape")) {
    const auto ks = node.attrs.get_ints("kernel_shape", {});
    if (ks.size() != 2 || ks[0] != w[2] || ks[1] != w[3])
      shape_fail(node, "kernel_shape does not match weight ", w);
  }
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
  kernels::reference::Conv2dGeometry g{};
  g.n = x[0]; g.c = x[1]; g.h = x[2]; g.w = x[3];
  g.oc = w[0]; g.kh = w[2]; g.kw = w[3];
  g.stride_h = strides[0]; g.stride_w = strides[1];
  g.pad_top = pads[0]; g.pad_left = pads[1];
  g.dilation_h = dil[0]; g.dilation_w = dil[1];
  g.groups = group;
  const std::int64_t eh = g.h + pads[0] + pads[2] - dil[0] * (g.kh - 1) - 1;
  const std::int64_t ew = g.w + pads[1] + pads[3] - dil[1] * (g.kw - 1) - 1;
  if (eh < 0 || ew < 0)
    shape_fail(node, "the dilated kernel (", dil[0] * (g.kh - 1) + 1, "x",
               dil[1] * (g.kw - 1) + 1, ") is larger than the padded input ", x);
  g.oh = eh / g.stride_h + 1;
  g.ow = ew / g.stride_w + 1;
  return g;
}

inline std::vector<Shape> infer(const Node& node, std::span<const Shape> in) {
  const auto g = geometry(node, in);
  return {Shape{g.n, g.oc, g.oh, g.ow}};
}

// x is (C,H,W) of one image; col is (C/g*KH*KW, OH*OW) for group grp: row (ci, p, q) holds the
// input element each output position multiplies with w[., ci, p, q] (0 in the padding).
// With Scatter, the reverse: col is added back into x (col2im).
template <bool Scatter>
void im2col(const kernels::reference::Conv2dGeometry& g, std::int64_t grp,
            std::conditional_t<Scatter, float*, const float*> x, float* col) {
  const std::int64_t cg = g.c / g.groups, ohw = g.oh * g.ow;
  for (std::int64_t ci = 0; ci < cg; ++ci) {
    auto* plane = x + (grp * cg + ci) * g.h * g.w;
    for (std::int64_t p = 0; p < g.kh; ++p)
      for (std::int64_t q = 0; q < g.kw; ++q) {
        float* row = col + ((ci * g.kh + p) * g.kw + q) * ohw;
        for (std::int64_t i = 0; i < g.oh; ++i) {
          const std::int64_t hi = i * g.stride_h - g.pad_top + p * g.dilation_h;
          for (std::int64_t j = 0; j < g.ow; ++j) {
            const std::int64_t wi = j * g.stride_w - g.pad_left + q * g.dilation_w;
            const bool inside = hi >= 0 && hi < g.h && wi >= 0 && wi < g.w;
            if constexpr (Scatter) {
              if (inside) plane[hi * g.w + wi] += row[i * g.ow + j];
            } else {
              row[i * g.ow + j] = inside ? plane[hi * g.w + wi] : 0.0f;
            }
          }
        }
      }
  }
}

inline void forward_gemm(const kernels::reference::Conv2dGeometry& g, const float* x,
                         const float* w, const float* bias, float* y) {
  const std::int64_t cg = g.c / g.groups, ocg = g.oc / g.groups, ohw = g.oh * g.ow;
  const std::int64_t k = cg * g.kh * g.kw;
  std::vector<float> col(static_cast<std::size_t>(k * ohw));
  for (std::int64_t n = 0; n < g.n; ++n)
    for (std::int64_t grp = 0; grp < g.groups; ++grp) {
      im2col<false>(g, grp, x + n * g.c * g.h * g.w, col.data());
      float* out = y + (n * g.oc + grp * ocg) * ohw;
      hone::gemm(Trans::No, Trans::No, ocg, ohw, k, 1.0f, w + grp * ocg * k, k, col.data(), ohw,
                 0.0f, out, ohw);
      if (bias)
        for (std::int64_t o = 0; o < ocg; ++o)
          for (std::int64_t s = 0; s < ohw; ++s) out[o * ohw + s] += bias[grp * ocg + o];
    }
}

inline void backward_gemm(const kernels::reference::Conv2dGeometry& g, const float* dy,
                          const float* x, const float* w, float* dx, float* dw) {
  const std::int64_t cg = g.c / g.groups, ocg = g.oc / g.groups, ohw = g.oh * g.ow;
  const std::int64_t k = cg * g.kh * g.kw;
  std::vector<float> col(static_cast<std::size_t>(k * ohw));
  for (std::int64_t n = 0; n < g.n; ++n)
    for (std::int64_t grp = 0; grp < g.groups; ++grp) {
      const float* dyg = dy + (n * g.oc + grp * ocg) * ohw;
      if (dw) {  // dW_g (ocg, k) += dY_g (ocg, ohw) col^T
        im2col<false>(g, grp, x + n * g.c * g.h * g.w, col.data());
        hone::gemm(Trans::No, Trans::Yes, ocg, k, ohw, 1.0f, dyg, ohw, col.data(), ohw, 1.0f,
                   dw + grp * ocg * k, k);
      }
      if (dx) {  // dcol (k, ohw) = W_g^T dY_g, scattered back into dx
        hone::gemm(Trans::Yes, Trans::No, k, ohw, ocg, 1.0f, w + grp * ocg * k, k, dyg, ohw, 0.0f,
                   col.data(), ohw);
        im2col<true>(g, grp, dx + n * g.c * g.h * g.w, col.data());
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
    kernels::reference::conv2d_forward(g, a.inputs[0].data(), a.inputs[1].data(), bias,
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
      kernels::reference::conv2d_backward_data(g, dy, a.inputs[1].data(), a.grad_inputs[0].data());
    if (a.need_grad[1])
      kernels::reference::conv2d_backward_weight(g, dy, a.inputs[0].data(),
                                                 a.grad_inputs[1].data());
  }
  if (a.need_grad.size() > 2 && a.need_grad[2])
    kernels::reference::conv2d_backward_bias(g, dy, a.grad_inputs[2].data());
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
