// hone/kernels/detail/gemm_common.hpp — what every per-ISA SGEMM provides, and the packing
// routines they share.
//
// Vocabulary (BLIS/GotoBLAS): C is computed in tiles of MR rows x NR columns by a
// register-blocked micro-kernel. A is packed into "panels" of MR rows stored k-major
// (element (r, p) of a panel at p*MR + r), B into panels of NR columns stored k-major
// (element (p, c) at p*NR + c), so the micro-kernel reads both with unit stride.
#pragma once

#include <algorithm>  // std::min
#include <cstdint>    // std::int64_t
#include <xmmintrin.h>  // _mm_prefetch

#include "hone/core/cpu.hpp"
#include "hone/kernels/trans.hpp"

namespace hone::kernels::detail {

/// Computes a rows x cols tile (rows <= MR, cols <= NR) of C = alpha * A B + beta * C.
/// a: element (i, p) at a[i*rs_a + p*cs_a]; b: row p starts at b + p*rs_b and its `cols`
/// elements are contiguous; c: row i at c + i*ldc. beta == 0 does not read C.
using GemmTileFn = void (*)(int rows, int cols, std::int64_t k, const float* a, std::int64_t rs_a,
                            std::int64_t cs_a, const float* b, std::int64_t rs_b, float* c,
                            std::int64_t ldc, float alpha, float beta);

/// Packs op(A)(0:mc, 0:kc) into ceil(mc/MR) panels of kc*MR floats (rows past mc are 0).
/// `a` points at op(A)(0, 0).
using GemmPackAFn = void (*)(Trans ta, std::int64_t mc, std::int64_t kc, const float* a,
                             std::int64_t lda, float* out);

/// Packs op(B)(0:kc, 0:nc) into ceil(nc/NR) panels of kc*NR floats (columns past nc are 0).
/// `b` points at op(B)(0, 0).
using GemmPackBFn = void (*)(Trans tb, std::int64_t kc, std::int64_t nc, const float* b,
                             std::int64_t ldb, float* out);

/// One ISA's SGEMM: micro-kernel, packers and cache blocking.
struct GemmKernels {
  cpu::Isa isa;
  int mr;           // micro-tile rows
  int nr;           // micro-tile columns
  std::int64_t kc;  // depth of a packed block (A panel and B panel share it)
  std::int64_t mc;  // rows of A packed at once (a multiple of mr; sized for L2)
  std::int64_t nc;  // columns of B packed at once (a multiple of nr; sized for L3)
  GemmTileFn tile;
  GemmPackAFn pack_a;
  GemmPackBFn pack_b;
  bool ir_outer = false;  // loop order inside a block: false = B micro-panel outer
};

/// How many stored rows ahead the packers of a transposed A prefetch: they read a short
/// span of each row and jump lda floats, a pattern the hardware prefetchers miss.
inline constexpr std::int64_t pack_prefetch_rows = 8;

/// Requests the cache lines of floats [p, p + count) into L1.
inline void prefetch_span(const float* p, std::int64_t count) {
  const char* first = reinterpret_cast<const char*>(p);
  const char* last = reinterpret_cast<const char*>(p + count - 1);
  for (const char* line = first; line <= last; line += 64) _mm_prefetch(line, _MM_HINT_T0);
  _mm_prefetch(last, _MM_HINT_T0);
}

// The generic packers. Each ISA wraps them in a function compiled for that ISA, so the
// compiler vectorises the copies with the ISA's instructions.

template <int MR>
inline __attribute__((always_inline)) void pack_a_generic(Trans ta, std::int64_t mc,
                                                          std::int64_t kc, const float* a,
                                                          std::int64_t lda, float* out) {
  for (std::int64_t i0 = 0; i0 < mc; i0 += MR) {
    const std::int64_t rows = std::min<std::int64_t>(MR, mc - i0);
    float* panel = out + i0 * kc;
    if (ta == Trans::Yes) {  // op(A)(i, p) = a[p*lda + i]: MR contiguous values per p
      for (std::int64_t p = 0; p < kc; ++p) {
        const float* src = a + p * lda + i0;
        float* dst = panel + p * MR;
        for (std::int64_t r = 0; r < rows; ++r) dst[r] = src[r];
        for (std::int64_t r = rows; r < MR; ++r) dst[r] = 0.f;
      }
    } else {  // op(A)(i, p) = a[i*lda + p]: walk each row contiguously, scatter by MR
      for (std::int64_t r = 0; r < rows; ++r) {
        const float* src = a + (i0 + r) * lda;
        for (std::int64_t p = 0; p < kc; ++p) panel[p * MR + r] = src[p];
      }
      for (std::int64_t r = rows; r < MR; ++r)
        for (std::int64_t p = 0; p < kc; ++p) panel[p * MR + r] = 0.f;
    }
  }
}

template <int NR>
inline __attribute__((always_inline)) void pack_b_generic(Trans tb, std::int64_t kc,
                                                          std::int64_t nc, const float* b,
                                                          std::int64_t ldb, float* out) {
  for (std::int64_t j0 = 0; j0 < nc; j0 += NR) {
    const std::int64_t cols = std::min<std::int64_t>(NR, nc - j0);
    float* panel = out + j0 * kc;
    if (tb == Trans::No) {  // op(B)(p, j) = b[p*ldb + j]: NR contiguous values per p
      for (std::int64_t p = 0; p < kc; ++p) {
        const float* src = b + p * ldb + j0;
        float* dst = panel + p * NR;
        if (cols == NR) {
          for (int c = 0; c < NR; ++c) dst[c] = src[c];
        } else {
          for (std::int64_t c = 0; c < cols; ++c) dst[c] = src[c];
          for (std::int64_t c = cols; c < NR; ++c) dst[c] = 0.f;
        }
      }
    } else {  // op(B)(p, j) = b[j*ldb + p]: walk each stored row, scatter by NR
      for (std::int64_t c = 0; c < cols; ++c) {
        const float* src = b + (j0 + c) * ldb;
        for (std::int64_t p = 0; p < kc; ++p) panel[p * NR + c] = src[p];
      }
      for (std::int64_t c = cols; c < NR; ++c)
        for (std::int64_t p = 0; p < kc; ++p) panel[p * NR + c] = 0.f;
    }
  }
}

}  // namespace hone::kernels::detail
