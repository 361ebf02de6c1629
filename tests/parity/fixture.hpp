// tests/parity/fixture.hpp — reads the named float32 tensors that the PyTorch generator
// scripts write (format in tests/parity/gen_graph_parity.py) and compares tensors with a
// relative tolerance.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "hone/core/tensor.hpp"

namespace hone_test {

class Fixture {
 public:
  explicit Fixture(const std::string& path) : path_(path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open fixture " + path);
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
    std::size_t pos = 0;
    auto take = [&](void* dst, std::size_t n) {
      if (n > bytes.size() - pos) throw std::runtime_error("truncated fixture " + path);
      std::memcpy(dst, bytes.data() + pos, n);
      pos += n;
    };
    char magic[8];
    take(magic, 8);
    if (std::memcmp(magic, "HONEFIX1", 8) != 0) throw std::runtime_error("bad magic in " + path);
    std::uint32_t count = 0;
    take(&count, 4);
    for (std::uint32_t i = 0; i < count; ++i) {
      std::uint32_t len = 0, rank = 0;
      take(&len, 4);
      std::string name(len, '\0');
      take(name.data(), len);
      take(&rank, 4);
      std::vector<std::int64_t> dims(rank);
      take(dims.data(), rank * 8);
      hone::Tensor<float> t{hone::Shape(std::span<const std::int64_t>(dims))};
      take(t.data(), static_cast<std::size_t>(t.numel()) * 4);
      names_.push_back(name);
      tensors_.emplace(name, t);
    }
    if (pos != bytes.size()) throw std::runtime_error("trailing bytes in " + path);
  }

  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  const hone::Tensor<float>& operator[](const std::string& name) const {
    auto it = tensors_.find(name);
    if (it == tensors_.end()) throw std::runtime_error(path_ + " has no tensor " + name);
    return it->second;
  }
  /// Names starting with prefix, with the prefix removed, in file order.
  std::vector<std::string> names(const std::string& prefix) const {
    std::vector<std::string> out;
    for (const auto& n : names_)
      if (n.rfind(prefix, 0) == 0) out.push_back(n.substr(prefix.size()));
    return out;
  }

 private:
  std::string path_;
  std::vector<std::string> names_;
  std::map<std::string, hone::Tensor<float>> tensors_;
};

/// max |a - b| / max(max |b|, floor): the error relative to the reference tensor's scale
/// (elementwise relative error is meaningless for the near-zero entries every gradient
/// has). `floor` bounds the scale from below for tensors that are zero in exact arithmetic
/// and hold only rounding noise in both implementations. Infinity for a shape mismatch.
inline double relative_error(const hone::Tensor<float>& a, const hone::Tensor<float>& b,
                             double floor = 0) {
  if (!(a.shape() == b.shape())) return INFINITY;
  double diff = 0, scale = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    diff = std::max(diff, std::fabs(static_cast<double>(a[i]) - b[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(b[i])));
  }
  scale = std::max(scale, floor);
  return scale > 0 ? diff / scale : diff;
}

/// max |t| over the tensor.
inline double max_abs(const hone::Tensor<float>& t) {
  double m = 0;
  for (std::int64_t i = 0; i < t.numel(); ++i) m = std::max(m, std::fabs(static_cast<double>(t[i])));
  return m;
}

}  // namespace hone_test
