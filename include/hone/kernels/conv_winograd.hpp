// hone/kernels/conv_winograd.hpp — Winograd F(4x4, 3x3) for 2-D 3x3 convolutions with stride
// 1 and dilation 1 (ResNet's 3x3 layers), all three passes: forward; backward-data as the
// same algorithm on dy with the filters flipped and transposed; backward-weights as its
// transpose. Used by kernels/conv.hpp when winograd_applies(); tested against
// kernels/reference/conv.hpp (tests/unit/test_conv_winograd.cpp).
//
// Each 4x4 block of outputs (a tile) is computed from the 6x6 input patch under it as
//   Y = A^T [ sum over input channels of (G g G^T) .* (B^T d B) ] A
// (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016; interpolation
// points 0, +-1, +-2 and infinity). The sum over channels for each of the 36 positions of the
// transformed tile is one GEMM: M[xi] (OC, tiles) = U[xi] (OC, C) V[xi] (C, tiles). That is
// 36 multiplications per tile and channel pair against im2col's 144 (4x fewer; about 3x
// where the plane is not a multiple of 4, as 7x7 and 14x14, whose last tiles are partial).
//
//   U  the filters transformed once per call (36, OC, C), shared by all threads.
//   V  the input tiles of a block of tile rows, transformed (36, C, tiles + 16), per thread.
//   M  the GEMM results (36, OC, tiles + 16), transformed back into y.
// The work is split into blocks of whole tile rows (a tile row: one image, 4 output rows);
// each block is one task of the pool, with its GEMMs single-threaded inside it. Where that
// would leave each thread 32 tiles or fewer (7x7 planes at small batches), the work is split
// by output channels instead (winograd_run_split): V of all tiles once, then per task 32
// output channels' filters transformed, their 36 GEMMs and output transform. The weight
// gradient instead accumulates dU[xi] (OC, C) += dM[xi] V[xi]^T over blocks of up to 32 MiB,
// dM = A dY A^T, and ends with dw += G^T dU G (winograd_backward_weights).
//
// Transforms run 16 tiles at a time in vector registers (GCC vector extensions compiled for
// the active ISA by detail::vectorized). For the input, six rows of the padded plane are
// staged per tile row and channel with their columns split by phase mod 4 (column 4 m + ph
// at ph * twq + m, twq the tiles rounded up to 16), so the six columns of consecutive tiles
// are consecutive floats.
//
// Accuracy: the transforms multiply by up to 8 and divide by 24, so rounding errors are
// larger than im2col's (about 20-30x on ResNet-18's layers), bounded by the same algorithm
// taken in absolute values (see the test). set_conv_winograd(false) or HONE_CONV_WINOGRAD=0
// turns the path off.
#pragma once

#include <algorithm>    // std::min, std::max, std::fill_n
#include <atomic>       // the on/off switch
#include <cstdint>      // std::int64_t
#include <cstdlib>      // std::getenv
#include <cstring>      // std::strcmp
#include <memory>       // the transformed-filter buffer

#include "hone/core/parallel.hpp"
#include "hone/kernels/conv_depthwise.hpp"  // ConvEpilogue, DwVec, vectorized
#include "hone/kernels/detail/scratch.hpp"
#include "hone/kernels/gemm.hpp"
#include "hone/kernels/reference/conv.hpp"

