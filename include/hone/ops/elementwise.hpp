// hone/ops/elementwise.hpp — element-wise ops.
//
// Unary (one input, same shape out): Relu, LeakyRelu (alpha 0.01), Clip (min/max as
// attributes; ONNX opset >= 11 passes them as constant inputs, which the importer folds into
// these attributes), Sigmoid, HardSigmoid (alpha 0.2, beta 0.5), HardSwish, Tanh, Elu
// (alpha 1), Selu, Softplus, Gelu (erf form), Sqrt, Exp, Log, Neg, Abs, Identity.
// Binary with numpy broadcasting: Add, Sub, Mul, Div, Pow, PRelu (slope broadcast to X).
// At a kink (Relu at 0, Clip at its bounds, Abs at 0) the derivative is PyTorch's:
// Relu'(0) = 0, and Clip's is 0 at its bounds (as hardtanh / ReLU6). Unary backwards assign
// their gradient (OpDef::assigns_grads).
#pragma once

#include <algorithm>  // std::max
#include <cmath>   // std::exp, std::erf, ...
#include <limits>  // Clip's default bounds
#include <vector>  // shapes and masks

#include "hone/core/parallel.hpp"
#include "hone/kernels/detail/vectorize.hpp"
#include "hone/ops/op.hpp"

