// hone/ops/norm.hpp — BatchNormalization (ONNX): X (N,C,...), scale (C), B (C),
// input_mean (C), input_var (C); attributes epsilon (1e-5) and momentum (0.9).
//
// Training mode normalises with the batch statistics (biased variance) and updates the
// running buffers in place with ONNX's convention, running = running*momentum +
// batch*(1-momentum) (PyTorch's momentum m is ONNX's 1-m). The running variance takes the
// biased batch variance (ONNX's reference) unless the hone attribute unbiased_running_var
// is 1 (PyTorch's rule, which the builder sets and the importer sets for models exported for
// inference). Eval mode normalises with the running buffers. The optional outputs 1 and 2
// (ONNX opset 14+ training mode) are the running mean and variance after the update; in
// training mode gradients flowing into them reach X through the batch statistics (in eval
// mode they are constants). The running buffers never receive gradients.
//
// The hone attribute hone_statistics overrides the session mode per node (set by
// hone/train/bn_policy.hpp, never exported): "running" normalises with the running buffers
// and never updates them, also in Mode::train (a frozen BatchNorm: forward and backward are
// exactly those of eval mode); "batch" normalises with the batch statistics and updates the
// running buffers in every mode, eval and inference included (training-mode forward and
// backward). Absent or "mode": the session mode decides.
//
// A BatchNormalization whose only reader is a Relu or Clip runs with it as one kernel in
// Mode::train and Mode::eval (forward_act / backward_act with an Activation, called by the
// session: graph/fusion.hpp): the activation is applied as each normalised value is written,
// and backward masks the incoming gradient by recomputing y = x * a + b from the saved x (or
// from the activation's output when x is not kept), so the BatchNormalization's own output
// and the gradient between the two ops are never written to memory. The results are those
// of the two ops run one after the other, bit for bit.
#pragma once

#include <algorithm>  // std::copy_n
#include <cmath>   // std::sqrt
#include <string>  // the hone_statistics attribute
#include <vector>  // shapes and masks

#include "hone/core/parallel.hpp"
#include "hone/kernels/detail/vectorize.hpp"
#include "hone/ops/op.hpp"

namespace hone::ops {

namespace detail_bn {

/// Whether the node uses (and updates) batch statistics in a session whose mode is
/// `training`: the hone_statistics attribute decides when present.
inline bool batch_statistics(const Node& node, bool training) {
  if (!node.attrs.has("hone_statistics")) return training;
  const std::string s = node.attrs.get_string("hone_statistics", "mode");
  if (s == "running") return false;
  if (s == "batch") return true;
  if (s == "mode") return training;
  throw InvalidArgument(hone::detail::concat(hone::detail::node_prefix(node),
                                             "attribute hone_statistics is \"", s,
                                             "\"; valid: \"mode\", \"running\", \"batch\""));
}

inline std::vector<Shape> infer(const Node& node, std::span<const Shape> in) {
  (void)batch_statistics(node, false);  // reports a bad hone_statistics when the graph is analysed
  const Shape& x = in[0];
  if (x.rank() < 2) hone::detail::shape_fail(node, "input X must have rank >= 2, got ", x);
  static const char* names[] = {"", "scale", "B", "input_mean", "input_var"};
  for (std::size_t i = 1; i < 5; ++i)
    if (!(in[i] == Shape{x[1]}))
      hone::detail::shape_fail(node, names[i], " must have shape (", x[1], ") for input ", x,
                               ", got ", in[i]);
  if (node.outputs.size() > 3)
    hone::detail::shape_fail(node, "at most 3 outputs (Y, running_mean, running_var), got ", node.outputs.size());
  std::vector<Shape> out = {x};
  while (out.size() < node.outputs.size()) out.push_back(Shape{x[1]});
  return out;
}

struct Layout {
  std::int64_t n, c, inner;
};

/// An activation applied to the BatchNormalization's output in the same pass (a fused
/// BatchNormalization -> Relu / Clip pair): max(y, 0) or min(max(y, lo), hi), the gradient
/// passing where y > 0, or lo < y < hi, exactly as the Relu and Clip ops (PyTorch's rules).
struct Activation {
  enum Kind { none, relu, clip } kind = none;
  double lo = 0, hi = 0;
};

}  // namespace detail_bn

namespace detail_stats {

// The sums run in double with 8 partial sums, lane j taking the elements i = j (mod 8),
// combined in a fixed order at the end. They are written with GCC vector types: GCC 12 left
// the equivalent scalar loops over 8-element arrays scalar (two thirds of a MobileNetV2
// BatchNormalization forward in `perf`).
typedef double StatsVec __attribute__((vector_size(64)));

/// 8 consecutive values of T as one vector (loaded, then converted with
/// __builtin_convertvector; no helper returns a vector: its ABI would depend on the ISA).
template <class T>
struct StatsRaw {
  typedef T type __attribute__((vector_size(8 * sizeof(T)), aligned(sizeof(T))));
};

__attribute__((always_inline)) inline double stats_reduce(const double* a, double tail) {
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7])) + tail;
}

