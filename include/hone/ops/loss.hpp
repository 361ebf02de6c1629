// hone/ops/loss.hpp — Softmax and LogSoftmax (ONNX opset 13: one `axis`, default -1) and the
// losses, each producing a scalar (shape ()).
//
// SoftmaxCrossEntropyLoss: scores (N,C,d1,...,dk), labels (N,d1,...,dk) holding class indices
// as T values, optional class weights (C). Attributes ignore_index (none by default),
// label_smoothing (0; a hone extension with PyTorch's definition), reduction "mean", "sum"
// or "none" (per-sample losses, shape of labels; ignored samples 0). Optional second output
// log_prob: log-softmax of the scores over C (differentiable). With weights
// w and smoothing e the loss of sample i is
//   (1-e) w[y_i] (-log p_{i,y_i}) + (e/C) sum_c w[c] (-log p_{i,c}),
// and "mean" divides the sum by sum_i w[y_i] over non-ignored samples: torch.nn.functional
// .cross_entropy's definition. An all-ignored batch gives 0 under "mean".
// BinaryCrossEntropyWithLogits (hone): logits and targets of one shape, mean of
// max(z,0) - z t + log(1 + exp(-|z|)). MeanSquaredError (hone): mean of (a - b)^2.
#pragma once

#include <cmath>   // std::exp, std::log
#include <utility>  // std::pair
#include <vector>  // shapes and masks

#include "hone/ops/op.hpp"

