// hone/ops/op.hpp — the interface every op implements, and helpers shared by op families.
//
// An op is one OpDef<T> table entry: shape inference, forward, backward, and `saves`, which
// tells the session which inputs and outputs backward will read given which input gradients
// are needed. The session keeps exactly those values alive after forward, so an op that
// declares less lets the session free more. Adding an op is adding one entry to a family's
// register function (ops/registry.hpp lists the families).
//
// Contract for backward: grad_inputs[i] is defined (zero-filled, shape of input i) exactly
// when need_grad[i] is true; the op adds its gradient into it (or, for ops that declare
// OpDef::assigns_grads, assigns it into an uninitialised tensor). Inputs and outputs it did not
// declare in `saves` are undefined tensors (their shapes are in input_shapes/output_shapes).
#pragma once

#include <algorithm>    // std::max
#include <array>        // index arithmetic in reduce_to
#include <cstdint>      // std::int64_t
#include <span>         // views of inputs and shapes
#include <string>       // names
#include <type_traits>  // std::is_same_v for the float fast path
#include <vector>       // outputs, masks

#include "hone/core/error.hpp"
#include "hone/core/rng.hpp"
#include "hone/core/shape.hpp"
#include "hone/core/tensor.hpp"
#include "hone/graph/node.hpp"
#include "hone/kernels/gemm.hpp"
#include "hone/kernels/reference/gemm.hpp"

