// tests/onnx/conformance.hpp — runs ONNX's node tests (Debian's libonnx-testdata) through hone:
// the runner of conformance.cpp, shared with the docs generator (tests/docs/print_onnx_support.cpp)
// so the support matrix reports exactly what the conformance test runs.
//
// A test is "in the set" when every node of its model is an op of kOpSet (default domain). Each
// in-set test is imported and run on every test_data_set_* of its folder, and hone's outputs are
// compared with ONNX's expected outputs (rtol 1e-3, atol 1e-7: the tolerances of ONNX's backend
// test runner).
//
// Inputs that the model feeds into operands hone needs as constants (a Reshape shape, Pad
// pads, Clip bounds, ...) are bound to the test's values as constants before import:
// exporters store those as initializers, ONNX's tests pass them as inputs. Integer data
// inputs (SoftmaxCrossEntropyLoss labels) are fed as float class indices, hone's convention.
#pragma once

#include <algorithm>   // sorting the test folders
#include <cmath>       // comparisons with tolerance, NaN
#include <exception>   // failures reported as outcomes
#include <filesystem>  // the test folders
#include <set>         // op sets
#include <string>      // names, reasons
#include <vector>      // lists

#include "hone/hone.hpp"
#include "hone/onnx/import.hpp"

namespace hone_conformance {

namespace fs = std::filesystem;
namespace ox = hone::onnx;

// The op set of the graph issue, plus Constant.
inline const std::set<std::string> kOpSet = {
    "Conv", "Gemm", "MatMul", "BatchNormalization", "Relu", "LeakyRelu", "PRelu", "Clip",
    "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Elu", "Selu", "Softplus", "Gelu",
    "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Add", "Sub", "Mul", "Div",
    "Pow", "Sqrt", "Exp", "Log", "Neg", "Abs", "Concat", "Split", "Slice", "Flatten", "Reshape",
    "Transpose", "Squeeze", "Unsqueeze", "Pad", "ReduceMean", "ReduceSum", "Softmax",
    "LogSoftmax", "Dropout", "Identity", "SoftmaxCrossEntropyLoss", "Constant"};

inline const char* type_name(int t) {
  switch (t) {
    case 1: return "float32"; case 2: return "uint8"; case 3: return "int8";
    case 4: return "uint16"; case 5: return "int16"; case 6: return "int32";
    case 7: return "int64"; case 8: return "string"; case 9: return "bool";
    case 10: return "float16"; case 11: return "float64"; case 12: return "uint32";
    case 13: return "uint64"; case 16: return "bfloat16"; default: return "non-tensor";
  }
}

struct Outcome {
  enum Kind { pass, fail, skip } kind;
  std::string reason;
};

inline std::vector<fs::path> data_files(const fs::path& set_dir, const char* prefix) {
  std::vector<fs::path> files;
  for (int i = 0;; ++i) {
    const fs::path p = set_dir / (std::string(prefix) + std::to_string(i) + ".pb");
    if (!fs::exists(p)) break;
    files.push_back(p);
  }
  return files;
}

inline Outcome run_test(const fs::path& dir, const ox::ModelProto& model) {
  const auto& g = model.graph;
  // Which inputs must be constants for hone, and which are integer data.
  const auto const_slots = ox::constant_operand_inputs(model);
  std::set<std::string> initializers;
  for (const auto& t : g.initializer) initializers.insert(t.name);
  std::vector<const ox::ValueInfoProto*> inputs;
  for (const auto& in : g.input)
    if (!initializers.count(in.name)) inputs.push_back(&in);
  for (const auto* v : inputs) {
    if (!v->type.has_tensor_type) return {Outcome::skip, "sequence and optional (non-tensor) types are not supported"};
    const int t = v->type.tensor_type.elem_type;
    if (t == 9)  // training_mode of Dropout, whose expected values also follow numpy's RNG
      return {Outcome::skip, "bool tensors are not supported"};
    if (t != 1 && t != 11 && !const_slots.count(v->name) && t != 7)
      return {Outcome::skip, std::string(type_name(t)) + " tensors are not supported"};
  }
  for (const auto& o : g.output) {
    if (!o.type.has_tensor_type) return {Outcome::skip, "sequence and optional (non-tensor) types are not supported"};
    const int t = o.type.tensor_type.elem_type;
    if (t != 1 && t != 11) return {Outcome::skip, std::string(type_name(t)) + " tensors are not supported"};
  }

  bool training = false;
  for (const auto& n : g.node)
    for (const auto& a : n.attribute)
      if (n.op_type == "BatchNormalization" && a.name == "training_mode" && a.i != 0) training = true;

  int sets = 0;
  for (const auto& set_dir : fs::directory_iterator(dir)) {
    if (!set_dir.is_directory() || set_dir.path().filename().string().rfind("test_data_set_", 0) != 0)
      continue;
    ++sets;
    const auto in_files = data_files(set_dir.path(), "input_");
    const auto out_files = data_files(set_dir.path(), "output_");
    if (in_files.size() != inputs.size())
      return {Outcome::fail, "the test has " + std::to_string(in_files.size()) + " inputs, the model " +
                                 std::to_string(inputs.size())};
    ox::ImportOptions options;
    options.batch = ox::BatchDim::none;
    std::vector<hone::Tensor<float>> feeds;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      ox::TensorProto t = ox::read_tensor_file(in_files[i].string());
      if (const_slots.count(inputs[i]->name) || ox::is_integer_type(inputs[i]->type.tensor_type.elem_type)) {
        options.constant_inputs[inputs[i]->name] = t;
      } else {
        feeds.push_back(ox::to_tensor<float>(t));
      }
    }
    hone::Graph<float> graph = ox::import_model<float>(model, options);
    hone::Session<float> session(graph, {.mode = training ? hone::Mode::train : hone::Mode::inference});
    const auto outs = session.forward(feeds);
    if (outs.size() != out_files.size())
      return {Outcome::fail, "hone gives " + std::to_string(outs.size()) + " outputs, the test expects " +
                                 std::to_string(out_files.size())};
    for (std::size_t k = 0; k < outs.size(); ++k) {
      const hone::Tensor<float> want = ox::to_tensor<float>(ox::read_tensor_file(out_files[k].string()));
      if (!(want.shape() == outs[k].shape()))
        return {Outcome::fail, "output " + std::to_string(k) + " has shape " + outs[k].shape().to_string() +
                                   ", expected " + want.shape().to_string()};
      for (std::int64_t i = 0; i < want.numel(); ++i) {
        const double a = outs[k][i], b = want[i];
        const bool both_nan = std::isnan(a) && std::isnan(b);
        if (!both_nan && !(std::fabs(a - b) <= 1e-7 + 1e-3 * std::fabs(b)) && !(a == b))
          return {Outcome::fail, "output " + std::to_string(k) + " element " + std::to_string(i) + ": hone " +
                                     std::to_string(a) + ", expected " + std::to_string(b)};
      }
    }
  }
  if (sets == 0) return {Outcome::fail, "no test_data_set_* directory"};
  return {Outcome::pass, {}};
}

