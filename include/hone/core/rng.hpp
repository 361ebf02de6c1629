// hone/core/rng.hpp — reproducible random numbers.
//
// hone never uses std::*_distribution: their algorithms differ between standard libraries,
// so the same seed would give different weights on different platforms. Instead:
//  - the bits come from Philox4x32-10 (Salmon et al., "Parallel Random Numbers: As Easy as
//    1, 2, 3", SC'11), a counter-based generator: output block i is a pure function of
//    (seed, stream, i), so any element of a stream can be computed independently;
//  - uniform floats are exact conversions of those bits;
//  - normal variates use Marsaglia's polar method with hone's own logarithm built from IEEE
//    basic operations only (no libm), compiled without FMA contraction, so the values are
//    bit-identical on every IEEE-754 platform.
#pragma once

#include <array>    // Philox counter and key blocks
#include <cmath>    // std::frexp, std::ldexp, std::sqrt (exactly rounded by IEEE-754)
#include <cstdint>  // fixed-width integers

#include "hone/core/error.hpp"

namespace hone {

namespace detail {

/// One Philox4x32-10 block: the 4 output words for a 128-bit counter and a 64-bit key.
inline std::array<std::uint32_t, 4> philox4x32_10(std::array<std::uint32_t, 4> ctr,
                                                  std::array<std::uint32_t, 2> key) noexcept {
  constexpr std::uint32_t mul0 = 0xD2511F53u, mul1 = 0xCD9E8D57u;
  constexpr std::uint32_t weyl0 = 0x9E3779B9u, weyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      key[0] += weyl0;
      key[1] += weyl1;
    }
    const std::uint64_t p0 = static_cast<std::uint64_t>(mul0) * ctr[0];
    const std::uint64_t p1 = static_cast<std::uint64_t>(mul1) * ctr[2];
    const auto hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
    const auto hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
    ctr = {hi1 ^ ctr[1] ^ key[0], lo1, hi0 ^ ctr[3] ^ key[1], lo0};
  }
  return ctr;
}

// Natural logarithm from +, -, *, / and frexp/ldexp only, so that it rounds identically
// everywhere. FMA contraction would change the last bits, so it is switched off here.
#if defined(__clang__)
#define HONE_DETAIL_NO_CONTRACT
#elif defined(__GNUC__)
#define HONE_DETAIL_NO_CONTRACT __attribute__((optimize("fp-contract=off")))
#else
#define HONE_DETAIL_NO_CONTRACT
#endif

/// log(x) for finite x > 0, accurate to a few ulp in double, identical on all IEEE platforms.
HONE_DETAIL_NO_CONTRACT inline double portable_log(double x) noexcept {
#if defined(__clang__)
#pragma clang fp contract(off)
#endif
  int exponent = 0;
  double m = std::frexp(x, &exponent);  // x = m * 2^exponent, m in [0.5, 1)
  if (m < 0.70710678118654752440) {     // move m into [sqrt(1/2), sqrt(2))
    m *= 2.0;
    exponent -= 1;
  }
  // log(m) = 2 atanh(s), s = (m-1)/(m+1), |s| < 0.172: the odd series converges fast.
  const double s = (m - 1.0) / (m + 1.0);
  const double s2 = s * s;
  double series = 0.0;
  for (int k = 23; k >= 3; k -= 2) series = (series + 1.0 / k) * s2;
  const double log_m = 2.0 * s * (1.0 + series);
  // ln 2 split so that exponent * ln2_hi is exact for |exponent| < 2^11.
  constexpr double ln2_hi = 6.93147180369123816490e-01;
  constexpr double ln2_lo = 1.90821492927058770002e-10;
  const double e = static_cast<double>(exponent);
  return e * ln2_hi + (log_m + e * ln2_lo);
}

#undef HONE_DETAIL_NO_CONTRACT

}  // namespace detail