namespace hone {

/// What an op's backward reads: one flag per input and per output.
struct SaveSpec {
  std::vector<bool> inputs;
  std::vector<bool> outputs;
};

template <class T>
struct ForwardArgs {
  const Node& node;
  std::span<const Tensor<T>> inputs;
  std::vector<Tensor<T>>& outputs;  ///< allocated (zero-filled) by the session, inferred shapes
  std::vector<Tensor<T>>& saved;    ///< op-private state for backward (only when `save`)
  bool training;                    ///< train-mode semantics (batch statistics, dropout)
  bool save;                        ///< whether backward will run for this node
  Generator gen;                    ///< this node's stream for this step
};

template <class T>
struct BackwardArgs {
  const Node& node;
  std::span<const Tensor<T>> inputs;   ///< defined where SaveSpec::inputs said so
  std::span<const Tensor<T>> outputs;  ///< defined where SaveSpec::outputs said so
  std::span<const Shape> input_shapes;
  std::span<const Shape> output_shapes;
  std::span<const Tensor<T>> grad_outputs;  ///< always defined (zeros if nothing flowed)
  std::span<const Tensor<T>> saved;
  std::vector<Tensor<T>>& grad_inputs;
  const std::vector<bool>& need_grad;
  bool training;
};

template <class T>
struct OpDef {
  const char* type;
  std::size_t min_inputs;
  std::size_t max_inputs;
  std::vector<Shape> (*infer)(const Node&, std::span<const Shape>);
  void (*forward)(ForwardArgs<T>&);
  void (*backward)(BackwardArgs<T>&);
  SaveSpec (*saves)(const Node&, const std::vector<bool>& need_grad, bool training);
  /// forward assigns every element of every output: the session may hand it uninitialised
  /// outputs (no zero fill). Ops that accumulate into their outputs leave it false.
  bool writes_all_outputs = false;
  /// backward assigns every element of each gradient it is handed (grad_inputs[i] where
  /// need_grad[i]) instead of adding into it: the session may hand it uninitialised
  /// gradients (no zero fill, no read of zeros). Ops that accumulate leave it false.
  bool assigns_grads = false;
};

namespace detail {

/// Throws InvalidArgument (hone.graph.arity) naming the node when its number of inputs is
/// outside what the op takes: before shape inference, which indexes the inputs.
template <class T>
void check_arity(const OpDef<T>& def, const Node& node) {
  if (node.inputs.size() < def.min_inputs || node.inputs.size() > def.max_inputs)
    throw InvalidArgument("hone.graph.arity",
                          concat(node_prefix(node), "takes ", def.min_inputs,
                                 def.min_inputs == def.max_inputs ? std::string()
                                                                  : concat(" to ", def.max_inputs),
                                 " inputs, got ", node.inputs.size()));
  if (node.outputs.empty())
    throw InvalidArgument("hone.graph.arity", concat(node_prefix(node), "has no output"));
}

/// Throws ShapeError prefixed with the node's name and op.
template <class... Args>
[[noreturn]] void shape_fail(const Node& node, const Args&... args) {
  throw ShapeError(node_prefix(node) + concat(args...));
}

/// A Shape from a vector of extents.
inline Shape to_shape(const std::vector<std::int64_t>& dims) {
  return Shape(std::span<const std::int64_t>(dims.data(), dims.size()));
}

inline void expect_rank(const Node& node, const Shape& s, std::size_t rank, const char* what) {
  if (s.rank() != rank) shape_fail(node, what, " must have rank ", rank, ", got shape ", s);
}

/// Pairs of (begin, end) pads, ONNX order [x1_begin, x2_begin, ..., x1_end, x2_end].
inline std::vector<std::int64_t> spatial_attr(const Node& node, const char* name, std::size_t n,
                                              std::int64_t fallback) {
  auto v = node.attrs.get_ints(name, std::vector<std::int64_t>(n, fallback));
  if (v.size() != n)
    throw InvalidArgument(concat(node_prefix(node), "attribute \"", name, "\" needs ", n,
                                 " values, got ", v.size()));
  return v;
}

/// The number of spatial axes (1 to 3) of a window op's NC[D][H]W input X: ShapeError for
/// fewer, UnsupportedError for more.
inline std::size_t spatial_axes(const Node& node, const Shape& x) {
  if (x.rank() < 3)
    throw ShapeError(concat(node_prefix(node), "input X must be (N, C, W), (N, C, H, W) or (N, C, D, H, W), got shape ", x));
  if (x.rank() > 5)
    throw UnsupportedError(node_prefix(node) + concat("1, 2 or 3 spatial axes are supported, got input ", x));
  return x.rank() - 2;
}

/// The pads of a window op ([x1_begin, ..., x1_end, ...], ONNX order) for spatial extents
/// `in`, from `pads` or from auto_pad: VALID is no padding; SAME_UPPER / SAME_LOWER pad so
/// that out = ceil(in / stride), the odd extra at the end (UPPER) or the beginning (LOWER).
inline std::vector<std::int64_t> resolve_pads(const Node& node, std::span<const std::int64_t> in,
                                              std::span<const std::int64_t> kernel,
                                              std::span<const std::int64_t> strides,
                                              std::span<const std::int64_t> dilations) {
  const std::size_t n = in.size();
  const auto ap = node.attrs.get_string("auto_pad", "NOTSET");
  if (ap == "NOTSET") return spatial_attr(node, "pads", 2 * n, 0);
  std::vector<std::int64_t> pads(2 * n, 0);
  if (ap == "VALID") return pads;
  if (ap != "SAME_UPPER" && ap != "SAME_LOWER")
    throw InvalidArgument(concat(node_prefix(node), "auto_pad=", ap,
                                 " is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER"));
  for (std::size_t i = 0; i < n; ++i) {
    if (strides[i] < 1) throw ShapeError(concat(node_prefix(node), "strides must be >= 1"));
    const std::int64_t out = (in[i] + strides[i] - 1) / strides[i];
    const std::int64_t total =
        std::max<std::int64_t>(0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - in[i]);
    const std::int64_t small = total / 2, big = total - small;
    pads[i] = ap == "SAME_UPPER" ? small : big;
    pads[i + n] = ap == "SAME_UPPER" ? big : small;
  }
  return pads;
}

/// C = alpha op(A) op(B) + beta C; float uses hone::gemm, every other type the reference loops.
template <class T>
void matmul(Trans ta, Trans tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
            const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
            std::int64_t ldc) {
  if constexpr (std::is_same_v<T, float>) {
    hone::gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  } else {
    kernels::reference::gemm<T>(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
}

inline SaveSpec save_none(std::size_t inputs, std::size_t outputs) {
  return {std::vector<bool>(inputs, false), std::vector<bool>(outputs, false)};
}

/// A `saves` for ops whose backward reads no input or output.
inline SaveSpec save_none_fn(const Node& node, const std::vector<bool>& need, bool) {
  return save_none(need.size(), node.outputs.size());
}

/// Sums g (shape `from`) into acc (shape `to`), where `to` broadcasts to `from` (numpy rules).
template <class T>
void reduce_to(const T* g, const Shape& from, T* acc, const Shape& to) {
  const std::size_t r = from.rank();
  const std::size_t off = r - to.rank();
  std::array<std::int64_t, Shape::max_rank> stride{};
  {
    std::int64_t s = 1;
    for (std::size_t i = to.rank(); i-- > 0;) {
      stride[i + off] = to[i] == 1 ? 0 : s;
      s *= to[i];
    }
  }
  const std::int64_t n = from.numel();
  std::array<std::int64_t, Shape::max_rank> idx{};
  for (std::int64_t flat = 0; flat < n; ++flat) {
    std::int64_t o = 0;
    for (std::size_t d = 0; d < r; ++d) o += idx[d] * stride[d];
    acc[o] += g[flat];
    for (std::size_t d = r; d-- > 0;) {
      if (++idx[d] < from[d]) break;
      idx[d] = 0;
    }
  }
}

}  // namespace detail
}  // namespace hone