/// sum of x[i].
template <class T>
__attribute__((always_inline)) inline double sum_of(const T* x, std::int64_t n) {
  StatsVec acc = {};
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    acc += __builtin_convertvector(*reinterpret_cast<const typename StatsRaw<T>::type*>(x + i), StatsVec);
  double s = 0;
  for (; i < n; ++i) s += static_cast<double>(x[i]);
  double a[8];
  for (int j = 0; j < 8; ++j) a[j] = acc[j];
  return stats_reduce(a, s);
}

/// s1 += sum of (x[i] - shift), s2 += sum of (x[i] - shift)^2, in one pass over x.
template <class T>
__attribute__((always_inline)) inline void sums_shifted(const T* x, std::int64_t n, double shift, double& s1,
                                                        double& s2) {
  StatsVec va = {}, vb = {};
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const StatsVec d =
        __builtin_convertvector(*reinterpret_cast<const typename StatsRaw<T>::type*>(x + i), StatsVec) - shift;
    va += d;
    vb += d * d;
  }
  double ta = 0, tb = 0;
  for (; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - shift;
    ta += d;
    tb += d * d;
  }
  double a[8], b[8];
  for (int j = 0; j < 8; ++j) {
    a[j] = va[j];
    b[j] = vb[j];
  }
  s1 += stats_reduce(a, ta);
  s2 += stats_reduce(b, tb);
}

/// s_dy += sum dy[i], s_dyx += sum dy[i] * (x[i] - mu), in one pass.
template <class T>
__attribute__((always_inline)) inline void sum_and_dot_centered(const T* dy, const T* x, std::int64_t n, double mu,
                                                                double& s_dy, double& s_dyx) {
  StatsVec va = {}, vb = {};
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const StatsVec g = __builtin_convertvector(*reinterpret_cast<const typename StatsRaw<T>::type*>(dy + i), StatsVec);
    const StatsVec v = __builtin_convertvector(*reinterpret_cast<const typename StatsRaw<T>::type*>(x + i), StatsVec);
    va += g;
    vb += g * (v - mu);
  }
  double ta = 0, tb = 0;
  for (; i < n; ++i) {
    const double g = static_cast<double>(dy[i]);
    ta += g;
    tb += g * (static_cast<double>(x[i]) - mu);
  }
  double a[8], b[8];
  for (int j = 0; j < 8; ++j) {
    a[j] = va[j];
    b[j] = vb[j];
  }
  s_dy += stats_reduce(a, ta);
  s_dyx += stats_reduce(b, tb);
}

}  // namespace detail_stats

