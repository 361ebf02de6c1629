// hone/core/hash.hpp — a 64-bit hash of memory contents, for caches that must notice when
// the data they were built from has changed (the prepared weights of fused inference
// chains, graph/fusion.hpp). Not cryptographic, and not stable across hone versions.
//
// Four lanes take the 8-byte words in turn; a lane absorbs a word w as
//   h = rotl(h ^ (w * K1), 31) * K2
// (every step is a bijection of h for a fixed w, and w * K1 a bijection of w), the lanes
// are then absorbed one by one into a final value by the same kind of step, with the length
// and the seed, and the result is avalanched. So two inputs of the same length that differ
// in a single word always hash differently; inputs that differ in more places collide with
// a probability of about 2^-64. About 8 bytes per cycle on one core (the multiplications
// of the four lanes overlap).
#pragma once

#include <cstddef>  // std::size_t
#include <cstdint>  // std::uint64_t
#include <cstring>  // std::memcpy (unaligned, aliasing-safe loads)

namespace hone {

namespace detail_hash {
inline constexpr std::uint64_t k1 = 0x9E3779B97F4A7C15ull;  // odd: multiplication is a bijection
inline constexpr std::uint64_t k2 = 0xC2B2AE3D27D4EB4Full;
inline constexpr std::uint64_t k3 = 0x165667B19E3779F9ull;

constexpr std::uint64_t rotl(std::uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
constexpr std::uint64_t absorb(std::uint64_t h, std::uint64_t w) { return rotl(h ^ (w * k1), 31) * k2; }
/// A bijective finaliser: every input bit affects every output bit.
constexpr std::uint64_t avalanche(std::uint64_t h) {
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDull;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ull;
  h ^= h >> 33;
  return h;
}
inline std::uint64_t load(const unsigned char* p) {
  std::uint64_t w;
  std::memcpy(&w, p, sizeof w);
  return w;
}
}  // namespace detail_hash

/// The hash of the `bytes` bytes at `data` (null allowed when bytes is 0), started from
/// `seed`: pass one call's result as the next call's seed to hash several blocks as one
/// key (each block's length is part of its hash, so block boundaries count).
inline std::uint64_t content_hash(const void* data, std::size_t bytes, std::uint64_t seed = 0) {
  using namespace detail_hash;
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint64_t h0 = seed + k1, h1 = seed + k2, h2 = seed + k3, h3 = seed - k1;
  std::size_t i = 0;
  for (; i + 32 <= bytes; i += 32) {
    h0 = absorb(h0, load(p + i));
    h1 = absorb(h1, load(p + i + 8));
    h2 = absorb(h2, load(p + i + 16));
    h3 = absorb(h3, load(p + i + 24));
  }
  std::uint64_t lane = 0;
  for (; i + 8 <= bytes; i += 8) h0 = absorb(h0, load(p + i));  // up to three words
  if (i < bytes) {  // the last 1..7 bytes, zero-padded (the length tells paddings apart)
    unsigned char tail[8] = {};
    std::memcpy(tail, p + i, bytes - i);
    lane = load(tail);
  }
  std::uint64_t h = absorb(seed ^ k3, static_cast<std::uint64_t>(bytes));
  h = absorb(h, lane);
  h = absorb(h, h0);
  h = absorb(h, h1);
  h = absorb(h, h2);
  h = absorb(h, h3);
  return avalanche(h);
}

}  // namespace hone
