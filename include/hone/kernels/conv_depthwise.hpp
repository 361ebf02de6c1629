// hone/kernels/conv_depthwise.hpp — depthwise convolution (one input channel per group, any
// channel multiplier, 1-D or 2-D, any stride, dilation and padding) on NC[H]W planes, all
// three passes. Used by kernels/conv.hpp; tested against kernels/reference/conv.hpp.
//
// Every input plane is first copied into a padded, stride-phase-split buffer (DwLayout):
// padded row r and padded column c live at (r * sw + c % sw) * wq + c / sw, so the input
// columns one kernel tap reads for consecutive output columns (c = ow * sw + kw * dw) are
// consecutive floats for every stride, and the padding is real zeros. The loops then have
// no bounds checks and no gathers: blocks of 4 output rows x 16 output columns are
// accumulated in vector registers (GCC vector extensions, compiled for the active ISA by
// detail::vectorized) over all taps. Blocks that reach past the plane's last row or column
// go through a 16-float staging vector (zeros past the edge; nothing stored past it). The
// padded buffer's zeros are written once per call and thread: only the real region is
// rewritten plane by plane.
//   forward           y = sum over taps of w[tap] * the tap's input rows
//   backward-data     the tap's rows of a padded dx buffer += w[tap] * dy, then added into dx
//   backward-weights  per tap, 16 partial sums of dy * the tap's input rows, summed in a fixed
//                     order at the end (results depend only on the data)
// Parallel over input channels (forward: over images x channels); each thread owns whole
// channels, so dx and dw need no reduction across threads.
//
// Channels a multiple of 16 with one output per input channel mostly take the
// channel-blocked loops of kernels/conv_depthwise_blocked.hpp instead (dw_channel_blocked).
#pragma once

#include <algorithm>  // std::fill_n, std::min, std::max
#include <cstdint>    // std::int64_t
#include <cstring>    // std::memcpy
#include <vector>     // tap offsets

#include "hone/core/parallel.hpp"
#include "hone/kernels/detail/scratch.hpp"
#include "hone/kernels/detail/vectorize.hpp"
#include "hone/kernels/reference/conv.hpp"

namespace hone::kernels {

/// What conv_forward applies to each output element after the bias: nothing, Relu (x > 0 ?
/// x : 0, as ops::Relu) or Clip (min(max(x, lo), hi), as ops::Clip). Applied to each
/// image's output right after it is computed, while it is in cache.
struct ConvEpilogue {
  enum Kind { none, relu, clip } kind = none;
  float lo = 0, hi = 0;
};

namespace detail_conv {

using kernels::detail::vectorized;

/// rows rows of n floats each, ld apart: x = act(x + add). Vectorised; single-threaded.
[[gnu::always_inline]] inline void finish_rows_body(const ConvEpilogue& ep, float* p, std::int64_t rows,
                                                    std::int64_t n, std::int64_t ld, float add) {
  for (std::int64_t r = 0; r < rows; ++r) {
    float* __restrict x = p + r * ld;
    if (ep.kind == ConvEpilogue::relu)
      for (std::int64_t i = 0; i < n; ++i) {
        const float v = x[i] + add;
        x[i] = v > 0.0f ? v : 0.0f;
      }
    else if (ep.kind == ConvEpilogue::clip)
      for (std::int64_t i = 0; i < n; ++i) x[i] = std::min(std::max(x[i] + add, ep.lo), ep.hi);
    else
      for (std::int64_t i = 0; i < n; ++i) x[i] += add;
  }
}

/// One plane (or row) of n floats: x = act(x + add), compiled for the active ISA.
inline void finish_rows(const ConvEpilogue& ep, float* p, std::int64_t rows, std::int64_t n, float add) {
  vectorized([&]() HONE_INLINE_LAMBDA { finish_rows_body(ep, p, rows, n, n, add); });
}

/// 16 floats (see detail::Vec16).
using DwVec = detail::Vec16;

inline constexpr std::int64_t kDwLanes = 16;  // output columns per block
inline constexpr std::int64_t kDwRows = 4;    // output rows per block

/// Where the depthwise loops find things; see the file comment.
struct DwLayout {
  std::int64_t H, W, OH, OW, KH, KW, sh, sw, dh, dw, pad_h, pad_w;
  std::int64_t oh_pad, ow_pad;  // output extent rounded up to whole blocks
  std::int64_t rows, wq;        // padded input rows; floats per row and phase
  std::int64_t row_step;        // floats from one output row's input rows to the next's
  std::vector<std::int64_t> taps;  // per tap (kh, kw): offset of its first float for output row 0