namespace detail_bn {
inline Layout layout(const Shape& x) {
  return {x[0], x[1], x.numel() / (x[0] * x[1] == 0 ? 1 : x[0] * x[1])};
}

/// y = x * am + ab through the activation, for one row of m values (the same expression as
/// the gradient mask's recomputation in backward, so both round alike).
template <class T>
__attribute__((always_inline)) inline void normalize_row(const T* __restrict x, T* __restrict y, std::int64_t m,
                                                         T am, T ab, Activation::Kind kind, T lo, T hi) {
  switch (kind) {
    case Activation::none:
      for (std::int64_t i = 0; i < m; ++i) y[i] = x[i] * am + ab;
      break;
    case Activation::relu:
      for (std::int64_t i = 0; i < m; ++i) {
        const T v = x[i] * am + ab;
        y[i] = v > T(0) ? v : T(0);
      }
      break;
    case Activation::clip:
      for (std::int64_t i = 0; i < m; ++i) {
        const T v = x[i] * am + ab;
        y[i] = std::min(std::max(v, lo), hi);
      }
      break;
  }
}

/// The incoming gradient at i where the fused activation passes it, else 0: decided on y =
/// x * am + ab recomputed (FromX; the forward's expression, so the same rounding) or on the
/// activation's output z (Relu: > 0, Clip: strictly inside its bounds; the same for y and z).
template <class T, Activation::Kind K, bool FromX>
__attribute__((always_inline)) inline T masked_grad(const T* dy, const T* x, const T* z, std::int64_t i, T am, T ab,
                                                    T lo, T hi) {
  T v;
  if constexpr (FromX) v = x[i] * am + ab;
  else v = z[i];
  if constexpr (K == Activation::relu) return v > T(0) ? dy[i] : T(0);
  else return v > lo && v < hi ? dy[i] : T(0);
}

/// For one row: s_dy += sum g[i] and, with Dot, s_dyx += sum g[i] (x[i] - mu), g the masked
/// gradient (masked_grad). The same lanes and order as detail_stats::sum_of and
/// sum_and_dot_centered on a materialised g, so the same sums bit for bit.
template <class T, Activation::Kind K, bool FromX, bool Dot>
__attribute__((always_inline)) inline void masked_sums(const T* dy, const T* x, const T* z, std::int64_t n, T am,
                                                       T ab, T lo, T hi, double mu, double& s_dy, double& s_dyx) {
  using V = typename detail_stats::StatsRaw<T>::type;
  using Mask = decltype(V{} > V{});
  const V zero = {}, lov = zero + lo, hiv = zero + hi;
  detail_stats::StatsVec va = {}, vb = {};
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    V v;
    if constexpr (FromX) v = *reinterpret_cast<const V*>(x + i) * am + ab;
    else v = *reinterpret_cast<const V*>(z + i);
    Mask pass;
    if constexpr (K == Activation::relu) pass = v > zero;
    else pass = (v > lov) & (v < hiv);
    const V g = (V)((Mask)(*reinterpret_cast<const V*>(dy + i)) & pass);
    const detail_stats::StatsVec gd = __builtin_convertvector(g, detail_stats::StatsVec);
    va += gd;
    if constexpr (Dot)
      vb += gd * (__builtin_convertvector(*reinterpret_cast<const V*>(x + i), detail_stats::StatsVec) - mu);
  }
  double ta = 0, tb = 0;
  for (; i < n; ++i) {
    const double g = static_cast<double>(masked_grad<T, K, FromX>(dy, x, z, i, am, ab, lo, hi));
    ta += g;
    if constexpr (Dot) tb += g * (static_cast<double>(x[i]) - mu);
  }
  double a[8], b[8];
  for (int j = 0; j < 8; ++j) {
    a[j] = va[j];
    b[j] = vb[j];
  }
  s_dy += detail_stats::stats_reduce(a, ta);
  if constexpr (Dot) s_dyx += detail_stats::stats_reduce(b, tb);
}

/// For one row: dx[i] = pt g[i] + qt x[i] + rt (Batch) or pt g[i], g the masked gradient:
/// the plain backward's expressions on a materialised g.
template <class T, Activation::Kind K, bool FromX, bool Batch>
__attribute__((always_inline)) inline void masked_dx(const T* __restrict dy, const T* __restrict x,
                                                     const T* __restrict z, T* __restrict dx, std::int64_t n, T am,
                                                     T ab, T lo, T hi, T pt, T qt, T rt) {
  for (std::int64_t i = 0; i < n; ++i) {
    const T g = masked_grad<T, K, FromX>(dy, x, z, i, am, ab, lo, hi);
    if constexpr (Batch) dx[i] = pt * g + qt * x[i] + rt;
    else dx[i] = pt * g;
  }
}