namespace hone::kernels {

namespace detail_conv {
inline std::atomic<bool>& winograd_switch() {
  static std::atomic<bool> on{[] {
    const char* env = std::getenv("HONE_CONV_WINOGRAD");
    return !(env && std::strcmp(env, "0") == 0);
  }()};
  return on;
}
}  // namespace detail_conv

/// Whether conv_forward and conv_backward (both gradients) use Winograd F(4x4, 3x3) for the
/// convolutions it applies to (on by default; HONE_CONV_WINOGRAD=0 in the environment turns
/// it off at start-up). Off, every convolution goes through im2col + GEMM.
inline void set_conv_winograd(bool on) { detail_conv::winograd_switch() = on; }
inline bool conv_winograd() { return detail_conv::winograd_switch(); }

namespace detail_conv {

using reference::ConvGeometry;

/// Fewer channels than this (in or out) and im2col + GEMM is faster.
inline constexpr std::int64_t kWinoMinChannels = 16;

/// 2-D (unit depth, no depth padding), one group, 3x3, stride 1, dilation 1, begin padding
/// <= 2, >= 16 channels each way.
inline bool winograd_applies(const ConvGeometry& g) {
  return g.in[0] == 1 && g.k[0] == 1 && g.out[0] == 1 && g.pad_begin[0] == 0 && g.groups == 1 && g.k[1] == 3 &&
         g.k[2] == 3 && g.stride[1] == 1 && g.stride[2] == 1 && g.dilation[1] == 1 && g.dilation[2] == 1 && g.pad_begin[1] >= 0 &&
         g.pad_begin[1] <= 2 && g.pad_begin[2] >= 0 && g.pad_begin[2] <= 2 && g.c >= kWinoMinChannels &&
         g.oc >= kWinoMinChannels && g.out[1] >= 1 && g.out[2] >= 1;
}

/// One Winograd convolution: y (n, oc, oh, ow) from x (n, c, h, w) with begin padding
/// (pt, pl); whatever lies outside x is zero.
struct WinoShape {
  std::int64_t n, c, oc, h, w, oh, ow, pt, pl;
};

/// The forward convolution of g (x -> y) as a WinoShape.
inline WinoShape wino_forward_shape(const ConvGeometry& g) {
  return {g.n, g.c, g.oc, g.in[1], g.in[2], g.out[1], g.out[2], g.pad_begin[1], g.pad_begin[2]};
}

/// The 1-D transforms work memory to memory, 16 lanes at a time: they load DwVec values
/// into named locals and store the results. No vector is passed by value (its ABI would
/// depend on the caller's ISA) or by reference (clang's ASan build mis-aligns referenced
/// vector locals; see conv_depthwise.hpp).
/// Lane masks (comparison results) for bitwise selects.
typedef int WinoMask __attribute__((vector_size(64)));

/// out[k * os] = (B^T d)[k], d[r] the 16 floats at the six pointers: the input transform.
[[gnu::always_inline]] inline void wino_bt(const float* p0, const float* p1, const float* p2, const float* p3,
                                           const float* p4, const float* p5, float* out, std::int64_t os) {
  const DwVec d0 = *reinterpret_cast<const DwVec*>(p0), d1 = *reinterpret_cast<const DwVec*>(p1);
  const DwVec d2 = *reinterpret_cast<const DwVec*>(p2), d3 = *reinterpret_cast<const DwVec*>(p3);
  const DwVec d4 = *reinterpret_cast<const DwVec*>(p4), d5 = *reinterpret_cast<const DwVec*>(p5);
  const DwVec e = d4 - d2, f = d3 - d1;
  *reinterpret_cast<DwVec*>(out) = 4.0f * (d0 - d2) + e;
  *reinterpret_cast<DwVec*>(out + os) = (d3 + d4) - 4.0f * (d1 + d2);
  *reinterpret_cast<DwVec*>(out + 2 * os) = (d4 - d3) + 4.0f * (d1 - d2);
  *reinterpret_cast<DwVec*>(out + 3 * os) = e + 2.0f * f;
  *reinterpret_cast<DwVec*>(out + 4 * os) = e - 2.0f * f;
  *reinterpret_cast<DwVec*>(out + 5 * os) = 4.0f * (d1 - d3) + (d5 - d3);
}

/// out[k * os] = (A^T m)[k], m[i] the 16 floats at p + i * is: the output transform.
[[gnu::always_inline]] inline void wino_at(const float* p, std::int64_t is, float* out, std::int64_t os) {
  const DwVec m0 = *reinterpret_cast<const DwVec*>(p), m1 = *reinterpret_cast<const DwVec*>(p + is);
  const DwVec m2 = *reinterpret_cast<const DwVec*>(p + 2 * is), m3 = *reinterpret_cast<const DwVec*>(p + 3 * is);
  const DwVec m4 = *reinterpret_cast<const DwVec*>(p + 4 * is), m5 = *reinterpret_cast<const DwVec*>(p + 5 * is);
  const DwVec a = m1 + m2, b = m1 - m2, c = m3 + m4, d = m3 - m4;
  *reinterpret_cast<DwVec*>(out) = m0 + a + c;
  *reinterpret_cast<DwVec*>(out + os) = b + 2.0f * d;
  *reinterpret_cast<DwVec*>(out + 2 * os) = a + 4.0f * c;
  *reinterpret_cast<DwVec*>(out + 3 * os) = b + 8.0f * d + m5;
}

/// out[k * os] = (G g)[k], g[i] the 16 floats at p + i * is: the filter transform.
[[gnu::always_inline]] inline void wino_g(const float* p, std::int64_t is, float* out, std::int64_t os) {
  const DwVec g0 = *reinterpret_cast<const DwVec*>(p), g1 = *reinterpret_cast<const DwVec*>(p + is);
  const DwVec g2 = *reinterpret_cast<const DwVec*>(p + 2 * is);
  const DwVec s = g0 + g2, h = g0 * (1.0f / 24.0f) + g2 * (1.0f / 6.0f), k = g1 * (1.0f / 12.0f);
  *reinterpret_cast<DwVec*>(out) = g0 * 0.25f;
  *reinterpret_cast<DwVec*>(out + os) = (s + g1) * (-1.0f / 6.0f);
  *reinterpret_cast<DwVec*>(out + 2 * os) = (s - g1) * (-1.0f / 6.0f);
  *reinterpret_cast<DwVec*>(out + 3 * os) = h + k;
  *reinterpret_cast<DwVec*>(out + 4 * os) = h - k;
  *reinterpret_cast<DwVec*>(out + 5 * os) = g2;
}

/// out[k * os] = (A y)[k], y[p] the 16 floats at p + p * is (four of them): the transposed
/// output transform (the data gradient of A^T m), four values into six.
[[gnu::always_inline]] inline void wino_a(const float* p, std::int64_t is, float* out, std::int64_t os) {
  const DwVec y0 = *reinterpret_cast<const DwVec*>(p), y1 = *reinterpret_cast<const DwVec*>(p + is);
  const DwVec y2 = *reinterpret_cast<const DwVec*>(p + 2 * is), y3 = *reinterpret_cast<const DwVec*>(p + 3 * is);
  const DwVec a = y0 + y2, b = y1 + y3, c = y0 + 4.0f * y2, d = 2.0f * y1 + 8.0f * y3;
  *reinterpret_cast<DwVec*>(out) = y0;
  *reinterpret_cast<DwVec*>(out + os) = a + b;
  *reinterpret_cast<DwVec*>(out + 2 * os) = a - b;
  *reinterpret_cast<DwVec*>(out + 3 * os) = c + d;
  *reinterpret_cast<DwVec*>(out + 4 * os) = c - d;
  *reinterpret_cast<DwVec*>(out + 5 * os) = y3;
}

/// out[k * os] = (G^T u)[k], u[j] the 16 floats at p + j * is (six of them): the transposed
/// filter transform (the gradient of G g), six values into three.
[[gnu::always_inline]] inline void wino_gt(const float* p, std::int64_t is, float* out, std::int64_t os) {
  const DwVec u0 = *reinterpret_cast<const DwVec*>(p), u1 = *reinterpret_cast<const DwVec*>(p + is);
  const DwVec u2 = *reinterpret_cast<const DwVec*>(p + 2 * is), u3 = *reinterpret_cast<const DwVec*>(p + 3 * is);
  const DwVec u4 = *reinterpret_cast<const DwVec*>(p + 4 * is), u5 = *reinterpret_cast<const DwVec*>(p + 5 * is);
  const DwVec s12 = u1 + u2, s34 = u3 + u4;
  *reinterpret_cast<DwVec*>(out) = u0 * 0.25f - s12 * (1.0f / 6.0f) + s34 * (1.0f / 24.0f);
  *reinterpret_cast<DwVec*>(out + os) = (u2 - u1) * (1.0f / 6.0f) + (u3 - u4) * (1.0f / 12.0f);
  *reinterpret_cast<DwVec*>(out + 2 * os) = (s34 - s12) * (1.0f / 6.0f) + u5;
}

/// dst[0, n) = src[0, n), 16 floats at a time, then one by one.
[[gnu::always_inline]] inline void wino_copy(float* dst, const float* src, std::int64_t n) {
  std::int64_t k = 0;
  for (; k + 16 <= n; k += 16) *reinterpret_cast<DwVec*>(dst + k) = *reinterpret_cast<const DwVec*>(src + k);
  for (; k < n; ++k) dst[k] = src[k];
}

/// The 64 floats at src split by position mod 4: float 4 l + ph to dst[ph * ps + l].
[[gnu::always_inline]] inline void wino_split4(const float* src, float* dst, std::int64_t ps) {
  const DwVec a = *reinterpret_cast<const DwVec*>(src), b = *reinterpret_cast<const DwVec*>(src + 16);
  const DwVec c = *reinterpret_cast<const DwVec*>(src + 32), d = *reinterpret_cast<const DwVec*>(src + 48);
  const DwVec e1 = __builtin_shufflevector(a, b, HONE_VEC16_EVENS), o1 = __builtin_shufflevector(a, b, HONE_VEC16_ODDS);
  const DwVec e2 = __builtin_shufflevector(c, d, HONE_VEC16_EVENS), o2 = __builtin_shufflevector(c, d, HONE_VEC16_ODDS);
  *reinterpret_cast<DwVec*>(dst) = __builtin_shufflevector(e1, e2, HONE_VEC16_EVENS);
  *reinterpret_cast<DwVec*>(dst + ps) = __builtin_shufflevector(o1, o2, HONE_VEC16_EVENS);
  *reinterpret_cast<DwVec*>(dst + 2 * ps) = __builtin_shufflevector(e1, e2, HONE_VEC16_ODDS);
  *reinterpret_cast<DwVec*>(dst + 3 * ps) = __builtin_shufflevector(o1, o2, HONE_VEC16_ODDS);
}

/// The inverse: src[ph * ps + l] to float 4 l + ph of the 64 at dst.
[[gnu::always_inline]] inline void wino_join4(const float* src, std::int64_t ps, float* dst) {
  const DwVec p0 = *reinterpret_cast<const DwVec*>(src), p1 = *reinterpret_cast<const DwVec*>(src + ps);
  const DwVec p2 = *reinterpret_cast<const DwVec*>(src + 2 * ps), p3 = *reinterpret_cast<const DwVec*>(src + 3 * ps);
  const DwVec e1 = __builtin_shufflevector(p0, p2, HONE_VEC16_ZIP_LO), e2 = __builtin_shufflevector(p0, p2, HONE_VEC16_ZIP_HI);
  const DwVec o1 = __builtin_shufflevector(p1, p3, HONE_VEC16_ZIP_LO), o2 = __builtin_shufflevector(p1, p3, HONE_VEC16_ZIP_HI);
  *reinterpret_cast<DwVec*>(dst) = __builtin_shufflevector(e1, o1, HONE_VEC16_ZIP_LO);
  *reinterpret_cast<DwVec*>(dst + 16) = __builtin_shufflevector(e1, o1, HONE_VEC16_ZIP_HI);
  *reinterpret_cast<DwVec*>(dst + 32) = __builtin_shufflevector(e2, o2, HONE_VEC16_ZIP_LO);
  *reinterpret_cast<DwVec*>(dst + 48) = __builtin_shufflevector(e2, o2, HONE_VEC16_ZIP_HI);
}

/// Floats from one of the 36 planes of a rows x cols matrix to the next: one cache line
/// more than its size (see winograd_run).
inline std::int64_t winograd_plane(std::int64_t size) { return size + 16; }

/// u (36, rows, cols) = G f G^T for the 3x3 filter f of (r, col), whose taps are at
/// w + r * rs + col * cs + tap, in reverse order when flip (the backward-data filters).
inline void winograd_filters(const float* w, std::int64_t rows, std::int64_t cols, std::int64_t rs, std::int64_t cs,
                             bool flip, float* u) {
  const std::int64_t colp = (cols + 15) / 16 * 16, plane = winograd_plane(rows * cols);
  parallel_for(0, rows, std::max<std::int64_t>(1, 4096 / cols), [&](std::int64_t lo, std::int64_t hi) {
    // taps (9, colp): tap t of column col at t * colp + col; half (3 x 6 x 16): G along each
    // filter row; full (6 x 6 x 16): the transformed filters of 16 columns.
    float* taps = scratch(2, 9 * colp + 18 * 16 + 36 * 16);
    float* half = taps + 9 * colp;
    float* full = half + 18 * 16;
    for (std::int64_t r = lo; r < hi; ++r) {
      for (std::int64_t t = 0; t < 9; ++t) {
        const float* src = w + r * rs + (flip ? 8 - t : t);
        float* dst = taps + t * colp;
        for (std::int64_t col = 0; col < cols; ++col) dst[col] = src[col * cs];
        for (std::int64_t col = cols; col < colp; ++col) dst[col] = 0.0f;
      }
      vectorized([&]() HONE_INLINE_LAMBDA {
        for (std::int64_t col = 0; col < cols; col += 16) {
          for (std::int64_t kh = 0; kh < 3; ++kh) wino_g(taps + 3 * kh * colp + col, colp, half + kh * 96, 16);
          for (std::int64_t j = 0; j < 6; ++j) wino_g(half + j * 16, 96, full + j * 16, 96);  // full[i][j]
          const std::int64_t valid = std::min<std::int64_t>(16, cols - col);
          for (std::int64_t e = 0; e < 36; ++e) {
            float* dst = u + e * plane + r * cols + col;
            if (valid == 16)
              *reinterpret_cast<DwVec*>(dst) = *reinterpret_cast<const DwVec*>(full + e * 16);
            else
              for (std::int64_t l = 0; l < valid; ++l) dst[l] = full[e * 16 + l];
          }
        }
      });
    }
  });
}

/// A grow-only buffer of the calling thread for the transformed filters.
inline float* winograd_filter_buffer(std::int64_t count) {
  thread_local std::unique_ptr<float[]> data;
  thread_local std::int64_t size = 0;
  if (size < count) {
    data.reset(new float[static_cast<std::size_t>(count)]);
    size = count;
  }
  return data.get();
}

/// Tile geometry of a WinoShape: tile rows (units) of tw tiles; staging sizes.
struct WinoTiles {
  std::int64_t th, tw;  // tiles down and across a plane
  std::int64_t twq;     // floats per staged tile column (tw rounded up to 16)
  std::int64_t lq;      // staged floats per row (six tile columns)
  std::int64_t lp;      // floats per zero-padded input row
  explicit WinoTiles(const WinoShape& s)
      : th((s.oh + 3) / 4), tw((s.ow + 3) / 4), twq((tw + 15) / 16 * 16), lq(6 * twq), lp(4 * twq + 64) {}
  /// Floats of work space wino_input and wino_output need (per thread).
  std::int64_t work() const { return 12 * lp + 12 * lq + 6 * 64 + 16 * 16 + 4 * 64; }
};

/// V (36 planes vplane apart; channel ci's tiles at ci * ld + tile) = B^T d B for the input
/// tiles of tile rows [u0, u1) (tile row u: image u / th, rows 4 (u % th) ...), channels
/// [c0, c1). work: WinoTiles::work() floats of this thread's.
inline void wino_input(const WinoShape& s, const WinoTiles& t, const float* x, std::int64_t u0, std::int64_t u1,
                       std::int64_t c0, std::int64_t c1, float* v, std::int64_t vplane, std::int64_t ld, float* work) {
  const std::int64_t th_count = t.th, tw_count = t.tw, twq = t.twq, lq = t.lq, lp = t.lp;
  const std::int64_t isz = s.h * s.w;
  const std::int64_t row_len = std::min(s.w, lp - s.pl);  // input floats copied per row
  // prow: two sets (channels ci and ci + 1) of the six input rows of a tile row,
  // zero-padded; stage: for each row r and tile column s (0..5) of the patches, the floats
  // of the tiles side by side (column 4 m + s of the padded row at r * lq + s * twq + m);
  // rows_t: stage after B^T down the rows; obuf: 64 floats of scratch.
  float* prow = work;
  float* stage = prow + 12 * lp;
  float* rows_t = stage + 6 * lq;
  float* obuf = rows_t + 6 * lq;
  std::fill_n(prow, 12 * lp, 0.0f);  // only [pl, pl + row_len) of a row is ever rewritten
  vectorized([&]() HONE_INLINE_LAMBDA {
    for (std::int64_t unit = u0; unit < u1; ++unit) {
      const std::int64_t b = unit / th_count, th = unit % th_count, t0 = (unit - u0) * tw_count;
      // Copies the six rows of channel ci into set ci % 2. A channel's rows are copied one
      // channel ahead of their use, so that the (unaligned) loads of the split below do not
      // wait on the copies' stores.
      auto copy_rows = [&](std::int64_t ci) HONE_INLINE_LAMBDA {
        const float* xc = x + (b * s.c + ci) * isz;
        for (std::int64_t r = 0; r < 6; ++r) {
          const std::int64_t ir = 4 * th + r - s.pt;
          if (ir < 0 || ir >= s.h) continue;
          const float* src = xc + ir * s.w;
          wino_copy(prow + ((ci & 1) * 6 + r) * lp + s.pl, src, row_len);
          if (ci + 2 < c1)  // and fetches the rows of the channel after that
            for (std::int64_t k = 0; k < row_len; k += 16) __builtin_prefetch(src + 2 * isz + k);
        }
      };
      copy_rows(c0);
      for (std::int64_t ci = c0; ci < c1; ++ci) {
        if (ci + 1 < c1) copy_rows(ci + 1);
        const float* rows_in = prow + (ci & 1) * 6 * lp;
        for (std::int64_t r = 0; r < 6; ++r) {
          const std::int64_t ir = 4 * th + r - s.pt;
          float* dst = stage + r * lq;
          if (ir < 0 || ir >= s.h) {
            std::fill_n(dst, lq, 0.0f);
            continue;
          }
          // Columns 4 m + 0..3, then 4 (m + 1) + 0..1 (the patches overlap by two).
          for (std::int64_t mq = 0; mq < twq; mq += 16) {
            wino_split4(rows_in + r * lp + 4 * mq, dst + mq, twq);
            wino_split4(rows_in + r * lp + 4 * mq + 4, obuf, 16);
            std::memcpy(dst + 4 * twq + mq, obuf, 16 * sizeof(float));
            std::memcpy(dst + 5 * twq + mq, obuf + 16, 16 * sizeof(float));
          }
        }
        for (std::int64_t q = 0; q < lq; q += 16) {  // B^T down the rows
          const float* p = stage + q;
          wino_bt(p, p + lq, p + 2 * lq, p + 3 * lq, p + 4 * lq, p + 5 * lq, rows_t + q, lq);
        }
        for (std::int64_t i = 0; i < 6; ++i)  // then along them, 16 tiles at a time
          for (std::int64_t tw = 0; tw < tw_count; tw += 16) {
            const float* p = rows_t + i * lq + tw;
            // Stores reach up to 15 floats past this tile row: the next tile row's, written
            // after this one, or the 16 spare floats at the end of the block.
            wino_bt(p, p + twq, p + 2 * twq, p + 3 * twq, p + 4 * twq, p + 5 * twq,
                    v + i * 6 * vplane + ci * ld + t0 + tw, vplane);
          }
      }
    }
  });
}

/// dM (36 planes mplane apart; channel o's tiles at o * ld + tile) = A dY A^T for the dy
/// tiles of tile rows [u0, u1), channels [o0, o1) (zeros past the plane's last row and
/// column). work: WinoTiles::work() floats of this thread's.
inline void wino_dy(const WinoShape& s, const WinoTiles& t, const float* dy, std::int64_t u0, std::int64_t u1,
                    std::int64_t o0, std::int64_t o1, float* m, std::int64_t mplane, std::int64_t ld, float* work) {
  const std::int64_t twq = t.twq, lr = t.lp, osz = s.oh * s.ow;
  // rows: four dy rows, zero-padded (lp floats each); split: their columns by phase (column
  // 4 m + q of row p at (p * 4 + q) * twq + m); cols: after A down the rows ((i * 4 + q) *
  // twq + m). 4 lp + 40 twq floats, within work().
  float* rows = work;
  float* split = rows + 4 * lr;
  float* cols = split + 16 * twq;
  std::fill_n(rows, 4 * lr, 0.0f);  // only [0, ow) of a row is ever rewritten
  vectorized([&]() HONE_INLINE_LAMBDA {
    for (std::int64_t unit = u0; unit < u1; ++unit) {
      const std::int64_t b = unit / t.th, th = unit % t.th, t0 = (unit - u0) * t.tw;
      const std::int64_t nrows = std::min<std::int64_t>(4, s.oh - 4 * th);
      for (std::int64_t o = o0; o < o1; ++o) {
        const float* yo = dy + (b * s.oc + o) * osz + 4 * th * s.ow;
        for (std::int64_t p = 0; p < 4; ++p) {
          float* dst = rows + p * lr;
          if (p >= nrows) {  // past the last row (the last tile row only)
            std::fill_n(dst, s.ow, 0.0f);
            continue;
          }
          wino_copy(dst, yo + p * s.ow, s.ow);
        }
        for (std::int64_t p = 0; p < 4; ++p)
          for (std::int64_t mq = 0; mq < twq; mq += 16) wino_split4(rows + p * lr + 4 * mq, split + p * 4 * twq + mq, twq);
        for (std::int64_t q = 0; q < 4; ++q)  // A down the rows p
          for (std::int64_t mq = 0; mq < twq; mq += 16) wino_a(split + q * twq + mq, 4 * twq, cols + q * twq + mq, 4 * twq);
        for (std::int64_t i = 0; i < 6; ++i)  // then along them; stores reach 15 floats on
          for (std::int64_t tw = 0; tw < t.tw; tw += 16)  // (as in wino_input)
            wino_a(cols + i * 4 * twq + tw, twq, m + i * 6 * mplane + o * ld + t0 + tw, mplane);
      }
    }
  });
}

/// y (channels [o0, o1)) = act(M + bias) (accumulate false) or y += M (accumulate true, no
/// bias or act), after the output transform A^T M A of the tiles of tile rows [u0, u1):
/// M (36 planes mplane apart) holds channel o's tiles at (o - o0) * ld. work:
/// WinoTiles::work() floats of this thread's.
inline void wino_output(const WinoShape& s, const WinoTiles& t, const float* m, std::int64_t mplane, std::int64_t ld,
                        std::int64_t u0, std::int64_t u1, std::int64_t o0, std::int64_t o1, const float* bias,
                        float* y, const ConvEpilogue& ep, bool accumulate, float* work) {
  const std::int64_t th_count = t.th, tw_count = t.tw, osz = s.oh * s.ow;
  float* rbuf = work + 12 * t.lp + 12 * t.lq;
  float* ybuf = rbuf + 6 * 64;
  float* obuf = ybuf + 16 * 16;
  vectorized([&]() HONE_INLINE_LAMBDA {
    for (std::int64_t unit = u0; unit < u1; ++unit) {
      const std::int64_t b = unit / th_count, th = unit % th_count, t0 = (unit - u0) * tw_count;
      const std::int64_t rows = std::min<std::int64_t>(4, s.oh - 4 * th);
      for (std::int64_t o = o0; o < o1; ++o) {
        const float add = bias ? bias[o] : 0.0f;
        for (std::int64_t tw = 0; tw < tw_count; tw += 16) {
          // A^T along each row i of the transformed tile into rbuf[i][qq], then down the
          // columns into ybuf[pp][qq]: output (pp, qq) of 16 tiles.
          for (std::int64_t i = 0; i < 6; ++i)
            wino_at(m + i * 6 * mplane + (o - o0) * ld + t0 + tw, mplane, rbuf + i * 64, 16);
          for (std::int64_t qq = 0; qq < 4; ++qq) wino_at(rbuf + qq * 16, 64, ybuf + qq * 16, 64);
          const std::int64_t cols = std::min<std::int64_t>(64, s.ow - 4 * tw);
          for (std::int64_t pp = 0; pp < rows; ++pp) {
            wino_join4(ybuf + pp * 64, 16, obuf);  // output row 4 th + pp, columns 4 tw ...
            float* yr = y + (b * s.oc + o) * osz + (4 * th + pp) * s.ow + 4 * tw;
            // 16 columns at a time: the loads match the stores of wino_join4.
            for (std::int64_t col = 0; col < cols; col += 16) {
              const std::int64_t n = std::min<std::int64_t>(16, cols - col);
              float* out = yr + col;
              DwVec val = *reinterpret_cast<const DwVec*>(obuf + col);
              if (!accumulate) {
                val += add;
                if (ep.kind == ConvEpilogue::relu) val = (DwVec)((WinoMask)val & (WinoMask)(val > 0.0f));
              }
              if (n == 16 && ep.kind != ConvEpilogue::clip) {
                if (accumulate) val += *reinterpret_cast<const DwVec*>(out);
                *reinterpret_cast<DwVec*>(out) = val;
                continue;
              }
              *reinterpret_cast<DwVec*>(obuf + col) = val;
              for (std::int64_t l = 0; l < n; ++l) {
                if (accumulate)
                  out[l] += obuf[col + l];
                else if (ep.kind == ConvEpilogue::clip)
                  out[l] = std::min(std::max(obuf[col + l], ep.lo), ep.hi);
                else
                  out[l] = obuf[col + l];
              }
            }
          }
        }
      }
    }
  });
}

/// y = act(conv(x, u) + bias) (accumulate false) or y += conv(x, u) (accumulate true, no bias
/// or act), u the transformed filters (36, oc, c).
inline void winograd_run(const WinoShape& s, const float* x, const float* u, const float* bias, float* y,
                         const ConvEpilogue& ep, bool accumulate) {
  const WinoTiles t(s);
  const std::int64_t units = s.n * t.th;  // tile rows
  // Tiles per block: V and M together about 256 KiB but at least 64 tiles (for the GEMMs),
  // at least one tile row, and enough blocks for every thread. Measured on ResNet-18's
  // layers at batch 32 (budgets 256 KiB to 16 MiB, minimums 16 to 128 tiles).
  const std::int64_t per_tile = 36 * (s.c + s.oc) * 4;
  const std::int64_t want = std::max<std::int64_t>(64, (std::int64_t{256} << 10) / per_tile);
  const auto threads = static_cast<std::int64_t>(get_num_threads());
  std::int64_t per_block = std::max<std::int64_t>(1, want / t.tw);
  per_block = std::min(per_block, (units + threads - 1) / threads);
  const std::int64_t blocks = (units + per_block - 1) / per_block;
  parallel_run(static_cast<std::size_t>(blocks), [&](std::size_t blk) {
    const std::int64_t u0 = static_cast<std::int64_t>(blk) * per_block, u1 = std::min(units, u0 + per_block);
    const std::int64_t tiles = (u1 - u0) * t.tw, ld = tiles + 16;
    // The 36 planes of V and of M one cache line more than their size apart: a multiple of
    // 4 KiB apart, the transforms' 36 streams would all map to the same L1 set.
    const std::int64_t vplane = s.c * ld + 16, mplane = s.oc * ld + 16;
    float* v = scratch(0, 36 * vplane);
    float* m = scratch(1, 36 * mplane);
    // work: the input transform's space, then the output transform's stages.
    float* work = scratch(2, t.work());
    wino_input(s, t, x, u0, u1, 0, s.c, v, vplane, ld, work);
    for (std::int64_t xi = 0; xi < 36; ++xi)
      hone::gemm(Trans::No, Trans::No, s.oc, tiles, s.c, 1.0f, u + xi * winograd_plane(s.oc * s.c), s.c, v + xi * vplane, ld,
                 0.0f, m + xi * mplane, ld);
    wino_output(s, t, m, mplane, ld, u0, u1, 0, s.oc, bias, y, ep, accumulate, work);
  });
}

/// Where winograd_run_split finds the transformed filters of output channels [o0, o1): in u
/// (36 planes of (oc, c), winograd_plane(oc * c) apart), transformed beforehand, or, when u
/// is null, transformed from the raw filters (w, rs, cs, flip as for winograd_filters).
struct WinoFilters {
  const float* u = nullptr;
  const float* w = nullptr;
  std::int64_t rs = 0, cs = 0;
  bool flip = false;
};

/// The most tiles per thread for which winograd_run_split takes the convolution.
inline constexpr std::int64_t kWinoSplitTiles = 32;
/// Output channels per task of winograd_run_split (chunks of 64 or 128 were slower on
/// ResNet-18's 512 @7 layers at batch 8); it needs at least one whole chunk.
inline constexpr std::int64_t kWinoSplitChannels = 32;

/// Whether winograd_run would give each thread at most kWinoSplitTiles tiles (small planes:
/// ResNet-18's 7x7 layers at batch 8 or 16). Every block would stream all of U (36 oc c
/// floats, 36 MiB at 512 channels) through its GEMMs for those few tiles, after the filter
/// transform wrote U to memory. Measured (Zen 4, 3x3 512 -> 512 @7, forward, ms, blocked
/// against split): batch 8, 2 threads 22.4 / 9.3 and 15.9 / 8.4; batch 8, 1 thread
/// 20.7 / 13.5 and 26.6 / 17.5; batch 16, 2 threads 22.2 / 15.8. At 64 tiles per thread it
/// went either way (batch 32: 37.2 / 45.6 and 34.5 / 33.3; 256 @14 batch 8: 11.1 / 9.6),
/// so those stay blocked.
inline bool winograd_split(const WinoShape& s) {
  const WinoTiles t(s);
  const auto threads = static_cast<std::int64_t>(get_num_threads());
  const std::int64_t per_thread = (s.n * t.th + threads - 1) / threads * t.tw;
  return per_thread <= kWinoSplitTiles && s.oc >= kWinoSplitChannels;
}

/// winograd_run split by output channels instead of tiles: V of every tile is transformed
/// once (in parallel over input channels), then each task takes kWinoSplitChannels output
/// channels: their filters transformed (or found in f.u), 36 GEMMs over all tiles, and the
/// output transform. U never exists whole, and each filter is read by one task.
inline void winograd_run_split(const WinoShape& s, const float* x, const WinoFilters& f, const float* bias, float* y,
                               const ConvEpilogue& ep, bool accumulate) {
  const WinoTiles t(s);
  const std::int64_t units = s.n * t.th, tiles = units * t.tw, ld = tiles + 16;
  const std::int64_t vplane = s.c * ld + 16;
  float* v = scratch(0, 36 * vplane);  // the calling thread's; the tasks only read it
  const std::int64_t ctasks = (s.c + 7) / 8;
  parallel_run(static_cast<std::size_t>(ctasks), [&](std::size_t task) {
    const auto c0 = 8 * static_cast<std::int64_t>(task);
    wino_input(s, t, x, 0, units, c0, std::min(s.c, c0 + 8), v, vplane, ld, scratch(2, t.work()));
  });
  constexpr std::int64_t chunk = kWinoSplitChannels;
  const std::int64_t otasks = (s.oc + chunk - 1) / chunk;
  parallel_run(static_cast<std::size_t>(otasks), [&](std::size_t task) {
    const std::int64_t o0 = chunk * static_cast<std::int64_t>(task), o1 = std::min(s.oc, o0 + chunk), rows = o1 - o0;
    const float* u;
    std::int64_t uplane;
    if (f.u) {
      u = f.u + o0 * s.c;
      uplane = winograd_plane(s.oc * s.c);
    } else {
      float* buf = scratch(3, 36 * winograd_plane(rows * s.c));
      winograd_filters(f.w + o0 * f.rs, rows, s.c, f.rs, f.cs, f.flip, buf);  // (serial in a task)
      u = buf;
      uplane = winograd_plane(rows * s.c);
    }
    const std::int64_t mplane = rows * ld + 16;
    float* m = scratch(1, 36 * mplane);
    for (std::int64_t xi = 0; xi < 36; ++xi)
      hone::gemm(Trans::No, Trans::No, rows, tiles, s.c, 1.0f, u + xi * uplane, s.c, v + xi * vplane, ld, 0.0f,
                 m + xi * mplane, ld);
    wino_output(s, t, m, mplane, ld, 0, units, o0, o1, bias, y, ep, accumulate, scratch(2, t.work()));
  });
}

/// Floats of the forward pass's transformed filters for g (36 planes of oc x c).
inline std::int64_t winograd_filter_floats(const ConvGeometry& g) { return 36 * winograd_plane(g.oc * g.c); }

/// u (winograd_filter_floats(g) floats) = the forward pass's transforms of the filters w,
/// for winograd_forward_prepared: a caller whose weights do not change between calls
/// (inference) transforms them once.
inline void winograd_prepare(const ConvGeometry& g, const float* w, float* u) {
  winograd_filters(w, g.oc, g.c, g.c * 9, 9, false, u);
}

/// winograd_forward with the filters transformed beforehand by winograd_prepare.
inline void winograd_forward_prepared(const ConvGeometry& g, const float* x, const float* u, const float* bias,
                                      float* y, const ConvEpilogue& ep) {
  const WinoShape s = wino_forward_shape(g);
  if (winograd_split(s)) return winograd_run_split(s, x, WinoFilters{.u = u}, bias, y, ep, false);
  winograd_run(s, x, u, bias, y, ep, false);
}

/// conv_forward through Winograd (winograd_applies(g) must hold): y = act(conv + bias).
inline void winograd_forward(const ConvGeometry& g, const float* x, const float* w, const float* bias, float* y,
                             const ConvEpilogue& ep) {
  const WinoShape s = wino_forward_shape(g);
  if (winograd_split(s))
    return winograd_run_split(s, x, WinoFilters{.w = w, .rs = g.c * 9, .cs = 9}, bias, y, ep, false);
  float* u = winograd_filter_buffer(winograd_filter_floats(g));
  winograd_prepare(g, w, u);
  winograd_run(s, x, u, bias, y, ep, false);
}

/// dx += (or, with assign, dx =) the data gradient of conv_forward given dy, through
/// Winograd: the forward algorithm on dy with each filter flipped and input and output
/// channels swapped, begin padding 2 - p (its output plane is dx's: every element written).
inline void winograd_backward_data(const ConvGeometry& g, const float* dy, const float* w, float* dx,
                                   bool assign = false) {
  const WinoShape s{g.n, g.oc, g.c, g.out[1], g.out[2], g.in[1], g.in[2], 2 - g.pad_begin[1], 2 - g.pad_begin[2]};
  if (winograd_split(s))
    return winograd_run_split(s, dy, WinoFilters{.w = w, .rs = 9, .cs = g.c * 9, .flip = true}, nullptr, dx,
                              ConvEpilogue{}, !assign);
  float* u = winograd_filter_buffer(36 * winograd_plane(g.oc * g.c));
  winograd_filters(w, g.c, g.oc, 9, g.c * 9, true, u);
  winograd_run(s, dy, u, nullptr, dx, ConvEpilogue{}, !assign);
}

/// dw (oc, c, 3, 3) += G^T du G, du the transformed filter gradients (36 planes `plane`
/// apart, (oc, c) each).
inline void winograd_filter_gradients(const float* du, std::int64_t plane, std::int64_t oc, std::int64_t c, float* dw) {
  parallel_for(0, oc, std::max<std::int64_t>(1, 4096 / c), [&](std::int64_t lo, std::int64_t hi) {
    float* half = scratch(2, 18 * 16 + 9 * 16);  // G^T along j: (6 x 3 x 16); then (9 x 16)
    float* out = half + 18 * 16;
    vectorized([&]() HONE_INLINE_LAMBDA {
      for (std::int64_t o = lo; o < hi; ++o)
        for (std::int64_t col = 0; col < c; col += 16) {
          // Lanes past c read the next row or the plane's spare floats, and are dropped.
          const float* p = du + o * c + col;
          for (std::int64_t i = 0; i < 6; ++i) wino_gt(p + i * 6 * plane, plane, half + i * 48, 16);
          for (std::int64_t kw = 0; kw < 3; ++kw) wino_gt(half + kw * 16, 48, out + kw * 16, 48);
          const std::int64_t valid = std::min<std::int64_t>(16, c - col);
          float* d = dw + (o * c + col) * 9;
          for (std::int64_t l = 0; l < valid; ++l)
            for (std::int64_t tap = 0; tap < 9; ++tap) d[l * 9 + tap] += out[tap * 16 + l];
        }
    });
  });
}

/// dw += the weight gradient of conv_forward given dy and x, through Winograd: per block of
/// tile rows, the input tiles' transforms V and dy's A dY A^T (the transposed output
/// transform) are built in parallel over channels, then 36 GEMMs (in parallel, one per
/// thread at a time) add dM[xi] V[xi]^T into the transformed gradient dU; at the end
/// dw += G^T dU G.
/// Blocks do not depend on the thread count, and neither do the results.
inline void winograd_backward_weights(const ConvGeometry& g, const float* dy, const float* x, float* dw) {
  const WinoShape s = wino_forward_shape(g);
  const WinoTiles t(s);
  const std::int64_t units = s.n * t.th;
  // V and dM of a block together at most 32 MiB: each block reads and writes all of dU
  // (36 oc c floats) once, so blocks are as large as memory allows. Measured on ResNet-18's
  // layers at batch 32, 2 threads: budgets of 1, 2, 8 and 32 MiB gave 0.35-0.86, 0.62-1.10,
  // 1.10-1.52 and 1.27-1.74x im2col's speed.
  const std::int64_t per_tile = 36 * (s.c + s.oc) * 4;
  const std::int64_t per_block =
      std::min(units, std::max<std::int64_t>(1, ((std::int64_t{32} << 20) / per_tile) / t.tw));
  const std::int64_t uplane = winograd_plane(s.oc * s.c), ld_max = per_block * t.tw + 16;
  float* du = winograd_filter_buffer(36 * uplane);
  float* v = scratch(0, 36 * (s.c * ld_max + 16));
  float* m = scratch(1, 36 * (s.oc * ld_max + 16));
  for (std::int64_t u0 = 0; u0 < units; u0 += per_block) {
    const std::int64_t u1 = std::min(units, u0 + per_block), tiles = (u1 - u0) * t.tw, ld = tiles + 16;
    const std::int64_t vplane = s.c * ld + 16, mplane = s.oc * ld + 16;
    // Tasks of 8 channels: first x's, then dy's.
    const std::int64_t xtasks = (s.c + 7) / 8, dtasks = (s.oc + 7) / 8;
    parallel_run(static_cast<std::size_t>(xtasks + dtasks), [&](std::size_t task) {
      float* work = scratch(2, t.work());
      const auto k = static_cast<std::int64_t>(task);
      if (k < xtasks)
        wino_input(s, t, x, u0, u1, 8 * k, std::min(s.c, 8 * k + 8), v, vplane, ld, work);
      else
        wino_dy(s, t, dy, u0, u1, 8 * (k - xtasks), std::min(s.oc, 8 * (k - xtasks) + 8), m, mplane, ld, work);
    });
    // One task per GEMM (each single-threaded): as (oc x c) outputs they are too small to
    // split well.
    parallel_run(36, [&](std::size_t xi) {
      hone::gemm(Trans::No, Trans::Yes, s.oc, s.c, tiles, 1.0f, m + xi * mplane, ld, v + xi * vplane, ld,
                 u0 == 0 ? 0.0f : 1.0f, du + xi * uplane, s.c);
    });
  }
  winograd_filter_gradients(du, uplane, s.oc, s.c, dw);
}

}  // namespace detail_conv
}  // namespace hone::kernels

