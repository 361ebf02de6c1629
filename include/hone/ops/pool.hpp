// hone/ops/pool.hpp — MaxPool and AveragePool (1-D, 2-D and 3-D: kernel_shape, strides, pads
// or auto_pad, dilations for MaxPool, ceil_mode, count_include_pad for AveragePool), GlobalAveragePool and
// GlobalMaxPool (any rank >= 3). MaxPool's optional Indices output is not supported.
#pragma once

#include <algorithm>  // std::max
#include <limits>     // -infinity
#include <type_traits>  // the float vector path
#include <vector>     // shapes and masks

#include "hone/kernels/reference/pool.hpp"
#include "hone/core/parallel.hpp"
#include "hone/kernels/detail/vectorize.hpp"
#include "hone/ops/op.hpp"

namespace hone::ops {

namespace detail_pool {

inline std::int64_t out_extent(std::int64_t in, std::int64_t k, std::int64_t stride,
                               std::int64_t pad_begin, std::int64_t pad_end, std::int64_t dil,
                               bool ceil_mode) {
  const std::int64_t span = in + pad_begin + pad_end - dil * (k - 1) - 1;
  std::int64_t out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
  // The last window must start inside the input or its leading padding (PyTorch's rule).
  if (ceil_mode && (out - 1) * stride >= in + pad_begin) --out;
  return out;
}

inline kernels::reference::PoolGeometry geometry(const Node& node, const Shape& x, bool max_pool) {
  using hone::detail::shape_fail;
  const std::size_t nd = hone::detail::spatial_axes(node, x);
  if (!node.attrs.has("kernel_shape")) shape_fail(node, "attribute kernel_shape is required");
  const auto ks = hone::detail::spatial_attr(node, "kernel_shape", nd, 1);
  const auto strides = hone::detail::spatial_attr(node, "strides", nd, 1);
  const auto dil = hone::detail::spatial_attr(node, "dilations", nd, 1);
  const std::vector<std::int64_t> spatial(x.begin() + 2, x.end());
  const auto pads = hone::detail::resolve_pads(node, spatial, ks, strides, dil);
  const bool ceil_mode = node.attrs.get_int("ceil_mode", 0) != 0;
  kernels::reference::PoolGeometry g{};
  g.n = x[0];
  g.c = x[1];
  for (std::size_t i = 0; i < nd; ++i) {
    if (ks[i] < 1 || strides[i] < 1 || dil[i] < 1)
      shape_fail(node, "kernel_shape, strides and dilations must be >= 1");
    if (!max_pool && dil[i] != 1)
      throw UnsupportedError(hone::detail::node_prefix(node) + "dilations are not supported");
    if (pads[i] < 0 || pads[i + nd] < 0) shape_fail(node, "pads must be >= 0");
    if (node.attrs.get_string("auto_pad", "NOTSET") == "NOTSET" && (pads[i] >= ks[i] || pads[i + nd] >= ks[i]))
      shape_fail(node, "pads must be smaller than the kernel");
    const std::size_t a = 3 - nd + i;  // spatial axis i lands on D, H or W
    g.in[a] = spatial[i];
    g.k[a] = ks[i];
    g.stride[a] = strides[i];
    g.dilation[a] = dil[i];
    g.pad_begin[a] = pads[i];
    g.pad_end[a] = pads[i + nd];
    g.out[a] = out_extent(g.in[a], g.k[a], g.stride[a], g.pad_begin[a], g.pad_end[a], g.dilation[a], ceil_mode);
    if (g.out[a] < 1)
      shape_fail(node, "the window (", g.dilation[a] * (g.k[a] - 1) + 1, ") is larger than the padded input ", x);
  }
  return g;
}

template <bool Max>
std::vector<Shape> infer(const Node& node, std::span<const Shape> in) {
  if (node.outputs.size() > 1)
    throw UnsupportedError(hone::detail::node_prefix(node) + "the Indices output is not supported");
  const auto g = geometry(node, in[0], Max);
  std::vector<std::int64_t> out = {g.n, g.c};
  for (std::size_t a = 5 - in[0].rank(); a < 3; ++a) out.push_back(g.out[a]);
  return {hone::detail::to_shape(out)};
}

/// Runs f(geometry of planes [lo, hi), lo) over contiguous ranges of the N*C planes in
/// parallel: planes are independent, so each range is the reference loop on fewer planes.
template <class F>
void over_planes(const kernels::reference::PoolGeometry& g, F&& f) {
  const std::int64_t grain = std::max<std::int64_t>(1, (std::int64_t{1} << 14) / std::max<std::int64_t>(1, g.in_size()));
  parallel_for(0, g.n * g.c, grain, [&](std::int64_t lo, std::int64_t hi) {
    kernels::reference::PoolGeometry part = g;
    part.n = 1;
    part.c = hi - lo;
    f(part, lo);
  });
}

/// The taps [lo, hi) of a window axis that fall inside the input: tap t reads
/// o * stride - pad + t * dilation.
inline void inside_taps(std::int64_t o, std::int64_t k, std::int64_t stride, std::int64_t pad,
                        std::int64_t dilation, std::int64_t in, std::int64_t& lo,
                        std::int64_t& hi) {
  const std::int64_t start = o * stride - pad;
  lo = 0;
  hi = k;
  while (lo < k && start + lo * dilation < 0) ++lo;
  while (hi > lo && start + (hi - 1) * dilation >= in) --hi;
}

using PoolVec = kernels::detail::Vec16;  // 16 floats

/// 16 window maxima of one output row, outputs ow .. ow + 15, whose taps all lie inside
/// the row (see maxpool_2d_forward); column stride 1 or 2. For stride 2 the even floats of
/// 32 are taken, or, where those 32 would pass the row's end, the odd floats of the 32
/// starting one earlier (start >= 1 then).
[[gnu::always_inline]] inline void maxpool_block16(const kernels::reference::PoolGeometry& g, const float* xp,
                                                   std::int64_t row0, std::int64_t kh_lo, std::int64_t kh_hi,
                                                   std::int64_t ow, float* out) {
  const std::int64_t W = g.in[2], sw = g.stride[2];
  PoolVec best;
  for (int l = 0; l < 16; ++l) best[l] = -std::numeric_limits<float>::infinity();
  for (std::int64_t kh = kh_lo; kh < kh_hi; ++kh) {
    const float* row = xp + (row0 + kh * g.dilation[1]) * W;
    for (std::int64_t kw = 0; kw < g.k[2]; ++kw) {
      const std::int64_t s0 = ow * sw - g.pad_begin[2] + kw * g.dilation[2];
      PoolVec v;
      if (sw == 1) {
        v = *reinterpret_cast<const PoolVec*>(row + s0);
      } else if (s0 + 31 <= W - 1) {
        const PoolVec a = *reinterpret_cast<const PoolVec*>(row + s0), b = *reinterpret_cast<const PoolVec*>(row + s0 + 16);
        v = __builtin_shufflevector(a, b, HONE_VEC16_EVENS);
      } else {
        const PoolVec a = *reinterpret_cast<const PoolVec*>(row + s0 - 1), b = *reinterpret_cast<const PoolVec*>(row + s0 + 15);
        v = __builtin_shufflevector(a, b, HONE_VEC16_ODDS);
      }
      best = v > best ? v : best;  // as the reference's std::max(best, v): NaNs never taken
    }
  }
  *reinterpret_cast<PoolVec*>(out) = best;
}

/// 2-D max pooling (unit D axis) of `planes` planes, forward: writes y. Each window's
/// maximum is taken in the reference's tap order (rows, then columns) by `v > best`, so
/// NaNs are skipped and of equal values (+0 and -0) the first stays: results equal the
/// reference's bit for bit. For float with column stride 1 or 2, the columns whose taps
/// all lie inside the row run 16 at a time (maxpool_block16; the last block may overlap
/// the one before), the others one by one over their inside taps.
template <class T>
void maxpool_2d_forward(const kernels::reference::PoolGeometry& g, std::int64_t planes,
                        const T* x, T* y) {
  const std::int64_t H = g.in[1], W = g.in[2], OH = g.out[1], OW = g.out[2];
  const std::int64_t sw = g.stride[2], pw = g.pad_begin[2], reach = (g.k[2] - 1) * g.dilation[2];
  std::vector<std::int64_t> kw_lo(static_cast<std::size_t>(OW)), kw_hi(kw_lo.size());
  for (std::int64_t ow = 0; ow < OW; ++ow)
    inside_taps(ow, g.k[2], sw, pw, g.dilation[2], W, kw_lo[static_cast<std::size_t>(ow)],
                kw_hi[static_cast<std::size_t>(ow)]);
  // Vector columns [v0, v1): every tap inside the row; none when fewer than 16.
  std::int64_t v0 = 0, v1 = 0;
  if (std::is_same_v<T, float> && (sw == 1 || sw == 2) && W - 1 + pw - reach >= 0) {
    v0 = (pw + sw - 1) / sw;
    v1 = std::min(OW, (W - 1 + pw - reach) / sw + 1);
    const std::int64_t s0 = v0 * sw - pw;  // stride 2 at s0 = 0 must be able to read 32 floats
    if (v1 - v0 < 16 || (sw == 2 && s0 == 0 && s0 + 31 > W - 1)) v0 = v1 = 0;
  }
  for (std::int64_t p = 0; p < planes; ++p) {
    const T* xp = x + p * H * W;
    for (std::int64_t oh = 0; oh < OH; ++oh) {
      std::int64_t kh_lo, kh_hi;
      inside_taps(oh, g.k[1], g.stride[1], g.pad_begin[1], g.dilation[1], H, kh_lo, kh_hi);
      const std::int64_t row0 = oh * g.stride[1] - g.pad_begin[1];
      T* yr = y + (p * OH + oh) * OW;
      auto one = [&](std::int64_t ow) {
        const auto o = static_cast<std::size_t>(ow);
        const std::int64_t col0 = ow * sw - pw;
        T best = -std::numeric_limits<T>::infinity();
        for (std::int64_t kh = kh_lo; kh < kh_hi; ++kh) {
          const T* row = xp + (row0 + kh * g.dilation[1]) * W + col0;
          for (std::int64_t kw = kw_lo[o]; kw < kw_hi[o]; ++kw) {
            const T v = row[kw * g.dilation[2]];
            best = v > best ? v : best;
          }
        }
        yr[ow] = best;
      };
      for (std::int64_t ow = 0; ow < v0; ++ow) one(ow);
      if constexpr (std::is_same_v<T, float>) {
        if (v1 > v0)
          kernels::detail::vectorized([&]() HONE_INLINE_LAMBDA {
            for (std::int64_t ow = v0;; ow += 16) {
              const std::int64_t at = std::min(ow, v1 - 16);
              maxpool_block16(g, xp, row0, kh_lo, kh_hi, at, yr + at);
              if (at + 16 >= v1) break;
            }
          });
      }
      for (std::int64_t ow = std::max(v0, v1); ow < OW; ++ow) one(ow);
    }
  }
}

/// 2-D max pooling (unit D axis) of `planes` planes, backward: adds dy to dx at the first
/// maximum of each window in tap order (as the reference does; a NaN first tap wins, a
/// later NaN never does). Two passes per output row: the window maxima are found with
/// selects, not branches (the comparison is a coin toss on real data, and mispredicted
/// branches made this 2.8x slower), then dy is added at them.
template <class T>
void maxpool_2d_backward(const kernels::reference::PoolGeometry& g, std::int64_t planes,
                         const T* x, const T* dy, T* dx) {
  const std::int64_t H = g.in[1], W = g.in[2], OH = g.out[1], OW = g.out[2];
  std::vector<std::int64_t> kw_lo(static_cast<std::size_t>(OW)), kw_hi(kw_lo.size());
  for (std::int64_t ow = 0; ow < OW; ++ow)
    inside_taps(ow, g.k[2], g.stride[2], g.pad_begin[2], g.dilation[2], W,
                kw_lo[static_cast<std::size_t>(ow)], kw_hi[static_cast<std::size_t>(ow)]);
  std::vector<std::int64_t> arg(static_cast<std::size_t>(OW));  // -1: window in the padding
  for (std::int64_t p = 0; p < planes; ++p) {
    const T* xp = x + p * H * W;
    T* dxp = dx + p * H * W;
    for (std::int64_t oh = 0; oh < OH; ++oh) {
      std::int64_t kh_lo, kh_hi;
      inside_taps(oh, g.k[1], g.stride[1], g.pad_begin[1], g.dilation[1], H, kh_lo, kh_hi);
      const std::int64_t row0 = oh * g.stride[1] - g.pad_begin[1];
      for (std::int64_t ow = 0; ow < OW; ++ow) {
        const auto o = static_cast<std::size_t>(ow);
        const std::int64_t col0 = ow * g.stride[2] - g.pad_begin[2];
        if (kh_lo >= kh_hi || kw_lo[o] >= kw_hi[o]) {
          arg[o] = -1;
          continue;
        }
        std::int64_t at = (row0 + kh_lo * g.dilation[1]) * W + col0 + kw_lo[o] * g.dilation[2];
        T best = xp[at];
        for (std::int64_t kh = kh_lo; kh < kh_hi; ++kh) {
          const std::int64_t row = (row0 + kh * g.dilation[1]) * W + col0;
          for (std::int64_t kw = kw_lo[o]; kw < kw_hi[o]; ++kw) {
            const std::int64_t off = row + kw * g.dilation[2];
            const T v = xp[off];
            const bool take = v > best;
            best = take ? v : best;
            at = take ? off : at;
          }
        }
        arg[o] = at;
      }
      const T* dyr = dy + (p * OH + oh) * OW;
      for (std::int64_t ow = 0; ow < OW; ++ow)
        if (arg[static_cast<std::size_t>(ow)] >= 0)
          dxp[arg[static_cast<std::size_t>(ow)]] += dyr[ow];
    }
  }
}

template <class T, bool Max>
void forward(ForwardArgs<T>& a) {
  const auto g = geometry(a.node, a.inputs[0].shape(), Max);
  const T* x = a.inputs[0].data();
  T* y = a.outputs[0].data();
  const bool include_pad = a.node.attrs.get_int("count_include_pad", 0) != 0;
  over_planes(g, [&](const kernels::reference::PoolGeometry& part, std::int64_t p) {
    if constexpr (Max) {
      if (g.in[0] == 1 && g.k[0] == 1)
        maxpool_2d_forward(g, part.c, x + p * g.in_size(), y + p * g.out_size());
      else
        kernels::reference::maxpool_forward(part, x + p * g.in_size(), y + p * g.out_size());
    }
    else
      kernels::reference::avgpool_forward(part, x + p * g.in_size(), y + p * g.out_size(), include_pad);
  });
}

template <class T, bool Max>
void backward(BackwardArgs<T>& a) {
  const auto g = geometry(a.node, a.input_shapes[0], Max);
  const T* x = Max ? a.inputs[0].data() : nullptr;
  const T* dy = a.grad_outputs[0].data();
  T* dx = a.grad_inputs[0].data();
  const bool include_pad = a.node.attrs.get_int("count_include_pad", 0) != 0;
  over_planes(g, [&](const kernels::reference::PoolGeometry& part, std::int64_t p) {
    if constexpr (Max) {
      if (g.in[0] == 1 && g.k[0] == 1)
        maxpool_2d_backward(g, part.c, x + p * g.in_size(), dy + p * g.out_size(),
                            dx + p * g.in_size());
      else
        kernels::reference::maxpool_backward(part, x + p * g.in_size(), dy + p * g.out_size(), dx + p * g.in_size());
    }
    else
      kernels::reference::avgpool_backward(part, dy + p * g.out_size(), dx + p * g.in_size(), include_pad);
  });
}

template <bool Max>
SaveSpec saves(const Node&, const std::vector<bool>& need, bool) {
  SaveSpec s = hone::detail::save_none(1, 1);
  s.inputs[0] = Max && need[0];  // the max position is recomputed from X
  return s;
}

// Global pools: X (N,C,d1,...) -> (N,C,1,...,1).
inline std::vector<Shape> infer_global(const Node& node, std::span<const Shape> in) {
  const Shape& x = in[0];
  if (x.rank() < 3) hone::detail::shape_fail(node, "input X must have rank >= 3, got ", x);
  std::vector<std::int64_t> out(x.begin(), x.end());
  for (std::size_t i = 2; i < out.size(); ++i) out[i] = 1;
  return {hone::detail::to_shape(out)};
}

template <class T, bool Max>
void forward_global(ForwardArgs<T>& a) {
  const Tensor<T>& x = a.inputs[0];
  const std::int64_t planes = x.dim(0) * x.dim(1);
  const std::int64_t inner = planes == 0 ? 0 : x.numel() / planes;
  for (std::int64_t p = 0; p < planes; ++p) {
    const T* src = x.data() + p * inner;
    if constexpr (Max) {
      T best = -std::numeric_limits<T>::infinity();
      for (std::int64_t i = 0; i < inner; ++i) best = std::max(best, src[i]);
      a.outputs[0][p] = best;
    } else {
      double s = 0;
      for (std::int64_t i = 0; i < inner; ++i) s += static_cast<double>(src[i]);
      a.outputs[0][p] = static_cast<T>(s / static_cast<double>(inner));
    }
  }
}

template <class T, bool Max>
void backward_global(BackwardArgs<T>& a) {
  const Shape& xs = a.input_shapes[0];
  const std::int64_t planes = xs[0] * xs[1];
  const std::int64_t inner = planes == 0 ? 0 : xs.numel() / planes;
  T* dx = a.grad_inputs[0].data();
  for (std::int64_t p = 0; p < planes; ++p) {
    const T g = a.grad_outputs[0][p];
    if constexpr (Max) {
      const T* src = a.inputs[0].data() + p * inner;
      std::int64_t arg = 0;
      for (std::int64_t i = 1; i < inner; ++i)
        if (src[i] > src[arg]) arg = i;
      dx[p * inner + arg] += g;
    } else {
      const T share = g / static_cast<T>(inner);
      for (std::int64_t i = 0; i < inner; ++i) dx[p * inner + i] += share;
    }
  }
}

}  // namespace detail_pool

template <class T>
void register_pool(std::vector<OpDef<T>>& table) {
  using namespace detail_pool;
  table.push_back({"MaxPool", 1, 1, infer<true>, forward<T, true>, backward<T, true>, saves<true>, true});
  table.push_back(
      {"AveragePool", 1, 1, infer<false>, forward<T, false>, backward<T, false>, saves<false>});
  table.push_back({"GlobalAveragePool", 1, 1, infer_global, forward_global<T, false>,
                   backward_global<T, false>, saves<false>});
  table.push_back({"GlobalMaxPool", 1, 1, infer_global, forward_global<T, true>,
                   backward_global<T, true>, saves<true>});
}

}  // namespace hone::ops
