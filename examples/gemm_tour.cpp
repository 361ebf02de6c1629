#include <hone/hone.hpp>
#include <cstdio>
#include <vector>

int main() {
  const std::int64_t m = 32, n = 1000, k = 512;   // a batch-32 linear layer
  std::vector<float> x(m * k, 0.5f), w(n * k, 0.25f), y(m * n);
  // y (m x n) = 1 * x (m x k) * w^T + 0 * y: row-major, BLAS argument order.
  hone::gemm(hone::Trans::No, hone::Trans::Yes, m, n, k, 1.0f, x.data(), k, w.data(), k,
             0.0f, y.data(), n);
  // A weight used by many calls: pack op(w) once and reuse it.
  auto packed = hone::PackedMatrix::pack_b(hone::Trans::Yes, k, n, w.data(), k);
  hone::gemm(hone::Trans::No, m, n, k, 1.0f, x.data(), k, packed, 0.0f, y.data(), n);
  std::printf("y[0] = %g (expected %g)\n", y[0], 0.5 * 0.25 * k);
}
