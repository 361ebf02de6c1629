// hone/kernels/conv.hpp — the float convolution kernels behind ops::Conv, on NC[D][H]W.
//
// Forward, backward-data and backward-weight, parallel over the thread pool:
//   - general convolutions: one GEMM per image and group, images spread over the threads
//     (each thread lowers its images with im2col into its own scratch, the GEMM inside runs
//     on that thread); with one image (or one thread) the GEMM itself is multi-threaded.
//     1x1 convolutions with stride 1 and no padding skip im2col (the input plane is the GEMM
//     operand). The weight gradient is accumulated per thread and summed in a fixed order,
//     so results depend only on the data and the thread count.
//   - 2-D 3x3 convolutions with stride 1 and at least 16 channels in and out: Winograd
//     F(4x4, 3x3) for all three passes (kernels/conv_winograd.hpp).
//   - depthwise convolutions (one input channel per group, any channel multiplier, 1-D or
//     2-D): kernels/conv_depthwise.hpp (padded planes, register-blocked vector loops);
//     with channels a multiple of 16 and one output per input channel, mostly
//     kernels/conv_depthwise_blocked.hpp (16 channels per vector).
//   - an image whose lowered matrix exceeds kIm2colBand floats is lowered and multiplied a
//     band of output rows at a time.
// The geometry is kernels::reference::ConvGeometry; kernels/reference/conv.hpp is the
// oracle every path here is tested against (tests/unit/test_conv_kernels.cpp, tests/unit/test_conv_winograd.cpp).
#pragma once

#include <algorithm>  // std::fill_n, std::min, std::max
#include <cstdint>    // std::int64_t
#include <cstring>    // std::memcpy
#include <type_traits>  // std::conditional_t
#include <vector>     // per-thread partial sums

#include "hone/core/parallel.hpp"
#include "hone/kernels/conv_depthwise.hpp"
#include "hone/kernels/conv_depthwise_blocked.hpp"
#include "hone/kernels/conv_winograd.hpp"
#include "hone/kernels/detail/scratch.hpp"
#include "hone/kernels/gemm.hpp"
#include "hone/kernels/reference/conv.hpp"

