// The property the ONNX fuzzer checks on one input, shared by the libFuzzer target
// (fuzz_onnx.cpp) and the regression replay in hone_onnx_tests (tests/onnx/test_proto.cpp):
//
//   - parsing the bytes as a ModelProto and as a TensorProto either succeeds or throws
//     hone::ParseError, nothing else;
//   - every tensor of a parsed model (initializers, attribute tensors, in subgraphs too)
//     decodes or throws a hone::Error (ParseError, UnsupportedError, InvalidArgument,
//     IOError, ShapeError), nothing else; external data is looked up in an empty folder;
//   - importing a parsed model gives a Graph or throws a hone::Error, nothing else;
//   - serializing a parsed message and parsing it again gives the same bytes when
//     serialized once more (serialization is a fixed point after one parse).
//
// check_input returns "" when the property holds and a description otherwise; anything
// thrown that is not listed above escapes (libFuzzer reports it as a crash).
#pragma once

#include <cstdint>     // byte spans
#include <filesystem>  // the empty folder for external data
#include <span>        // input bytes
#include <string>      // results

#include "hone/onnx/import.hpp"
#include "hone/onnx/proto.hpp"

namespace hone_fuzz {

/// A folder that stays empty: external data resolves against it and finds nothing.
inline const std::string& empty_dir() {
  static const std::string dir = [] {
    const auto p = std::filesystem::temp_directory_path() / "hone_fuzz_empty_dir";
    std::filesystem::create_directories(p);
    return p.string();
  }();
  return dir;
}

inline void decode(const hone::onnx::TensorProto& t) {
  namespace ox = hone::onnx;
  try {
    (void)ox::tensor_to_double(t, empty_dir());
  } catch (const hone::Error&) {
  }
  try {
    (void)ox::to_tensor<float>(t, empty_dir());
  } catch (const hone::Error&) {
  }
  try {
    (void)ox::tensor_to_int64(t, empty_dir());
  } catch (const hone::Error&) {
  }
}

inline void decode_graph(const hone::onnx::GraphProto& g) {
  for (const auto& t : g.initializer) decode(t);
  for (const auto& n : g.node)
    for (const auto& a : n.attribute) {
      decode(a.t);
      for (const auto& t : a.tensors) decode(t);
      decode_graph(a.g);
      for (const auto& sub : a.graphs) decode_graph(sub);
    }
}

inline std::string check_input(std::span<const std::uint8_t> bytes) {
  namespace ox = hone::onnx;
  std::string problem;
  bool model_parsed = false;
  ox::ModelProto model;
  try {
    model = ox::parse_model(bytes);
    model_parsed = true;
  } catch (const hone::ParseError&) {
  }
  if (model_parsed) {
    decode_graph(model.graph);
    const auto once = ox::serialize(model);
    const auto twice = ox::serialize(ox::parse_model(once));
    if (once != twice) problem += "the model's serialization is not a fixed point; ";
  }
  bool tensor_parsed = false;
  ox::TensorProto tensor;
  try {
    tensor = ox::parse_tensor(bytes);
    tensor_parsed = true;
  } catch (const hone::ParseError&) {
  }
  if (tensor_parsed) {
    decode(tensor);
    const auto once = ox::serialize(tensor);
    const auto twice = ox::serialize(ox::parse_tensor(once));
    if (once != twice) problem += "the tensor's serialization is not a fixed point; ";
  }
  // The importer on every model that parses: a graph or any hone::Error, nothing else.
  if (model_parsed) {
    try {
      ox::ImportOptions options;
      options.base_dir = empty_dir();
      (void)ox::import_model<float>(model, options);
    } catch (const hone::Error&) {
    }
  }
  return problem;
}

}  // namespace hone_fuzz