namespace hone::ops {

namespace detail_unary {

enum class Kind {
  relu, leaky_relu, clip, sigmoid, hard_sigmoid, hard_swish, tanh, elu, selu, softplus, gelu,
  sqrt, exp, log, neg, abs, identity
};

struct Params {
  double alpha = 0, beta = 0, lo = 0, hi = 0;
};

inline Params params(Kind k, const Node& node) {
  Params p;
  switch (k) {
    case Kind::leaky_relu: p.alpha = node.attrs.get_float("alpha", 0.01); break;
    case Kind::clip:
      p.lo = node.attrs.get_float("min", -std::numeric_limits<double>::infinity());
      p.hi = node.attrs.get_float("max", std::numeric_limits<double>::infinity());
      break;
    case Kind::hard_sigmoid:
      p.alpha = node.attrs.get_float("alpha", 0.2);
      p.beta = node.attrs.get_float("beta", 0.5);
      break;
    case Kind::elu: p.alpha = node.attrs.get_float("alpha", 1.0); break;
    case Kind::selu:
      p.alpha = node.attrs.get_float("alpha", 1.67326319217681884765625);
      p.beta = node.attrs.get_float("gamma", 1.05070102214813232421875);
      break;
    default: break;
  }
  return p;
}

inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

inline double value(Kind k, const Params& p, double x) {
  constexpr double inv_sqrt2 = 0.70710678118654752440;
  switch (k) {
    case Kind::relu: return x > 0 ? x : 0.0;
    case Kind::leaky_relu: return x > 0 ? x : p.alpha * x;
    case Kind::clip: return x < p.lo ? p.lo : (x > p.hi ? p.hi : x);
    case Kind::sigmoid: return sigmoid(x);
    case Kind::hard_sigmoid: return std::fmax(0.0, std::fmin(1.0, p.alpha * x + p.beta));
    case Kind::hard_swish: return x * std::fmax(0.0, std::fmin(1.0, x / 6.0 + 0.5));
    case Kind::tanh: return std::tanh(x);
    case Kind::elu: return x > 0 ? x : p.alpha * (std::exp(x) - 1.0);
    case Kind::selu: return p.beta * (x > 0 ? x : p.alpha * (std::exp(x) - 1.0));
    case Kind::softplus: return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
    case Kind::gelu: return 0.5 * x * (1.0 + std::erf(x * inv_sqrt2));
    case Kind::sqrt: return std::sqrt(x);
    case Kind::exp: return std::exp(x);
    case Kind::log: return std::log(x);
    case Kind::neg: return -x;
    case Kind::abs: return std::fabs(x);
    case Kind::identity: return x;
  }
  return x;
}

/// dy/dx at x.
inline double derivative(Kind k, const Params& p, double x) {
  constexpr double inv_sqrt2pi = 0.39894228040143267794;
  constexpr double inv_sqrt2 = 0.70710678118654752440;
  switch (k) {
    case Kind::relu: return x > 0 ? 1.0 : 0.0;
    case Kind::leaky_relu: return x > 0 ? 1.0 : p.alpha;
    case Kind::clip: return (x <= p.lo || x >= p.hi) ? 0.0 : 1.0;
    case Kind::sigmoid: {
      const double s = sigmoid(x);
      return s * (1.0 - s);
    }
    case Kind::hard_sigmoid: {
      const double v = p.alpha * x + p.beta;
      return (v > 0 && v < 1) ? p.alpha : 0.0;
    }
    case Kind::hard_swish: return x < -3 ? 0.0 : (x > 3 ? 1.0 : x / 3.0 + 0.5);
    case Kind::tanh: {
      const double t = std::tanh(x);
      return 1.0 - t * t;
    }
    case Kind::elu: return x > 0 ? 1.0 : p.alpha * std::exp(x);
    case Kind::selu: return p.beta * (x > 0 ? 1.0 : p.alpha * std::exp(x));
    case Kind::softplus: return sigmoid(x);
    case Kind::gelu:
      return 0.5 * (1.0 + std::erf(x * inv_sqrt2)) + x * inv_sqrt2pi * std::exp(-0.5 * x * x);
    case Kind::sqrt: return 0.5 / std::sqrt(x);
    case Kind::exp: return std::exp(x);
    case Kind::log: return 1.0 / x;
    case Kind::neg: return -1.0;
    case Kind::abs: return x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0);
    case Kind::identity: return 1.0;
  }
  return 1.0;
}

inline std::vector<Shape> infer(const Node&, std::span<const Shape> in) { return {in[0]}; }

/// Relu and Clip compute their gradient from the output (y > 0; lo < y < hi), which the
/// next layer usually keeps anyway (a convolution saves its input), so a Conv -> BN -> Relu
/// chain does not also keep the BN output alive for backward.
constexpr bool grad_from_output(Kind k) { return k == Kind::relu || k == Kind::clip; }

/// Elements per parallel chunk (at least): below it a loop runs on one thread.
inline constexpr std::int64_t kGrain = 1 << 14;

template <class T, Kind K>
void forward(ForwardArgs<T>& a) {
  const Params p = params(K, a.node);
  const T* x = a.inputs[0].data();
  T* y = a.outputs[0].data();
  const std::int64_t n = a.inputs[0].numel();
  parallel_for(0, n, kGrain, [&, x, y](std::int64_t lo, std::int64_t hi) {
    const T* __restrict xs = x + lo;
    T* __restrict ys = y + lo;
    const std::int64_t m = hi - lo;
   kernels::detail::vectorized([&]() HONE_INLINE_LAMBDA {
    if constexpr (K == Kind::relu) {  // exact in T: a selection
      for (std::int64_t i = 0; i < m; ++i) ys[i] = xs[i] > T(0) ? xs[i] : T(0);
    } else if constexpr (K == Kind::clip) {
      const T l = static_cast<T>(p.lo), h = static_cast<T>(p.hi);
      for (std::int64_t i = 0; i < m; ++i) ys[i] = std::min(std::max(xs[i], l), h);
    } else {
      for (std::int64_t i = 0; i < m; ++i) ys[i] = static_cast<T>(value(K, p, static_cast<double>(xs[i])));
    }
   });
  });
}

template <class T, Kind K>
void backward(BackwardArgs<T>& a) {
  const Params p = params(K, a.node);
  const T* dy = a.grad_outputs[0].data();
  T* dx = a.grad_inputs[0].data();
  const std::int64_t n = a.input_shapes[0].numel();
  const T* x = K == Kind::identity || K == Kind::neg ? nullptr
               : grad_from_output(K)                  ? a.outputs[0].data()  // y, see saves
                                                      : a.inputs[0].data();
  parallel_for(0, n, kGrain, [&, x, dx, dy](std::int64_t lo, std::int64_t hi) {
    const T* __restrict xs = x ? x + lo : nullptr;
    const T* __restrict g = dy + lo;
    T* __restrict d = dx + lo;
    const std::int64_t m = hi - lo;
   kernels::detail::vectorized([&]() HONE_INLINE_LAMBDA {
    if constexpr (K == Kind::identity || K == Kind::neg) {
      for (std::int64_t i = 0; i < m; ++i) d[i] = K == Kind::neg ? -g[i] : g[i];
    } else if constexpr (K == Kind::relu) {  // exact in T: passes where y = relu(x) > 0
      for (std::int64_t i = 0; i < m; ++i) {
        const T gi = g[i];
        d[i] = xs[i] > T(0) ? gi : T(0);
      }
    } else if constexpr (K == Kind::clip) {  // xs is y: passes where lo < y < hi (PyTorch's
      const T l = static_cast<T>(p.lo), h = static_cast<T>(p.hi);  // hardtanh: 0 at the bounds)
      for (std::int64_t i = 0; i < m; ++i) {
        const T gi = g[i], yi = xs[i];
        d[i] = (yi > l && yi < h) ? gi : T(0);
      }
    } else {
      for (std::int64_t i = 0; i < m; ++i)
        d[i] = static_cast<T>(static_cast<double>(g[i]) * derivative(K, p, static_cast<double>(xs[i])));
    }
   });
  });
}

template <Kind K>
SaveSpec saves(const Node&, const std::vector<bool>& need, bool) {
  SaveSpec s = hone::detail::save_none(1, 1);
  s.inputs[0] = need[0] && K != Kind::identity && K != Kind::neg && !grad_from_output(K);
  s.outputs[0] = need[0] && grad_from_output(K);
  return s;
}

template <class T, Kind K>
OpDef<T> def(const char* type) {
  return {type, 1, 1, infer, forward<T, K>, backward<T, K>, saves<K>, true, true};
}

}  // namespace detail_unary

