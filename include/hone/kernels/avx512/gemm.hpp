// hone/kernels/avx512/gemm.hpp — the AVX-512 SGEMM micro-kernel (12 x 32) and packers.
//
// 12 rows x 2 zmm columns = 24 accumulators; per k step 2 vector loads of B and 12
// broadcasts of A (folded into the FMAs as {1to16} memory operands). Column tails use
// AVX-512 masks, so there is no scalar clean-up code.
#pragma once

#include <immintrin.h>  // AVX-512 intrinsics (usable in target("avx512f") functions)

#include <algorithm>  // std::min, std::clamp
#include <cstdint>    // std::int64_t

#include "hone/kernels/detail/gemm_common.hpp"

#define HONE_TARGET_AVX512 \
  __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,avx,f16c")))

namespace hone::kernels::avx512 {

inline constexpr int gemm_mr = 12;
inline constexpr int gemm_nr = 32;

// How the micro-kernel reads A. packed: a packed panel (rs_a = 1, cs_a = 12). rows: a
// row-major A in place (rs_a = lda, cs_a = 1). columns: a transposed A in place (rs_a = 1,
// cs_a = lda).
enum class AReads { packed, rows, columns };

// Software prefetch of an A read in place (see AReads), which the hardware prefetchers
// miss: a row of a micro-panel is a few lines long (k = 128: 8 lines) and a transposed A
// steps a whole lda per k step, across pages. Measured on Zen 4, 1 thread, GFLOP/s without
// -> with. rows (each step requests one row's line 32 floats ahead, the rows in turn): conv
// as GEMM 6272x256x128 74.6 -> 84.1, 25088x64x576 82.1 -> 93.1, 6272x128x1152 82.8 -> 91.1.
// columns (each step requests the values gemm_prefetch_a_steps steps ahead): wgrad
// 576x64x25088 TN 66-74 -> 84-98 (16, 32 or 64 steps within noise).
inline constexpr int gemm_prefetch_a_steps = 32;
inline constexpr int gemm_prefetch_a_floats = 32;

// a is (Rows, k) with element (i, p) at a[i*rs_a + p*cs_a]; b is (k, cols) with row p at
// b + p*rs_b; c is (Rows, cols) with row stride ldc. cols <= 32.
template <int Rows, AReads Reads>
HONE_TARGET_AVX512 void gemm_tile_rows(int cols, std::int64_t k, const float* a, std::int64_t rs_a,
                                       std::int64_t cs_a, const float* b, std::int64_t rs_b,
                                       float* c, std::int64_t ldc, float alpha, float beta) {
  if constexpr (Reads == AReads::packed) {  // B packed too: rs_b = 32
    rs_a = 1;
    cs_a = gemm_mr;
    rs_b = gemm_nr;
  }
  if constexpr (Reads == AReads::columns) rs_a = 1;
  if constexpr (Reads == AReads::rows) cs_a = 1;
  const __mmask16 m0 = cols >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << cols) - 1u);
  const __mmask16 m1 = cols >= 32   ? __mmask16(0xFFFF)
                       : cols <= 16 ? __mmask16(0)
                                    : __mmask16((1u << (cols - 16)) - 1u);
  __m512 acc0[Rows], acc1[Rows];
#pragma GCC unroll 16
  for (int r = 0; r < Rows; ++r) {
    acc0[r] = _mm512_setzero_ps();
    acc1[r] = _mm512_setzero_ps();
  }
  // One k step: two B vectors, Rows broadcasts of A, 2*Rows FMAs. (A macro, not a lambda:
  // lambdas do not inherit the target attribute.)
#define HONE_GEMM_STEP()                                         \
  do {                                                           \
    const __m512 b0 = _mm512_maskz_loadu_ps(m0, b);              \
    const __m512 b1 = _mm512_maskz_loadu_ps(m1, b + 16);         \
    _Pragma("GCC unroll 16") for (int r = 0; r < Rows; ++r) {    \
      const __m512 av = _mm512_set1_ps(a[r * rs_a]);             \
      acc0[r] = _mm512_fmadd_ps(av, b0, acc0[r]);                \
      acc1[r] = _mm512_fmadd_ps(av, b1, acc1[r]);                \
    }                                                            \
    if constexpr (Reads == AReads::columns) { /* Rows values, in at most two lines */    \
      const float* ahead = a + gemm_prefetch_a_steps * cs_a;                             \
      _mm_prefetch(reinterpret_cast<const char*>(ahead), _MM_HINT_T0);                   \
      _mm_prefetch(reinterpret_cast<const char*>(ahead + Rows - 1), _MM_HINT_T0);        \
    } else if constexpr (Reads == AReads::rows) { /* row p % 16 (the last for >= Rows) */ \
      const std::int64_t row = std::min<std::int64_t>(p & 15, Rows - 1);                 \
      _mm_prefetch(reinterpret_cast<const char*>(a + row * rs_a + gemm_prefetch_a_floats), \
                   _MM_HINT_T0);                                                         \
    }                                                                                    \
    a += cs_a;                                                   \
    b += rs_b;                                                   \
  } while (false)
  // C is read and written only after the k loop; its rows are far apart (often in L3), so
  // its 2*Rows cache lines are requested one per step during the first steps.
  const std::int64_t prefetch_steps = std::min<std::int64_t>(k, 2 * Rows);
  for (std::int64_t p = 0; p < prefetch_steps; ++p) {
    _mm_prefetch(reinterpret_cast<const char*>(c + (p >> 1) * ldc + (p & 1) * 16), _MM_HINT_T0);
    HONE_GEMM_STEP();
  }
  for (std::int64_t p = prefetch_steps; p < k; ++p) HONE_GEMM_STEP();
