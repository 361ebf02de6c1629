// hone/kernels/reference/conv.hpp — naive 2-D convolution (forward, backward data, backward
// weight, backward bias) in NCHW: the readable oracle for the fast convolution kernels to come.
//
// Cross-correlation as in ONNX Conv and torch.nn.Conv2d, with stride, asymmetric zero padding,
// dilation and groups (depthwise when groups == C == OC). Sums accumulate in double.
#pragma once

#include <cstdint>  // std::int64_t

namespace hone::kernels::reference {

/// The geometry of one 2-D convolution. Input channels per group c/groups, output channels
/// per group oc/groups.
struct Conv2dGeometry {
  std::int64_t n, c, h, w;      // input
  std::int64_t oc, kh, kw;      // weight (oc, c/groups, kh, kw)
  std::int64_t oh, ow;          // output
  std::int64_t stride_h, stride_w, pad_top, pad_left, dilation_h, dilation_w, groups;
};

// x is (N,C,H,W), w is (OC,C/g,KH,KW), bias is (OC) or null, y is (N,OC,OH,OW) (overwritten).
template <class T>
void conv2d_forward(const Conv2dGeometry& g, const T* x, const T* w, const T* bias, T* y) {
  const std::int64_t cg = g.c / g.groups, ocg = g.oc / g.groups;
  for (std::int64_t n = 0; n < g.n; ++n)
    for (std::int64_t o = 0; o < g.oc; ++o) {
      const std::int64_t grp = o / ocg;
      for (std::int64_t i = 0; i < g.oh; ++i)
        for (std::int64_t j = 0; j < g.ow; ++j) {
          double sum = bias ? static_cast<double>(bias[o]) : 0.0;
          for (std::int64_t ci = 0; ci < cg; ++ci) {
            const std::int64_t c = grp * cg + ci;
            for (std::int64_t p = 0; p < g.kh; ++p) {
              const std::int64_t hi = i * g.stride_h - g.pad_top + p * g.dilation_h;
              if (hi < 0 || hi >= g.h) continue;
              for (std::int64_t q = 0; q < g.kw; ++q) {
                const std::int64_t wi = j * g.stride_w - g.pad_left + q * g.dilation_w;
                if (wi < 0 || wi >= g.w) continue;
                sum += static_cast<double>(x[((n * g.c + c) * g.h + hi) * g.w + wi]) *
                       static_cast<double>(w[((o * cg + ci) * g.kh + p) * g.kw + q]);
              }
            }
          }
          y[((n * g.oc + o) * g.oh + i) * g.ow + j] = static_cast<T>(sum);
        }
    }
}

// dy is (N,OC,OH,OW), w is (OC,C/g,KH,KW); adds the input gradient into dx (N,C,H,W).
template <class T>
void conv2d_backward_data(const Conv2dGeometry& g, const T* dy, const T* w, T* dx) {
  const std::int64_t cg = g.c / g.groups, ocg = g.oc / g.groups;
  for (std::int64_t n = 0; n < g.n; ++n)
    for (std::int64_t o = 0; o < g.oc; ++o) {
      const std::int64_t grp = o / ocg;
      for (std::int64_t i = 0; i < g.oh; ++i)
        for (std::int64_t j = 0; j < g.ow; ++j) {
          const T d = dy[((n * g.oc + o) * g.oh + i) * g.ow + j];
          for (std::int64_t ci = 0; ci < cg; ++ci) {
            const std::int64_t c = grp * cg + ci;
            for (std::int64_t p = 0; p < g.kh; ++p) {
              const std::int64_t hi = i * g.stride_h - g.pad_top + p * g.dilation_h;
              if (hi < 0 || hi >= g.h) continue;
              for (std::int64_t q = 0; q < g.kw; ++q) {
                const std::int64_t wi = j * g.stride_w - g.pad_left + q * g.dilation_w;
                if (wi < 0 || wi >= g.w) continue;
                dx[((n * g.c + c) * g.h + hi) * g.w + wi] +=
                    d * w[((o * cg + ci) * g.kh + p) * g.kw + q];
              }
            }
          }
        }
    }
}

// dy is (N,OC,OH,OW), x is (N,C,H,W); adds the weight gradient into dw (OC,C/g,KH,KW).
template <class T>
void conv2d_backward_weight(const Conv2dGeometry& g, const T* dy, const T* x, T* dw) {
  const std::int64_t cg = g.c / g.groups, ocg = g.oc / g.groups;
  for (std::int64_t o = 0; o < g.oc; ++o) {
    const std::int64_t grp = o / ocg;
    for (std::int64_t ci = 0; ci < cg; ++ci) {
      const std::int64_t c = grp * cg + ci;
      for (std::int64_t p = 0; p < g.kh; ++p)
        for (std::int64_t q = 0; q < g.kw; ++q) {
          double sum = 0;
          for (std::int64_t n = 0; n < g.n; ++n)
            for (std::int64_t i = 0; i < g.oh; ++i) {
              const std::int64_t hi = i * g.stride_h - g.pad_top + p * g.dilation_h;
              if (hi < 0 || hi >= g.h) continue;
              for (std::int64_t j = 0; j < g.ow; ++j) {
                const std::int64_t wi = j * g.stride_w - g.pad_left + q * g.dilation_w;
                if (wi < 0 || wi >= g.w) continue;
                sum += static_cast<double>(dy[((n * g.oc + o) * g.oh + i) * g.ow + j]) *
                       static_cast<double>(x[((n * g.c + c) * g.h + hi) * g.w + wi]);
              }
            }
          dw[((o * cg + ci) * g.kh + p) * g.kw + q] += static_cast<T>(sum);
        }
    }
  }
}

// dy is (N,OC,OH,OW); adds the bias gradient into db (OC).
template <class T>
void conv2d_backward_bias(const Conv2dGeometry& g, const T* dy, T* db) {
  const std::int64_t plane = g.oh * g.ow;
  for (std::int64_t o = 0; o < g.oc; ++o) {
    double sum = 0;
    for (std::int64_t n = 0; n < g.n; ++n)
      for (std::int64_t s = 0; s < plane; ++s)
        sum += static_cast<double>(dy[(n * g.oc + o) * plane + s]);
    db[o] += static_cast<T>(sum);
  }
}

}  // namespace hone::kernels::reference
