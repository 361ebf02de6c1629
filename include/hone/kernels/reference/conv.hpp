// hone/kernels/reference/conv.hpp — naive convolution over 1, 2 or 3 spatial axes (forward,
// backward data, backward weight, backward bias) in NC[D][H]W: the readable oracle for the
// fast convolution kernels to come.
//
// Cross-correlation as in ONNX Conv and torch.nn.Conv1d/2d/3d, with stride, asymmetric zero
// padding, dilation and groups (depthwise when groups == C == OC). Inputs of fewer than 3
// spatial axes use unit leading axes (kernel 1, stride 1, no padding), as the pooling
// reference does, so one loop nest serves all ranks. Sums accumulate in double.
#pragma once

#include <array>    // per-axis geometry
#include <cstdint>  // std::int64_t
#include <vector>   // the double accumulator of the weight gradient

namespace hone::kernels::reference {

/// The geometry of one convolution; spatial axis 0 is D, 1 is H, 2 is W. Input channels per
/// group c/groups, output channels per group oc/groups. The end padding only shapes `out`.
struct ConvGeometry {
  std::int64_t n = 1, c = 1, oc = 1, groups = 1;
  std::array<std::int64_t, 3> in{1, 1, 1}, k{1, 1, 1}, out{1, 1, 1};
  std::array<std::int64_t, 3> stride{1, 1, 1}, pad_begin{0, 0, 0}, dilation{1, 1, 1};

  std::int64_t in_size() const { return in[0] * in[1] * in[2]; }
  std::int64_t kernel_size() const { return k[0] * k[1] * k[2]; }
  std::int64_t out_size() const { return out[0] * out[1] * out[2]; }
};

namespace detail_conv {

/// Calls f(output position, flat offset within an output plane) for every output position.
template <class F>
void for_each_position(const ConvGeometry& g, F&& f) {
  std::int64_t at = 0;
  for (std::int64_t i = 0; i < g.out[0]; ++i)
    for (std::int64_t j = 0; j < g.out[1]; ++j)
      for (std::int64_t l = 0; l < g.out[2]; ++l) f(std::array<std::int64_t, 3>{i, j, l}, at++);
}

/// Calls f(offset within an input plane, offset within a filter) for every tap of output
/// position o that lands inside the input (taps in the zero padding contribute nothing).
template <class F>
void for_each_tap(const ConvGeometry& g, const std::array<std::int64_t, 3>& o, F&& f) {
  for (std::int64_t a = 0; a < g.k[0]; ++a) {
    const std::int64_t z = o[0] * g.stride[0] - g.pad_begin[0] + a * g.dilation[0];
    if (z < 0 || z >= g.in[0]) continue;
    for (std::int64_t b = 0; b < g.k[1]; ++b) {
      const std::int64_t y = o[1] * g.stride[1] - g.pad_begin[1] + b * g.dilation[1];
      if (y < 0 || y >= g.in[1]) continue;
      for (std::int64_t e = 0; e < g.k[2]; ++e) {
        const std::int64_t x = o[2] * g.stride[2] - g.pad_begin[2] + e * g.dilation[2];
        if (x < 0 || x >= g.in[2]) continue;
        f((z * g.in[1] + y) * g.in[2] + x, (a * g.k[1] + b) * g.k[2] + e);
      }
    }
  }
}

}  // namespace detail_conv

// x is (N,C,spatial...), w is (OC,C/g,kernel...), bias is (OC) or null, y is (N,OC,out...)
// (overwritten).
template <class T>
void conv_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y) {
  const std::int64_t cg = g.c / g.groups, ocg = g.oc / g.groups;
  for (std::int64_t n = 0; n < g.n; ++n)
    for (std::int64_t o = 0; o < g.oc; ++o) {
      const std::int64_t grp = o / ocg;
      T* out = y + (n * g.oc + o) * g.out_size();
      detail_conv::for_each_position(g, [&](const auto& pos, std::int64_t at) {
        double sum = bias ? static_cast<double>(bias[o]) : 0.0;
        for (std::int64_t ci = 0; ci < cg; ++ci) {
          const T* plane = x + (n * g.c + grp * cg + ci) * g.in_size();
          const T* filter = w + (o * cg + ci) * g.kernel_size();
          detail_conv::for_each_tap(g, pos, [&](std::int64_t xi, std::int64_t wi) {
            sum += static_cast<double>(plane[xi]) * static_cast<double>(filter[wi]);
          });
        }
        out[at] = static_cast<T>(sum);
      });
    }
}

// dy is (N,OC,out...), w is (OC,C/g,kernel...); adds the input gradient into dx (N,C,spatial...).
template <class T>
void conv_backward_data(const ConvGeometry& g, const T* dy, const T* w, T* dx) {
  const std::int64_t cg = g.c / g.groups, ocg = g.oc / g.groups;
  for (std::int64_t n = 0; n < g.n; ++n)
    for (std::int64_t o = 0; o < g.oc; ++o) {
      const std::int64_t grp = o / ocg;
      const T* d_out = dy + (n * g.oc + o) * g.out_size();
      detail_conv::for_each_position(g, [&](const auto& pos, std::int64_t at) {
        for (std::int64_t ci = 0; ci < cg; ++ci) {
          T* plane = dx + (n * g.c + grp * cg + ci) * g.in_size();
          const T* filter = w + (o * cg + ci) * g.kernel_size();
          detail_conv::for_each_tap(g, pos, [&](std::int64_t xi, std::int64_t wi) {
            plane[xi] += d_out[at] * filter[wi];
          });
        }
      });
    }
}

// dy is (N,OC,out...), x is (N,C,spatial...); adds the weight gradient into dw (OC,C/g,kernel...).
template <class T>
void conv_backward_weight(const ConvGeometry& g, const T* dy, const T* x, T* dw) {
  const std::int64_t cg = g.c / g.groups, ocg = g.oc / g.groups;
  std::vector<double> sum(static_cast<std::size_t>(g.oc * cg * g.kernel_size()), 0.0);
  for (std::int64_t n = 0; n < g.n; ++n)
    for (std::int64_t o = 0; o < g.oc; ++o) {
      const std::int64_t grp = o / ocg;
      const T* d_out = dy + (n * g.oc + o) * g.out_size();
      detail_conv::for_each_position(g, [&](const auto& pos, std::int64_t at) {
        for (std::int64_t ci = 0; ci < cg; ++ci) {
          const T* plane = x + (n * g.c + grp * cg + ci) * g.in_size();
          double* filter = sum.data() + (o * cg + ci) * g.kernel_size();
          detail_conv::for_each_tap(g, pos, [&](std::int64_t xi, std::int64_t wi) {
            filter[wi] += static_cast<double>(d_out[at]) * static_cast<double>(plane[xi]);
          });
        }
      });
    }
  for (std::size_t i = 0; i < sum.size(); ++i) dw[i] += static_cast<T>(sum[i]);
}

// dy is (N,OC,out...); adds the bias gradient into db (OC).
template <class T>
void conv_backward_bias(const ConvGeometry& g, const T* dy, T* db) {
  for (std::int64_t o = 0; o < g.oc; ++o) {
    double sum = 0;
    for (std::int64_t n = 0; n < g.n; ++n)
      for (std::int64_t s = 0; s < g.out_size(); ++s)
        sum += static_cast<double>(dy[(n * g.oc + o) * g.out_size() + s]);
    db[o] += static_cast<T>(sum);
  }
}

}  // namespace hone::kernels::reference