#undef HONE_GEMM_STEP
  const __m512 va = _mm512_set1_ps(alpha);
  if (beta == 0.f) {
#pragma GCC unroll 16
    for (int r = 0; r < Rows; ++r) {
      _mm512_mask_storeu_ps(c + r * ldc, m0, _mm512_mul_ps(va, acc0[r]));
      _mm512_mask_storeu_ps(c + r * ldc + 16, m1, _mm512_mul_ps(va, acc1[r]));
    }
  } else {
    const __m512 vb = _mm512_set1_ps(beta);
#pragma GCC unroll 16
    for (int r = 0; r < Rows; ++r) {
      float* cr = c + r * ldc;
      const __m512 c0 = _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(m0, cr));
      const __m512 c1 = _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(m1, cr + 16));
      _mm512_mask_storeu_ps(cr, m0, _mm512_fmadd_ps(va, acc0[r], c0));
      _mm512_mask_storeu_ps(cr + 16, m1, _mm512_fmadd_ps(va, acc1[r], c1));
    }
  }
}

HONE_TARGET_AVX512 inline void gemm_tile(int rows, int cols, std::int64_t k, const float* a,
                                         std::int64_t rs_a, std::int64_t cs_a, const float* b,
                                         std::int64_t rs_b, float* c, std::int64_t ldc,
                                         float alpha, float beta) {
  const bool packed = rs_a == 1 && cs_a == gemm_mr && rs_b == gemm_nr;
  const bool columns = !packed && rs_a == 1;  // (a packed A beside an unpacked B included)
  switch (rows) {
#define HONE_CASE(R)                                                                   \
  case R:                                                                              \
    if (packed) return gemm_tile_rows<R, AReads::packed>(HONE_TILE_ARGS);              \
    if (columns) return gemm_tile_rows<R, AReads::columns>(HONE_TILE_ARGS);            \
    return gemm_tile_rows<R, AReads::rows>(HONE_TILE_ARGS);
#define HONE_TILE_ARGS cols, k, a, rs_a, cs_a, b, rs_b, c, ldc, alpha, beta
    HONE_CASE(1) HONE_CASE(2) HONE_CASE(3) HONE_CASE(4) HONE_CASE(5) HONE_CASE(6)
    HONE_CASE(7) HONE_CASE(8) HONE_CASE(9) HONE_CASE(10) HONE_CASE(11) HONE_CASE(12)
#undef HONE_CASE
#undef HONE_TILE_ARGS
    default: return;
  }
}

// The unmasked forms of these shuffles pass _mm512_undefined_ps() through, which GCC 12
// reports as -Wmaybe-uninitialized in user code; the all-ones zero-masked forms compile to
// the same instructions without the warning.
#define HONE_UNPACKLO(a, b) _mm512_maskz_unpacklo_ps(__mmask16(0xFFFF), a, b)
#define HONE_UNPACKHI(a, b) _mm512_maskz_unpackhi_ps(__mmask16(0xFFFF), a, b)
#define HONE_SHUFFLE(a, b, imm) _mm512_maskz_shuffle_ps(__mmask16(0xFFFF), a, b, imm)
#define HONE_SHUFFLE128(a, b, imm) _mm512_maskz_shuffle_f32x4(__mmask16(0xFFFF), a, b, imm)

// Transposes 16 rows of 16 floats in registers: on return row[j] holds column j.
HONE_TARGET_AVX512 inline void transpose16x16(__m512 row[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; ++i) {  // interleave row pairs within 128-bit lanes
    t[2 * i] = HONE_UNPACKLO(row[2 * i], row[2 * i + 1]);
    t[2 * i + 1] = HONE_UNPACKHI(row[2 * i], row[2 * i + 1]);
  }
  for (int q = 0; q < 4; ++q) {  // u[4q+s], lane L: rows 4q..4q+3 of column 4L+s
    u[4 * q + 0] = HONE_SHUFFLE(t[4 * q], t[4 * q + 2], 0x44);
    u[4 * q + 1] = HONE_SHUFFLE(t[4 * q], t[4 * q + 2], 0xEE);
    u[4 * q + 2] = HONE_SHUFFLE(t[4 * q + 1], t[4 * q + 3], 0x44);
    u[4 * q + 3] = HONE_SHUFFLE(t[4 * q + 1], t[4 * q + 3], 0xEE);
  }
  for (int s = 0; s < 4; ++s) {  // gather the four row groups of each column
    const __m512 v0 = HONE_SHUFFLE128(u[s], u[4 + s], 0x88);
    const __m512 v4 = HONE_SHUFFLE128(u[s], u[4 + s], 0xDD);
    const __m512 v8 = HONE_SHUFFLE128(u[8 + s], u[12 + s], 0x88);
    const __m512 v12 = HONE_SHUFFLE128(u[8 + s], u[12 + s], 0xDD);
    row[s] = HONE_SHUFFLE128(v0, v8, 0x88);
    row[8 + s] = HONE_SHUFFLE128(v0, v8, 0xDD);
    row[4 + s] = HONE_SHUFFLE128(v4, v12, 0x88);
    row[12 + s] = HONE_SHUFFLE128(v4, v12, 0xDD);
  }
}
#undef HONE_UNPACKLO
#undef HONE_UNPACKHI
#undef HONE_SHUFFLE
#undef HONE_SHUFFLE128