/// The forward, with `act` applied to the output (none: the plain op). With an activation,
/// saves the per-channel factors am and ab as well (backward recomputes y from them).
template <class T>
void forward_act(ForwardArgs<T>& a, const Activation& act) {
  const Tensor<T>& x = a.inputs[0];
  const Layout l = layout(x.shape());
  const double eps = a.node.attrs.get_float("epsilon", 1e-5);
  const double momentum = a.node.attrs.get_float("momentum", 0.9);
  const bool unbiased_running = a.node.attrs.get_int("unbiased_running_var", 0) != 0;
  const bool use_batch = batch_statistics(a.node, a.training);
  const T* scale = a.inputs[1].data();
  const T* bias = a.inputs[2].data();
  Tensor<T> running_mean = a.inputs[3];  // handles: writes reach the graph's buffers
  Tensor<T> running_var = a.inputs[4];
  Tensor<T> mean({l.c}), inv_std({l.c});
  Tensor<T> mul_t = act.kind == Activation::none ? Tensor<T>() : Tensor<T>({l.c});
  Tensor<T> add_t = act.kind == Activation::none ? Tensor<T>() : Tensor<T>({l.c});
  const T lo = static_cast<T>(act.lo), hi = static_cast<T>(act.hi);
  const double count = static_cast<double>(l.n * l.inner);
  const T* xp = x.data();
  T* yp = a.outputs[0].data();
  // Channels are independent: parallel over them. Sums in double (8 partial sums in one
  // vector, see detail_stats); the output is x * a + b with a, b rounded to T once.
  parallel_for(0, l.c, 1, [&](std::int64_t c_lo, std::int64_t c_hi) {
   kernels::detail::vectorized([&]() HONE_INLINE_LAMBDA {
    for (std::int64_t c = c_lo; c < c_hi; ++c) {
      double mu, var;
      if (use_batch) {
        // One pass: sums of (x - k) and (x - k)^2 with k the channel's first value. As k is
        // one of the count values, var >= (mean - k)^2 / count, so E[(x - k)^2] - E[x - k]^2
        // loses at most log2(1 + count) bits of double (20 for 10^6 values), far from
        // float's. Two passes (the mean, then the centred squares) read a channel twice from
        // memory once a channel of the batch outgrows the cache (MobileNetV2 at batch 32:
        // 1.6 MB).
        const double k = count > 0 ? static_cast<double>(xp[c * l.inner]) : 0.0;
        double s1 = 0, sq = 0;
        for (std::int64_t n = 0; n < l.n; ++n)
          detail_stats::sums_shifted(xp + (n * l.c + c) * l.inner, l.inner, k, s1, sq);
        const double d = s1 / count;
        mu = k + d;
        var = std::max(0.0, sq / count - d * d);
        const double s2 = var * count;  // sum of (x - mu)^2
        const double update = unbiased_running && count > 1 ? s2 / (count - 1) : var;
        running_mean[c] = static_cast<T>(static_cast<double>(running_mean[c]) * momentum + mu * (1 - momentum));
        running_var[c] = static_cast<T>(static_cast<double>(running_var[c]) * momentum + update * (1 - momentum));
      } else {
        mu = static_cast<double>(running_mean[c]);
        var = static_cast<double>(running_var[c]);
      }
      const double is = 1.0 / std::sqrt(var + eps);
      mean[c] = static_cast<T>(mu);
      inv_std[c] = static_cast<T>(is);
      const double mul = is * static_cast<double>(scale[c]);
      const T am = static_cast<T>(mul), ab = static_cast<T>(static_cast<double>(bias[c]) - mu * mul);
      if (act.kind != Activation::none) {
        mul_t[c] = am;
        add_t[c] = ab;
      }
      for (std::int64_t n = 0; n < l.n; ++n) {
        const std::int64_t at = (n * l.c + c) * l.inner;
        normalize_row(xp + at, yp + at, l.inner, am, ab, act.kind, lo, hi);
      }
    }
   });
  });
  if (a.outputs.size() > 1) std::copy_n(running_mean.data(), l.c, a.outputs[1].data());
  if (a.outputs.size() > 2) std::copy_n(running_var.data(), l.c, a.outputs[2].data());
  if (a.save) {
    a.saved.push_back(mean);
    a.saved.push_back(inv_std);
    if (act.kind != Activation::none) {
      a.saved.push_back(mul_t);
      a.saved.push_back(add_t);
    }
  }
}

template <class T>
void forward(ForwardArgs<T>& a) {
  forward_act(a, Activation{});
}

/// What the backward's per-channel loop reads and writes (backward_act).
template <class T>
struct BackwardRows {
  Layout l;
  const T* x;       // saved input, or null
  const T* z;       // the fused activation's output when the mask comes from it, or null
  const T* dy;
  const T* mean;
  const T* inv_std;
  const T* mul;     // the forward's per-channel factors (fused, mask from x), or null
  const T* add;
  const T* gamma;   // scale, or null (then 1)
  const T* g_mean;  // gradients reaching the running-statistics outputs, or null
  const T* g_var;
  T* dx;
  T* dscale;
  T* dbias;
  bool use_batch;
  double count, keep, var_count;
  T lo, hi;