/// One node test folder: its name, the ops of its model, whether they are all in kOpSet and,
/// when they are, the outcome.
struct TestResult {
  std::string name;
  std::set<std::string> ops;
  bool in_set = false;
  Outcome outcome{Outcome::skip, {}};
};

/// Runs every test folder under `root` (sorted by name); a model that cannot be read is a
/// failure of an in-set test.
inline std::vector<TestResult> run_all(const fs::path& root) {
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(root))
    if (e.is_directory()) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  std::vector<TestResult> results;
  for (const auto& dir : dirs) {
    TestResult r;
    r.name = dir.filename().string();
    ox::ModelProto model;
    try {
      model = ox::read_model_file((dir / "model.onnx").string());
    } catch (const std::exception& e) {
      r.in_set = true;
      r.outcome = {Outcome::fail, std::string("cannot read model.onnx: ") + e.what()};
      results.push_back(std::move(r));
      continue;
    }
    r.in_set = true;
    for (const auto& n : model.graph.node) {
      r.ops.insert(n.op_type);
      r.in_set = r.in_set && (n.domain.empty() || n.domain == "ai.onnx") && kOpSet.count(n.op_type);
    }
    if (r.in_set) {
      try {
        r.outcome = run_test(dir, model);
      } catch (const std::exception& e) {
        r.outcome = {Outcome::fail, e.what()};
      }
    }
    results.push_back(std::move(r));
  }
  return results;
}

/// Whether a skip is for a data type hone does not compute in (the only acceptable skips).
inline bool is_type_skip(const Outcome& o) {
  return o.reason.find("tensors are not supported") != std::string::npos ||
         o.reason.find("types are not supported") != std::string::npos;
}

}  // namespace hone_conformance
