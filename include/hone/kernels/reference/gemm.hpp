// hone/kernels/reference/gemm.hpp — the naive GEMM every fast GEMM is tested against.
//
// Readable triple loop, no blocking, no SIMD. Accumulates in `Acc` (double by default, so
// the oracle is more accurate than the kernels it checks).
#pragma once

#include <cstdint>  // std::int64_t

#include "hone/kernels/trans.hpp"

namespace hone::kernels::reference {

// op(a) is (m,k): a is (m,k) with row stride lda when ta == No, (k,m) when ta == Yes.
// op(b) is (k,n): b is (k,n) with row stride ldb when tb == No, (n,k) when tb == Yes.
// c is (m,n) with row stride ldc. C = alpha * op(A) op(B) + beta * C; beta == 0 overwrites C
// without reading it (NaNs in C are ignored).
template <class T, class Acc = double>
void gemm(Trans ta, Trans tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
          const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
          std::int64_t ldc) {
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {
      Acc sum = 0;
      for (std::int64_t p = 0; p < k; ++p) {
        const T av = ta == Trans::No ? a[i * lda + p] : a[p * lda + i];
        const T bv = tb == Trans::No ? b[p * ldb + j] : b[j * ldb + p];
        sum += static_cast<Acc>(av) * static_cast<Acc>(bv);
      }
      T& out = c[i * ldc + j];
      const Acc scaled = static_cast<Acc>(alpha) * sum;
      out = beta == T(0) ? static_cast<T>(scaled)
                         : static_cast<T>(scaled + static_cast<Acc>(beta) * static_cast<Acc>(out));
    }
  }
}

}  // namespace hone::kernels::reference
