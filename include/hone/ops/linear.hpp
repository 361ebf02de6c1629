// hone/ops/linear.hpp — Gemm (ONNX: Y = alpha op(A) op(B) + beta C, transA/transB, C
// broadcast to (M,N)) and MatMul (numpy matmul: batch broadcasting, 1-D operands). float
// runs hone::gemm, double the reference GEMM.
#pragma once

#include <vector>  // shapes and masks

#include "hone/ops/elementwise.hpp"  // detail_binary (batch broadcasting)
#include "hone/ops/op.hpp"

namespace hone::ops {

namespace detail_gemm {

struct Dims {
  std::int64_t m, n, k;
  bool ta, tb;
};

inline Dims dims(const Node& node, std::span<const Shape> in) {
  using hone::detail::shape_fail;
  hone::detail::expect_rank(node, in[0], 2, "input A");
  hone::detail::expect_rank(node, in[1], 2, "input B");
  Dims d{};
  d.ta = node.attrs.get_int("transA", 0) != 0;
  d.tb = node.attrs.get_int("transB", 0) != 0;
  d.m = d.ta ? in[0][1] : in[0][0];
  d.k = d.ta ? in[0][0] : in[0][1];
  const std::int64_t kb = d.tb ? in[1][1] : in[1][0];
  d.n = d.tb ? in[1][0] : in[1][1];
  if (kb != d.k)
    shape_fail(node, "op(A) is (", d.m, ", ", d.k, ") but op(B) is (", kb, ", ", d.n,
               "): inner dimensions differ (A ", in[0], " transA=", d.ta, ", B ", in[1],
               " transB=", d.tb, ")");
  if (in.size() > 2) {
    const Shape& c = in[2];
    bool ok = c.rank() <= 2;
    if (ok && c.rank() >= 1) ok = c.dim(-1) == 1 || c.dim(-1) == d.n;
    if (ok && c.rank() == 2) ok = c[0] == 1 || c[0] == d.m;
    if (!ok)
      shape_fail(node, "C ", c, " does not broadcast to the output (", d.m, ", ", d.n, ")");
  }
  return d;
}

inline std::vector<Shape> infer(const Node& node, std::span<const Shape> in) {
  const auto d = dims(node, in);
  return {Shape{d.m, d.n}};
}

template <class T>
void forward(ForwardArgs<T>& a) {
  const Shape shapes[2] = {a.inputs[0].shape(), a.inputs[1].shape()};
  const auto d = dims(a.node, shapes);
  const T alpha = static_cast<T>(a.node.attrs.get_float("alpha", 1.0));
  const T beta = static_cast<T>(a.node.attrs.get_float("beta", 1.0));
  Tensor<T>& y = a.outputs[0];
  T acc = 0;
  if (a.inputs.size() > 2) {
    const Tensor<T>& c = a.inputs[2];
    // Broadcast C into Y (rank 0, (N), (1,N), (M,1), (M,N)), then accumulate the product.
    const bool row = c.rank() == 2 && c.dim(0) == d.m;
    const bool col = c.rank() >= 1 && c.dim(-1) == d.n;
    const std::int64_t cols = c.rank() >= 1 ? c.dim(-1) : 1;
    for (std::int64_t i = 0; i < d.m; ++i)
      for (std::int64_t j = 0; j < d.n; ++j)
        y[i * d.n + j] = beta * c[(row ? i * cols : 0) + (col ? j : 0)];
    acc = 1;
  }
  hone::detail::matmul<T>(d.ta ? Trans::Yes : Trans::No, d.tb ? Trans::Yes : Trans::No, d.m, d.n,
                          d.k, alpha, a.inputs[0].data(), shapes[0][1], a.inputs[1].data(),
                          shapes[1][1], acc, y.data(), d.n);
}

template <class T>
void backward(BackwardArgs<T>& a) {
  const auto d = dims(a.node, a.input_shapes);
  const T alpha = static_cast<T>(a.node.attrs.get_float("alpha", 1.0));
  const T beta = static_cast<T>(a.node.attrs.get_float("beta", 1.0));
  const T* dy = a.grad_outputs[0].data();
  const std::int64_t lda = a.input_shapes[0][1], ldb = a.input_shapes[1][1];
  if (a.need_grad[0]) {
    const T* b = a.inputs[1].data();
    T* da = a.grad_inputs[0].data();
    if (!d.ta)  // dA (M,K) = alpha dY op(B)^T
      hone::detail::matmul<T>(Trans::No, d.tb ? Trans::No : Trans::Yes, d.m, d.k, d.n, alpha, dy,
                              d.n, b, ldb, T(1), da, lda);
    else  // dA (K,M) = alpha op(B) dY^T
      hone::detail::matmul<T>(d.tb ? Trans::Yes : Trans::No, Trans::Yes, d.k, d.m, d.n, alpha, b,
                              ldb, dy, d.n, T(1), da, lda);
  }
  if (a.need_grad[1]) {
    const T* ap = a.inputs[0].data();
    T* db = a.grad_inputs[1].data();
    if (!d.tb)  // dB (K,N) = alpha op(A)^T dY
      hone::detail::matmul<T>(d.ta ? Trans::No : Trans::Yes, Trans::No, d.k, d.n, d.m, alpha, ap,
                              lda, dy, d.n, T(1), db, ldb);
    else  // dB (N,K) = alpha dY^T op(A)
      hone::detail::matmul<T>(Trans::Yes, d.ta ? Trans::Yes : Trans::No, d.n, d.k, d.m, alpha, dy,
                              d.n, ap, lda, T(1), db, ldb);
  }
  if (a.need_grad.size() > 2 && a.need_grad[2]) {
    Tensor<T> scaled(a.grad_outputs[0].shape());
    for (std::int64_t i = 0; i < scaled.numel(); ++i) scaled[i] = beta * dy[i];
    hone::detail::reduce_to(scaled.data(), scaled.shape(), a.grad_inputs[2].data(),
                            a.input_shapes[2]);
  }
}

inline SaveSpec saves(const Node&, const std::vector<bool>& need, bool) {
  SaveSpec s = hone::detail::save_none(need.size(), 1);
  s.inputs[1] = need[0];
  s.inputs[0] = need[1];
  return s;
}

}  // namespace detail_gemm

namespace detail_matmul {

// numpy matmul: A (..., M, K) and B (..., K, N) with broadcast batch dimensions; a 1-D A is
// (1, K) and a 1-D B is (K, 1), and that axis is dropped from the result.
struct Dims {
  std::int64_t m, k, n;
  Shape a_batch, b_batch, batch, out;
};

inline Dims dims(const Node& node, const Shape& a, const Shape& b) {
  if (a.rank() == 0 || b.rank() == 0)
    hone::detail::shape_fail(node, "inputs must have rank >= 1, got ", a, " and ", b);
  Dims d{};
  d.m = a.rank() == 1 ? 1 : a.dim(-2);
  d.k = a.dim(-1);
  const std::int64_t kb = b.rank() == 1 ? b[0] : b.dim(-2);
  d.n = b.rank() == 1 ? 1 : b.dim(-1);
  if (d.k != kb)
    hone::detail::shape_fail(node, "A ", a, " has ", d.k, " columns but B ", b, " has ", kb, " rows");
  const std::vector<std::int64_t> ab(a.begin(), a.end() - (a.rank() == 1 ? 1 : 2));
  const std::vector<std::int64_t> bb(b.begin(), b.end() - (b.rank() == 1 ? 1 : 2));
  d.a_batch = hone::detail::to_shape(ab);
  d.b_batch = hone::detail::to_shape(bb);
  const Shape shapes[2] = {d.a_batch, d.b_batch};
  d.batch = detail_binary::infer(node, shapes)[0];
  std::vector<std::int64_t> out(d.batch.begin(), d.batch.end());
  if (a.rank() > 1) out.push_back(d.m);
  if (b.rank() > 1) out.push_back(d.n);
  d.out = hone::detail::to_shape(out);
  return d;
}

inline std::vector<Shape> infer(const Node& node, std::span<const Shape> in) {
  return {dims(node, in[0], in[1]).out};
}

template <class T>
void forward(ForwardArgs<T>& a) {
  const Dims d = dims(a.node, a.inputs[0].shape(), a.inputs[1].shape());
  const detail_binary::Broadcast bc(d.a_batch, d.b_batch, d.batch);
  bc.for_each([&](std::int64_t o, std::int64_t ia, std::int64_t ib) {
    hone::detail::matmul<T>(Trans::No, Trans::No, d.m, d.n, d.k, T(1),
                            a.inputs[0].data() + ia * d.m * d.k, d.k,
                            a.inputs[1].data() + ib * d.k * d.n, d.n, T(0),
                            a.outputs[0].data() + o * d.m * d.n, d.n);
  });
}

template <class T>
void backward(BackwardArgs<T>& a) {
  const Dims d = dims(a.node, a.input_shapes[0], a.input_shapes[1]);
  const detail_binary::Broadcast bc(d.a_batch, d.b_batch, d.batch);
  const T* dy = a.grad_outputs[0].data();
  bc.for_each([&](std::int64_t o, std::int64_t ia, std::int64_t ib) {
    if (a.need_grad[0])  // dA = dY B^T
      hone::detail::matmul<T>(Trans::No, Trans::Yes, d.m, d.k, d.n, T(1), dy + o * d.m * d.n, d.n,
                              a.inputs[1].data() + ib * d.k * d.n, d.n, T(1),
                              a.grad_inputs[0].data() + ia * d.m * d.k, d.k);
    if (a.need_grad[1])  // dB = A^T dY
      hone::detail::matmul<T>(Trans::Yes, Trans::No, d.k, d.n, d.m, T(1),
                              a.inputs[0].data() + ia * d.m * d.k, d.k, dy + o * d.m * d.n, d.n,
                              T(1), a.grad_inputs[1].data() + ib * d.k * d.n, d.n);
  });
}

}  // namespace detail_matmul

template <class T>
void register_linear(std::vector<OpDef<T>>& table) {
  table.push_back({"Gemm", 2, 3, detail_gemm::infer, detail_gemm::forward<T>,
                   detail_gemm::backward<T>, detail_gemm::saves});
  table.push_back({"MatMul", 2, 2, detail_matmul::infer, detail_matmul::forward<T>,
                   detail_matmul::backward<T>, detail_gemm::saves});
}

}  // namespace hone::ops