namespace detail_binary {

enum class Kind { add, sub, mul, div, pow, prelu };

inline std::vector<Shape> infer(const Node& node, std::span<const Shape> in) {
  const Shape& a = in[0];
  const Shape& b = in[1];
  const std::size_t r = std::max(a.rank(), b.rank());
  std::vector<std::int64_t> out(r);
  for (std::size_t i = 0; i < r; ++i) {
    const std::int64_t da = i + a.rank() >= r ? a[i + a.rank() - r] : 1;
    const std::int64_t db = i + b.rank() >= r ? b[i + b.rank() - r] : 1;
    if (da != db && da != 1 && db != 1)
      hone::detail::shape_fail(node, "shapes ", a, " and ", b,
                               " do not broadcast (axis ", i, " of the result: ", da, " vs ", db,
                               ")");
    out[i] = da == 1 ? db : da;
  }
  const Shape s = hone::detail::to_shape(out);
  if (node.op == "PRelu" && !(s == a))
    hone::detail::shape_fail(node, "slope ", b, " must broadcast to X ", a);
  return {s};
}

/// For each output element, the flat offsets into a and b (broadcast strides).
struct Broadcast {
  std::array<std::int64_t, Shape::max_rank> sa{}, sb{};
  Shape out;
  Broadcast(const Shape& a, const Shape& b, const Shape& o) : out(o) {
    const std::size_t r = o.rank();
    std::int64_t ta = 1, tb = 1;
    for (std::size_t i = r; i-- > 0;) {
      if (i + a.rank() >= r) {
        const std::int64_t d = a[i + a.rank() - r];
        sa[i] = d == 1 ? 0 : ta;
        ta *= d;
      }
      if (i + b.rank() >= r) {
        const std::int64_t d = b[i + b.rank() - r];
        sb[i] = d == 1 ? 0 : tb;
        tb *= d;
      }
    }
  }
  template <class F>
  void for_each(F&& f) const {
    const std::size_t r = out.rank();
    const std::int64_t n = out.numel();
    std::array<std::int64_t, Shape::max_rank> idx{};
    std::int64_t oa = 0, ob = 0;
    for (std::int64_t flat = 0; flat < n; ++flat) {
      f(flat, oa, ob);
      for (std::size_t d = r; d-- > 0;) {
        oa += sa[d];
        ob += sb[d];
        if (++idx[d] < out[d]) break;
        oa -= sa[d] * out[d];
        ob -= sb[d] * out[d];
        idx[d] = 0;
      }
    }
  }
};

template <Kind K>
double value(double a, double b) {
  switch (K) {
    case Kind::add: return a + b;
    case Kind::sub: return a - b;
    case Kind::mul: return a * b;
    case Kind::div: return a / b;
    case Kind::pow: return std::pow(a, b);
    case Kind::prelu: return a > 0 ? a : b * a;
  }
  return 0;
}

template <class T, Kind K>
void forward(ForwardArgs<T>& a) {
  const Broadcast bc(a.inputs[0].shape(), a.inputs[1].shape(), a.outputs[0].shape());
  const T* x = a.inputs[0].data();
  const T* z = a.inputs[1].data();
  T* y = a.outputs[0].data();
  if constexpr (K == Kind::add || K == Kind::sub || K == Kind::mul) {
    // Same shapes (a residual add): flat and parallel. Exact in float: the double result
    // of +, -, * on two floats rounds to the float result.
    if (a.inputs[0].shape() == a.inputs[1].shape()) {
      parallel_for(0, a.outputs[0].numel(), detail_unary::kGrain, [&](std::int64_t lo, std::int64_t hi) {
        for (std::int64_t i = lo; i < hi; ++i)
          y[i] = K == Kind::add ? x[i] + z[i] : K == Kind::sub ? x[i] - z[i] : x[i] * z[i];
      });
      return;
    }
  }
  bc.for_each([&](std::int64_t o, std::int64_t ia, std::int64_t ib) {
    y[o] = static_cast<T>(value<K>(static_cast<double>(x[ia]), static_cast<double>(z[ib])));
  });
}

template <class T, Kind K>
void backward(BackwardArgs<T>& a) {
  const Broadcast bc(a.input_shapes[0], a.input_shapes[1], a.output_shapes[0]);
  const T* dy = a.grad_outputs[0].data();
  const T* x = a.inputs[0].defined() ? a.inputs[0].data() : nullptr;
  const T* z = a.inputs[1].defined() ? a.inputs[1].data() : nullptr;
  T* dx = a.need_grad[0] ? a.grad_inputs[0].data() : nullptr;
  T* dz = a.need_grad[1] ? a.grad_inputs[1].data() : nullptr;
  if constexpr (K == Kind::add || K == Kind::sub) {
    if (a.input_shapes[0] == a.input_shapes[1]) {
      parallel_for(0, a.output_shapes[0].numel(), detail_unary::kGrain, [&](std::int64_t lo, std::int64_t hi) {
        if (dx)
          for (std::int64_t i = lo; i < hi; ++i) dx[i] += dy[i];
        if (dz)
          for (std::int64_t i = lo; i < hi; ++i) dz[i] += K == Kind::add ? dy[i] : -dy[i];
      });
      return;
    }
  }
  bc.for_each([&](std::int64_t o, std::int64_t ia, std::int64_t ib) {
    const double g = static_cast<double>(dy[o]);
    double ga = 0, gb = 0;
    switch (K) {
      case Kind::add: ga = g; gb = g; break;
      case Kind::sub: ga = g; gb = -g; break;
      case Kind::mul:
        if (dx) ga = g * static_cast<double>(z[ib]);
        if (dz) gb = g * static_cast<double>(x[ia]);
        break;
      case Kind::div: {
        const double bv = static_cast<double>(z[ib]);
        ga = g / bv;
        if (dz) gb = -g * static_cast<double>(x[ia]) / (bv * bv);
        break;
      }
      case Kind::pow: {
        const double av = static_cast<double>(x[ia]), bv = static_cast<double>(z[ib]);
        if (dx) ga = g * bv * std::pow(av, bv - 1);
        if (dz) gb = g * std::pow(av, bv) * std::log(av);
        break;
      }
      case Kind::prelu: {
        const double av = static_cast<double>(x[ia]);
        if (dx) ga = av > 0 ? g : g * static_cast<double>(z[ib]);
        if (dz) gb = av > 0 ? 0.0 : g * av;
        break;
      }
    }
    if (dx) dx[ia] += static_cast<T>(ga);
    if (dz) dz[ib] += static_cast<T>(gb);
  });
}

template <Kind K>
SaveSpec saves(const Node&, const std::vector<bool>& need, bool) {
  SaveSpec s = hone::detail::save_none(2, 1);
  switch (K) {
    case Kind::add:
    case Kind::sub: break;
    case Kind::mul: s.inputs[0] = need[1]; s.inputs[1] = need[0]; break;
    case Kind::div: s.inputs[1] = need[0] || need[1]; s.inputs[0] = need[1]; break;
    case Kind::pow:
    case Kind::prelu: s.inputs[0] = s.inputs[1] = need[0] || need[1]; break;
  }
  return s;
}

template <class T, Kind K>
OpDef<T> def(const char* type) {
  return {type, 2, 2, infer, forward<T, K>, backward<T, K>, saves<K>, true};
}

}  // namespace detail_binary