  explicit DwLayout(const reference::ConvGeometry& g)
      : H(g.in[1]), W(g.in[2]), OH(g.out[1]), OW(g.out[2]), KH(g.k[1]), KW(g.k[2]), sh(g.stride[1]),
        sw(g.stride[2]), dh(g.dilation[1]), dw(g.dilation[2]), pad_h(g.pad_begin[1]), pad_w(g.pad_begin[2]) {
    oh_pad = (OH + kDwRows - 1) / kDwRows * kDwRows;
    ow_pad = (OW + kDwLanes - 1) / kDwLanes * kDwLanes;
    rows = (oh_pad - 1) * sh + (KH - 1) * dh + 1;
    wq = ow_pad + (KW - 1) * dw / sw;
    row_step = sh * sw * wq;
    for (std::int64_t kh = 0; kh < KH; ++kh)
      for (std::int64_t kw = 0; kw < KW; ++kw) {
        const std::int64_t c = kw * dw;
        taps.push_back((kh * dh * sw + c % sw) * wq + c / sw);
      }
  }
  std::int64_t size() const { return rows * sw * wq; }  // floats in a padded input plane
  /// The columns j of phase q that hold real input columns: [lo, hi).
  void phase_range(std::int64_t q, std::int64_t& lo, std::int64_t& hi) const {
    const std::int64_t first = pad_w - q, end = W + pad_w - q;  // j * sw in [first, end)
    lo = first <= 0 ? 0 : (first + sw - 1) / sw;
    hi = end <= 0 ? 0 : std::min(wq, (end + sw - 1) / sw);
    hi = std::max(lo, hi);
  }
};

/// Copies input plane x (H, W) into the real region of buf (the padded layout); the rest of
/// buf must be zero already (it stays so: only this writes to buf). Stride 2 deinterleaves
/// both phases in one loop (which vectorises); other strides copy phase by phase.
[[gnu::always_inline]] inline void dw_pack(const DwLayout& L, const float* x, float* buf) {
  const std::int64_t H = std::min(L.H, L.rows - L.pad_h);  // input rows the conv reads
  if (L.sw == 2) {
    std::int64_t lo0, hi0, lo1, hi1;
    L.phase_range(0, lo0, hi0);
    L.phase_range(1, lo1, hi1);
    const std::int64_t lo = std::max(lo0, lo1), hi = std::max(lo, std::min(hi0, hi1));
    for (std::int64_t ih = 0; ih < H; ++ih) {
      float* b0 = buf + (ih + L.pad_h) * 2 * L.wq;
      float* b1 = b0 + L.wq;
      const float* xr = x + ih * L.W - L.pad_w;  // xr[c] is padded column c
      for (std::int64_t j = lo0; j < std::min(lo, hi0); ++j) b0[j] = xr[2 * j];
      for (std::int64_t j = lo1; j < std::min(lo, hi1); ++j) b1[j] = xr[2 * j + 1];
      for (std::int64_t j = lo; j < hi; ++j) {
        b0[j] = xr[2 * j];
        b1[j] = xr[2 * j + 1];
      }
      for (std::int64_t j = std::max(hi, lo0); j < hi0; ++j) b0[j] = xr[2 * j];
      for (std::int64_t j = std::max(hi, lo1); j < hi1; ++j) b1[j] = xr[2 * j + 1];
    }
    return;
  }
  for (std::int64_t q = 0; q < L.sw; ++q) {
    std::int64_t lo, hi;
    L.phase_range(q, lo, hi);
    for (std::int64_t ih = 0; ih < H; ++ih) {
      float* bq = buf + ((ih + L.pad_h) * L.sw + q) * L.wq;
      const float* xr = x + ih * L.W - L.pad_w;
      if (L.sw == 1)
        std::memcpy(bq + lo, xr + lo, static_cast<std::size_t>(hi - lo) * sizeof(float));
      else
        for (std::int64_t j = lo; j < hi; ++j) bq[j] = xr[j * L.sw + q];
    }
  }
}

/// dx plane (H, W) += the real part of buf (the padded layout).
[[gnu::always_inline]] inline void dw_unpack_add(const DwLayout& L, const float* buf, float* dx) {
  const std::int64_t H = std::min(L.H, L.rows - L.pad_h);
  if (L.sw == 2) {
    std::int64_t lo0, hi0, lo1, hi1;
    L.phase_range(0, lo0, hi0);
    L.phase_range(1, lo1, hi1);
    const std::int64_t lo = std::max(lo0, lo1), hi = std::max(lo, std::min(hi0, hi1));
    for (std::int64_t ih = 0; ih < H; ++ih) {
      const float* b0 = buf + (ih + L.pad_h) * 2 * L.wq;
      const float* b1 = b0 + L.wq;
      float* dr = dx + ih * L.W - L.pad_w;
      for (std::int64_t j = lo0; j < std::min(lo, hi0); ++j) dr[2 * j] += b0[j];
      for (std::int64_t j = lo1; j < std::min(lo, hi1); ++j) dr[2 * j + 1] += b1[j];
      for (std::int64_t j = lo; j < hi; ++j) {
        dr[2 * j] += b0[j];
        dr[2 * j + 1] += b1[j];
      }
      for (std::int64_t j = std::max(hi, lo0); j < hi0; ++j) dr[2 * j] += b0[j];
      for (std::int64_t j = std::max(hi, lo1); j < hi1; ++j) dr[2 * j + 1] += b1[j];
    }
    return;
  }
  for (std::int64_t q = 0; q < L.sw; ++q) {
    std::int64_t lo, hi;
    L.phase_range(q, lo, hi);
    for (std::int64_t ih = 0; ih < H; ++ih) {
      const float* bq = buf + ((ih + L.pad_h) * L.sw + q) * L.wq;
      float* dr = dx + ih * L.W - L.pad_w;
      if (L.sw == 1)
        for (std::int64_t j = lo; j < hi; ++j) dr[j] += bq[j];
      else
        for (std::int64_t j = lo; j < hi; ++j) dr[j * L.sw + q] += bq[j];
    }
  }
}

/// Where to load 16 floats from for the n (<= 16) real floats at p: p itself when all 16
/// are real, else t (16 floats) holding them followed by zeros. Floats only: no vector is
/// passed by reference (clang's ASan build crashed on a reference to a local vector here).
[[gnu::always_inline]] inline const float* dw_stage(float* t, const float* p, std::int64_t n) {
  if (n >= kDwLanes) return p;
  for (std::int64_t i = 0; i < kDwLanes; ++i) t[i] = i < n ? p[i] : 0.0f;
  return t;
}

/// The first n (<= 16) floats of the 16 at t to p.
[[gnu::always_inline]] inline void dw_unstage(const float* t, float* p, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) p[i] = t[i];
}

/// How many of the 16 columns from ow of output row oh are real.
[[gnu::always_inline]] inline std::int64_t dw_valid(const DwLayout& L, std::int64_t oh, std::int64_t ow) {
  return oh < L.OH ? std::min(kDwLanes, L.OW - ow) : 0;
}

/// y plane (OH, OW) = bias + sum over taps of w[tap] * the tap's rows of buf (with
/// Accumulate: y += that sum, bias ignored). The tap loop is not specialised: fully
/// unrolling 3x3 made GCC keep one pointer per tap and row (36) on the stack, slower than
/// this loop (measured).
template <bool Accumulate = false>
[[gnu::always_inline]] inline void dw_forward_plane(const DwLayout& L, const float* buf, const float* w, float bias,
                                                    float* y) {
  const std::int64_t taps = L.KH * L.KW, rs = L.row_step;
  const std::int64_t* off = L.taps.data();
  static_assert(kDwRows == 4, "the block below names its four rows");
  for (std::int64_t oh = 0; oh < L.oh_pad; oh += kDwRows)
    for (std::int64_t ow = 0; ow < L.ow_pad; ow += kDwLanes) {
      DwVec a0, a1, a2, a3;  // named, never address-taken: they live in registers
      alignas(64) float st[kDwRows][kDwLanes];
      if constexpr (Accumulate) {
        a0 = *reinterpret_cast<const DwVec*>(dw_stage(st[0], y + oh * L.OW + ow, dw_valid(L, oh, ow)));
        a1 = *reinterpret_cast<const DwVec*>(dw_stage(st[1], y + (oh + 1) * L.OW + ow, dw_valid(L, oh + 1, ow)));
        a2 = *reinterpret_cast<const DwVec*>(dw_stage(st[2], y + (oh + 2) * L.OW + ow, dw_valid(L, oh + 2, ow)));
        a3 = *reinterpret_cast<const DwVec*>(dw_stage(st[3], y + (oh + 3) * L.OW + ow, dw_valid(L, oh + 3, ow)));
      } else {
        a0 = a1 = a2 = a3 = DwVec{} + bias;
      }
      const float* base = buf + oh * rs + ow;
      for (std::int64_t t = 0; t < taps; ++t) {
        const float wt = w[t];
        const float* p = base + off[t];
        a0 += wt * *reinterpret_cast<const DwVec*>(p);
        a1 += wt * *reinterpret_cast<const DwVec*>(p + rs);
        a2 += wt * *reinterpret_cast<const DwVec*>(p + 2 * rs);
        a3 += wt * *reinterpret_cast<const DwVec*>(p + 3 * rs);
      }
      if (oh + kDwRows <= L.OH && ow + kDwLanes <= L.OW) {  // a whole block: plain stores
        float* q = y + oh * L.OW + ow;
        *reinterpret_cast<DwVec*>(q) = a0;
        *reinterpret_cast<DwVec*>(q + L.OW) = a1;
        *reinterpret_cast<DwVec*>(q + 2 * L.OW) = a2;
        *reinterpret_cast<DwVec*>(q + 3 * L.OW) = a3;
        continue;
      }
      *reinterpret_cast<DwVec*>(st[0]) = a0;
      *reinterpret_cast<DwVec*>(st[1]) = a1;
      *reinterpret_cast<DwVec*>(st[2]) = a2;
      *reinterpret_cast<DwVec*>(st[3]) = a3;
      for (std::int64_t r = 0; r < kDwRows; ++r) dw_unstage(st[r], y + (oh + r) * L.OW + ow, dw_valid(L, oh + r, ow));
    }
}

/// The tap's rows of dbuf (the padded layout) += w[tap] * dy plane (OH, OW), every tap.
[[gnu::always_inline]] inline void dw_backward_data_plane(const DwLayout& L, const float* dy, const float* w,
                                                          float* dbuf) {
  const std::int64_t step = L.row_step;
  for (std::int64_t oh = 0; oh < L.oh_pad; oh += kDwRows)
    for (std::int64_t ow = 0; ow < L.ow_pad; ow += kDwLanes) {
      DwVec g[kDwRows];
      alignas(64) float st[kDwRows][kDwLanes];
      for (std::int64_t r = 0; r < kDwRows; ++r)
        g[r] = *reinterpret_cast<const DwVec*>(dw_stage(st[r], dy + (oh + r) * L.OW + ow, dw_valid(L, oh + r, ow)));
      for (std::int64_t kh = 0; kh < L.KH; ++kh)
        for (std::int64_t kw = 0; kw < L.KW; ++kw) {
          const float wv = w[kh * L.KW + kw];
          float* dst = dbuf + oh * L.row_step + L.taps[kh * L.KW + kw] + ow;
          for (std::int64_t r = 0; r < kDwRows; ++r) *reinterpret_cast<DwVec*>(dst + r * step) += wv * g[r];
        }
    }
}

/// part[tap] (16 lanes each) += dy plane (OH, OW) * the tap's rows of buf. Taps > 0: the
/// kernel has that many taps, and the partial sums stay in registers for the whole plane;
/// 0: any.
template <int Taps>
[[gnu::always_inline]] inline void dw_weights_taps(const DwLayout& L, const float* dy, const float* buf, DwVec* part) {
  constexpr int kMax = Taps > 0 ? Taps : 1;
  const std::int64_t taps = Taps > 0 ? Taps : L.KH * L.KW, rs = L.row_step;
  const std::int64_t* off = L.taps.data();
  std::int64_t off_local[kMax];
  DwVec sum_local[kMax];
  DwVec* sum = part;
  if constexpr (Taps > 0) {
    for (int t = 0; t < Taps; ++t) {
      off_local[t] = off[t];
      sum_local[t] = part[t];
    }
    off = off_local;
    sum = sum_local;
  }
  for (std::int64_t oh = 0; oh < L.oh_pad; oh += kDwRows)
    for (std::int64_t ow = 0; ow < L.ow_pad; ow += kDwLanes) {
      DwVec g[kDwRows];
      alignas(64) float st[kDwRows][kDwLanes];
      for (std::int64_t r = 0; r < kDwRows; ++r)
        g[r] = *reinterpret_cast<const DwVec*>(dw_stage(st[r], dy + (oh + r) * L.OW + ow, dw_valid(L, oh + r, ow)));
      const float* base = buf + oh * rs + ow;
      for (std::int64_t t = 0; t < taps; ++t) {
        DwVec s = sum[t];
        for (std::int64_t r = 0; r < kDwRows; ++r) s += g[r] * *reinterpret_cast<const DwVec*>(base + off[t] + r * rs);
        sum[t] = s;
      }
    }
  if constexpr (Taps > 0)
    for (int t = 0; t < Taps; ++t) part[t] = sum_local[t];
}

[[gnu::always_inline]] inline void dw_backward_weights_plane(const DwLayout& L, const float* dy, const float* buf,
                                                             DwVec* part) {
  switch (L.taps.size()) {
    case 9: return dw_weights_taps<9>(L, dy, buf, part);
    case 25: return dw_weights_taps<25>(L, dy, buf, part);
    default: return dw_weights_taps<0>(L, dy, buf, part);
  }
}

inline void depthwise_forward(const reference::ConvGeometry& g, const float* x, const float* w, const float* bias,
                              float* y, const ConvEpilogue& ep) {
  const DwLayout L(g);
  const std::int64_t mult = g.oc / g.groups, osz = L.OH * L.OW;
  if (g.n == 0 || osz == 0) return;
  parallel_for(0, g.n * g.c, 1, [&](std::int64_t lo, std::int64_t hi) {
    float* buf = scratch(0, L.size());
    std::fill_n(buf, L.size(), 0.0f);
    vectorized([&]() HONE_INLINE_LAMBDA {
      for (std::int64_t p = lo; p < hi; ++p) {  // p = n * C + c: input plane
        dw_pack(L, x + p * L.H * L.W, buf);
        const std::int64_t n = p / g.c, c = p % g.c;
        for (std::int64_t o = c * mult; o < (c + 1) * mult; ++o) {
          float* yp = y + (n * g.oc + o) * osz;
          dw_forward_plane(L, buf, w + o * L.KH * L.KW, bias ? bias[o] : 0.0f, yp);
          if (ep.kind != ConvEpilogue::none) finish_rows_body(ep, yp, 1, osz, osz, 0.0f);
        }
      }
    });
  });
}

/// The data gradient of a stride-1 depthwise convolution is itself one: dy, padded by
/// (K - 1) * dilation - pad_begin, correlated with the kernel flipped in both axes. This is
/// its geometry (input OH x OW, output H x W); false where that padding would be negative.
inline bool dw_transposed(const reference::ConvGeometry& g, reference::ConvGeometry& t) {
  if (g.stride[1] != 1 || g.stride[2] != 1) return false;
  t = g;
  for (int a = 1; a < 3; ++a) {
    t.in[a] = g.out[a];
    t.out[a] = g.in[a];
    t.pad_begin[a] = (g.k[a] - 1) * g.dilation[a] - g.pad_begin[a];
    if (t.pad_begin[a] < 0) return false;
  }
  return true;
}

/// dx (accumulated into; with assign_dx, written) and dw (accumulated into), either may be
/// null (x may be null without dw, w without dx). Stride 1: dx by the transposed
/// convolution (gathers, no read-modify-write); other strides: each tap's rows of a padded
/// dx buffer += w * dy.
inline void depthwise_backward(const reference::ConvGeometry& g, const float* dy, const float* x, const float* w,
                               float* dx, float* dw, bool assign_dx = false) {
  reference::ConvGeometry gt;
  const bool gather = dx && dw_transposed(g, gt);
  const DwLayout L(g), Lt(gather ? gt : g);
  const std::int64_t mult = g.oc / g.groups, osz = L.OH * L.OW, isz = L.H * L.W, taps = L.KH * L.KW;
  if (g.n == 0 || osz == 0 || (!dx && !dw)) return;
  parallel_for(0, g.c, 1, [&](std::int64_t c_lo, std::int64_t c_hi) {
    float* xbuf = dw ? scratch(0, L.size()) : nullptr;   // x plane, padded
    float* dxbuf = dx ? scratch(1, gather ? Lt.size() : L.size()) : nullptr;  // dy (gather) or dx, padded
    float* part = scratch(2, taps * kDwLanes + taps);  // dw partial sums, then the flipped kernel
    float* flipped = part + taps * kDwLanes;
    if (xbuf) std::fill_n(xbuf, L.size(), 0.0f);
    if (gather) std::fill_n(dxbuf, Lt.size(), 0.0f);
    vectorized([&]() HONE_INLINE_LAMBDA {
      auto* parts = reinterpret_cast<DwVec*>(part);
      for (std::int64_t c = c_lo; c < c_hi; ++c)
        for (std::int64_t o = c * mult; o < (c + 1) * mult; ++o) {
          for (std::int64_t t = 0; t < taps; ++t) parts[t] = DwVec{};
          if (gather)
            for (std::int64_t t = 0; t < taps; ++t) flipped[t] = w[o * taps + taps - 1 - t];
          for (std::int64_t n = 0; n < g.n; ++n) {
            const float* dyp = dy + (n * g.oc + o) * osz;
            // The plane's first output assigns: zeros first (not every input feeds an output).
            if (dx && assign_dx && o == c * mult) std::fill_n(dx + (n * g.c + c) * isz, isz, 0.0f);
            if (dw) {
              dw_pack(L, x + (n * g.c + c) * isz, xbuf);
              dw_backward_weights_plane(L, dyp, xbuf, parts);
            }
            if (gather) {
              dw_pack(Lt, dyp, dxbuf);
              dw_forward_plane<true>(Lt, dxbuf, flipped, 0.0f, dx + (n * g.c + c) * isz);
            } else if (dx) {
              std::fill_n(dxbuf, L.size(), 0.0f);
              dw_backward_data_plane(L, dyp, w + o * taps, dxbuf);
              dw_unpack_add(L, dxbuf, dx + (n * g.c + c) * isz);
            }
          }
          if (dw)
            for (std::int64_t t = 0; t < taps; ++t) {
              float s = 0.0f;
              for (std::int64_t l = 0; l < kDwLanes; ++l) s += part[t * kDwLanes + l];
              dw[o * taps + t] += s;
            }
        }
    });
  });
}

}  // namespace detail_conv

}  // namespace hone::kernels