namespace hone::ops {

namespace detail_softmax {

struct Layout {
  std::int64_t outer, axis, inner;
};
inline Layout layout(const Node& node, const Shape& x) {
  const std::size_t a = x.normalize_axis(node.attrs.get_int("axis", -1));
  Layout l{1, x[a], 1};
  for (std::size_t d = 0; d < a; ++d) l.outer *= x[d];
  for (std::size_t d = a + 1; d < x.rank(); ++d) l.inner *= x[d];
  return l;
}

inline std::vector<Shape> infer(const Node& node, std::span<const Shape> in) {
  if (in[0].rank() == 0) hone::detail::shape_fail(node, "input must have rank >= 1");
  try {
    (void)layout(node, in[0]);
  } catch (const ShapeError& e) {
    hone::detail::shape_fail(node, e.message());
  }
  return {in[0]};
}

template <class T, bool Log>
void forward(ForwardArgs<T>& a) {
  const Layout l = layout(a.node, a.inputs[0].shape());
  const T* x = a.inputs[0].data();
  T* y = a.outputs[0].data();
  for (std::int64_t o = 0; o < l.outer; ++o)
    for (std::int64_t i = 0; i < l.inner; ++i) {
      const std::int64_t base = o * l.axis * l.inner + i;
      double mx = -INFINITY;
      for (std::int64_t c = 0; c < l.axis; ++c) mx = std::fmax(mx, static_cast<double>(x[base + c * l.inner]));
      double s = 0;
      for (std::int64_t c = 0; c < l.axis; ++c) s += std::exp(static_cast<double>(x[base + c * l.inner]) - mx);
      const double lse = mx + std::log(s);
      for (std::int64_t c = 0; c < l.axis; ++c) {
        const double v = static_cast<double>(x[base + c * l.inner]) - lse;
        y[base + c * l.inner] = static_cast<T>(Log ? v : std::exp(v));
      }
    }
}

// Softmax: dx = y (dy - sum dy y). LogSoftmax: dx = dy - exp(y) sum dy.
template <class T, bool Log>
void backward(BackwardArgs<T>& a) {
  const Layout l = layout(a.node, a.output_shapes[0]);
  const T* y = a.outputs[0].data();
  const T* dy = a.grad_outputs[0].data();
  T* dx = a.grad_inputs[0].data();
  for (std::int64_t o = 0; o < l.outer; ++o)
    for (std::int64_t i = 0; i < l.inner; ++i) {
      const std::int64_t base = o * l.axis * l.inner + i;
      double s = 0;
      for (std::int64_t c = 0; c < l.axis; ++c) {
        const std::int64_t at = base + c * l.inner;
        s += Log ? static_cast<double>(dy[at])
                 : static_cast<double>(dy[at]) * static_cast<double>(y[at]);
      }
      for (std::int64_t c = 0; c < l.axis; ++c) {
        const std::int64_t at = base + c * l.inner;
        const double yv = static_cast<double>(y[at]), g = static_cast<double>(dy[at]);
        dx[at] += static_cast<T>(Log ? g - std::exp(yv) * s : yv * (g - s));
      }
    }
}

inline SaveSpec saves(const Node&, const std::vector<bool>& need, bool) {
  SaveSpec s = hone::detail::save_none(1, 1);
  s.outputs[0] = need[0];
  return s;
}

}  // namespace detail_softmax

namespace detail_xent {

// Scores (N, C, d1, ..., dk), labels (N, d1, ..., dk): sample i = (n, d) reads scores at
// n*C*D + c*D + d (D = d1*...*dk) and its label at i.
struct Layout {
  std::int64_t n, classes, inner;
  std::int64_t at(std::int64_t i, std::int64_t c) const {
    return (i / inner) * classes * inner + c * inner + i % inner;
  }
};
inline Layout layout(const Shape& scores) {
  std::int64_t inner = 1;
  for (std::size_t d = 2; d < scores.rank(); ++d) inner *= scores[d];
  return {scores[0], scores[1], inner};
}

inline std::vector<Shape> infer(const Node& node, std::span<const Shape> in) {
  const Shape& x = in[0];
  if (x.rank() < 2) hone::detail::shape_fail(node, "scores must have rank >= 2 (N, C, ...), got ", x);
  std::vector<std::int64_t> label_dims = {x[0]};
  for (std::size_t d = 2; d < x.rank(); ++d) label_dims.push_back(x[d]);
  const Shape labels = hone::detail::to_shape(label_dims);
  if (!(in[1] == labels))
    hone::detail::shape_fail(node, "labels must have shape ", labels, " for scores ", x, ", got ", in[1]);
  if (in.size() > 2 && !(in[2] == Shape{x[1]}))
    hone::detail::shape_fail(node, "weights must have shape (", x[1], "), got ", in[2]);
  const auto red = node.attrs.get_string("reduction", "mean");
  if (red != "mean" && red != "sum" && red != "none")
    throw InvalidArgument(hone::detail::node_prefix(node) + "reduction \"" + red +
                          "\" is not one of mean, sum, none");
  if (node.outputs.size() > 2)
    hone::detail::shape_fail(node, "at most 2 outputs (loss, log_prob), got ", node.outputs.size());
  std::vector<Shape> out = {red == "none" ? labels : Shape{}};
  if (node.outputs.size() > 1) out.push_back(x);
  return out;
}

/// Calls f(i, label, log-probabilities row, per-class coefficient a_c) for each counted
/// sample, and returns the normaliser. loss_i = sum_c a_c (-logp_c); the reduced loss is
/// sum_i loss_i / normaliser. `all_logp` (when given) receives every sample's row.
template <class T, class F>
double visit(const Node& node, const Tensor<T>& scores, const Tensor<T>& labels,
             const Tensor<T>* weights, F&& f, T* all_logp = nullptr) {
  const Layout l = layout(scores.shape());
  const std::int64_t classes = l.classes;
  const bool has_ignore = node.attrs.has("ignore_index");
  const std::int64_t ignore = node.attrs.get_int("ignore_index", 0);
  const double eps = node.attrs.get_float("label_smoothing", 0.0);
  const bool mean = node.attrs.get_string("reduction", "mean") == "mean";
  double norm = 0;
  std::vector<double> logp(static_cast<std::size_t>(classes)), coef(logp.size());
  for (std::int64_t i = 0; i < l.n * l.inner; ++i) {
    double mx = -INFINITY, s = 0;
    for (std::int64_t c = 0; c < classes; ++c) mx = std::fmax(mx, static_cast<double>(scores[l.at(i, c)]));
    for (std::int64_t c = 0; c < classes; ++c) s += std::exp(static_cast<double>(scores[l.at(i, c)]) - mx);
    const double lse = mx + std::log(s);
    for (std::int64_t c = 0; c < classes; ++c) {
      logp[static_cast<std::size_t>(c)] = static_cast<double>(scores[l.at(i, c)]) - lse;
      if (all_logp) all_logp[l.at(i, c)] = static_cast<T>(logp[static_cast<std::size_t>(c)]);
    }
    const double lv = static_cast<double>(labels[i]);
    const auto y = static_cast<std::int64_t>(std::llround(lv));
    if (has_ignore && y == ignore) continue;
    if (y < 0 || y >= classes || static_cast<double>(y) != lv)
      throw InvalidArgument(hone::detail::node_prefix(node) +
                            hone::detail::concat("label ", lv, " of sample ", i,
                                                 " is not a class index in [0, ", classes, ")"));
    for (std::int64_t c = 0; c < classes; ++c) {
      const double wc = weights ? static_cast<double>((*weights)[c]) : 1.0;
      coef[static_cast<std::size_t>(c)] = eps / static_cast<double>(classes) * wc;
    }
    const double wy = weights ? static_cast<double>((*weights)[y]) : 1.0;
    coef[static_cast<std::size_t>(y)] += (1 - eps) * wy;
    norm += wy;
    f(i, logp, coef);
  }
  return mean ? norm : 1.0;
}

inline bool unreduced(const Node& node) { return node.attrs.get_string("reduction", "mean") == "none"; }

template <class T>
void forward(ForwardArgs<T>& a) {
  const bool none = unreduced(a.node);
  double total = 0;
  T* all_logp = a.outputs.size() > 1 ? a.outputs[1].data() : nullptr;
  const double norm = visit(
      a.node, a.inputs[0], a.inputs[1], a.inputs.size() > 2 ? &a.inputs[2] : nullptr,
      [&](std::int64_t i, const std::vector<double>& logp, const std::vector<double>& coef) {
        double li = 0;
        for (std::size_t c = 0; c < logp.size(); ++c) li -= coef[c] * logp[c];
        if (none) a.outputs[0][i] = static_cast<T>(li);
        total += li;
      },
      all_logp);
  if (!none) a.outputs[0][0] = static_cast<T>(norm > 0 ? total / norm : 0.0);
}

// d/dz_k of sum_c a_c (-log p_c) = p_k sum_c a_c - a_k; through log_prob: d logp_c/dz_k =
// [c = k] - p_k.
template <class T>
void backward(BackwardArgs<T>& a) {
  if (a.need_grad.size() > 2 && a.need_grad[2])
    throw UnsupportedError(hone::detail::node_prefix(a.node) +
                           "gradients with respect to the class weights are not supported");
  if (!a.need_grad[0]) return;
  const bool none = unreduced(a.node);
  const Layout l = layout(a.input_shapes[0]);
  T* dz = a.grad_inputs[0].data();
  std::vector<std::pair<std::int64_t, std::vector<double>>> rows;
  Tensor<T> logp_all(a.input_shapes[0]);
  const double norm = visit(
      a.node, a.inputs[0], a.inputs[1], a.inputs.size() > 2 ? &a.inputs[2] : nullptr,
      [&](std::int64_t i, const std::vector<double>& logp, const std::vector<double>& coef) {
        double sum_a = 0;
        for (double c : coef) sum_a += c;
        std::vector<double> d(logp.size());
        for (std::size_t c = 0; c < logp.size(); ++c) d[c] = std::exp(logp[c]) * sum_a - coef[c];
        rows.emplace_back(i, std::move(d));
      },
      logp_all.data());
  for (const auto& [i, d] : rows) {
    const double g = none ? static_cast<double>(a.grad_outputs[0][i])
                          : (norm > 0 ? static_cast<double>(a.grad_outputs[0][0]) / norm : 0.0);
    for (std::int64_t c = 0; c < l.classes; ++c) dz[l.at(i, c)] += static_cast<T>(g * d[static_cast<std::size_t>(c)]);
  }
  if (a.grad_outputs.size() > 1) {
    const Tensor<T>& glp = a.grad_outputs[1];
    for (std::int64_t i = 0; i < l.n * l.inner; ++i) {
      double sum = 0;
      for (std::int64_t c = 0; c < l.classes; ++c) sum += static_cast<double>(glp[l.at(i, c)]);
      for (std::int64_t c = 0; c < l.classes; ++c)
        dz[l.at(i, c)] += static_cast<T>(static_cast<double>(glp[l.at(i, c)]) -
                                         std::exp(static_cast<double>(logp_all[l.at(i, c)])) * sum);
    }
  }
}

inline SaveSpec saves(const Node& node, const std::vector<bool>& need, bool) {
  SaveSpec s = hone::detail::save_none(need.size(), node.outputs.size());
  for (std::size_t i = 0; i < need.size(); ++i) s.inputs[i] = need[0];
  return s;
}

}  // namespace detail_xent

namespace detail_pointwise_loss {

inline std::vector<Shape> infer(const Node& node, std::span<const Shape> in) {
  if (!(in[0] == in[1]))
    hone::detail::shape_fail(node, "inputs must have the same shape, got ", in[0], " and ", in[1]);
  return {Shape{}};
}

// Mse: (a-b)^2. Bce: max(z,0) - z t + log1p(exp(-|z|)).
template <class T, bool Bce>
void forward(ForwardArgs<T>& a) {
  const std::int64_t n = a.inputs[0].numel();
  double s = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const double x = static_cast<double>(a.inputs[0][i]), t = static_cast<double>(a.inputs[1][i]);
    s += Bce ? std::fmax(x, 0.0) - x * t + std::log1p(std::exp(-std::fabs(x))) : (x - t) * (x - t);
  }
  a.outputs[0][0] = static_cast<T>(n > 0 ? s / static_cast<double>(n) : 0.0);
}

template <class T, bool Bce>
void backward(BackwardArgs<T>& a) {
  const std::int64_t n = a.input_shapes[0].numel();
  const double g = static_cast<double>(a.grad_outputs[0][0]) / static_cast<double>(n);
  for (std::int64_t i = 0; i < n; ++i) {
    const double x = static_cast<double>(a.inputs[0][i]), t = static_cast<double>(a.inputs[1][i]);
    if (Bce) {
      if (a.need_grad[0]) a.grad_inputs[0][i] += static_cast<T>(g * (1.0 / (1.0 + std::exp(-x)) - t));
      if (a.need_grad[1]) a.grad_inputs[1][i] += static_cast<T>(-g * x);
    } else {
      if (a.need_grad[0]) a.grad_inputs[0][i] += static_cast<T>(2 * g * (x - t));
      if (a.need_grad[1]) a.grad_inputs[1][i] += static_cast<T>(-2 * g * (x - t));
    }
  }
}

inline SaveSpec saves(const Node&, const std::vector<bool>& need, bool) {
  SaveSpec s = hone::detail::save_none(2, 1);
  s.inputs[0] = s.inputs[1] = need[0] || need[1];
  return s;
}

}  // namespace detail_pointwise_loss

template <class T>
void register_loss(std::vector<OpDef<T>>& table) {
  table.push_back({"Softmax", 1, 1, detail_softmax::infer, detail_softmax::forward<T, false>,
                   detail_softmax::backward<T, false>, detail_softmax::saves});
  table.push_back({"LogSoftmax", 1, 1, detail_softmax::infer, detail_softmax::forward<T, true>,
                   detail_softmax::backward<T, true>, detail_softmax::saves});
  table.push_back({"SoftmaxCrossEntropyLoss", 2, 3, detail_xent::infer, detail_xent::forward<T>,
                   detail_xent::backward<T>, detail_xent::saves});
  using namespace detail_pointwise_loss;
  table.push_back({"MeanSquaredError", 2, 2, infer, forward<T, false>, backward<T, false>, saves});
  table.push_back({"BinaryCrossEntropyWithLogits", 2, 2, infer, forward<T, true>,
                   backward<T, true>, saves});
}

}  // namespace hone::ops
