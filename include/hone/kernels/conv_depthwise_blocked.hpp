// hone/kernels/conv_depthwise_blocked.hpp — depthwise convolution with 16 channels per
// vector, all three passes, for one output channel per input channel and channels a
// multiple of 16. kernels/conv.hpp takes it where dw_channel_blocked says so; tested against
// kernels/reference/conv.hpp (tests/unit/test_conv_kernels.cpp).
//
// The column-vectorised loops of conv_depthwise.hpp leave lanes idle and stage blocks on
// small planes, and their backward passes read-modify-write or re-reduce per plane. Here,
// per image and block of 16 channels, the 16 planes are interleaved (16 x 16 register
// transposes) into a zero-padded (rows, cols, 16) buffer, one channel per lane, so every
// lane of every vector is real work:
//   forward           out[p] = bias + sum over taps of w[tap] * in[window(p) + tap]
//   backward-weights  acc[tap] += dy[p] * in[window(p) + tap], over the images and
//                     positions in order (results depend only on the data)
//   backward-data     stride 1: the forward of the transposed geometry (dy padded, the
//                     kernel flipped; gathers); other strides: dx[window(p) + tap] +=
//                     w[tap] * dy[p] into a padded buffer
// and the results are transposed back to their planes (added into dx).
// Vectors are only loaded and stored through float pointers (indexing a DwVec pointer let
// GCC assume 64-byte alignment) and never passed to or returned from a function that is
// not inlined into a target-specific one (the vector ABI differs per ISA).
// The forward runs in parallel over images x blocks of 16 channels, the backward over
// blocks (one thread sums a block's weight gradient over all images).
#pragma once

#include <algorithm>  // std::fill_n, std::min, std::max
#include <cstdint>    // std::int64_t
#include <type_traits> // std::conditional_t
#include <vector>     // tap offsets

#include "hone/core/parallel.hpp"
#include "hone/kernels/conv_depthwise.hpp"  // ConvEpilogue, DwVec, dw_transposed
#include "hone/kernels/detail/scratch.hpp"
#include "hone/kernels/detail/vectorize.hpp"
#include "hone/kernels/reference/conv.hpp"

namespace hone::kernels::detail_conv {

/// Whether the channel-blocked loops take a depthwise convolution: one output channel per
/// input channel and channels a multiple of 16. The forward also needs stride > 1 or input
/// rows of at most 56 columns: on MobileNetV2's 32 -> 32 @ 112 (stride 1, batch 8) the
/// column-vectorised loops ran 1.91 / 2.11 ms on 2 threads against 2.05 / 2.30 blocked,
/// while every other MobileNetV2 layer ran faster blocked (96 @ 112 stride 2: 5.1 -> 3.5
/// ms, 144 @ 56: 2.6 -> 2.0 ms). The backward passes run over blocks of channels, so they
/// also need a block per thread; with that they ran faster blocked on every MobileNetV2
/// layer (2 threads, batch 8, data / weight gradient: 32 @ 112 2.7 / 3.1 -> 2.4 / 1.7 ms,
/// 144 @ 56 3.1 / 3.4 -> 2.6 / 2.0 ms, 960 @ 7 0.67 / 0.66 -> 0.22 / 0.18 ms).
inline bool dw_channel_blocked(const reference::ConvGeometry& g, bool backward) {
  if (g.oc != g.c || g.c % kDwLanes != 0) return false;
  if (backward) return g.c / kDwLanes >= static_cast<std::int64_t>(get_num_threads());
  return g.stride[2] > 1 || g.in[2] <= 56;
}

/// Transposes a 16 x 16 block: row i of the block is the 16 floats at src + i * ld_src,
/// and column j of it is stored as the 16 floats at dst + j * ld_dst. Four rounds of
/// interleaving rows i and i + 8 (each round moves every element one bit of its index
/// from the row to the column).
[[gnu::always_inline]] inline void dw_transpose16(const float* src, std::int64_t ld_src, float* dst,
                                                  std::int64_t ld_dst) {
  DwVec r[16], t[16];
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i) r[i] = *reinterpret_cast<const DwVec*>(src + i * ld_src);
#pragma GCC unroll 4
  for (int round = 0; round < 4; ++round) {
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) {
      t[2 * i] = __builtin_shufflevector(r[i], r[i + 8], 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
      t[2 * i + 1] =
          __builtin_shufflevector(r[i], r[i + 8], 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    }
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) r[i] = t[i];
  }
#pragma GCC unroll 16
  for (int j = 0; j < 16; ++j) *reinterpret_cast<DwVec*>(dst + j * ld_dst) = r[j];
}

