// examples/cli/inspect.hpp — `hone info` (what a model holds and whether hone supports it)
// and `hone run` (inference on TensorProto files).
#pragma once

#include <cstdio>      // the report
#include <filesystem>  // the output folder
#include <map>         // op counts
#include <set>         // names
#include <string>      // names
#include <vector>      // lists

#include "hone/hone.hpp"
#include "hone/onnx/import.hpp"

#include "common.hpp"

namespace hone_cli {

namespace ox = hone::onnx;

inline constexpr const char* kInfoUsage = "usage: hone info MODEL.onnx\n";
inline constexpr const char* kRunUsage = "usage: hone run MODEL.onnx -i INPUT.pb [-i INPUT.pb ...] -o OUTDIR\n";

inline std::string dims_text(const ox::ValueInfoProto& v) {
  if (!v.type.has_tensor_type) return "(not a tensor)";
  std::string s = "(";
  const auto& dims = v.type.tensor_type.shape.dim;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ", ";
    s += dims[i].has_dim_value ? std::to_string(dims[i].dim_value)
                               : (dims[i].dim_param.empty() ? "?" : dims[i].dim_param);
  }
  return s + ")";
}

inline int info(const std::string& path) {
  const ox::ModelProto m = ox::read_model_file(path);
  const auto& g = m.graph;
  std::printf("model: %s\n", path.c_str());
  std::printf("producer: %s %s, ir_version %lld, opsets:", m.producer_name.c_str(),
              m.producer_version.c_str(), static_cast<long long>(m.ir_version));
  for (const auto& o : m.opset_import)
    std::printf(" %s=%lld", o.domain.empty() ? "ai.onnx" : o.domain.c_str(), static_cast<long long>(o.version));
  std::printf("\n");
  std::set<std::string> inits;
  for (const auto& t : g.initializer) inits.insert(t.name);
  std::printf("inputs:\n");
  for (const auto& in : g.input)
    if (!inits.count(in.name)) std::printf("  %s %s\n", in.name.c_str(), dims_text(in).c_str());
  std::printf("outputs:\n");
  for (const auto& out : g.output) std::printf("  %s %s\n", out.name.c_str(), dims_text(out).c_str());

  std::map<std::string, int> ops;
  for (const auto& n : g.node) ++ops[(n.domain.empty() || n.domain == "ai.onnx" ? "" : n.domain + "::") + n.op_type];
  std::printf("ops (%zu nodes):", g.node.size());
  for (const auto& [op, count] : ops) std::printf(" %s x%d", op.c_str(), count);
  std::printf("\n");

  long long elements = 0;
  for (const auto& t : g.initializer) {
    long long n = 1;
    for (auto d : t.dims) n *= d;
    elements += n;
  }
  std::printf("parameters: %zu initializers, %lld values\n", g.initializer.size(), elements);

  // Layers: initializer names without their last component; blocks: their first component.
  std::vector<std::string> layers;
  std::set<std::string> seen, blocks;
  for (const auto& t : g.initializer) {
    const auto dot = t.name.find_last_of('.');
    if (dot == std::string::npos || t.name.rfind("onnx::", 0) == 0) continue;
    const std::string layer = t.name.substr(0, dot);
    if (seen.insert(layer).second) layers.push_back(layer);
    blocks.insert(layer.substr(0, layer.find('.')));
  }
  std::printf("layers (%zu):", layers.size());
  for (const auto& l : layers) std::printf(" %s", l.c_str());
  std::printf("\nblocks (%zu):", blocks.size());
  for (const auto& b : blocks) std::printf(" %s", b.c_str());
  std::printf("\n");

  const auto bad = ox::unsupported_nodes(m);
  if (bad.empty()) {
    std::printf("supported: yes, every op is supported\n");
  } else {
    std::printf("supported: no, %zu node(s) use unsupported ops:\n", bad.size());
    for (const auto& b : bad) std::printf("  %s\n", b.c_str());
  }
  return 0;
}

inline int run(const std::string& path, const std::vector<std::string>& input_files, const std::string& out_dir) {
  hone::Graph<float> graph = ox::load<float>(path);
  const auto& graph_inputs = graph.inputs();
  std::vector<hone::Tensor<float>> feeds(graph_inputs.size());
  std::vector<bool> fed(graph_inputs.size(), false);
  std::vector<ox::TensorProto> protos;
  for (const auto& f : input_files) protos.push_back(ox::read_tensor_file(f));
  if (protos.size() != graph_inputs.size())
    throw hone::InvalidArgument(hone::detail::concat("the model has ", graph_inputs.size(), " input(s), ",
                                                     protos.size(), " file(s) given with -i"));
  std::vector<std::size_t> by_position;
  for (std::size_t k = 0; k < protos.size(); ++k) {
    std::size_t slot = graph_inputs.size();
    for (std::size_t i = 0; i < graph_inputs.size(); ++i)
      if (!protos[k].name.empty() && graph_inputs[i].name == protos[k].name) slot = i;
    if (slot == graph_inputs.size()) {
      by_position.push_back(k);
      continue;
    }
    if (fed[slot])
      throw hone::InvalidArgument("two input files are named \"" + protos[k].name + "\"");
    feeds[slot] = ox::to_tensor<float>(protos[k]);
    fed[slot] = true;
  }
  std::size_t next = 0;
  for (std::size_t k : by_position) {
    while (next < fed.size() && fed[next]) ++next;
    feeds[next] = ox::to_tensor<float>(protos[k]);
    fed[next] = true;
  }
  hone::Session<float> session(graph, {.mode = hone::Mode::inference});
  const auto outs = session.forward(feeds);
  std::filesystem::create_directories(out_dir);
  for (std::size_t k = 0; k < outs.size(); ++k) {
    const std::string file = out_dir + "/output_" + std::to_string(k) + ".pb";
    ox::write_tensor_file(ox::from_tensor(outs[k], graph.outputs()[k]), file);
    std::printf("%s: %s %s\n", file.c_str(), graph.outputs()[k].c_str(), outs[k].shape().to_string().c_str());
  }
  return 0;
}

inline int info_main(const Args& args) {
  if (args.help) {
    std::fputs(kInfoUsage, stdout);
    return 0;
  }
  if (args.positional.size() != 1) throw UsageError{"info takes exactly one MODEL.onnx"};
  return info(args.positional[0]);
}

inline int run_main(const Args& args) {
  if (args.help) {
    std::fputs(kRunUsage, stdout);
    return 0;
  }
  if (args.positional.empty()) throw UsageError{"run needs MODEL.onnx"};
  if (args.positional.size() > 1) throw UsageError{"unexpected argument " + args.positional[1]};
  const auto out = args.value("-o");
  if (!out) throw UsageError{"run needs -o OUTDIR"};
  return run(args.positional[0], args.values("-i"), *out);
}

inline const std::vector<OptionSpec>& info_options() {
  static const std::vector<OptionSpec> specs = {};
  return specs;
}

inline const std::vector<OptionSpec>& run_options() {
  static const std::vector<OptionSpec> specs = {{"-i", Arity::repeated}, {"-o"}};
  return specs;
}

}  // namespace hone_cli
