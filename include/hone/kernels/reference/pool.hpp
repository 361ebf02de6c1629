// hone/kernels/reference/pool.hpp — naive max and average pooling over 1, 2 or 3 spatial
// axes in NC[D][H]W (forward and backward): the readable oracle for the fast pooling
// kernels to come.
//
// Windows follow ONNX MaxPool/AveragePool and torch.nn.MaxPool*d/AvgPool*d: zero-based
// window origin i*stride - pad_begin, dilation for max pooling, padded positions never win
// a max. Inputs of fewer than 3 spatial axes use unit leading axes (kernel 1, stride 1, no
// padding), so one loop nest serves all ranks.
#pragma once

#include <algorithm>  // std::min, std::max
#include <array>      // per-axis geometry
#include <cstdint>    // std::int64_t
#include <limits>     // -infinity start of a max

namespace hone::kernels::reference {

/// Axis 0 is D, 1 is H, 2 is W.
struct PoolGeometry {
  std::int64_t n = 1, c = 1;
  std::array<std::int64_t, 3> in{1, 1, 1}, k{1, 1, 1}, out{1, 1, 1};
  std::array<std::int64_t, 3> stride{1, 1, 1}, pad_begin{0, 0, 0}, pad_end{0, 0, 0}, dilation{1, 1, 1};

  std::int64_t in_size() const { return in[0] * in[1] * in[2]; }
  std::int64_t out_size() const { return out[0] * out[1] * out[2]; }
};

namespace detail_pool {

/// Calls f(input offset within the plane) for every in-bounds tap of output position o.
template <class F>
void for_each_tap(const PoolGeometry& g, const std::array<std::int64_t, 3>& o, bool dilated, F&& f) {
  for (std::int64_t a = 0; a < g.k[0]; ++a) {
    const std::int64_t z = o[0] * g.stride[0] - g.pad_begin[0] + a * (dilated ? g.dilation[0] : 1);
    if (z < 0 || z >= g.in[0]) continue;
    for (std::int64_t b = 0; b < g.k[1]; ++b) {
      const std::int64_t y = o[1] * g.stride[1] - g.pad_begin[1] + b * (dilated ? g.dilation[1] : 1);
      if (y < 0 || y >= g.in[1]) continue;
      for (std::int64_t e = 0; e < g.k[2]; ++e) {
        const std::int64_t x = o[2] * g.stride[2] - g.pad_begin[2] + e * (dilated ? g.dilation[2] : 1);
        if (x < 0 || x >= g.in[2]) continue;
        f((z * g.in[1] + y) * g.in[2] + x);
      }
    }
  }
}

/// Calls f(plane, output position, flat output index) for every output element.
template <class F>
void for_each_output(const PoolGeometry& g, F&& f) {
  std::int64_t at = 0;
  for (std::int64_t p = 0; p < g.n * g.c; ++p)
    for (std::int64_t i = 0; i < g.out[0]; ++i)
      for (std::int64_t j = 0; j < g.out[1]; ++j)
        for (std::int64_t l = 0; l < g.out[2]; ++l) f(p, std::array<std::int64_t, 3>{i, j, l}, at++);
}

}  // namespace detail_pool

// x is (N,C,spatial...), y is (N,C,out...). A window that covers only padding yields -infinity.
template <class T>
void maxpool_forward(const PoolGeometry& g, const T* x, T* y) {
  detail_pool::for_each_output(g, [&](std::int64_t p, const auto& o, std::int64_t at) {
    const T* plane = x + p * g.in_size();
    T best = -std::numeric_limits<T>::infinity();
    detail_pool::for_each_tap(g, o, true, [&](std::int64_t off) { best = std::max(best, plane[off]); });
    y[at] = best;
  });
}

// Adds each dy to the first maximum of its window in dx.
template <class T>
void maxpool_backward(const PoolGeometry& g, const T* x, const T* dy, T* dx) {
  detail_pool::for_each_output(g, [&](std::int64_t p, const auto& o, std::int64_t at) {
    const T* plane = x + p * g.in_size();
    T best = -std::numeric_limits<T>::infinity();
    std::int64_t arg = -1;
    detail_pool::for_each_tap(g, o, true, [&](std::int64_t off) {
      if (arg < 0 || plane[off] > best) {
        best = plane[off];
        arg = off;
      }
    });
    if (arg >= 0) dx[p * g.in_size() + arg] += dy[at];
  });
}

/// The divisor of an average-pool window: PyTorch's rule. With count_include_pad the window
/// clipped to the padded input, else the window clipped to the input.
inline std::int64_t avgpool_divisor(const PoolGeometry& g, const std::array<std::int64_t, 3>& o,
                                    bool count_include_pad) {
  std::int64_t n = 1;
  for (int a = 0; a < 3; ++a) {
    std::int64_t lo = o[a] * g.stride[a] - g.pad_begin[a];
    std::int64_t hi = std::min(lo + g.k[a], g.in[a] + g.pad_end[a]);
    if (!count_include_pad) {
      lo = std::max<std::int64_t>(lo, 0);
      hi = std::min(hi, g.in[a]);
    }
    n *= std::max<std::int64_t>(hi - lo, 0);
  }
  return std::max<std::int64_t>(n, 1);
}

// No dilation (ONNX AveragePool before opset 19 has none).
template <class T>
void avgpool_forward(const PoolGeometry& g, const T* x, T* y, bool count_include_pad) {
  detail_pool::for_each_output(g, [&](std::int64_t p, const auto& o, std::int64_t at) {
    const T* plane = x + p * g.in_size();
    double sum = 0;
    detail_pool::for_each_tap(g, o, false, [&](std::int64_t off) { sum += static_cast<double>(plane[off]); });
    y[at] = static_cast<T>(sum / static_cast<double>(avgpool_divisor(g, o, count_include_pad)));
  });
}

// Adds the input gradient into dx.
template <class T>
void avgpool_backward(const PoolGeometry& g, const T* dy, T* dx, bool count_include_pad) {
  detail_pool::for_each_output(g, [&](std::int64_t p, const auto& o, std::int64_t at) {
    T* plane = dx + p * g.in_size();
    const T d = dy[at] / static_cast<T>(avgpool_divisor(g, o, count_include_pad));
    detail_pool::for_each_tap(g, o, false, [&](std::int64_t off) { plane[off] += d; });
  });
}

}  // namespace hone::kernels::reference
