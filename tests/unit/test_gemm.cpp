// Tests for hone/kernels/gemm.hpp: every ISA path this machine has, against the reference
// GEMM (double accumulation) with an error bound from the float rounding analysis
// |error| <= c * k * eps * (|alpha| * sum_p |a_ip||b_pj| + |beta * c_ij|).
#include <catch2/catch.hpp>

#include <hone/core/rng.hpp>
#include <hone/kernels/gemm.hpp>
#include <hone/kernels/reference/gemm.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

using hone::Trans;
using hone::cpu::Isa;

namespace {

struct IsaGuard {
  Isa saved = hone::cpu::max_isa();
  std::size_t threads = hone::get_num_threads();
  ~IsaGuard() {
    hone::cpu::set_max_isa(saved);
    hone::set_num_threads(threads);
  }
};

std::vector<Isa> available_isas() {
  std::vector<Isa> out = {Isa::scalar};
  if (static_cast<int>(hone::cpu::detected_isa()) >= static_cast<int>(Isa::avx2)) out.push_back(Isa::avx2);
  if (hone::cpu::detected_isa() == Isa::avx512) out.push_back(Isa::avx512);
  return out;
}

std::vector<float> random_matrix(std::int64_t count, hone::Generator& g) {
  std::vector<float> v(static_cast<std::size_t>(count));
  for (float& x : v) x = g.uniform_float() * 2.f - 1.f;
  return v;
}

struct Case {
  Trans ta, tb;
  std::int64_t m, n, k;
  float alpha, beta;
  std::int64_t pad = 0;  // extra leading-dimension slack
};

// Runs one case through hone::gemm (and, when asked, the packed-B path) and checks every
// element against the reference within the rounding bound. Returns C for identity checks.
std::vector<float> check_case(const Case& cs, std::uint64_t seed, bool packed = false) {
  hone::Generator g(seed);
  const std::int64_t a_rows = cs.ta == Trans::No ? cs.m : cs.k, a_cols = cs.ta == Trans::No ? cs.k : cs.m;
  const std::int64_t b_rows = cs.tb == Trans::No ? cs.k : cs.n, b_cols = cs.tb == Trans::No ? cs.n : cs.k;
  const std::int64_t lda = a_cols + cs.pad, ldb = b_cols + cs.pad, ldc = cs.n + cs.pad;
  const auto a = random_matrix(a_rows * lda, g);
  const auto b = random_matrix(b_rows * ldb, g);
  auto c = random_matrix(cs.m * ldc, g);
  if (cs.beta == 0.f)  // beta == 0 must ignore whatever C holds, NaN included
    for (float& x : c) x = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> expected = c, abs_bound(c.size(), 0.f);
  hone::kernels::reference::gemm<float>(cs.ta, cs.tb, cs.m, cs.n, cs.k, cs.alpha, a.data(), lda,
                                        b.data(), ldb, cs.beta, expected.data(), ldc);
  std::vector<float> abs_a(a.size()), abs_b(b.size());
  for (std::size_t i = 0; i < a.size(); ++i) abs_a[i] = std::abs(a[i]);
  for (std::size_t i = 0; i < b.size(); ++i) abs_b[i] = std::abs(b[i]);
  hone::kernels::reference::gemm<float>(cs.ta, cs.tb, cs.m, cs.n, cs.k, 1.f, abs_a.data(), lda,
                                        abs_b.data(), ldb, 0.f, abs_bound.data(), ldc);
  std::vector<float> out = c;
  if (packed) {
    const auto pb = hone::PackedMatrix::pack_b(cs.tb, cs.k, cs.n, b.data(), ldb);
    hone::gemm(cs.ta, cs.m, cs.n, cs.k, cs.alpha, a.data(), lda, pb, cs.beta, out.data(), ldc);
  } else {
    hone::gemm(cs.ta, cs.tb, cs.m, cs.n, cs.k, cs.alpha, a.data(), lda, b.data(), ldb, cs.beta,
               out.data(), ldc);
  }
  const double eps = std::numeric_limits<float>::epsilon();
  for (std::int64_t i = 0; i < cs.m; ++i) {
    for (std::int64_t j = 0; j < ldc; ++j) {
      const auto idx = static_cast<std::size_t>(i * ldc + j);
      if (j >= cs.n) {  // the slack beyond n must be untouched
        if (!(out[idx] == c[idx] || (std::isnan(out[idx]) && std::isnan(c[idx])))) {
          FAIL("gemm wrote past column n at (" << i << ", " << j << ")");
        }
        continue;
      }
      const double c0 = cs.beta == 0.f ? 0.0 : std::abs(double(c[idx]) * cs.beta);
      const double bound = 2.0 * double(cs.k + 2) * eps * (std::abs(cs.alpha) * abs_bound[idx] + c0) + 1e-30;
      if (!(std::abs(double(out[idx]) - double(expected[idx])) <= bound)) {
        FAIL("C(" << i << ", " << j << ") = " << out[idx] << ", reference " << expected[idx]
                  << ", bound " << bound << " [m=" << cs.m << " n=" << cs.n << " k=" << cs.k
                  << " ta=" << int(cs.ta) << " tb=" << int(cs.tb) << " alpha=" << cs.alpha
                  << " beta=" << cs.beta << " pad=" << cs.pad << "]");
      }
    }
  }
  return out;
}

const std::vector<std::int64_t> kEdgeSizes = {1,  2,  3,  4,  5,  6,  7,  11, 12,  13,  15,  16,
                                              17, 18, 23, 24, 25, 31, 32, 33, 47,  48,  49,  63,
                                              64, 65, 95, 96, 97, 127, 128, 129, 130};
const Trans kTrans[] = {Trans::No, Trans::Yes};

}  // namespace