/// The blocked layout of one geometry: an input plane padded to rows x cols positions of 16
/// floats (one per channel), the input at rows [pad_h, pad_h + H) and columns [pad_w,
/// pad_w + W), zeros around it; per tap, its offset in floats from a window's first position.
struct DwBlocked {
  std::int64_t H, W, OH, OW, sh, sw, ph, pw, taps, rows, cols;
  std::vector<std::int64_t> tap_off;

  explicit DwBlocked(const reference::ConvGeometry& g)
      : H(g.in[1]), W(g.in[2]), OH(g.out[1]), OW(g.out[2]), sh(g.stride[1]), sw(g.stride[2]), ph(g.pad_begin[1]),
        pw(g.pad_begin[2]), taps(g.k[1] * g.k[2]) {
    rows = std::max(H + ph, (OH - 1) * sh + (g.k[1] - 1) * g.dilation[1] + 1);
    cols = std::max(W + pw, (OW - 1) * sw + (g.k[2] - 1) * g.dilation[2] + 1);
    for (std::int64_t kh = 0; kh < g.k[1]; ++kh)
      for (std::int64_t kw = 0; kw < g.k[2]; ++kw)
        tap_off.push_back((kh * g.dilation[1] * cols + kw * g.dilation[2]) * kDwLanes);
  }
  std::int64_t size() const { return rows * cols * kDwLanes; }  // floats in a padded buffer
  /// Floats from the buffer's start to the first position of output (oh, ow)'s window.
  std::int64_t window(std::int64_t oh, std::int64_t ow) const { return (oh * sh * cols + ow * sw) * kDwLanes; }
};

/// The 16 planes of h x w floats at x0 (plane floats apart) -> positions (r0 + i, c0 + j)
/// of buf (cols positions per row). stage and tr: 256 floats each.
[[gnu::always_inline]] inline void dw_interleave(const float* x0, std::int64_t plane, std::int64_t h, std::int64_t w,
                                                 float* buf, std::int64_t cols, std::int64_t r0, std::int64_t c0,
                                                 float* stage, float* tr) {
  const std::int64_t n = h * w;
  const bool dense = cols == w && r0 == 0 && c0 == 0;
  for (std::int64_t s0 = 0; s0 < n; s0 += kDwLanes) {
    const std::int64_t m = std::min(kDwLanes, n - s0);
    const float* src = x0 + s0;
    std::int64_t ld = plane;
    if (m < kDwLanes) {  // the last positions of the plane: zero-padded staging block
      std::fill_n(stage, kDwLanes * kDwLanes, 0.0f);
      for (std::int64_t l = 0; l < kDwLanes; ++l)
        for (std::int64_t i = 0; i < m; ++i) stage[l * kDwLanes + i] = x0[l * plane + s0 + i];
      src = stage;
      ld = kDwLanes;
    } else if (dense) {
      dw_transpose16(src, ld, buf + s0 * kDwLanes, kDwLanes);
      continue;
    }
    dw_transpose16(src, ld, tr, kDwLanes);
    std::int64_t i = s0 / w, j = s0 % w;
    for (std::int64_t q = 0; q < m; ++q) {
      *reinterpret_cast<DwVec*>(buf + ((i + r0) * cols + c0 + j) * kDwLanes) =
          *reinterpret_cast<const DwVec*>(tr + q * kDwLanes);
      if (++j == w) {
        j = 0;
        ++i;
      }
    }
  }
}