/// A reproducible random stream: Philox4x32-10 keyed by `seed`, with 2^64 independent
/// streams selected by `stream`. Copying a Generator copies its position. The sequence for
/// a given (seed, stream) is the same on every platform and compiler.
class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0, std::uint64_t stream = 0) noexcept
      : seed_(seed), stream_(stream) {}

  std::uint64_t seed() const noexcept { return seed_; }
  std::uint64_t stream() const noexcept { return stream_; }

  /// An independent generator for sub-stream `index` of this one (same seed, derived
  /// stream id); used to give each layer or worker its own reproducible stream.
  Generator fork(std::uint64_t index) const noexcept {
    // splitmix64 finaliser: spreads (stream, index) pairs over the stream space.
    std::uint64_t z = stream_ * 0x9E3779B97F4A7C15ull + index + 0xD1B54A32D192ED03ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return Generator(seed_, z ^ (z >> 31));
  }

  /// Block `index` of this stream: Philox4x32-10 of the counter (index, stream) under the
  /// key seed, each 64-bit number split into 32-bit words low word first. The stream is
  /// blocks 0, 1, 2, ... in order; this reads any block without moving the position.
  std::array<std::uint32_t, 4> block_at(std::uint64_t index) const noexcept {
    const std::array<std::uint32_t, 4> ctr = {
        static_cast<std::uint32_t>(index), static_cast<std::uint32_t>(index >> 32),
        static_cast<std::uint32_t>(stream_), static_cast<std::uint32_t>(stream_ >> 32)};
    return detail::philox4x32_10(
        ctr, {static_cast<std::uint32_t>(seed_), static_cast<std::uint32_t>(seed_ >> 32)});
  }

  /// Moves the position to the first word of block `index` (and drops a cached normal).
  void seek_block(std::uint64_t index) noexcept {
    block_ = index;
    position_ = 4;
    has_spare_ = false;
  }

  /// The next 32 random bits: the words of blocks 0, 1, 2, ... in order.
  std::uint32_t next_u32() noexcept {
    if (position_ == 4) {
      buffer_ = block_at(block_);
      ++block_;
      position_ = 0;
    }
    return buffer_[position_++];
  }

  std::uint64_t next_u64() noexcept {
    const std::uint64_t lo = next_u32();
    return lo | (static_cast<std::uint64_t>(next_u32()) << 32);
  }

  /// Uniform float in [0, 1): the top 24 bits of one word, scaled exactly.
  float uniform_float() noexcept { return static_cast<float>(next_u32() >> 8) * 0x1.0p-24f; }

  /// Uniform double in [0, 1): the top 53 bits of two words, scaled exactly.
  double uniform_double() noexcept { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

  /// Uniform integer in [0, n) without modulo bias; throws InvalidArgument when n == 0.
  std::uint64_t uniform_int(std::uint64_t n) {
    if (n == 0) throw InvalidArgument("Generator::uniform_int: the range size must be positive");
    const std::uint64_t limit = (0 - n) % n;  // 2^64 mod n: values below it are rejected
    for (;;) {
      const std::uint64_t r = next_u64();
      if (r >= limit) return r % n;
    }
  }

  /// Standard normal variate (mean 0, variance 1) by Marsaglia's polar method.
  double normal() noexcept {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    for (;;) {
      const double u = 2.0 * uniform_double() - 1.0;
      const double v = 2.0 * uniform_double() - 1.0;
      const double s = u * u + v * v;
      if (s >= 1.0 || s == 0.0) continue;
      const double factor = std::sqrt(-2.0 * detail::portable_log(s) / s);
      spare_ = v * factor;
      has_spare_ = true;
      return u * factor;
    }
  }

 private:
  std::uint64_t seed_;
  std::uint64_t stream_;
  std::uint64_t block_ = 0;
  std::array<std::uint32_t, 4> buffer_{};
  unsigned position_ = 4;
  double spare_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace hone