TEST_CASE("gemm: every ISA matches the reference on sizes around the tile edges", "[gemm]") {
  IsaGuard guard;
  hone::set_num_threads(1);
  for (Isa isa : available_isas()) {
    hone::cpu::set_max_isa(isa);
    CAPTURE(hone::cpu::to_string(isa));
    std::uint64_t seed = 1;
    for (Trans ta : kTrans)
      for (Trans tb : kTrans)
        for (std::int64_t s : kEdgeSizes) {
          check_case({ta, tb, s, 37, 29, 1.f, 0.f}, seed++);   // m sweeps
          check_case({ta, tb, 21, s, 19, 1.f, 1.f}, seed++);   // n sweeps
          check_case({ta, tb, 13, 35, s, -0.5f, 0.7f}, seed++);  // k sweeps
          check_case({ta, tb, s, s, 9, 2.f, 0.f, 3}, seed++);  // square, padded ld
        }
  }
}

TEST_CASE("gemm: every ISA matches the reference across block boundaries", "[gemm]") {
  IsaGuard guard;
  for (Isa isa : available_isas()) {
    hone::cpu::set_max_isa(isa);
    for (std::size_t threads : {1u, 2u}) {
      hone::set_num_threads(threads);
      CAPTURE(hone::cpu::to_string(isa), threads);
      std::uint64_t seed = 100;
      for (Trans ta : kTrans)
        for (Trans tb : kTrans) {
          check_case({ta, tb, 301, 70, 777, 1.f, 0.f, 1}, seed++);    // m > MC, k > 2*KC
          check_case({ta, tb, 37, 4133, 19, 1.f, 0.5f}, seed++);      // n > NC
          check_case({ta, tb, 130, 200, 385, -1.f, 1.f, 5}, seed++);  // k just past KC
          check_case({ta, tb, 64, 1000, 96, 1.f, 0.f}, seed++);       // batch-like FC
          // rows of B >= 8 KiB apart with small m: packed when k fits one KC block, read in
          // place when it does not (a 1x1 convolution on a 56x56 plane, a 3x3 one)
          check_case({ta, tb, 24, 3136, 144, 1.f, 0.f}, seed++);
          check_case({ta, tb, 40, 2100, 333, 0.5f, 1.f, 7}, seed++);
          // rows of A 4 KiB apart (lda 1024): with ta == No and the AVX-512 tile (12 rows),
          // A is packed by rows; depth tails of 5 and (past KC) uneven blocks. lda 1536
          // (6 rows per offset) stays in place.
          check_case({ta, tb, 37, 100, 53, 1.f, 0.f, 1024 - 53}, seed++);
          check_case({ta, tb, 29, 130, 700, 1.f, 0.5f, 1024 - 700}, seed++);
          check_case({ta, tb, 25, 70, 40, -1.f, 1.f, 1536 - 40}, seed++);
          check_case({ta, tb, 37, 100, 53, 1.f, 0.f, 1024 - 53}, seed++, /*packed=*/true);
        }
    }
  }
}

TEST_CASE("gemm: A is packed when the rows of a micro-panel share L1 sets", "[gemm]") {
  using hone::kernels::detail::a_rows_alias;
  // offsets r * lda * 4 bytes modulo 4 KiB, counted by hand; packed above 6 rows per line
  CHECK(a_rows_alias(1024, 12));         // every row at offset 0
  CHECK(a_rows_alias(3072, 12));         // 12 KiB: every row at offset 0
  CHECK(a_rows_alias(1024, 7));          // 7 rows at offset 0
  CHECK_FALSE(a_rows_alias(1024, 6));    // 6 rows at offset 0 fit an 8-way L1
  CHECK_FALSE(a_rows_alias(4608, 12));   // 18 KiB: offsets 0 and 2 KiB, 6 rows each
  CHECK_FALSE(a_rows_alias(1040, 12));   // 4160 bytes: 64 bytes further each row
  CHECK_FALSE(a_rows_alias(1028, 12));   // 4112 bytes: 3 lines, 4 rows each
  CHECK_FALSE(a_rows_alias(576, 12));    // 2304 bytes: 12 distinct offsets
}