// Packs `lines` (<= 16) source lines of kc floats (line i at src + i * ld) transposed, 16
// depths at a time: 16 masked line loads (lines past `lines` are zero), a register
// transpose, then depth p's `width` (<= 16) values to out + p * out_ld. Used for B^T
// (lines = columns of the panel) and for row-major A (lines = rows of the panel).
HONE_TARGET_AVX512 inline void pack_lines_transposed(std::int64_t kc, std::int64_t lines,
                                                     const float* src, std::int64_t ld,
                                                     float* out, std::int64_t out_ld, int width) {
  const __mmask16 store_mask = __mmask16((1u << width) - 1u);
  __m512 block[16];
  for (std::int64_t p0 = 0; p0 < kc; p0 += 16) {
    const std::int64_t depth = std::min<std::int64_t>(16, kc - p0);
    const __mmask16 load_mask = __mmask16((1u << depth) - 1u);
    for (int i = 0; i < 16; ++i)
      block[i] = i < lines ? _mm512_maskz_loadu_ps(load_mask, src + i * ld + p0) : _mm512_setzero_ps();
    transpose16x16(block);
    for (std::int64_t p = 0; p < depth; ++p)
      _mm512_mask_storeu_ps(out + (p0 + p) * out_ld, store_mask, block[p]);
  }
}

HONE_TARGET_AVX512 inline void gemm_pack_a(Trans ta, std::int64_t mc, std::int64_t kc,
                                           const float* a, std::int64_t lda, float* out) {
  if (ta == Trans::Yes) {  // op(A)(i, p) = a[p*lda + i]: one masked 12-float copy per panel
    for (std::int64_t p = 0; p < kc; ++p) {  // and depth, stored row by stored row
      const float* src = a + p * lda;
      if (p + detail::pack_prefetch_rows < kc)
        detail::prefetch_span(src + detail::pack_prefetch_rows * lda, mc);
      for (std::int64_t i0 = 0; i0 < mc; i0 += gemm_mr) {
        const int rows = static_cast<int>(std::min<std::int64_t>(gemm_mr, mc - i0));
        const __m512 v = _mm512_maskz_loadu_ps(__mmask16((1u << rows) - 1u), src + i0);
        _mm512_mask_storeu_ps(out + i0 * kc + p * gemm_mr, __mmask16(0x0FFF), v);
      }
    }
    return;
  }
  // row-major A: 12 rows per panel, each 16 x 16 block stored 12 floats per depth
  for (std::int64_t i0 = 0; i0 < mc; i0 += gemm_mr)
    pack_lines_transposed(kc, std::min<std::int64_t>(gemm_mr, mc - i0), a + i0 * lda, lda,
                          out + i0 * kc, gemm_mr, gemm_mr);
}

HONE_TARGET_AVX512 inline void gemm_pack_b(Trans tb, std::int64_t kc, std::int64_t nc,
                                           const float* b, std::int64_t ldb, float* out) {
  if (tb == Trans::No) {
    detail::pack_b_generic<gemm_nr>(tb, kc, nc, b, ldb, out);
    return;
  }
  // B^T: stored row j of B is column j of op(B); a 32-column panel is two 16-line halves
  // (a half past nc packs zeros, as the generic packer does)
  for (std::int64_t j0 = 0; j0 < nc; j0 += gemm_nr)
    for (std::int64_t half = 0; half < gemm_nr; half += 16) {
      const std::int64_t lines = std::clamp<std::int64_t>(nc - j0 - half, 0, 16);
      pack_lines_transposed(kc, lines, lines > 0 ? b + (j0 + half) * ldb : b, ldb,
                            out + j0 * kc + half, gemm_nr, 16);
    }
}

// Blocking, chosen by measurement on Zen (bench/compare-gemm): an A micro-panel (12 x 320,
// 15 KiB) stays in L1 while 320 x 640 blocks of B (800 KiB) stream from L2; C tiles are
// visited row of tiles by row of tiles (ir outer).
inline constexpr detail::GemmKernels gemm_kernels{
    cpu::Isa::avx512, gemm_mr, gemm_nr, 320, 12 * 12, 640, &gemm_tile, &gemm_pack_a, &gemm_pack_b,
    /*ir_outer=*/true};

}  // namespace hone::kernels::avx512