/// The reverse: positions (r0 + i, c0 + j) of buf -> the 16 planes of h x w floats at y0
/// (plane floats apart), stored or, with Add, added.
template <bool Add>
[[gnu::always_inline]] inline void dw_deinterleave(const float* buf, std::int64_t cols, std::int64_t r0,
                                                   std::int64_t c0, std::int64_t h, std::int64_t w, float* y0,
                                                   std::int64_t plane, float* stage, float* tr) {
  const std::int64_t n = h * w;
  const bool dense = cols == w && r0 == 0 && c0 == 0;
  for (std::int64_t s0 = 0; s0 < n; s0 += kDwLanes) {
    const std::int64_t m = std::min(kDwLanes, n - s0);
    const float* src = buf + s0 * kDwLanes;
    if (!dense || m < kDwLanes) {  // gather the m positions, zeros after them
      std::int64_t i = s0 / w, j = s0 % w;
      for (std::int64_t q = 0; q < kDwLanes; ++q) {
        const float* p = buf + ((i + r0) * cols + c0 + j) * kDwLanes;
        *reinterpret_cast<DwVec*>(stage + q * kDwLanes) = q < m ? *reinterpret_cast<const DwVec*>(p) : DwVec{};
        if (++j == w) {
          j = 0;
          ++i;
        }
      }
      src = stage;
    }
    if (!Add && m == kDwLanes) {
      dw_transpose16(src, kDwLanes, y0 + s0, plane);
      continue;
    }
    dw_transpose16(src, kDwLanes, tr, kDwLanes);
    for (std::int64_t l = 0; l < kDwLanes; ++l) {
      float* d = y0 + l * plane + s0;
      const float* t = tr + l * kDwLanes;
      if (m == kDwLanes)
        *reinterpret_cast<DwVec*>(d) += *reinterpret_cast<const DwVec*>(t);
      else
        for (std::int64_t i = 0; i < m; ++i) d[i] = Add ? d[i] + t[i] : t[i];
    }
  }
}

/// For every output position p of B: finish(bias + sum over taps of wv[tap] * buf[window(p)
/// + tap], p), wv holding 16 weights per tap and bias 16 floats (null: zeros).
template <class Finish>
[[gnu::always_inline]] inline void dw_blocked_taps(const DwBlocked& B, const float* buf, const float* wv,
                                                   const float* bias, Finish&& finish) {
  const DwVec b = bias ? *reinterpret_cast<const DwVec*>(bias) : DwVec{};
  const std::int64_t step = B.sw * kDwLanes, taps = B.taps;  // floats from one column's window to the next
  const std::int64_t* off = B.tap_off.data();
  for (std::int64_t oh = 0; oh < B.OH; ++oh) {
    std::int64_t ow = 0;
    for (; ow + 4 <= B.OW; ow += 4) {  // four independent sums hide the FMA latency
      const float* base = buf + B.window(oh, ow);
      DwVec a0 = b, a1 = b, a2 = b, a3 = b;
      for (std::int64_t t = 0; t < taps; ++t) {
        const DwVec wt = *reinterpret_cast<const DwVec*>(wv + t * kDwLanes);
        const float* p = base + off[t];
        a0 += wt * *reinterpret_cast<const DwVec*>(p);
        a1 += wt * *reinterpret_cast<const DwVec*>(p + step);
        a2 += wt * *reinterpret_cast<const DwVec*>(p + 2 * step);
        a3 += wt * *reinterpret_cast<const DwVec*>(p + 3 * step);
      }
      finish(a0, oh * B.OW + ow);
      finish(a1, oh * B.OW + ow + 1);
      finish(a2, oh * B.OW + ow + 2);
      finish(a3, oh * B.OW + ow + 3);
    }
    for (; ow < B.OW; ++ow) {
      const float* base = buf + B.window(oh, ow);
      DwVec acc = b;
      for (std::int64_t t = 0; t < taps; ++t)
        acc += *reinterpret_cast<const DwVec*>(wv + t * kDwLanes) * *reinterpret_cast<const DwVec*>(base + off[t]);
      finish(acc, oh * B.OW + ow);
    }
  }
}