template <class T>
void register_elementwise(std::vector<OpDef<T>>& table) {
  using U = detail_unary::Kind;
  table.push_back(detail_unary::def<T, U::relu>("Relu"));
  table.push_back(detail_unary::def<T, U::leaky_relu>("LeakyRelu"));
  table.push_back(detail_unary::def<T, U::clip>("Clip"));
  table.push_back(detail_unary::def<T, U::sigmoid>("Sigmoid"));
  table.push_back(detail_unary::def<T, U::hard_sigmoid>("HardSigmoid"));
  table.push_back(detail_unary::def<T, U::hard_swish>("HardSwish"));
  table.push_back(detail_unary::def<T, U::tanh>("Tanh"));
  table.push_back(detail_unary::def<T, U::elu>("Elu"));
  table.push_back(detail_unary::def<T, U::selu>("Selu"));
  table.push_back(detail_unary::def<T, U::softplus>("Softplus"));
  table.push_back(detail_unary::def<T, U::gelu>("Gelu"));
  table.push_back(detail_unary::def<T, U::sqrt>("Sqrt"));
  table.push_back(detail_unary::def<T, U::exp>("Exp"));
  table.push_back(detail_unary::def<T, U::log>("Log"));
  table.push_back(detail_unary::def<T, U::neg>("Neg"));
  table.push_back(detail_unary::def<T, U::abs>("Abs"));
  table.push_back(detail_unary::def<T, U::identity>("Identity"));
  using B = detail_binary::Kind;
  table.push_back(detail_binary::def<T, B::add>("Add"));
  table.push_back(detail_binary::def<T, B::sub>("Sub"));
  table.push_back(detail_binary::def<T, B::mul>("Mul"));
  table.push_back(detail_binary::def<T, B::div>("Div"));
  table.push_back(detail_binary::def<T, B::pow>("Pow"));
  table.push_back(detail_binary::def<T, B::prelu>("PRelu"));
}

}  // namespace hone::ops
