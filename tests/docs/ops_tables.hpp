// tests/docs/ops_tables.hpp — what the generated documentation tables read from hone itself:
// the importer's translation table (hone::onnx::detail::table), the op registry
// (hone::ops::op_table) and the opset range the importer accepts, found by asking it.
#pragma once

#include <cstdint>  // opset numbers
#include <string>   // op names
#include <utility>  // std::pair
#include <vector>   // rows

#include "hone/hone.hpp"
#include "hone/onnx/import.hpp"

namespace hone_docs {

namespace ox = hone::onnx;

/// One ONNX op the importer translates.
struct OpRow {
  std::string onnx_op;
  bool computed = false;  ///< a hone op of the same name runs it (else folded at import)
  bool backward = false;  ///< that op has a backward (gradient)
};

/// Every ONNX op of the importer's table, sorted by name.
inline std::vector<OpRow> op_rows() {
  std::vector<OpRow> rows;
  for (const auto& [name, translate] : ox::detail::table<float>()) {
    (void)translate;
    OpRow r;
    r.onnx_op = name;
    if (const auto* def = hone::ops::find_op<float>(name)) {
      r.computed = true;
      r.backward = def->backward != nullptr;
    }
    rows.push_back(r);
  }
  return rows;
}

/// Whether the importer accepts a one-node (Identity) model declaring `opset` for the
/// default domain.
inline bool accepts_opset(std::int64_t opset) {
  ox::ModelProto m;
  m.ir_version = 7;
  ox::OperatorSetIdProto o;
  o.domain = "";
  o.version = opset;
  m.opset_import.push_back(o);
  ox::ValueInfoProto x;
  x.name = "x";
  x.type.has_tensor_type = true;
  x.type.tensor_type.elem_type = ox::TensorProto::FLOAT;
  x.type.tensor_type.has_shape = true;
  ox::TensorShapeProto::Dimension d;
  d.has_dim_value = true;
  d.dim_value = 2;
  x.type.tensor_type.shape.dim.push_back(d);
  ox::ValueInfoProto y = x;
  y.name = "y";
  ox::NodeProto n;
  n.op_type = "Identity";
  n.input = {"x"};
  n.output = {"y"};
  m.graph.name = "probe";
  m.graph.node.push_back(n);
  m.graph.input.push_back(x);
  m.graph.output.push_back(y);
  try {
    (void)ox::import_model<float>(m);
    return true;
  } catch (const hone::UnsupportedError&) {
    return false;
  }
}

/// The lowest and highest default-domain opsets the importer accepts (probed from 1 to 64;
/// {0, 0} when none).
inline std::pair<std::int64_t, std::int64_t> opset_range() {
  std::int64_t lo = 0, hi = 0;
  for (std::int64_t v = 1; v <= 64; ++v)
    if (accepts_opset(v)) {
      if (lo == 0) lo = v;
      hi = v;
    }
  return {lo, hi};
}

}  // namespace hone_docs
