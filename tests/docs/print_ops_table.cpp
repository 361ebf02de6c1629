// Prints README.md's "Supported ONNX operators" section body (between its ops-table markers)
// from hone's own tables: the importer's translation table, the op registry and the opset
// range the importer accepts. The docs test diffs the README against this output;
// scripts/update-ops-table rewrites the README from it.
//
// Usage: hone_print_ops_table
#include <cstdio>   // output
#include <string>   // joining names

#include "ops_tables.hpp"

int main() {
  const auto rows = hone_docs::op_rows();
  const auto [lo, hi] = hone_docs::opset_range();
  std::size_t computed = 0;
  std::string folded;
  for (const auto& r : rows) {
    if (r.computed) ++computed;
    else folded += (folded.empty() ? "" : ", ") + r.onnx_op;
  }
  std::printf("hone imports models whose default-domain opset is %lld to %lld. Of the %zu ONNX ops below,\n"
              "%zu run as hone ops of the same name (forward, and backward where marked); the other %zu\n"
              "(%s) are evaluated at import time on\n"
              "constant inputs, for the shape arithmetic exporters emit.\n\n",
              static_cast<long long>(lo), static_cast<long long>(hi), rows.size(), computed,
              rows.size() - computed, folded.c_str());
  std::printf("| ONNX op | in hone | gradient |\n|---|---|---|\n");
  for (const auto& r : rows)
    std::printf("| %s | %s | %s |\n", r.onnx_op.c_str(), r.computed ? "op" : "folded at import",
                r.computed ? (r.backward ? "yes" : "no") : "-");
}