  /// Channels [c_lo, c_hi), with the incoming gradient masked by activation K (none: as is)
  /// decided from x (FromX) or z.
  template <Activation::Kind K, bool FromX>
  __attribute__((always_inline)) void run(std::int64_t c_lo, std::int64_t c_hi) const {
    for (std::int64_t c = c_lo; c < c_hi; ++c) {
      const double mu = static_cast<double>(mean[c]), is = static_cast<double>(inv_std[c]);
      const T am = mul ? mul[c] : T(0), ab = add ? add[c] : T(0);
      const double gm = g_mean ? keep * static_cast<double>(g_mean[c]) : 0.0;
      const double gv = g_var ? keep * static_cast<double>(g_var[c]) : 0.0;
      const double gam = gamma ? static_cast<double>(gamma[c]) : 1.0;
      const bool need_xhat = dscale || (dx && use_batch);
      double sum_dy = 0, sum_dy_x = 0;  // sum dy and sum dy * (x - mu)
      for (std::int64_t n = 0; n < l.n; ++n) {
        const std::int64_t at = (n * l.c + c) * l.inner;
        if constexpr (K == Activation::none) {
          if (need_xhat)
            detail_stats::sum_and_dot_centered(dy + at, x + at, l.inner, mu, sum_dy, sum_dy_x);
          else
            sum_dy += detail_stats::sum_of(dy + at, l.inner);
        } else if (need_xhat) {
          masked_sums<T, K, FromX, true>(dy + at, x + at, z ? z + at : nullptr, l.inner, am, ab, lo, hi, mu, sum_dy,
                                         sum_dy_x);
        } else {
          masked_sums<T, K, FromX, false>(dy + at, x ? x + at : nullptr, z ? z + at : nullptr, l.inner, am, ab, lo,
                                          hi, mu, sum_dy, sum_dy_x);
        }
      }
      const double sum_dy_xhat = sum_dy_x * is;
      if (dscale) dscale[c] = static_cast<T>(sum_dy_xhat);
      if (dbias) dbias[c] = static_cast<T>(sum_dy);
      if (!dx) continue;
      if (use_batch) {
        // dx = gamma*is*(dy - sum_dy/count - xhat*sum_dy_xhat/count) + g_mean/count
        //      + g_var*2*(x - mu)/var_count  =  p*dy + q*x + r
        const double p = gam * is;
        const double q = -gam * is * is * sum_dy_xhat / count + gv * 2 / var_count;
        const double r = -p * sum_dy / count - q * mu + gm / count;
        const T pt = static_cast<T>(p), qt = static_cast<T>(q), rt = static_cast<T>(r);
        for (std::int64_t n = 0; n < l.n; ++n) {
          const std::int64_t at = (n * l.c + c) * l.inner;
          if constexpr (K == Activation::none) {
            for (std::int64_t i = 0; i < l.inner; ++i) dx[at + i] = pt * dy[at + i] + qt * x[at + i] + rt;
          } else {
            masked_dx<T, K, FromX, true>(dy + at, x + at, z ? z + at : nullptr, dx + at, l.inner, am, ab, lo, hi, pt,
                                         qt, rt);
          }
        }
      } else {
        const T pt = static_cast<T>(gam * is);
        for (std::int64_t n = 0; n < l.n; ++n) {
          const std::int64_t at = (n * l.c + c) * l.inner;
          if constexpr (K == Activation::none) {
            for (std::int64_t i = 0; i < l.inner; ++i) dx[at + i] = pt * dy[at + i];
          } else {
            masked_dx<T, K, FromX, false>(dy + at, x ? x + at : nullptr, z ? z + at : nullptr, dx + at, l.inner, am,
                                          ab, lo, hi, pt, T(0), T(0));
          }
        }
      }
    }
  }
};

