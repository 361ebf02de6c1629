// Finite-difference gradient checks for every op (ggml's test-backend-ops style): one table
// of cases, each an op with attributes, input shapes, roles (graph input with gradient,
// trainable parameter, constant, buffer) and its own tolerance.
//
// Oracle: for a one-node graph and a fixed random projection R of its outputs, the loss
// L = sum(R * y) is differentiated by central differences in float64 (h = 1e-6) and compared
// with the session's backward (input gradients through SessionOptions::grad_inputs,
// parameter gradients through Session::grad). The float32 path is then run on the same
// values and its outputs and gradients compared with the float64 ones at a looser tolerance.
// Graph inputs reach the op through an Identity node, so they are activations the session
// frees unless the op declares them in `saves`: the cases with a constant operand check
// that each op reads only what it declared for the gradients that are needed.
// A last test checks that every op in the registry has at least one case here.
#include <catch2/catch.hpp>

#include <hone/graph/session.hpp>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

using hone::Attributes;
using hone::Graph;
using hone::Mode;
using hone::Session;
using hone::SessionOptions;
using hone::Shape;
using hone::Tensor;

namespace {

enum class Role { input, param, constant, buffer };

struct In {
  Shape shape;
  Role role = Role::input;
  double lo = -1, hi = 1;
  std::int64_t classes = 0;  ///< > 0: integer labels in [0, classes)
};

struct Case {
  std::string label;
  std::string op;
  Attributes attrs;
  std::vector<In> inputs;
  double tol = 1e-8;        ///< max |analytic - numeric| <= tol * (1 + max |numeric|), float64
  double float_tol = 1e-5;  ///< the same bound, float32 against float64
  Mode mode = Mode::train;
  std::size_t outputs = 1;
};

Attributes attrs() { return {}; }

In x(Shape s, double lo = -1, double hi = 1) { return {s, Role::input, lo, hi, 0}; }
In param(Shape s, double lo = -1, double hi = 1) { return {s, Role::param, lo, hi, 0}; }
In buffer(Shape s, double lo, double hi) { return {s, Role::buffer, lo, hi, 0}; }
In labels(Shape s, std::int64_t classes) { return {s, Role::constant, 0, 0, classes}; }
In constant(Shape s, double lo, double hi) { return {s, Role::constant, lo, hi, 0}; }

std::vector<Case> cases() {
  std::vector<Case> c;
  // Conv
  c.push_back({"conv 3x3 with bias", "Conv", attrs(),
               {x({2, 3, 5, 5}), param({4, 3, 3, 3}), param({4})}});
  c.push_back({"conv stride, asymmetric pads, dilation", "Conv",
               attrs().set_ints("strides", {2, 1}).set_ints("pads", {1, 0, 2, 1}).set_ints("dilations", {2, 1}),
               {x({2, 3, 7, 6}), param({4, 3, 3, 2}), param({4})}});
  c.push_back({"conv groups=2 without bias, weight as input", "Conv", attrs().set_int("group", 2),
               {x({1, 4, 5, 5}), x({6, 2, 3, 3})}});
  c.push_back({"conv depthwise stride 2 pad 1", "Conv",
               attrs().set_int("group", 3).set_ints("strides", {2, 2}).set_ints("pads", {1, 1, 1, 1}),
               {x({2, 3, 5, 5}), param({3, 1, 3, 3}), param({3})}});
  c.push_back({"conv 1x1", "Conv", attrs(), {x({2, 4, 3, 3}), param({5, 4, 1, 1})}});
  c.push_back({"conv auto_pad SAME_UPPER stride 2", "Conv",
               attrs().set_string("auto_pad", "SAME_UPPER").set_ints("strides", {2, 2}),
               {x({1, 2, 7, 6}), param({3, 2, 3, 2}), param({3})}});
  c.push_back({"conv auto_pad VALID", "Conv", attrs().set_string("auto_pad", "VALID"),
               {x({1, 2, 5, 5}), param({2, 2, 3, 3})}});
  c.push_back({"conv input gradient only (frozen weight)", "Conv", attrs().set_ints("pads", {1, 1, 1, 1}),
               {x({1, 2, 4, 4}), constant({3, 2, 3, 3}, -1, 1), constant({3}, -1, 1)}});
  c.push_back({"conv weight gradient only (frozen input)", "Conv", attrs().set_ints("strides", {2, 2}),
               {constant({1, 2, 5, 5}, -1, 1), x({3, 2, 3, 3}), x({3})}});
  c.push_back({"conv 1-D stride 2, asymmetric pads, dilation 2", "Conv",
               attrs().set_ints("strides", {2}).set_ints("pads", {2, 1}).set_ints("dilations", {2}),
               {x({2, 3, 9}), param({4, 3, 3}), param({4})}});
  c.push_back({"conv 1-D groups=2 auto_pad SAME_LOWER stride 2", "Conv",
               attrs().set_int("group", 2).set_ints("strides", {2}).set_string("auto_pad", "SAME_LOWER"),
               {x({1, 4, 8}), param({6, 2, 4})}});
  c.push_back({"conv 3-D stride, asymmetric pads, dilation", "Conv",
               attrs().set_ints("strides", {2, 1, 2}).set_ints("pads", {1, 0, 0, 0, 1, 1})
                   .set_ints("dilations", {1, 2, 1}),
               {x({2, 2, 4, 5, 4}), param({3, 2, 2, 2, 3}), param({3})}});
  c.push_back({"conv 3-D depthwise auto_pad SAME_UPPER stride 2", "Conv",
               attrs().set_int("group", 2).set_ints("strides", {2, 2, 2}).set_string("auto_pad", "SAME_UPPER"),
               {x({1, 2, 3, 4, 5}), param({2, 1, 2, 3, 2}), param({2})}});
  c.push_back({"conv 3-D weight gradient only (frozen input)", "Conv",
               attrs().set_ints("pads", {1, 1, 1, 1, 1, 1}),
               {constant({1, 2, 3, 3, 3}, -1, 1), x({2, 2, 2, 2, 2})}});
  // Gemm / MatMul
  c.push_back({"gemm bias (N)", "Gemm", attrs(), {x({3, 4}), param({4, 5}), param({5})}});
  c.push_back({"gemm transA transB alpha beta, C (M,1)", "Gemm",
               attrs().set_int("transA", 1).set_int("transB", 1).set_float("alpha", 0.5).set_float("beta", 2.0),
               {x({4, 3}), param({5, 4}), param({3, 1})}});
  c.push_back({"gemm transB (linear layer), C (1,N)", "Gemm", attrs().set_int("transB", 1),
               {x({3, 4}), param({5, 4}), x({1, 5})}});
  c.push_back({"gemm transA, C (M,N), no C grad", "Gemm", attrs().set_int("transA", 1),
               {x({4, 3}), x({4, 5}), constant({3, 5}, -1, 1)}});
  c.push_back({"gemm scalar C", "Gemm", attrs(), {x({2, 3}), x({3, 2}), x({})}});
  c.push_back({"matmul 3-D by 2-D", "MatMul", attrs(), {x({2, 3, 4}), param({4, 5})}});
  c.push_back({"matmul batched", "MatMul", attrs(), {x({2, 3, 4}), x({2, 4, 2})}});
  c.push_back({"matmul broadcast batch (2,1,3,4) x (3,4,2)", "MatMul", attrs(), {x({2, 1, 3, 4}), x({3, 4, 2})}});
  c.push_back({"matmul vector x matrix", "MatMul", attrs(), {x({4}), x({2, 4, 3})}});
  c.push_back({"matmul matrix x vector", "MatMul", attrs(), {x({3, 4}), x({4})}});
  c.push_back({"matmul, A constant", "MatMul", attrs(), {constant({2, 3}, -1, 1), x({3, 2})}});
  c.push_back({"gemm, B constant", "Gemm", attrs().set_int("transB", 1), {x({2, 3}), constant({4, 3}, -1, 1), x({4})}});
  // BatchNormalization
  c.push_back({"batchnorm train (N,C,H,W)", "BatchNormalization", attrs(),
               {x({3, 4, 2, 3}), param({4}, 0.5, 1.5), param({4}), buffer({4}, -1, 1), buffer({4}, 0.5, 2)}});
  c.push_back({"batchnorm train (N,C)", "BatchNormalization", attrs().set_float("epsilon", 1e-3),
               {x({5, 3}), param({3}, 0.5, 1.5), param({3}), buffer({3}, -1, 1), buffer({3}, 0.5, 2)}});
  c.push_back({"batchnorm train, affine gradients only", "BatchNormalization", attrs(),
               {constant({3, 2, 2, 2}, -1, 1), x({2}, 0.5, 1.5), x({2}), buffer({2}, -1, 1), buffer({2}, 0.5, 2)}});
  Case bn_eval_x{"batchnorm eval, input gradient only", "BatchNormalization", attrs(),
                 {x({2, 3, 2, 2}), constant({3}, 0.5, 1.5), constant({3}, -1, 1), buffer({3}, -1, 1), buffer({3}, 0.5, 2)}};
  bn_eval_x.mode = Mode::eval;
  c.push_back(bn_eval_x);
  Case bn_eval{"batchnorm eval", "BatchNormalization", attrs(),
               {x({2, 3, 2, 2}), param({3}, 0.5, 1.5), param({3}), buffer({3}, -1, 1), buffer({3}, 0.5, 2)}};
  bn_eval.mode = Mode::eval;
  c.push_back(bn_eval);
  Case bn_outputs{"batchnorm eval with running-statistics outputs", "BatchNormalization", attrs(),
                  {x({2, 3, 2, 2}), param({3}, 0.5, 1.5), param({3}), buffer({3}, -1, 1), buffer({3}, 0.5, 2)}};
  bn_outputs.mode = Mode::eval;
  bn_outputs.outputs = 3;
  c.push_back(bn_outputs);
  // Training mode with the running-statistics outputs: momentum 0 makes them the batch
  // statistics, which finite differences can follow (otherwise every forward moves them).
  Case bn_train_stats{"batchnorm train, running-statistics outputs (biased variance)",
                      "BatchNormalization", attrs().set_float("momentum", 0.0),
                      {x({3, 2, 2, 2}), param({2}, 0.5, 1.5), param({2}), buffer({2}, -1, 1),
                       buffer({2}, 0.5, 2)}};
  bn_train_stats.outputs = 3;
  c.push_back(bn_train_stats);
  Case bn_train_unbiased{"batchnorm train, running-statistics outputs, unbiased_running_var",
                         "BatchNormalization",
                         attrs().set_float("momentum", 0.0).set_int("unbiased_running_var", 1),
                         {x({4, 3}), param({3}, 0.5, 1.5), param({3}), buffer({3}, -1, 1),
                          buffer({3}, 0.5, 2)}};
  bn_train_unbiased.outputs = 3;
  c.push_back(bn_train_unbiased);
  // Unary
  const Shape u{2, 3, 4};
  c.push_back({"relu", "Relu", attrs(), {x(u)}});
  c.push_back({"leaky relu", "LeakyRelu", attrs().set_float("alpha", 0.1), {x(u)}});
  c.push_back({"clip as relu6", "Clip", attrs().set_float("min", 0).set_float("max", 6), {x(u, -8, 8)}});
  c.push_back({"clip [-0.5, 0.5]", "Clip", attrs().set_float("min", -0.5).set_float("max", 0.5), {x(u)}});
  c.push_back({"sigmoid", "Sigmoid", attrs(), {x(u, -4, 4)}});
  c.push_back({"hard sigmoid", "HardSigmoid", attrs(), {x(u, -4, 4)}});
  c.push_back({"hard swish", "HardSwish", attrs(), {x(u, -5, 5)}});
  c.push_back({"tanh", "Tanh", attrs(), {x(u, -2, 2)}});
  c.push_back({"elu", "Elu", attrs().set_float("alpha", 0.7), {x(u, -2, 2)}});
  c.push_back({"selu", "Selu", attrs(), {x(u, -2, 2)}});
  c.push_back({"softplus", "Softplus", attrs(), {x(u, -3, 3)}});
  c.push_back({"gelu", "Gelu", attrs(), {x(u, -3, 3)}});
  c.push_back({"sqrt", "Sqrt", attrs(), {x(u, 0.5, 2)}});
  c.push_back({"exp", "Exp", attrs(), {x(u)}});
  c.push_back({"log", "Log", attrs(), {x(u, 0.5, 2)}});
  c.push_back({"neg", "Neg", attrs(), {x(u)}});
  c.push_back({"abs", "Abs", attrs(), {x(u)}});
  c.push_back({"identity", "Identity", attrs(), {x(u)}});
  // Binary with broadcasting
  c.push_back({"add (2,3,4) + (3,1)", "Add", attrs(), {x({2, 3, 4}), x({3, 1})}});
  c.push_back({"add bias param (1,3,1,1)", "Add", attrs(), {x({2, 3, 2, 2}), param({1, 3, 1, 1})}});
  c.push_back({"sub (2,1,4) - (3,4)", "Sub", attrs(), {x({2, 1, 4}), x({3, 4})}});
  c.push_back({"mul (2,3,4) * (4)", "Mul", attrs(), {x({2, 3, 4}), x({4})}});
  c.push_back({"mul, one side constant", "Mul", attrs(), {constant({2, 3}, -1, 1), x({2, 3})}});
  c.push_back({"div, denominator constant", "Div", attrs(), {x({2, 3}), constant({3}, 0.5, 2)}});
  c.push_back({"div, numerator constant", "Div", attrs(), {constant({2, 3}, -1, 1), x({3}, 0.5, 2)}});
  c.push_back({"div by positive", "Div", attrs(), {x({2, 3}), x({2, 1}, 0.5, 2)}});
  c.push_back({"pow positive base", "Pow", attrs(), {x({2, 3}, 0.5, 2), x({3}, -2, 2)}});
  c.push_back({"prelu per channel", "PRelu", attrs(), {x({2, 3, 2, 2}), param({3, 1, 1}, 0, 0.5)}});
  // Pooling
  c.push_back({"maxpool 3x3 stride 2 pad 1", "MaxPool",
               attrs().set_ints("kernel_shape", {3, 3}).set_ints("strides", {2, 2}).set_ints("pads", {1, 1, 1, 1}),
               {x({2, 2, 7, 7})}});
  c.push_back({"maxpool dilation 2, ceil_mode, asymmetric pads", "MaxPool",
               attrs().set_ints("kernel_shape", {2, 3}).set_ints("strides", {2, 2})
                   .set_ints("dilations", {2, 1}).set_ints("pads", {0, 1, 1, 0}).set_int("ceil_mode", 1),
               {x({1, 2, 8, 7})}});
  c.push_back({"avgpool 3x3 stride 2 pad 1 excluding pad", "AveragePool",
               attrs().set_ints("kernel_shape", {3, 3}).set_ints("strides", {2, 2}).set_ints("pads", {1, 1, 1, 1}),
               {x({2, 2, 6, 6})}});
  c.push_back({"avgpool count_include_pad, ceil_mode", "AveragePool",
               attrs().set_ints("kernel_shape", {3, 3}).set_ints("strides", {2, 2}).set_ints("pads", {1, 1, 1, 1})
                   .set_int("count_include_pad", 1).set_int("ceil_mode", 1),
               {x({1, 2, 6, 6})}});
  c.push_back({"maxpool 1-D stride 2 pad 1", "MaxPool",
               attrs().set_ints("kernel_shape", {3}).set_ints("strides", {2}).set_ints("pads", {1, 1}),
               {x({2, 3, 9})}});
  c.push_back({"maxpool 3-D dilation", "MaxPool",
               attrs().set_ints("kernel_shape", {2, 2, 2}).set_ints("dilations", {1, 2, 1}),
               {x({1, 2, 4, 5, 4})}});
  c.push_back({"maxpool auto_pad SAME_LOWER", "MaxPool",
               attrs().set_ints("kernel_shape", {3, 2}).set_ints("strides", {2, 2}).set_string("auto_pad", "SAME_LOWER"),
               {x({1, 1, 7, 6})}});
  c.push_back({"avgpool 3-D count_include_pad, ceil_mode", "AveragePool",
               attrs().set_ints("kernel_shape", {2, 2, 2}).set_ints("strides", {2, 2, 2})
                   .set_ints("pads", {1, 0, 1, 0, 1, 1}).set_int("count_include_pad", 1).set_int("ceil_mode", 1),
               {x({1, 2, 3, 4, 3})}});
  c.push_back({"avgpool 1-D auto_pad SAME_UPPER", "AveragePool",
               attrs().set_ints("kernel_shape", {4}).set_ints("strides", {3}).set_string("auto_pad", "SAME_UPPER"),
               {x({1, 2, 10})}});
  c.push_back({"maxpool 1-D dilation 2, ceil_mode", "MaxPool",
               attrs().set_ints("kernel_shape", {2}).set_ints("strides", {2}).set_ints("dilations", {2})
                   .set_int("ceil_mode", 1),
               {x({2, 2, 8})}});
  c.push_back({"maxpool 3-D stride 2, pads, ceil_mode", "MaxPool",
               attrs().set_ints("kernel_shape", {3, 2, 2}).set_ints("strides", {2, 2, 2})
                   .set_ints("pads", {1, 0, 1, 1, 1, 0}).set_int("ceil_mode", 1),
               {x({1, 2, 5, 4, 5})}});
  c.push_back({"maxpool auto_pad SAME_UPPER stride 2", "MaxPool",
               attrs().set_ints("kernel_shape", {3, 3}).set_ints("strides", {2, 2})
                   .set_string("auto_pad", "SAME_UPPER"),
               {x({1, 2, 5, 6})}});
  c.push_back({"avgpool auto_pad SAME_LOWER, padding excluded", "AveragePool",
               attrs().set_ints("kernel_shape", {2, 3}).set_string("auto_pad", "SAME_LOWER"),
               {x({1, 2, 4, 5})}});
  c.push_back({"avgpool 3-D stride, pads excluded", "AveragePool",
               attrs().set_ints("kernel_shape", {2, 3, 2}).set_ints("strides", {1, 2, 2})
                   .set_ints("pads", {0, 1, 1, 1, 1, 0}),
               {x({2, 1, 3, 5, 4})}});
  c.push_back({"avgpool 1-D count_include_pad, ceil_mode", "AveragePool",
               attrs().set_ints("kernel_shape", {3}).set_ints("strides", {2}).set_ints("pads", {1, 1})
                   .set_int("count_include_pad", 1).set_int("ceil_mode", 1),
               {x({1, 3, 8})}});
  c.push_back({"global average pool", "GlobalAveragePool", attrs(), {x({2, 3, 3, 2})}});
  c.push_back({"global max pool", "GlobalMaxPool", attrs(), {x({2, 3, 3, 2})}});
  // Shape ops
  c.push_back({"flatten axis 1", "Flatten", attrs(), {x({2, 3, 2, 2})}});
  c.push_back({"flatten axis 2", "Flatten", attrs().set_int("axis", 2), {x({2, 3, 2, 2})}});
  c.push_back({"reshape (0, -1)", "Reshape", attrs().set_ints("shape", {0, -1}), {x({2, 3, 2})}});
  c.push_back({"squeeze", "Squeeze", attrs().set_ints("axes", {2}), {x({2, 3, 1, 2})}});
  c.push_back({"unsqueeze", "Unsqueeze", attrs().set_ints("axes", {0, 3}), {x({2, 3})}});
  c.push_back({"transpose (0,2,3,1)", "Transpose", attrs().set_ints("perm", {0, 2, 3, 1}), {x({2, 3, 2, 4})}});
  c.push_back({"concat axis 1", "Concat", attrs().set_int("axis", 1), {x({2, 1, 3}), x({2, 2, 3}), param({2, 3, 3})}});
  // Reductions and dropout (train-mode dropout is checked in test_session.cpp: its mask
  // changes with every forward, so finite differences do not apply)
  c.push_back({"reduce sum axis 1", "ReduceSum", attrs().set_ints("axes", {1}).set_int("keepdims", 0), {x({2, 3, 4})}});
  c.push_back({"reduce mean all axes", "ReduceMean", attrs(), {x({2, 3, 2})}});
  c.push_back({"reduce mean axes (0, -1) keepdims", "ReduceMean", attrs().set_ints("axes", {0, -1}), {x({2, 3, 4})}});
  Case dropout_eval{"dropout in eval mode", "Dropout", attrs().set_float("ratio", 0.3), {x({2, 5})}};
  dropout_eval.mode = Mode::eval;
  c.push_back(dropout_eval);
  // Slicing and padding
  c.push_back({"slice with steps and negative indices", "Slice",
               attrs().set_ints("starts", {1, -1}).set_ints("ends", {3, 0}).set_ints("axes", {1, 2}).set_ints("steps", {1, -2}),
               {x({2, 4, 5})}});
  c.push_back({"slice clamps ends", "Slice", attrs().set_ints("starts", {0}).set_ints("ends", {100}).set_ints("axes", {-1}),
               {x({2, 3})}});
  c.push_back({"pad constant with crop", "Pad", attrs().set_ints("pads", {0, 1, 2, 0, -1, 1}).set_float("value", 0.5),
               {x({2, 3, 4})}});
  c.push_back({"pad reflect", "Pad", attrs().set_ints("pads", {0, 0, 2, 1, 0, 0, 1, 2}).set_string("mode", "reflect"),
               {x({1, 2, 4, 3})}});
  c.push_back({"pad edge", "Pad", attrs().set_ints("pads", {0, 2, 0, 1}).set_string("mode", "edge"), {x({2, 3})}});
  Case split{"split 1+3 on axis 1", "Split", attrs().set_int("axis", 1).set_ints("split", {1, 3}), {x({2, 4, 2})}};
  split.outputs = 2;
  c.push_back(split);
  Case split_equal{"split into 3 equal parts", "Split", attrs().set_int("axis", -1), {x({2, 6})}};
  split_equal.outputs = 3;
  c.push_back(split_equal);
  // Softmax and losses
  c.push_back({"softmax axis 1", "Softmax", attrs().set_int("axis", 1), {x({2, 3, 4}, -2, 2)}});
  c.push_back({"log softmax last axis", "LogSoftmax", attrs(), {x({3, 5}, -2, 2)}});
  c.push_back({"cross entropy", "SoftmaxCrossEntropyLoss", attrs(), {x({4, 5}, -2, 2), labels({4}, 5)}});
  c.push_back({"cross entropy smoothing, weights, ignore_index", "SoftmaxCrossEntropyLoss",
               attrs().set_float("label_smoothing", 0.1).set_int("ignore_index", 2),
               {x({6, 4}, -2, 2), labels({6}, 4), constant({4}, 0.5, 2)}});
  c.push_back({"cross entropy sum reduction", "SoftmaxCrossEntropyLoss",
               attrs().set_string("reduction", "sum"), {x({3, 4}, -2, 2), labels({3}, 4)}});
  c.push_back({"cross entropy (N,C,d1,d2), weights, ignore_index", "SoftmaxCrossEntropyLoss",
               attrs().set_int("ignore_index", 1),
               {x({2, 4, 3, 2}, -2, 2), labels({2, 3, 2}, 4), constant({4}, 0.5, 2)}});
  c.push_back({"cross entropy reduction none (N,C,d)", "SoftmaxCrossEntropyLoss",
               attrs().set_string("reduction", "none").set_float("label_smoothing", 0.2),
               {x({3, 4, 5}, -2, 2), labels({3, 5}, 4)}});
  Case xent_logp{"cross entropy with the log_prob output", "SoftmaxCrossEntropyLoss", attrs(),
                 {x({3, 4}, -2, 2), labels({3}, 4)}};
  xent_logp.outputs = 2;
  c.push_back(xent_logp);
  Case xent_logp_nd{"cross entropy (N,C,d1,d2) none, weights, ignore_index, log_prob output",
                    "SoftmaxCrossEntropyLoss",
                    attrs().set_string("reduction", "none").set_int("ignore_index", 0),
                    {x({2, 3, 2, 3}, -2, 2), labels({2, 2, 3}, 3), constant({3}, 0.5, 2)}};
  xent_logp_nd.outputs = 2;
  c.push_back(xent_logp_nd);
  Case xent_smooth_nd{"cross entropy (N,C,d) sum, smoothing, weights, log_prob output",
                      "SoftmaxCrossEntropyLoss",
                      attrs().set_string("reduction", "sum").set_float("label_smoothing", 0.15),
                      {x({2, 4, 3}, -2, 2), labels({2, 3}, 4), constant({4}, 0.5, 2)}};
  xent_smooth_nd.outputs = 2;
  c.push_back(xent_smooth_nd);
  c.push_back({"cross entropy (N,C,d1,d2,d3) mean, smoothing", "SoftmaxCrossEntropyLoss",
               attrs().set_float("label_smoothing", 0.1),
               {x({2, 3, 2, 2, 2}, -2, 2), labels({2, 2, 2, 2}, 3)}});
  c.push_back({"mse", "MeanSquaredError", attrs(), {x({3, 4}), x({3, 4})}});
  c.push_back({"bce with logits", "BinaryCrossEntropyWithLogits", attrs(), {x({3, 4}, -3, 3), x({3, 4}, 0, 1)}});
  return c;
}

template <class T>
struct Built {
  Graph<T> graph;
  std::vector<Tensor<T>> feeds;  // one per graph input
  std::vector<std::string> names;  // "in0", ... per case input
};

template <class T>
Built<T> build(const Case& k, const std::vector<Tensor<double>>& values) {
  Built<T> b;
  std::vector<std::string> ins;
  for (std::size_t i = 0; i < k.inputs.size(); ++i) {
    const std::string name = "in" + std::to_string(i);
    b.names.push_back(name);
    ins.push_back(name);
    Tensor<T> v = values[i].cast<T>();
    switch (k.inputs[i].role) {
      case Role::input:
      case Role::constant:
        // Through an Identity node, so the op sees an activation, which the session frees
        // unless the op's `saves` declares it: a backward that reads an undeclared input
        // then finds an undefined tensor and fails.
        b.graph.add_input(name, v.shape(), false);
        b.graph.add_node("Identity", {name}, {name + ".act"}, {}, name + ".identity");
        ins.back() = name + ".act";
        b.feeds.push_back(v);
        break;
      case Role::param: b.graph.add_parameter(name, v, true); break;
      case Role::buffer: b.graph.add_buffer(name, v); break;
    }
  }
  std::vector<std::string> outs;
  for (std::size_t o = 0; o < k.outputs; ++o) outs.push_back("out" + std::to_string(o));
  b.graph.add_node(k.op, ins, outs, k.attrs, "node");
  for (const auto& o : outs) b.graph.add_output(o);
  return b;
}

SessionOptions options(const Case& k, const std::vector<std::string>& names) {
  SessionOptions o;
  o.mode = k.mode;
  o.seed = 7;
  for (std::size_t i = 0; i < k.inputs.size(); ++i)
    if (k.inputs[i].role == Role::input) o.grad_inputs.push_back(names[i]);
  return o;
}

template <class T>
double projected(Session<T>& s, const std::vector<Tensor<T>>& feeds, const std::vector<Tensor<T>>& r) {
  const auto y = s.forward(feeds);
  double sum = 0;
  for (std::size_t o = 0; o < y.size(); ++o)
    for (std::int64_t i = 0; i < y[o].numel(); ++i)
      sum += static_cast<double>(y[o][i]) * static_cast<double>(r[o][i]);
  return sum;
}

/// The tensor (a feed or the graph's parameter storage) holding case input i.
template <class T>
Tensor<T> storage(Built<T>& b, const Case& k, std::size_t i) {
  std::size_t feed = 0;
  for (std::size_t j = 0; j < i; ++j)
    if (k.inputs[j].role == Role::input || k.inputs[j].role == Role::constant) ++feed;
  const Role role = k.inputs[i].role;
  if (role == Role::input || role == Role::constant) return b.feeds[feed];
  return b.graph.parameter(b.names[i]).data;
}

template <class T>
std::vector<Tensor<T>> analytic(Built<T>& b, const Case& k, const std::vector<Tensor<double>>& r,
                                std::vector<Tensor<T>>* outputs) {
  Session<T> s(b.graph, options(k, b.names));
  auto y = s.forward(b.feeds);
  if (outputs) *outputs = y;
  std::vector<Tensor<T>> rt;
  for (const auto& t : r) rt.push_back(t.cast<T>());
  s.backward(rt);
  std::vector<Tensor<T>> g;
  for (std::size_t i = 0; i < k.inputs.size(); ++i) {
    const Role role = k.inputs[i].role;
    g.push_back(role == Role::input || role == Role::param ? s.grad(b.names[i]) : Tensor<T>());
  }
  return g;
}

double max_abs(const Tensor<double>& t) {
  double m = 0;
  for (double v : t) m = std::max(m, std::fabs(v));
  return m;
}

void check_case(const Case& k) {
  hone::Generator gen(1234);
  std::vector<Tensor<double>> values;
  for (const auto& in : k.inputs) {
    Tensor<double> v(in.shape);
    for (auto& e : v)
      e = in.classes > 0 ? static_cast<double>(gen.uniform_int(static_cast<std::uint64_t>(in.classes)))
                         : in.lo + (in.hi - in.lo) * gen.uniform_double();
    values.push_back(v);
  }
  // Output shapes from a plain forward, then a fixed projection.
  Built<double> b = build<double>(k, values);
  std::vector<Tensor<double>> y;
  {
    Session<double> probe(b.graph, options(k, b.names));
    y = probe.forward(b.feeds);
  }
  std::vector<Tensor<double>> r;
  for (const auto& t : y) {
    Tensor<double> w(t.shape());
    for (auto& e : w) e = 2 * gen.uniform_double() - 1;
    r.push_back(w);
  }
  b = build<double>(k, values);
  const auto grads = analytic<double>(b, k, r, nullptr);

  Session<double> s(b.graph, options(k, b.names));
  const double h = 1e-6;
  for (std::size_t i = 0; i < k.inputs.size(); ++i) {
    const Role role = k.inputs[i].role;
    if (role != Role::input && role != Role::param) continue;
    Tensor<double> t = storage(b, k, i);
    Tensor<double> numeric(t.shape());
    for (std::int64_t e = 0; e < t.numel(); ++e) {
      const double saved = t[e];
      t[e] = saved + h;
      const double up = projected(s, b.feeds, r);
      t[e] = saved - h;
      const double down = projected(s, b.feeds, r);
      t[e] = saved;
      numeric[e] = (up - down) / (2 * h);
    }
    double worst = 0;
    for (std::int64_t e = 0; e < t.numel(); ++e)
      worst = std::max(worst, std::fabs(grads[i][e] - numeric[e]));
    INFO("input " << i << " " << t.shape() << ": max |analytic - numeric| = " << worst
                  << ", max |numeric| = " << max_abs(numeric));
    CHECK(worst <= k.tol * (1 + max_abs(numeric)));
  }

  // float32 against float64, same values.
  std::vector<Tensor<double>> y64;
  Built<double> b64 = build<double>(k, values);
  const auto g64 = analytic(b64, k, r, &y64);
  std::vector<Tensor<float>> y32;
  Built<float> b32 = build<float>(k, values);
  const auto g32 = analytic(b32, k, r, &y32);
  for (std::size_t o = 0; o < y64.size(); ++o) {
    double worst = 0;
    for (std::int64_t e = 0; e < y64[o].numel(); ++e)
      worst = std::max(worst, std::fabs(static_cast<double>(y32[o][e]) - y64[o][e]));
    INFO("float32 output " << o << ": max difference " << worst);
    CHECK(worst <= k.float_tol * (1 + max_abs(y64[o])));
  }
  for (std::size_t i = 0; i < g64.size(); ++i) {
    if (!g64[i].defined()) continue;
    double worst = 0;
    for (std::int64_t e = 0; e < g64[i].numel(); ++e)
      worst = std::max(worst, std::fabs(static_cast<double>(g32[i][e]) - g64[i][e]));
    INFO("float32 gradient of input " << i << ": max difference " << worst);
    CHECK(worst <= k.float_tol * (1 + max_abs(g64[i])));
  }
}

}  // namespace

TEST_CASE("grad: every op case matches central differences in float64, float32 agrees", "[grad][ops]") {
  for (const auto& k : cases()) {
    SECTION(k.label) { check_case(k); }
  }
}

TEST_CASE("grad: every registered op has a gradient case", "[grad][ops]") {
  std::set<std::string> covered;
  for (const auto& k : cases()) covered.insert(k.op);
  for (const auto& def : hone::ops::op_table<double>()) {
    INFO("op " << def.type);
    CHECK(covered.count(def.type) == 1);
  }
}
