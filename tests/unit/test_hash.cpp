// Tests for hone/core/hash.hpp. The hash has no published vectors (it is hone's own), so the
// tests check the properties its users rely on: equal bytes give equal hashes wherever they
// lie, and any single changed word or byte, a different length (trailing zero bytes
// included), a different seed or a different split into blocks changes the hash.
#include <catch2/catch.hpp>

#include <hone/core/hash.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <set>
#include <utility>
#include <vector>

using hone::content_hash;

namespace {
std::vector<unsigned char> bytes_of(std::size_t n, unsigned seed) {
  std::vector<unsigned char> v(n);
  std::uint32_t s = seed * 2654435761u + 1;
  for (auto& b : v) b = static_cast<unsigned char>((s = s * 1664525u + 1013904223u) >> 24);
  return v;
}
}  // namespace

TEST_CASE("hash: equal contents hash equally, wherever and however aligned they are", "[hash]") {
  for (std::size_t n : {0u, 1u, 7u, 8u, 31u, 32u, 33u, 100u, 4097u}) {
    const auto a = bytes_of(n, 3);
    std::vector<unsigned char> shifted(n + 5);
    if (n) std::memcpy(shifted.data() + 5, a.data(), n);  // unaligned copy
    CHECK(content_hash(a.data(), n) == content_hash(shifted.data() + 5, n));
    CHECK(content_hash(a.data(), n, 42) == content_hash(shifted.data() + 5, n, 42));
  }
  CHECK(content_hash(nullptr, 0) == content_hash(nullptr, 0));
}

TEST_CASE("hash: every single-byte change of every position changes the hash", "[hash]") {
  for (std::size_t n : {1u, 5u, 8u, 12u, 31u, 32u, 40u, 67u, 130u}) {
    auto a = bytes_of(n, 7);
    const std::uint64_t h = content_hash(a.data(), n);
    for (std::size_t i = 0; i < n; ++i)
      for (unsigned flip : {0x01u, 0x80u, 0xffu}) {
        a[i] = static_cast<unsigned char>(a[i] ^ flip);
        CHECK(content_hash(a.data(), n) != h);
        a[i] = static_cast<unsigned char>(a[i] ^ flip);
      }
    CHECK(content_hash(a.data(), n) == h);
  }
}

TEST_CASE("hash: float weights: one changed value, swapped values, sign of zero", "[hash]") {
  std::vector<float> w(1000);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = 0.001f * static_cast<float>(i) - 0.3f;
  const std::uint64_t h = content_hash(w.data(), w.size() * sizeof(float));
  auto changed = [&](auto&& edit) {
    std::vector<float> v = w;
    edit(v);
    return content_hash(v.data(), v.size() * sizeof(float)) != h;
  };
  CHECK(changed([](std::vector<float>& v) { v[999] = std::nextafter(v[999], 1.0f); }));
  CHECK(changed([](std::vector<float>& v) { std::swap(v[3], v[4]); }));    // neighbours: order counts
  CHECK(changed([](std::vector<float>& v) { std::swap(v[0], v[8]); }));    // same lane, other word
  CHECK(changed([](std::vector<float>& v) { std::swap(v[10], v[500]); }));
  CHECK(changed([](std::vector<float>& v) { v[300] = 0.0f; v[301] = -0.0f; }));
  CHECK(changed([](std::vector<float>& v) { for (auto& x : v) x *= 0.5f; }));
}

TEST_CASE("hash: length, seed and block boundaries are part of the hash", "[hash]") {
  const auto a = bytes_of(64, 11);
  std::set<std::uint64_t> seen;
  for (std::size_t n = 0; n <= 64; ++n) seen.insert(content_hash(a.data(), n));
  CHECK(seen.size() == 65);
  const unsigned char zeros[16] = {};
  std::set<std::uint64_t> zero_lengths;
  for (std::size_t n = 0; n <= 16; ++n) zero_lengths.insert(content_hash(zeros, n));
  CHECK(zero_lengths.size() == 17);  // trailing zero bytes are not padding
  CHECK(content_hash(a.data(), 64, 1) != content_hash(a.data(), 64, 2));
  // Chained blocks: the same bytes split differently hash differently.
  const std::uint64_t split_a = content_hash(a.data() + 16, 48, content_hash(a.data(), 16));
  const std::uint64_t split_b = content_hash(a.data() + 24, 40, content_hash(a.data(), 24));
  CHECK(split_a != split_b);
  CHECK(split_a == content_hash(a.data() + 16, 48, content_hash(a.data(), 16)));
}