/// The backward, with `act` applied to the incoming gradient first (none: the plain op).
/// Assigns its gradients (OpDef::assigns_grads). With an activation, the gradient is masked
/// on y recomputed from x when x is saved, else on the activation's output, which the
/// session then passes as outputs[0] (saves_act); the masked gradient is never stored.
template <class T>
void backward_act(BackwardArgs<T>& a, const Activation& act) {
  const Layout l = layout(a.input_shapes[0]);
  const bool use_batch = batch_statistics(a.node, a.training);
  const double count = static_cast<double>(l.n * l.inner);
  // Outputs 1 and 2 are m*running + (1-m)*batch statistic: d mean_b/dx = 1/count,
  // d var_b/dx = 2 (x - mu)/count, or /(count - 1) for the unbiased running variance.
  const bool unbiased_running = a.node.attrs.get_int("unbiased_running_var", 0) != 0 && count > 1;
  const bool stats_grad = use_batch && a.grad_outputs.size() > 1;
  const bool masked = act.kind != Activation::none;
  // The running buffers never receive gradients (should a graph ask for them).
  for (std::size_t k = 3; k < a.need_grad.size(); ++k)
    if (a.need_grad[k]) std::fill_n(a.grad_inputs[k].data(), a.grad_inputs[k].numel(), T(0));
  BackwardRows<T> r;
  r.l = l;
  // x as saves() keeps it (with an activation, the mask then comes from it; a graph input
  // is defined even when not kept, and must not decide the mask source).
  const bool x_kept = a.need_grad[1] || (a.need_grad[0] && use_batch);
  r.x = a.inputs[0].defined() && (!masked || x_kept) ? a.inputs[0].data() : nullptr;
  r.z = masked && !r.x ? a.outputs[0].data() : nullptr;
  r.dy = a.grad_outputs[0].data();
  r.mean = a.saved[0].data();
  r.inv_std = a.saved[1].data();
  r.mul = masked && r.x ? a.saved[2].data() : nullptr;
  r.add = masked && r.x ? a.saved[3].data() : nullptr;
  r.gamma = a.inputs[1].defined() ? a.inputs[1].data() : nullptr;
  r.g_mean = stats_grad ? a.grad_outputs[1].data() : nullptr;
  r.g_var = stats_grad && a.grad_outputs.size() > 2 ? a.grad_outputs[2].data() : nullptr;
  r.dx = a.need_grad[0] ? a.grad_inputs[0].data() : nullptr;
  r.dscale = a.need_grad[1] ? a.grad_inputs[1].data() : nullptr;
  r.dbias = a.need_grad[2] ? a.grad_inputs[2].data() : nullptr;
  r.use_batch = use_batch;
  r.count = count;
  r.keep = 1 - a.node.attrs.get_float("momentum", 0.9);
  r.var_count = unbiased_running ? count - 1 : count;
  r.lo = static_cast<T>(act.lo);
  r.hi = static_cast<T>(act.hi);
  const bool from_x = r.x != nullptr;
  parallel_for(0, l.c, 1, [&](std::int64_t c_lo, std::int64_t c_hi) {
    kernels::detail::vectorized([&]() HONE_INLINE_LAMBDA {
      switch (act.kind) {
        case Activation::none: r.template run<Activation::none, true>(c_lo, c_hi); break;
        case Activation::relu:
          if (from_x) r.template run<Activation::relu, true>(c_lo, c_hi);
          else r.template run<Activation::relu, false>(c_lo, c_hi);
          break;
        case Activation::clip:
          if (from_x) r.template run<Activation::clip, true>(c_lo, c_hi);
          else r.template run<Activation::clip, false>(c_lo, c_hi);
          break;
      }
    });
  });
}

template <class T>
void backward(BackwardArgs<T>& a) {
  backward_act(a, Activation{});
}

inline SaveSpec saves(const Node& node, const std::vector<bool>& need, bool training) {
  SaveSpec s = hone::detail::save_none(need.size(), node.outputs.size());
  s.inputs[0] = need[1] || (need[0] && batch_statistics(node, training));
  s.inputs[1] = need[0];
  return s;
}

/// saves for a fused BatchNormalization -> activation pair: as the plain op, and the pair's
/// output (the activation's) when x is not kept and a gradient needs the mask (the Relu or
/// Clip alone would have kept it: nothing more is held than unfused).
inline SaveSpec saves_act(const Node& node, const std::vector<bool>& need, bool training) {
  SaveSpec s = saves(node, need, training);
  bool any = false;
  for (bool b : need) any = any || b;
  s.outputs[0] = any && !s.inputs[0];
  return s;
}

}  // namespace detail_bn

template <class T>
void register_norm(std::vector<OpDef<T>>& table) {
  table.push_back({"BatchNormalization", 5, 5, detail_bn::infer, detail_bn::forward<T>,
                   detail_bn::backward<T>, detail_bn::saves, true, true});
}

}  // namespace hone::ops
