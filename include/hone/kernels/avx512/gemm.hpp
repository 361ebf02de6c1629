// hone/kernels/avx512/gemm.hpp — the AVX-512 SGEMM micro-kernel (12 x 32) and packers.
//
// 12 rows x 2 zmm columns = 24 accumulators; per k step 2 vector loads of B and 12
// broadcasts of A (folded into the FMAs as {1to16} memory operands). Column tails use
// AVX-512 masks, so there is no scalar clean-up code.
#pragma once

#include <immintrin.h>  // AVX-512 intrinsics (usable in target("avx512f") functions)

#include <cstdint>  // std::int64_t

#include "hone/kernels/detail/gemm_common.hpp"

#define HONE_TARGET_AVX512 \
  __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,avx,f16c")))

namespace hone::kernels::avx512 {

inline constexpr int gemm_mr = 12;
inline constexpr int gemm_nr = 32;

// a is (Rows, k) with element (i, p) at a[i*rs_a + p*cs_a]; b is (k, cols) with row p at
// b + p*rs_b; c is (Rows, cols) with row stride ldc. cols <= 32.
template <int Rows>
HONE_TARGET_AVX512 void gemm_tile_rows(int cols, std::int64_t k, const float* a, std::int64_t rs_a,
                                       std::int64_t cs_a, const float* b, std::int64_t rs_b,
                                       float* c, std::int64_t ldc, float alpha, float beta) {
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
  for (std::int64_t p = 0; p < k; ++p) {
    const __m512 b0 = _mm512_maskz_loadu_ps(m0, b);
    const __m512 b1 = _mm512_maskz_loadu_ps(m1, b + 16);
#pragma GCC unroll 16
    for (int r = 0; r < Rows; ++r) {
      const __m512 av = _mm512_set1_ps(a[r * rs_a]);
      acc0[r] = _mm512_fmadd_ps(av, b0, acc0[r]);
      acc1[r] = _mm512_fmadd_ps(av, b1, acc1[r]);
    }
    a += cs_a;
    b += rs_b;
  }
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
  switch (rows) {
#define HONE_CASE(R) \
  case R: return gemm_tile_rows<R>(cols, k, a, rs_a, cs_a, b, rs_b, c, ldc, alpha, beta);
    HONE_CASE(1) HONE_CASE(2) HONE_CASE(3) HONE_CASE(4) HONE_CASE(5) HONE_CASE(6)
    HONE_CASE(7) HONE_CASE(8) HONE_CASE(9) HONE_CASE(10) HONE_CASE(11) HONE_CASE(12)
#undef HONE_CASE
    default: return;
  }
}

HONE_TARGET_AVX512 inline void gemm_pack_a(Trans ta, std::int64_t mc, std::int64_t kc,
                                           const float* a, std::int64_t lda, float* out) {
  detail::pack_a_generic<gemm_mr>(ta, mc, kc, a, lda, out);
}

HONE_TARGET_AVX512 inline void gemm_pack_b(Trans tb, std::int64_t kc, std::int64_t nc,
                                           const float* b, std::int64_t ldb, float* out) {
  detail::pack_b_generic<gemm_nr>(tb, kc, nc, b, ldb, out);
}

inline constexpr detail::GemmKernels gemm_kernels{
    cpu::Isa::avx512, gemm_mr, gemm_nr, 384, 12 * 24, 4096, &gemm_tile, &gemm_pack_a, &gemm_pack_b};

}  // namespace hone::kernels::avx512
