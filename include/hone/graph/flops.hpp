// hone/graph/flops.hpp — floating-point operations of a graph's forward pass, counted for
// the layers that dominate it: Conv (2 x output elements x input channels per group x kernel
// elements), Gemm and MatMul (2 x M x N x K), plus one operation per output element for
// every other node (activations, BatchNorm, pooling, additions). An estimate for reports
// ("this run cost so many FLOPs"), not a performance model. A training step costs about 3x
// the forward (forward, gradient of the input, gradient of the weights) where everything
// trains, less where a frozen prefix runs forward only.
#pragma once

#include <cstdint>  // counts
#include <vector>   // shapes

#include "hone/graph/graph.hpp"

namespace hone {

/// FLOPs of one forward pass of `graph` for one sample (batched inputs at batch 1).
template <class T>
double forward_flops(const Graph<T>& graph) {
  std::vector<Shape> shapes;
  for (const auto& in : graph.inputs()) {
    Shape s = in.shape;
    if (in.batched) {
      std::vector<std::int64_t> dims(s.begin(), s.end());
      dims[0] = 1;
      s = detail::to_shape(dims);
    }
    shapes.push_back(s);
  }
  const GraphAnalysis a = graph.analyze(&shapes);
  double flops = 0;
  for (std::size_t n : a.order) {
    const Node& node = graph.nodes()[n];
    const auto& ins = a.node_inputs[n];
    const Shape& out = a.shapes[a.node_outputs[n][0]];
    const double out_elems = static_cast<double>(out.numel());
    if (node.op == "Conv" && ins.size() >= 2) {
      const Shape& w = a.shapes[ins[1]];  // (M, C/group, k...)
      double per = 1;
      for (std::size_t d = 1; d < w.rank(); ++d) per *= static_cast<double>(w[d]);
      flops += 2 * out_elems * per;
    } else if ((node.op == "Gemm" || node.op == "MatMul") && ins.size() >= 2) {
      const Shape& x = a.shapes[ins[0]];
      const bool trans_a = node.op == "Gemm" && node.attrs.get_int("transA", 0) != 0;
      const double k = static_cast<double>(trans_a ? x[0] : x[x.rank() - 1]);
      flops += 2 * out_elems * k;
    } else {
      flops += out_elems;
    }
  }
  return flops;
}

}  // namespace hone
