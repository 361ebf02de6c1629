// Tests for hone/core/rng.hpp. Oracles: the Random123 known-answer vectors for
// Philox4x32-10 (published with the SC'11 paper), the documented conversions, and the
// normal distribution function for the statistical checks.
#include <catch2/catch.hpp>

#include <hone/core/rng.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <set>
#include <vector>

using Words = std::array<std::uint32_t, 4>;

TEST_CASE("rng: Philox4x32-10 matches the Random123 known-answer vectors", "[rng]") {
  CHECK(hone::detail::philox4x32_10({0, 0, 0, 0}, {0, 0}) ==
        Words{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8});
  CHECK(hone::detail::philox4x32_10({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
                                    {0xffffffff, 0xffffffff}) ==
        Words{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd});
  CHECK(hone::detail::philox4x32_10({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
                                    {0xa4093822, 0x299f31d0}) ==
        Words{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1});
}

TEST_CASE("rng: the stream is the Philox blocks of (index, stream) under the seed", "[rng]") {
  // Seed 0, stream 0: the first four words are the all-zero known answer.
  hone::Generator zero(0, 0);
  const Words first = {zero.next_u32(), zero.next_u32(), zero.next_u32(), zero.next_u32()};
  CHECK(first == Words{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8});
  // The pi-digits vector: counter words (0x243f6a88, 0x85a308d3) are block index
  // 0x85a308d3243f6a88, (0x13198a2e, 0x03707344) the stream, the key words the seed.
  hone::Generator pi(0x299f31d0a4093822ull, 0x0370734413198a2eull);
  CHECK(pi.block_at(0x85a308d3243f6a88ull) == Words{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1});
  pi.seek_block(0x85a308d3243f6a88ull);
  CHECK(pi.next_u32() == 0xd16cfe09);
  CHECK(pi.next_u32() == 0x94fdcceb);
}

TEST_CASE("rng: copies continue identically, streams and forks differ", "[rng]") {
  hone::Generator a(42);
  for (int i = 0; i < 7; ++i) a.next_u32();
  hone::Generator b = a;
  for (int i = 0; i < 100; ++i) REQUIRE(a.next_u32() == b.next_u32());
  hone::Generator s0(42, 0), s1(42, 1);
  CHECK(s0.next_u64() != s1.next_u64());
  const auto f1 = hone::Generator(42).fork(1), f1_again = hone::Generator(42).fork(1);
  CHECK(f1.stream() == f1_again.stream());
  std::set<std::uint64_t> streams;
  for (std::uint64_t i = 0; i < 1000; ++i) streams.insert(hone::Generator(42).fork(i).stream());
  CHECK(streams.size() == 1000);
}

TEST_CASE("rng: uniform floats are exact conversions of the bits", "[rng]") {
  hone::Generator g(7), bits(7);
  for (int i = 0; i < 1000; ++i) {
    const float u = g.uniform_float();
    const std::uint32_t w = bits.next_u32();
    REQUIRE(u == std::ldexp(static_cast<float>(w >> 8), -24));
    REQUIRE(u >= 0.f);
    REQUIRE(u < 1.f);
  }
  for (int i = 0; i < 1000; ++i) {
    const double u = g.uniform_double();
    const std::uint64_t lo = bits.next_u32(), hi = bits.next_u32();
    REQUIRE(u == std::ldexp(static_cast<double>(((hi << 32) | lo) >> 11), -53));
    REQUIRE(u < 1.0);
  }
}

TEST_CASE("rng: uniform_int covers its range evenly", "[rng]") {
  hone::Generator g(3);
  constexpr int buckets = 10, draws = 100000;
  std::array<int, buckets> count{};
  for (int i = 0; i < draws; ++i) {
    const auto v = g.uniform_int(buckets);
    REQUIRE(v < buckets);
    ++count[v];
  }
  double chi2 = 0;
  for (int c : count) chi2 += (c - draws / buckets) * (c - draws / buckets) / double(draws / buckets);
  CHECK(chi2 < 27.88);  // the 0.999 quantile of chi-square with 9 degrees of freedom
  CHECK_THROWS_AS(g.uniform_int(0), hone::InvalidArgument);
}

TEST_CASE("rng: portable_log agrees with the C library's log", "[rng]") {
  hone::Generator g(11);
  double worst = 0;
  for (int i = 0; i < 200000; ++i) {
    const double x = std::ldexp(1.0 + g.uniform_double(), static_cast<int>(g.uniform_int(2100)) - 1070);
    worst = std::max(worst, std::abs(hone::detail::portable_log(x) - std::log(x)) /
                                std::max(1e-300, std::abs(std::log(x))));
  }
  for (double x : {1.0, 0.5, 2.0, 1e-310, 0.9999999999, 1.0000000001, 1e308}) {
    CAPTURE(x);
    CHECK(std::abs(hone::detail::portable_log(x) - std::log(x)) <= 4e-16 * std::max(1e-30, std::abs(std::log(x))) + 1e-25);
  }
  CHECK(worst < 1e-15);
}

TEST_CASE("rng: normal() is Marsaglia's polar method on the uniform stream", "[rng]") {
  hone::Generator g(5), replay(5);
  for (int pair = 0; pair < 1000; ++pair) {
    double u = 0, v = 0, s = 0;
    do {
      u = 2.0 * replay.uniform_double() - 1.0;
      v = 2.0 * replay.uniform_double() - 1.0;
      s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    const double factor = std::sqrt(-2.0 * std::log(s) / s);
    REQUIRE(g.normal() == Approx(u * factor).epsilon(1e-14));
    REQUIRE(g.normal() == Approx(v * factor).epsilon(1e-14));
  }
}

TEST_CASE("rng: normal() has the standard normal distribution", "[rng]") {
  hone::Generator g(2024);
  constexpr int n = 200000;
  std::vector<double> x(n);
  double sum = 0, sum2 = 0;
  for (double& v : x) {
    v = g.normal();
    sum += v;
    sum2 += v * v;
  }
  const double mean = sum / n, var = sum2 / n - mean * mean;
  CHECK(std::abs(mean) < 5.0 / std::sqrt(n));        // 5 standard errors
  CHECK(std::abs(var - 1.0) < 5.0 * std::sqrt(2.0 / n));
  // Kolmogorov-Smirnov against Phi(x) = erfc(-x/sqrt 2)/2.
  std::sort(x.begin(), x.end());
  double d = 0;
  for (int i = 0; i < n; ++i) {
    const double cdf = 0.5 * std::erfc(-x[i] / std::sqrt(2.0));
    d = std::max({d, std::abs(cdf - double(i) / n), std::abs(cdf - double(i + 1) / n)});
  }
  CHECK(d < 1.95 / std::sqrt(n));  // the 0.999 critical value of the KS statistic
}
