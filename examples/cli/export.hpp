// examples/cli/export.hpp — `hone export`: an ONNX model re-exported through hone, optionally
// with BatchNorm folded into the convolutions or cut into a feature extractor.
#pragma once

#include <cstdio>  // the report
#include <string>  // names
#include <vector>  // lists

#include "hone/onnx/export.hpp"

#include "common.hpp"

namespace hone_cli {

inline constexpr const char* kExportUsage =
    "usage: hone export MODEL.onnx --out OUT.onnx [--fold-batch-norm] [--truncate-at VALUE] [--output NAME]...\n";

inline constexpr const char* kExportHelp =
    "\n"
    "Imports MODEL.onnx and writes it again through hone's exporter (opset 17, names kept, a\n"
    "symbolic batch where the input has one).\n"
    "\n"
    "  --fold-batch-norm  fold each BatchNormalization that follows a Conv into it\n"
    "  --truncate-at V    keep only what computes the value V and make it the only output (a\n"
    "                     feature extractor; `hone info` lists the values' layers)\n"
    "  --output NAME      export these values as the outputs (repeatable) instead of the\n"
    "                     model's; not with --truncate-at\n";

inline int export_main(const Args& args) {
  if (args.help) {
    std::fputs(kExportUsage, stdout);
    std::fputs(kExportHelp, stdout);
    return 0;
  }
  const std::string model_path = args.model();
  const auto out = args.value("--out");
  if (!out) throw UsageError{"missing --out OUT.onnx"};
  const auto truncate = args.value("--truncate-at");
  const std::vector<std::string> outputs = args.values("--output");
  if (truncate && !outputs.empty())
    throw UsageError{"--truncate-at and --output cannot be combined (--truncate-at V already makes V the output)"};

  hone::Graph<float> graph = hone::onnx::load<float>(model_path);
  const std::size_t nodes_before = graph.nodes().size();
  if (truncate) hone::train::truncate_at(graph, *truncate);
  hone::onnx::ExportOptions o;
  o.outputs = outputs;
  o.fold_batch_norm = args.flag("--fold-batch-norm");
  // Folding takes BatchNorm layers whose parameters are frozen; an export trains nothing.
  if (o.fold_batch_norm) hone::train::freeze(graph);
  hone::onnx::save(graph, *out, o);

  const hone::onnx::ModelProto written = hone::onnx::read_model_file(*out);
  std::size_t batch_norms = 0;
  for (const auto& n : written.graph.node) batch_norms += n.op_type == "BatchNormalization";
  const std::string folded =
      o.fold_batch_norm ? hone::detail::concat(", ", batch_norms, " BatchNormalization left unfolded") : "";
  std::printf("wrote %s: %zu nodes (%zu before)%s\n", out->c_str(), written.graph.node.size(), nodes_before,
              folded.c_str());
  for (const auto& v : written.graph.output) {
    std::string shape;
    for (const auto& d : v.type.tensor_type.shape.dim)
      shape += hone::detail::concat(shape.empty() ? "" : ", ",
                                    d.has_dim_value ? std::to_string(d.dim_value) : d.dim_param);
    std::printf("output: %s (%s)\n", v.name.c_str(), shape.c_str());
  }
  return 0;
}

inline const std::vector<OptionSpec>& export_options() {
  static const std::vector<OptionSpec> specs = {
      {"--out"}, {"--fold-batch-norm", Arity::flag}, {"--truncate-at"}, {"--output", Arity::repeated}};
  return specs;
}

}  // namespace hone_cli
