// hone/ops/registry.hpp — the table of every op hone implements, looked up by ONNX op type.
#pragma once

#include <algorithm>    // std::sort
#include <string>       // op type names
#include <string_view>  // lookups
#include <vector>       // the table

#include "hone/ops/conv.hpp"
#include "hone/ops/elementwise.hpp"
#include "hone/ops/linear.hpp"
#include "hone/ops/loss.hpp"
#include "hone/ops/norm.hpp"
#include "hone/ops/op.hpp"
#include "hone/ops/pool.hpp"
#include "hone/ops/reduce.hpp"
#include "hone/ops/shape_ops.hpp"
#include "hone/ops/slice.hpp"

namespace hone::ops {

/// Every op for element type T, built once.
template <class T>
const std::vector<OpDef<T>>& op_table() {
  static const std::vector<OpDef<T>> table = [] {
    std::vector<OpDef<T>> t;
    register_conv(t);
    register_linear(t);
    register_norm(t);
    register_elementwise(t);
    register_pool(t);
    register_shape_ops(t);
    register_loss(t);
    register_reduce(t);
    register_slice(t);
    return t;
  }();
  return table;
}

/// The op named `type`, or nullptr.
template <class T>
const OpDef<T>* find_op(std::string_view type) {
  for (const auto& def : op_table<T>())
    if (type == def.type) return &def;
  return nullptr;
}

/// "Abs, Add, ..." — the supported op types, for error messages.
template <class T>
std::string supported_ops() {
  std::vector<std::string> names;
  for (const auto& def : op_table<T>()) names.emplace_back(def.type);
  std::sort(names.begin(), names.end());
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace hone::ops