TEST_CASE("gemm: results are bit-identical for 1 and 2 threads", "[gemm]") {
  IsaGuard guard;
  for (Isa isa : available_isas()) {
    hone::cpu::set_max_isa(isa);
    for (Trans ta : kTrans)
      for (Trans tb : kTrans) {
        hone::set_num_threads(1);
        const auto one = check_case({ta, tb, 150, 260, 300, 1.f, 0.f}, 7);
        hone::set_num_threads(2);
        const auto two = check_case({ta, tb, 150, 260, 300, 1.f, 0.f}, 7);
        CHECK(one == two);
      }
  }
}

TEST_CASE("gemm: a pre-packed B gives the same result as the unpacked call", "[gemm]") {
  IsaGuard guard;
  for (Isa isa : available_isas()) {
    hone::cpu::set_max_isa(isa);
    for (std::size_t threads : {1u, 2u}) {
      hone::set_num_threads(threads);
      for (Trans ta : kTrans)
        for (Trans tb : kTrans)
          for (const Case& cs : {Case{ta, tb, 33, 70, 401, 1.f, 0.f},
                                 Case{ta, tb, 300, 45, 20, 0.5f, 1.f, 2},
                                 Case{ta, tb, 5, 4133, 7, 1.f, 0.f}}) {
            const auto plain = check_case(cs, 11, false);
            const auto packed = check_case(cs, 11, true);
            CHECK(plain == packed);
          }
    }
  }
}

TEST_CASE("gemm: degenerate sizes and alpha == 0 follow BLAS semantics", "[gemm]") {
  std::vector<float> c = {1.f, 2.f, std::numeric_limits<float>::quiet_NaN(), 4.f};
  const float a[1] = {3.f}, b[1] = {5.f};
  hone::gemm(Trans::No, Trans::No, 2, 2, 0, 1.f, a, 1, b, 2, 2.f, c.data(), 2);  // k = 0: C *= beta
  CHECK(c[0] == 2.f);
  CHECK(c[3] == 8.f);
  hone::gemm(Trans::No, Trans::No, 2, 2, 1, 0.f, a, 1, b, 2, 0.f, c.data(), 2);  // alpha = 0, beta = 0
  for (float x : c) CHECK(x == 0.f);
  hone::gemm(Trans::No, Trans::No, 0, 0, 5, 1.f, nullptr, 5, nullptr, 1, 0.f, nullptr, 1);
}

TEST_CASE("gemm: bad arguments are rejected with the offending value", "[gemm]") {
  std::vector<float> a(64), b(64), c(64);
  CHECK_THROWS_WITH(hone::gemm(Trans::No, Trans::No, 4, 4, 5, 1.f, a.data(), 3, b.data(), 4, 0.f, c.data(), 4),
                    "[hone.invalid_argument] gemm: lda=3 is smaller than the 5 columns of the stored A "
                    "(m=4, k=5, ta=No)");
  CHECK_THROWS_WITH(hone::gemm(Trans::No, Trans::Yes, 4, 4, 5, 1.f, a.data(), 5, b.data(), 4, 0.f, c.data(), 4),
                    Catch::Contains("ldb=4 is smaller than the 5 columns of the stored B"));
  CHECK_THROWS_WITH(hone::gemm(Trans::No, Trans::No, 4, 6, 2, 1.f, a.data(), 2, b.data(), 6, 0.f, c.data(), 4),
                    Catch::Contains("ldc=4 is smaller than the 6 columns of C"));
  CHECK_THROWS_AS(hone::gemm(Trans::No, Trans::No, -1, 4, 4, 1.f, a.data(), 4, b.data(), 4, 0.f, c.data(), 4),
                  hone::InvalidArgument);
  CHECK_THROWS_AS(hone::gemm(Trans::No, Trans::No, 2, 2, 2, 1.f, nullptr, 2, b.data(), 2, 0.f, c.data(), 2),
                  hone::InvalidArgument);
  const auto pb = hone::PackedMatrix::pack_b(Trans::No, 4, 4, b.data(), 4);
  CHECK_THROWS_WITH(hone::gemm(Trans::No, 2, 5, 4, 1.f, a.data(), 4, pb, 0.f, c.data(), 5),
                    "[hone.invalid_argument] gemm(packed): the packed B is (4 x 4) but the call asks "
                    "for (k=4 x n=5)");
}

TEST_CASE("gemm: a packed B is tied to the ISA it was packed for", "[gemm]") {
  if (hone::cpu::detected_isa() == Isa::scalar) return;
  IsaGuard guard;
  std::vector<float> a(16, 1.f), b(16, 1.f), c(16);
  const auto pb = hone::PackedMatrix::pack_b(Trans::No, 4, 4, b.data(), 4);
  hone::cpu::set_max_isa(Isa::scalar);
  CHECK_THROWS_WITH(hone::gemm(Trans::No, 4, 4, 4, 1.f, a.data(), 4, pb, 0.f, c.data(), 4),
                    Catch::Contains("[hone.state]") && Catch::Contains("pack it again"));
}
