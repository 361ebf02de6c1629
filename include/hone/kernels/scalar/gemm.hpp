// hone/kernels/scalar/gemm.hpp — the portable SGEMM micro-kernel (4 x 16) and packers.
//
// Plain C++ that any compiler can auto-vectorise for the baseline ISA (SSE2 on x86-64,
// NEON on AArch64). Used when AVX2 is unavailable or HONE_MAX_ISA=scalar.
#pragma once

#include <cstdint>  // std::int64_t

#include "hone/kernels/detail/gemm_common.hpp"

namespace hone::kernels::scalar {

inline constexpr int gemm_mr = 4;
inline constexpr int gemm_nr = 16;

// a is (rows, k) with element (i, p) at a[i*rs_a + p*cs_a]; b is (k, cols) with row p at
// b + p*rs_b; c is (rows, cols) with row stride ldc.
inline void gemm_tile(int rows, int cols, std::int64_t k, const float* a, std::int64_t rs_a,
                      std::int64_t cs_a, const float* b, std::int64_t rs_b, float* c,
                      std::int64_t ldc, float alpha, float beta) {
  float acc[gemm_mr][gemm_nr] = {};
  for (std::int64_t p = 0; p < k; ++p) {
    const float* brow = b + p * rs_b;
    for (int r = 0; r < rows; ++r) {
      const float av = a[r * rs_a + p * cs_a];
      if (cols == gemm_nr) {
        for (int j = 0; j < gemm_nr; ++j) acc[r][j] += av * brow[j];
      } else {
        for (int j = 0; j < cols; ++j) acc[r][j] += av * brow[j];
      }
    }
  }
  for (int r = 0; r < rows; ++r) {
    float* cr = c + r * ldc;
    for (int j = 0; j < cols; ++j)
      cr[j] = beta == 0.f ? alpha * acc[r][j] : alpha * acc[r][j] + beta * cr[j];
  }
}

inline void gemm_pack_a(Trans ta, std::int64_t mc, std::int64_t kc, const float* a,
                        std::int64_t lda, float* out) {
  detail::pack_a_generic<gemm_mr>(ta, mc, kc, a, lda, out);
}

inline void gemm_pack_b(Trans tb, std::int64_t kc, std::int64_t nc, const float* b,
                        std::int64_t ldb, float* out) {
  detail::pack_b_generic<gemm_nr>(tb, kc, nc, b, ldb, out);
}

inline constexpr detail::GemmKernels gemm_kernels{
    cpu::Isa::scalar, gemm_mr, gemm_nr, 256, 4 * 32, 4096, &gemm_tile, &gemm_pack_a, &gemm_pack_b};

}  // namespace hone::kernels::scalar