/// For every output position p in order, with g = dy[p] (at dy + ((oh + r0) * cols + c0 +
/// ow) * 16) and every tap, v[tap] being 16 floats per tap:
///   Scatter = false  v[tap] += g * buf[window(p) + tap]   (the weight gradient's sums)
///   Scatter = true   buf[window(p) + tap] += v[tap] * g   (the data gradient, v the weights)
/// Taps > 0: the kernel has that many taps and v stays in registers; 0: any.
template <int Taps, bool Scatter>
[[gnu::always_inline]] inline void dw_blocked_dy_taps(const DwBlocked& B,
                                                      std::conditional_t<Scatter, float*, const float*> buf,
                                                      const float* dy, std::int64_t cols, std::int64_t r0,
                                                      std::int64_t c0,
                                                      std::conditional_t<Scatter, const float*, float*> v) {
  constexpr int kMax = Taps > 0 ? Taps : 1;
  const std::int64_t taps = Taps > 0 ? Taps : B.taps;
  const std::int64_t* off = B.tap_off.data();
  DwVec r[kMax];  // Taps > 0: v in registers
  std::int64_t o[kMax];
  if constexpr (Taps > 0) {
#pragma GCC unroll 32
    for (int t = 0; t < Taps; ++t) {
      r[t] = *reinterpret_cast<const DwVec*>(v + t * kDwLanes);
      o[t] = off[t];
    }
    off = o;
  }
  for (std::int64_t oh = 0; oh < B.OH; ++oh)
    for (std::int64_t ow = 0; ow < B.OW; ++ow) {
      const DwVec g = *reinterpret_cast<const DwVec*>(dy + ((oh + r0) * cols + c0 + ow) * kDwLanes);
      auto* base = buf + B.window(oh, ow);
#pragma GCC unroll 32
      for (std::int64_t t = 0; t < taps; ++t) {
        if constexpr (Taps > 0 && Scatter)
          *reinterpret_cast<DwVec*>(base + off[t]) += r[t] * g;
        else if constexpr (Taps > 0)
          r[t] += g * *reinterpret_cast<const DwVec*>(base + off[t]);
        else if constexpr (Scatter)
          *reinterpret_cast<DwVec*>(base + off[t]) += *reinterpret_cast<const DwVec*>(v + t * kDwLanes) * g;
        else
          *reinterpret_cast<DwVec*>(v + t * kDwLanes) += g * *reinterpret_cast<const DwVec*>(base + off[t]);
      }
    }
  if constexpr (Taps > 0 && !Scatter)
#pragma GCC unroll 32
    for (int t = 0; t < Taps; ++t) *reinterpret_cast<DwVec*>(v + t * kDwLanes) = r[t];
}

/// Forward: y = act(bias + the convolution), per image and block of 16 channels.
inline void depthwise_forward_blocked(const reference::ConvGeometry& g, const float* x, const float* w,
                                      const float* bias, float* y, const ConvEpilogue& ep) {
  const DwBlocked B(g);
  const std::int64_t blocks = g.c / kDwLanes, isz = B.H * B.W, osz = B.OH * B.OW, taps = B.taps;
  if (g.n == 0 || osz == 0) return;
  parallel_for(0, g.n * blocks, 1, [&](std::int64_t lo, std::int64_t hi) {
    float* buf = scratch(0, B.size());  // the input, padded
    float* out = scratch(1, osz * kDwLanes);
    float* wv = scratch(2, (taps + 1) * kDwLanes + 2 * kDwLanes * kDwLanes);  // weights, then the bias
    float* stage = wv + (taps + 1) * kDwLanes;  // a 16 x 16 block before a transpose
    float* tr = stage + kDwLanes * kDwLanes;    // and after
    std::fill_n(buf, B.size(), 0.0f);  // the padding stays zero: only the input region is rewritten
    vectorized([&]() HONE_INLINE_LAMBDA {
      for (std::int64_t task = lo; task < hi; ++task) {
        const std::int64_t n = task / blocks, c0 = (task % blocks) * kDwLanes;
        for (std::int64_t l = 0; l < kDwLanes; ++l) {
          for (std::int64_t t = 0; t < taps; ++t) wv[t * kDwLanes + l] = w[(c0 + l) * taps + t];
          wv[taps * kDwLanes + l] = bias ? bias[c0 + l] : 0.0f;
        }
        dw_interleave(x + (n * g.c + c0) * isz, isz, B.H, B.W, buf, B.cols, B.ph, B.pw, stage, tr);
        dw_blocked_taps(B, buf, wv, wv + taps * kDwLanes, [&](DwVec acc, std::int64_t at) HONE_INLINE_LAMBDA {
          if (ep.kind == ConvEpilogue::relu)
            acc = acc > 0.0f ? acc : 0.0f;
          else if (ep.kind == ConvEpilogue::clip)
            acc = acc < ep.lo ? ep.lo : (acc > ep.hi ? ep.hi : acc);
          *reinterpret_cast<DwVec*>(out + at * kDwLanes) = acc;
        });
        dw_deinterleave<false>(out, B.OW, 0, 0, B.OH, B.OW, y + (n * g.oc + c0) * osz, osz, stage, tr);
      }
    });
  });
}

