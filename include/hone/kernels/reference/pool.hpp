// hone/kernels/reference/pool.hpp — naive 2-D max and average pooling in NCHW (forward and
// backward): the readable oracle for the fast pooling kernels to come.
//
// Windows follow ONNX MaxPool/AveragePool and torch.nn.MaxPool2d/AvgPool2d: zero-based window
// origin i*stride - pad_top, dilation for max pooling, padded positions never win a max.
#pragma once

#include <algorithm>  // std::min, std::max
#include <cstdint>    // std::int64_t
#include <limits>     // -infinity start of a max

namespace hone::kernels::reference {

struct Pool2dGeometry {
  std::int64_t n, c, h, w;  // input
  std::int64_t kh, kw, oh, ow;
  std::int64_t stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right;
  std::int64_t dilation_h, dilation_w;
};

// x is (N,C,H,W), y is (N,C,OH,OW). A window that covers only padding yields -infinity.
template <class T>
void maxpool2d_forward(const Pool2dGeometry& g, const T* x, T* y) {
  for (std::int64_t nc = 0; nc < g.n * g.c; ++nc)
    for (std::int64_t i = 0; i < g.oh; ++i)
      for (std::int64_t j = 0; j < g.ow; ++j) {
        T best = -std::numeric_limits<T>::infinity();
        for (std::int64_t p = 0; p < g.kh; ++p) {
          const std::int64_t hi = i * g.stride_h - g.pad_top + p * g.dilation_h;
          if (hi < 0 || hi >= g.h) continue;
          for (std::int64_t q = 0; q < g.kw; ++q) {
            const std::int64_t wi = j * g.stride_w - g.pad_left + q * g.dilation_w;
            if (wi < 0 || wi >= g.w) continue;
            best = std::max(best, x[(nc * g.h + hi) * g.w + wi]);
          }
        }
        y[(nc * g.oh + i) * g.ow + j] = best;
      }
}

// x is (N,C,H,W), dy is (N,C,OH,OW); adds each dy to the first maximum of its window in dx.
template <class T>
void maxpool2d_backward(const Pool2dGeometry& g, const T* x, const T* dy, T* dx) {
  for (std::int64_t nc = 0; nc < g.n * g.c; ++nc)
    for (std::int64_t i = 0; i < g.oh; ++i)
      for (std::int64_t j = 0; j < g.ow; ++j) {
        T best = -std::numeric_limits<T>::infinity();
        std::int64_t arg = -1;
        for (std::int64_t p = 0; p < g.kh; ++p) {
          const std::int64_t hi = i * g.stride_h - g.pad_top + p * g.dilation_h;
          if (hi < 0 || hi >= g.h) continue;
          for (std::int64_t q = 0; q < g.kw; ++q) {
            const std::int64_t wi = j * g.stride_w - g.pad_left + q * g.dilation_w;
            if (wi < 0 || wi >= g.w) continue;
            const std::int64_t at = (nc * g.h + hi) * g.w + wi;
            if (arg < 0 || x[at] > best) {
              best = x[at];
              arg = at;
            }
          }
        }
        if (arg >= 0) dx[arg] += dy[(nc * g.oh + i) * g.ow + j];
      }
}

/// The divisor of average-pool window (i, j): PyTorch's rule. With count_include_pad the
/// window clipped to the padded input, else the window clipped to the input.
inline std::int64_t avgpool2d_divisor(const Pool2dGeometry& g, std::int64_t i, std::int64_t j,
                                      bool count_include_pad) {
  std::int64_t h0 = i * g.stride_h - g.pad_top, w0 = j * g.stride_w - g.pad_left;
  std::int64_t h1 = std::min(h0 + g.kh, g.h + g.pad_bottom);
  std::int64_t w1 = std::min(w0 + g.kw, g.w + g.pad_right);
  if (count_include_pad) return (h1 - h0) * (w1 - w0);
  h0 = std::max<std::int64_t>(h0, 0);
  w0 = std::max<std::int64_t>(w0, 0);
  h1 = std::min(h1, g.h);
  w1 = std::min(w1, g.w);
  return std::max<std::int64_t>((h1 - h0) * (w1 - w0), 1);
}

// x is (N,C,H,W), y is (N,C,OH,OW). No dilation (ONNX AveragePool before opset 19 has none).
template <class T>
void avgpool2d_forward(const Pool2dGeometry& g, const T* x, T* y, bool count_include_pad) {
  for (std::int64_t nc = 0; nc < g.n * g.c; ++nc)
    for (std::int64_t i = 0; i < g.oh; ++i)
      for (std::int64_t j = 0; j < g.ow; ++j) {
        double sum = 0;
        for (std::int64_t p = 0; p < g.kh; ++p) {
          const std::int64_t hi = i * g.stride_h - g.pad_top + p;
          if (hi < 0 || hi >= g.h) continue;
          for (std::int64_t q = 0; q < g.kw; ++q) {
            const std::int64_t wi = j * g.stride_w - g.pad_left + q;
            if (wi < 0 || wi >= g.w) continue;
            sum += static_cast<double>(x[(nc * g.h + hi) * g.w + wi]);
          }
        }
        y[(nc * g.oh + i) * g.ow + j] =
            static_cast<T>(sum / static_cast<double>(avgpool2d_divisor(g, i, j, count_include_pad)));
      }
}

// dy is (N,C,OH,OW); adds the input gradient into dx (N,C,H,W).
template <class T>
void avgpool2d_backward(const Pool2dGeometry& g, const T* dy, T* dx, bool count_include_pad) {
  for (std::int64_t nc = 0; nc < g.n * g.c; ++nc)
    for (std::int64_t i = 0; i < g.oh; ++i)
      for (std::int64_t j = 0; j < g.ow; ++j) {
        const T d = dy[(nc * g.oh + i) * g.ow + j] /
                    static_cast<T>(avgpool2d_divisor(g, i, j, count_include_pad));
        for (std::int64_t p = 0; p < g.kh; ++p) {
          const std::int64_t hi = i * g.stride_h - g.pad_top + p;
          if (hi < 0 || hi >= g.h) continue;
          for (std::int64_t q = 0; q < g.kw; ++q) {
            const std::int64_t wi = j * g.stride_w - g.pad_left + q;
            if (wi < 0 || wi >= g.w) continue;
            dx[(nc * g.h + hi) * g.w + wi] += d;
          }
        }
      }
}

}  // namespace hone::kernels::reference
