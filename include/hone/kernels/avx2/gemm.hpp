// hone/kernels/avx2/gemm.hpp — the AVX2+FMA SGEMM micro-kernel (6 x 16) and packers.
//
// 6 rows x 2 ymm columns = 12 accumulators, 2 B loads and 6 broadcasts per k step: the
// classic Haswell-class tile, which leaves 4 of the 16 ymm registers free. Column tails use
// vmaskmov loads and stores (only in tiles that are not full).
#pragma once

#include <immintrin.h>  // AVX2 / FMA intrinsics (usable in target("avx2,fma") functions)

#include <algorithm>  // std::min
#include <cstdint>    // std::int64_t

#include "hone/kernels/detail/gemm_common.hpp"

#define HONE_TARGET_AVX2 __attribute__((target("avx2,fma,avx,f16c")))

namespace hone::kernels::avx2 {

inline constexpr int gemm_mr = 6;
inline constexpr int gemm_nr = 16;

HONE_TARGET_AVX2 inline __m256i tail_mask(int cols) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(cols), lane);
}

// a is (Rows, k) with element (i, p) at a[i*rs_a + p*cs_a]; b is (k, cols) with row p at
// b + p*rs_b; c is (Rows, cols) with row stride ldc. cols <= 16 (== 16 when Full).
template <int Rows, bool Full>
HONE_TARGET_AVX2 void gemm_tile_rows(int cols, std::int64_t k, const float* a, std::int64_t rs_a,
                                     std::int64_t cs_a, const float* b, std::int64_t rs_b,
                                     float* c, std::int64_t ldc, float alpha, float beta) {
  const __m256i m0 = tail_mask(cols);
  const __m256i m1 = tail_mask(cols - 8);
  __m256 acc0[Rows], acc1[Rows];
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r) {
    acc0[r] = _mm256_setzero_ps();
    acc1[r] = _mm256_setzero_ps();
  }
  // One k step (a macro, not a lambda: lambdas do not inherit the target attribute).
#define HONE_GEMM_STEP()                                        \
  do {                                                          \
    __m256 b0, b1;                                              \
    if constexpr (Full) {                                       \
      b0 = _mm256_loadu_ps(b);                                  \
      b1 = _mm256_loadu_ps(b + 8);                              \
    } else {                                                    \
      b0 = _mm256_maskload_ps(b, m0);                           \
      b1 = _mm256_maskload_ps(b + 8, m1);                       \
    }                                                           \
    _Pragma("GCC unroll 8") for (int r = 0; r < Rows; ++r) {    \
      const __m256 av = _mm256_broadcast_ss(a + r * rs_a);      \
      acc0[r] = _mm256_fmadd_ps(av, b0, acc0[r]);               \
      acc1[r] = _mm256_fmadd_ps(av, b1, acc1[r]);               \
    }                                                           \
    a += cs_a;                                                  \
    b += rs_b;                                                  \
  } while (false)
  // C is touched only after the k loop and its rows are far apart: request its cache
  // lines (one row of 16 floats is one line) during the first steps.
  const std::int64_t prefetch_steps = std::min<std::int64_t>(k, Rows);
  for (std::int64_t p = 0; p < prefetch_steps; ++p) {
    _mm_prefetch(reinterpret_cast<const char*>(c + p * ldc), _MM_HINT_T0);
    HONE_GEMM_STEP();
  }
  for (std::int64_t p = prefetch_steps; p < k; ++p) HONE_GEMM_STEP();
#undef HONE_GEMM_STEP
  const __m256 va = _mm256_set1_ps(alpha);
  const __m256 vb = _mm256_set1_ps(beta);
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r) {
    float* cr = c + r * ldc;
    __m256 x0 = _mm256_mul_ps(va, acc0[r]), x1 = _mm256_mul_ps(va, acc1[r]);
    if constexpr (Full) {
      if (beta != 0.f) {
        x0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr), x0);
        x1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr + 8), x1);
      }
      _mm256_storeu_ps(cr, x0);
      _mm256_storeu_ps(cr + 8, x1);
    } else {
      if (beta != 0.f) {
        x0 = _mm256_fmadd_ps(vb, _mm256_maskload_ps(cr, m0), x0);
        x1 = _mm256_fmadd_ps(vb, _mm256_maskload_ps(cr + 8, m1), x1);
      }
      _mm256_maskstore_ps(cr, m0, x0);
      _mm256_maskstore_ps(cr + 8, m1, x1);
    }
  }
}

HONE_TARGET_AVX2 inline void gemm_tile(int rows, int cols, std::int64_t k, const float* a,
                                       std::int64_t rs_a, std::int64_t cs_a, const float* b,
                                       std::int64_t rs_b, float* c, std::int64_t ldc, float alpha,
                                       float beta) {
#define HONE_CASE(R)                                                                       \
  case R:                                                                                  \
    return cols == gemm_nr                                                                 \
               ? gemm_tile_rows<R, true>(cols, k, a, rs_a, cs_a, b, rs_b, c, ldc, alpha, beta) \
               : gemm_tile_rows<R, false>(cols, k, a, rs_a, cs_a, b, rs_b, c, ldc, alpha, beta);
  switch (rows) {
    HONE_CASE(1) HONE_CASE(2) HONE_CASE(3) HONE_CASE(4) HONE_CASE(5) HONE_CASE(6)
    default: return;
  }
#undef HONE_CASE
}

HONE_TARGET_AVX2 inline void gemm_pack_a(Trans ta, std::int64_t mc, std::int64_t kc,
                                         const float* a, std::int64_t lda, float* out) {
  if (ta == Trans::No) {
    detail::pack_a_generic<gemm_mr>(ta, mc, kc, a, lda, out);
    return;
  }
  // op(A)(i, p) = a[p*lda + i]: one masked 6-float load per panel and depth, stored row by
  // stored row (the generic loop copied them one float at a time), written as 4 + 2 floats
  // (a masked store, vmaskmovps, is microcoded on AMD cores: 2.5x slower on the wgrad shapes)
  for (std::int64_t p = 0; p < kc; ++p) {
    const float* src = a + p * lda;
    if (p + detail::pack_prefetch_rows < kc)
      detail::prefetch_span(src + detail::pack_prefetch_rows * lda, mc);
    for (std::int64_t i0 = 0; i0 < mc; i0 += gemm_mr) {
      const int rows = static_cast<int>(std::min<std::int64_t>(gemm_mr, mc - i0));
      const __m256 v = _mm256_maskload_ps(src + i0, tail_mask(rows));
      float* dst = out + i0 * kc + p * gemm_mr;
      _mm_storeu_ps(dst, _mm256_castps256_ps128(v));
      _mm_storel_pi(reinterpret_cast<__m64*>(dst + 4), _mm256_extractf128_ps(v, 1));
    }
  }
}

HONE_TARGET_AVX2 inline void gemm_pack_b(Trans tb, std::int64_t kc, std::int64_t nc,
                                         const float* b, std::int64_t ldb, float* out) {
  detail::pack_b_generic<gemm_nr>(tb, kc, nc, b, ldb, out);
}

// Blocking as for AVX-512 (see avx512/gemm.hpp), scaled to the 6 x 16 tile.
inline constexpr detail::GemmKernels gemm_kernels{
    cpu::Isa::avx2, gemm_mr, gemm_nr, 320, 6 * 24, 640, &gemm_tile, &gemm_pack_a, &gemm_pack_b,
    /*ir_outer=*/true};

}  // namespace hone::kernels::avx2