/// dx (accumulated into; with assign_dx, written: the de-interleave covers every plane) and
/// dw (accumulated into), either may be null (x may be null without dw, w without dx); see
/// the file comment.
inline void depthwise_backward_blocked(const reference::ConvGeometry& g, const float* dy, const float* x,
                                       const float* w, float* dx, float* dw, bool assign_dx = false) {
  reference::ConvGeometry gt;
  const bool gather = dx && dw_transposed(g, gt);
  const DwBlocked B(g), T(gather ? gt : g);  // T: the transposed geometry, where dx gathers
  const std::int64_t blocks = g.c / kDwLanes, isz = B.H * B.W, osz = B.OH * B.OW, taps = B.taps;
  if (g.n == 0 || osz == 0 || (!dx && !dw)) return;
  // dy's blocked buffer: padded as T's input when dx gathers (dw reads it there too), else dense.
  const std::int64_t dy_cols = gather ? T.cols : B.OW, dy_r0 = gather ? T.ph : 0, dy_c0 = gather ? T.pw : 0;
  parallel_for(0, blocks, 1, [&](std::int64_t lo, std::int64_t hi) {
    float* xbuf = dw ? scratch(0, B.size()) : nullptr;  // x, padded
    float* dyb = scratch(1, gather ? T.size() : osz * kDwLanes);
    float* dxb = dx ? scratch(2, gather ? isz * kDwLanes : B.size()) : nullptr;  // dx: dense or padded sums
    float* wv = scratch(3, 2 * taps * kDwLanes + 2 * kDwLanes * kDwLanes);     // weights (flipped to gather)
    float* acc = wv + taps * kDwLanes;                                         // dw sums
    float* stage = acc + taps * kDwLanes;
    float* tr = stage + kDwLanes * kDwLanes;
    if (xbuf) std::fill_n(xbuf, B.size(), 0.0f);
    if (gather) std::fill_n(dyb, T.size(), 0.0f);
    vectorized([&]() HONE_INLINE_LAMBDA {
      for (std::int64_t blk = lo; blk < hi; ++blk) {
        const std::int64_t c0 = blk * kDwLanes;
        if (dx)
          for (std::int64_t l = 0; l < kDwLanes; ++l)
            for (std::int64_t t = 0; t < taps; ++t)
              wv[t * kDwLanes + l] = w[(c0 + l) * taps + (gather ? taps - 1 - t : t)];
        if (dw) std::fill_n(acc, taps * kDwLanes, 0.0f);
        for (std::int64_t n = 0; n < g.n; ++n) {
          dw_interleave(dy + (n * g.oc + c0) * osz, osz, B.OH, B.OW, dyb, dy_cols, dy_r0, dy_c0, stage, tr);
          if (dw) {
            dw_interleave(x + (n * g.c + c0) * isz, isz, B.H, B.W, xbuf, B.cols, B.ph, B.pw, stage, tr);
            if (taps == 9)
              dw_blocked_dy_taps<9, false>(B, xbuf, dyb, dy_cols, dy_r0, dy_c0, acc);
            else
              dw_blocked_dy_taps<0, false>(B, xbuf, dyb, dy_cols, dy_r0, dy_c0, acc);
          }
          if (!dx) continue;
          float* dxp = dx + (n * g.c + c0) * isz;
          if (gather) {
            dw_blocked_taps(T, dyb, wv, nullptr, [&](DwVec v, std::int64_t at) HONE_INLINE_LAMBDA {
              *reinterpret_cast<DwVec*>(dxb + at * kDwLanes) = v;
            });
            if (assign_dx)
              dw_deinterleave<false>(dxb, B.W, 0, 0, B.H, B.W, dxp, isz, stage, tr);
            else
              dw_deinterleave<true>(dxb, B.W, 0, 0, B.H, B.W, dxp, isz, stage, tr);
          } else {
            std::fill_n(dxb, B.size(), 0.0f);
            if (taps == 9)
              dw_blocked_dy_taps<9, true>(B, dxb, dyb, B.OW, 0, 0, wv);
            else
              dw_blocked_dy_taps<0, true>(B, dxb, dyb, B.OW, 0, 0, wv);
            if (assign_dx)
              dw_deinterleave<false>(dxb, B.cols, B.ph, B.pw, B.H, B.W, dxp, isz, stage, tr);
            else
              dw_deinterleave<true>(dxb, B.cols, B.ph, B.pw, B.H, B.W, dxp, isz, stage, tr);
          }
        }
        if (dw)
          for (std::int64_t l = 0; l < kDwLanes; ++l)
            for (std::int64_t t = 0; t < taps; ++t) dw[(c0 + l) * taps + t] += acc[t * kDwLanes + l];
      }
    });
  });
}

}  // namespace hone::kernels::detail_conv