namespace hone::kernels {

namespace detail_conv {

using reference::ConvGeometry;

/// 1-D or 2-D (unit D axis and kernel): the fast im2col/col2im and depthwise paths apply.
inline bool planar(const ConvGeometry& g) { return g.in[0] == 1 && g.k[0] == 1 && g.out[0] == 1; }

/// 1x1, stride 1, no padding: the input plane itself is the GEMM operand.
inline bool pointwise(const ConvGeometry& g) {
  return g.kernel_size() == 1 && g.stride[0] == 1 && g.stride[1] == 1 && g.stride[2] == 1 &&
         g.pad_begin[0] == 0 && g.pad_begin[1] == 0 && g.pad_begin[2] == 0 && g.out == g.in;
}

/// The output columns [lo, hi) whose input column ow * stride + off lies inside [0, width).
inline void valid_range(std::int64_t off, std::int64_t stride, std::int64_t width, std::int64_t out,
                        std::int64_t& lo, std::int64_t& hi) {
  lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
  hi = off > width - 1 ? 0 : (width - 1 - off) / stride + 1;
  lo = std::min(lo, out);
  hi = std::max(lo, std::min(hi, out));
}

/// dst[i] = src[2 i] for i < n (Add: dst[i] += ...; with Scatter the reverse: src[2 i] +=
/// dst[i]). The vector loop reads (and, scattering, rewrites) src[2 i .. 2 i + 31] only
/// while 2 i + 32 <= readable; odd positions are rewritten unchanged (plus -0.0, the
/// identity, -0.0 included).
template <bool Scatter>
inline void copy_stride2(float* dst, std::conditional_t<Scatter, float*, const float*> src, std::int64_t n,
                         std::int64_t readable) {
  std::int64_t i = 0;
  vectorized([&]() HONE_INLINE_LAMBDA {
    for (; i + 16 <= n && 2 * i + 32 <= readable; i += 16) {
      const DwVec a = *reinterpret_cast<const DwVec*>(src + 2 * i);
      const DwVec b = *reinterpret_cast<const DwVec*>(src + 2 * i + 16);
      if constexpr (Scatter) {
        const DwVec d = *reinterpret_cast<const DwVec*>(dst + i);
        const DwVec nz = {-0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f,
                          -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f};
        *reinterpret_cast<DwVec*>(src + 2 * i) =
            a + __builtin_shufflevector(d, nz, HONE_VEC16_ZIP_LO);
        *reinterpret_cast<DwVec*>(src + 2 * i + 16) =
            b + __builtin_shufflevector(d, nz, HONE_VEC16_ZIP_HI);
      } else {
        *reinterpret_cast<DwVec*>(dst + i) =
            __builtin_shufflevector(a, b, HONE_VEC16_EVENS);
      }
    }
  });
  for (; i < n; ++i) {
    if constexpr (Scatter)
      src[2 * i] += dst[i];
    else
      dst[i] = src[2 * i];
  }
}

/// Lowers the group-grp channels of one image x (C, spatial) into col (C/g * K, out), rows
/// ld apart: row (ci, tap) holds what each output position multiplies with w[., ci, tap], 0
/// in the padding. With Scatter the reverse: col is added back into x (col2im). 2-D
/// geometries may lower only the output rows [oh0, oh1) (a band; oh1 < 0: to the last).
template <bool Scatter>
void im2col(const ConvGeometry& g, std::int64_t grp, std::conditional_t<Scatter, float*, const float*> x,
            float* col, std::int64_t ld, std::int64_t oh0 = 0, std::int64_t oh1 = -1) {
  const std::int64_t cg = g.c / g.groups, osz = ld;
  if (planar(g)) {
    const std::int64_t H = g.in[1], W = g.in[2], OW = g.out[2], OH = oh1 < 0 ? g.out[1] : oh1;
    const std::int64_t sh = g.stride[1], sw = g.stride[2];
    for (std::int64_t ci = 0; ci < cg; ++ci) {
      auto* plane = x + (grp * cg + ci) * g.in_size();
      for (std::int64_t kh = 0; kh < g.k[1]; ++kh)
        for (std::int64_t kw = 0; kw < g.k[2]; ++kw) {
          float* row = col + (ci * g.kernel_size() + kh * g.k[2] + kw) * osz;
          const std::int64_t off = kw * g.dilation[2] - g.pad_begin[2];
          std::int64_t lo, hi;
          valid_range(off, sw, W, OW, lo, hi);
          for (std::int64_t oh = oh0; oh < OH; ++oh) {
            float* out = row + (oh - oh0) * OW;
            const std::int64_t ih = oh * sh - g.pad_begin[1] + kh * g.dilation[1];
            if (ih < 0 || ih >= H) {
              if constexpr (!Scatter) std::fill_n(out, OW, 0.0f);
              continue;
            }
            auto* in = plane + ih * W + off;
            if constexpr (Scatter) {
              if (sw == 1)
                for (std::int64_t ow = lo; ow < hi; ++ow) in[ow] += out[ow];
              else if (sw == 2)
                copy_stride2<true>(out + lo, in + 2 * lo, hi - lo, W - off - 2 * lo);
              else
                for (std::int64_t ow = lo; ow < hi; ++ow) in[ow * sw] += out[ow];
            } else {
              std::fill_n(out, lo, 0.0f);
              if (sw == 1)
                std::memcpy(out + lo, in + lo, static_cast<std::size_t>(hi - lo) * sizeof(float));
              else if (sw == 2)
                copy_stride2<false>(out + lo, in + 2 * lo, hi - lo, W - off - 2 * lo);
              else
                for (std::int64_t ow = lo; ow < hi; ++ow) out[ow] = in[ow * sw];
              std::fill_n(out + hi, OW - hi, 0.0f);
            }
          }
        }
    }
    return;
  }
  for (std::int64_t ci = 0; ci < cg; ++ci) {  // 3-D: the general loop
    auto* plane = x + (grp * cg + ci) * g.in_size();
    for (std::int64_t a = 0; a < g.k[0]; ++a)
      for (std::int64_t b = 0; b < g.k[1]; ++b)
        for (std::int64_t e = 0; e < g.k[2]; ++e) {
          float* row = col + (ci * g.kernel_size() + (a * g.k[1] + b) * g.k[2] + e) * osz;
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

/// Contiguous chunks of [0, n) for the threads: chunk i is [first(i), first(i + 1)).
struct Chunks {
  std::int64_t count, base, extra;
  Chunks(std::int64_t n, std::int64_t threads)
      : count(std::max<std::int64_t>(1, std::min(n, threads))), base(n / count), extra(n % count) {}
  std::int64_t first(std::int64_t i) const { return i * base + std::min(i, extra); }
};

inline bool depthwise(const ConvGeometry& g) { return g.c == g.groups && planar(g); }

/// Several images side by side: for b < nb and r < rows, the n floats of row r of image b
/// (at images + b * image_stride + r * n) and those of row r of the side-by-side matrix (at
/// wide + r * ld + b * n). Gather copies images -> wide, scatter wide -> images.
template <bool Gather>
void side_by_side(std::conditional_t<Gather, const float*, float*> images, std::int64_t image_stride,
                  std::int64_t nb, std::int64_t rows, std::int64_t n, std::conditional_t<Gather, float*, const float*> wide,
                  std::int64_t ld) {
  for (std::int64_t b = 0; b < nb; ++b)
    for (std::int64_t r = 0; r < rows; ++r) {
      auto* image_row = images + b * image_stride + r * n;
      auto* wide_row = wide + r * ld + b * n;
      if constexpr (Gather)
        std::memcpy(wide_row, image_row, static_cast<std::size_t>(n) * sizeof(float));
      else
        std::memcpy(image_row, wide_row, static_cast<std::size_t>(n) * sizeof(float));
    }
}

/// The most floats of lowered input one GEMM takes from a single image: an image
/// whose whole lowered matrix is larger (the 7x7 stride-2 stem: 147 x 12544 floats, 7 MiB)
/// is lowered and multiplied a band of output rows at a time, so that the band is still in
/// the L2 cache when the GEMM packs it.
inline constexpr std::int64_t kIm2colBand = 128 * 1024;

/// Output rows per band for an image lowered one per GEMM (per == 1) whose lowered matrix
/// (k x out floats) exceeds kIm2colBand; 0 where the whole image is lowered at once.
inline std::int64_t im2col_band_rows(const ConvGeometry& g, std::int64_t k, std::int64_t per) {
  if (pointwise(g) || per != 1 || !planar(g) || k * g.out_size() <= kIm2colBand) return 0;
  return std::max<std::int64_t>(1, kIm2colBand / (k * g.out[2]));
}

/// Images lowered together into one GEMM: enough output columns (about 512) that packing
/// the weights and the weight gradient's read-modify-write are amortised over many of them.
inline std::int64_t images_per_gemm(const ConvGeometry& g, std::int64_t chunk) {
  const std::int64_t want = (512 + g.out_size() - 1) / g.out_size();
  return std::max<std::int64_t>(1, std::min(want, chunk));
}

}  // namespace detail_conv

/// y (N, OC, out...) = act(conv(x (N, C, in...), w (OC, C/groups, k...)) + bias (OC, or
/// null)), act the epilogue (none by default). Overwrites y.
inline void conv_forward(const reference::ConvGeometry& g, const float* x, const float* w, const float* bias,
                         float* y, const ConvEpilogue& ep = {}) {
  using namespace detail_conv;
  if (depthwise(g))
    return dw_channel_blocked(g, false) ? depthwise_forward_blocked(g, x, w, bias, y, ep)
                                        : depthwise_forward(g, x, w, bias, y, ep);
  if (conv_winograd() && winograd_applies(g)) return winograd_forward(g, x, w, bias, y, ep);
  const std::int64_t cg = g.c / g.groups, ocg = g.oc / g.groups, osz = g.out_size(), isz = g.in_size();
  const std::int64_t k = cg * g.kernel_size();
  const bool direct = pointwise(g);
  const Chunks chunks(g.n, static_cast<std::int64_t>(get_num_threads()));
  parallel_run(static_cast<std::size_t>(chunks.count), [&](std::size_t chunk) {
    const auto ci = static_cast<std::int64_t>(chunk);
    const std::int64_t first = chunks.first(ci), last = chunks.first(ci + 1);
    const std::int64_t per = direct ? 1 : images_per_gemm(g, last - first);
    const std::int64_t ld = per * osz;  // row stride of col and of the staged output
    const std::int64_t band = im2col_band_rows(g, k, per);
    const bool banded = band > 0;
    float* col = direct ? nullptr : scratch(0, banded ? k * band * g.out[2] : k * ld);
    float* staged = per > 1 ? scratch(1, ocg * ld) : nullptr;
    for (std::int64_t n0 = first; n0 < last; n0 += per) {
      const std::int64_t nb = std::min(per, last - n0);
      for (std::int64_t grp = 0; grp < g.groups; ++grp) {
        const float* wg = w + grp * ocg * k;
        if (direct) {  // one image, the plane is the operand
          float* out = y + (n0 * g.oc + grp * ocg) * osz;
          hone::gemm(Trans::No, Trans::No, ocg, osz, k, 1.0f, wg, k, x + n0 * g.c * isz + grp * cg * isz, osz,
                     0.0f, out, osz);
        } else if (banded) {  // one image, a band of output rows at a time
          float* out = y + (n0 * g.oc + grp * ocg) * osz;
          for (std::int64_t oh0 = 0; oh0 < g.out[1]; oh0 += band) {
            const std::int64_t oh1 = std::min(g.out[1], oh0 + band), cols = (oh1 - oh0) * g.out[2];
            im2col<false>(g, grp, x + n0 * g.c * isz, col, cols, oh0, oh1);
            hone::gemm(Trans::No, Trans::No, ocg, cols, k, 1.0f, wg, k, col, cols, 0.0f, out + oh0 * g.out[2], osz);
          }
        } else {
          for (std::int64_t b = 0; b < nb; ++b) im2col<false>(g, grp, x + (n0 + b) * g.c * isz, col + b * osz, ld);
          float* out = nb == 1 ? y + (n0 * g.oc + grp * ocg) * osz : staged;
          const std::int64_t ldo = nb == 1 ? osz : ld;
          hone::gemm(Trans::No, Trans::No, ocg, nb * osz, k, 1.0f, wg, k, col, ld, 0.0f, out, ldo);
          if (nb > 1) side_by_side<false>(y + (n0 * g.oc + grp * ocg) * osz, g.oc * osz, nb, ocg, osz, staged, ld);
        }
        if (bias || ep.kind != ConvEpilogue::none)
          for (std::int64_t b = 0; b < nb; ++b)
            for (std::int64_t o = 0; o < ocg; ++o)
              finish_rows(ep, y + ((n0 + b) * g.oc + grp * ocg + o) * osz, 1, osz, bias ? bias[grp * ocg + o] : 0.0f);
      }
    }
  });
}

/// Adds the gradients of conv_forward's loss into dx (N, C, in...) and dw (OC, C/groups,
/// k...), given dy (N, OC, out...); pass null for a gradient that is not needed (x may be
/// null when dw is, w when dx is). With assign_dx, dx is written instead of added into (its
/// contents are never read: it may be uninitialised); dw is always added into.
inline void conv_backward(const reference::ConvGeometry& g, const float* dy, const float* x, const float* w,
                          float* dx, float* dw, bool assign_dx = false) {
  using namespace detail_conv;
  if (!dx && !dw) return;
  if (dx && assign_dx && (g.out_size() == 0 || g.oc == 0)) {  // nothing flows back: zeros
    std::fill_n(dx, g.n * g.c * g.in_size(), 0.0f);
    assign_dx = false;
  }
  if (depthwise(g))
    return dw_channel_blocked(g, true) ? depthwise_backward_blocked(g, dy, x, w, dx, dw, assign_dx)
                                       : depthwise_backward(g, dy, x, w, dx, dw, assign_dx);
  if (conv_winograd() && winograd_applies(g)) {
    if (dx) winograd_backward_data(g, dy, w, dx, assign_dx);
    if (dw) winograd_backward_weights(g, dy, x, dw);
    return;
  }
  const std::int64_t cg = g.c / g.groups, ocg = g.oc / g.groups, osz = g.out_size(), isz = g.in_size();
  const std::int64_t k = cg * g.kernel_size(), wsize = g.oc * k;
  const bool direct = pointwise(g);
  const Chunks chunks(g.n, static_cast<std::int64_t>(get_num_threads()));
  // Chunk 0 adds into dw itself; the others into zeroed partials, summed in chunk order.
  std::vector<float> partial(dw ? static_cast<std::size_t>((chunks.count - 1) * wsize) : 0, 0.0f);
  parallel_run(static_cast<std::size_t>(chunks.count), [&](std::size_t chunk) {
    const auto ci = static_cast<std::int64_t>(chunk);
    const std::int64_t first = chunks.first(ci), last = chunks.first(ci + 1);
    float* dw_here = !dw ? nullptr : ci == 0 ? dw : partial.data() + (ci - 1) * wsize;
    const std::int64_t per = images_per_gemm(g, last - first);
    const std::int64_t ld = per * osz;
    // As in conv_forward, an image whose lowered matrix outgrows kIm2colBand is lowered a
    // band of output rows at a time (both gradients).
    const std::int64_t band = im2col_band_rows(g, k, per);
    const bool banded = band > 0;
    const std::int64_t col_floats = banded ? k * band * g.out[2] : k * ld;
    // col: the images' im2col (or their input planes, 1x1), dyb: their dy side by side,
    // dcol: the data gradient before col2im.
    float* col = scratch(0, col_floats);
    float* dyb = per > 1 ? scratch(1, ocg * ld) : nullptr;
    float* dcol = direct && per == 1 ? nullptr : scratch(2, col_floats);
    for (std::int64_t n0 = first; n0 < last; n0 += per) {
      const std::int64_t nb = std::min(per, last - n0);
      for (std::int64_t grp = 0; grp < g.groups; ++grp) {
        if (banded) {
          const float* xi = x ? x + n0 * g.c * isz : nullptr;
          float* dxi = dx ? dx + n0 * g.c * isz : nullptr;
          if (dxi && assign_dx) std::fill_n(dxi + grp * cg * isz, cg * isz, 0.0f);  // col2im adds
          const float* dyg = dy + (n0 * g.oc + grp * ocg) * osz;
          for (std::int64_t oh0 = 0; oh0 < g.out[1]; oh0 += band) {
            const std::int64_t oh1 = std::min(g.out[1], oh0 + band), cols = (oh1 - oh0) * g.out[2];
            const float* dyband = dyg + oh0 * g.out[2];
            if (dw_here) {
              im2col<false>(g, grp, xi, col, cols, oh0, oh1);
              hone::gemm(Trans::No, Trans::Yes, ocg, k, cols, 1.0f, dyband, osz, col, cols, 1.0f,
                         dw_here + grp * ocg * k, k);
            }
            if (dxi) {
              hone::gemm(Trans::Yes, Trans::No, k, cols, ocg, 1.0f, w + grp * ocg * k, k, dyband, osz, 0.0f, dcol,
                         cols);
              im2col<true>(g, grp, dxi, dcol, cols, oh0, oh1);
            }
          }
          continue;
        }
        const float* dyg = dy + (n0 * g.oc + grp * ocg) * osz;
        std::int64_t ldy = osz;
        if (nb > 1) {  // gather dy of the nb images: (ocg, nb * osz)
          side_by_side<true>(dy + (n0 * g.oc + grp * ocg) * osz, g.oc * osz, nb, ocg, osz, dyb, ld);
          dyg = dyb;
          ldy = ld;
        }
        if (dw_here) {  // dW_g (ocg, k) += dY (ocg, nb*osz) col^T
          const float* bm = col;
          std::int64_t ldb = ld;
          if (direct && nb == 1) {
            bm = x + n0 * g.c * isz + grp * cg * isz;
            ldb = osz;
          } else if (direct) {
            side_by_side<true>(x + n0 * g.c * isz + grp * cg * isz, g.c * isz, nb, cg, isz, col, ld);
          } else {
            for (std::int64_t b = 0; b < nb; ++b) im2col<false>(g, grp, x + (n0 + b) * g.c * isz, col + b * osz, ld);
          }
          hone::gemm(Trans::No, Trans::Yes, ocg, k, nb * osz, 1.0f, dyg, ldy, bm, ldb, 1.0f, dw_here + grp * ocg * k, k);
        }
        if (dx) {  // dcol (k, nb*osz) = W_g^T dY, scattered back into dx
          const float* wg = w + grp * ocg * k;
          if (direct && nb == 1) {
            hone::gemm(Trans::Yes, Trans::No, k, osz, ocg, 1.0f, wg, k, dyg, ldy, assign_dx ? 0.0f : 1.0f,
                       dx + n0 * g.c * isz + grp * cg * isz, osz);
            continue;
          }
          hone::gemm(Trans::Yes, Trans::No, k, nb * osz, ocg, 1.0f, wg, k, dyg, ldy, 0.0f, dcol, ld);
          for (std::int64_t b = 0; b < nb; ++b) {
            float* dxi = dx + (n0 + b) * g.c * isz;
            if (direct) {
              for (std::int64_t c = 0; c < cg; ++c) {
                float* dst = dxi + (grp * cg + c) * isz;
                const float* src = dcol + c * ld + b * osz;
                if (assign_dx)
                  std::memcpy(dst, src, static_cast<std::size_t>(osz) * sizeof(float));
                else
                  for (std::int64_t i = 0; i < osz; ++i) dst[i] += src[i];
              }
            } else {
              if (assign_dx) std::fill_n(dxi + grp * cg * isz, cg * isz, 0.0f);  // col2im adds
              im2col<true>(g, grp, dxi, dcol + b * osz, ld);
            }
          }
        }
      }
    }
  });
  if (dw && chunks.count > 1)
    parallel_for(0, wsize, 4096, [&](std::int64_t lo, std::int64_t hi) {
      for (std::int64_t c = 1; c < chunks.count; ++c) {
        const float* p = partial.data() + (c - 1) * wsize;
        for (std::int64_t i = lo; i < hi; ++i) dw[i] += p[i];
      }
    });
}

}  // namespace hone::kernels
