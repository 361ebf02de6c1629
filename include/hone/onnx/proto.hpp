// hone/onnx/proto.hpp — ONNX files: parsing and serializing the messages of
// hone/onnx/messages.hpp over the protobuf wire format of hone/onnx/wire.hpp, reading
// and writing .onnx (ModelProto) and .pb (TensorProto) files.
//
//   hone::onnx::ModelProto m = hone::onnx::read_model_file("resnet18.onnx");
//   for (const auto& t : m.graph.initializer) { auto w = hone::onnx::to_tensor<float>(t, "."); }
//   hone::onnx::write_model_file(m, "copy.onnx");
//
// This is the header to include: it brings the message structs and the tensor decoding of
// hone/onnx/tensor_data.hpp along.
//
// Parsing follows protobuf's rules: fields may come in any order, a repeated scalar may be
// packed or not, a singular submessage that appears twice is merged, a singular scalar
// that appears twice keeps the last value. A known field with the wrong wire type is an
// error (protobuf would treat it as unknown; for ONNX files it only arises from corruption),
// and so is TensorProto.segment (chunked tensors, which no exporter writes). Every parse
// error is a ParseError (ids hone.onnx.parse, hone.onnx.truncated, hone.onnx.unsupported for
// segment) naming the field path and the byte offset. Serializing writes fields in field
// number order with onnx.proto's packing (the data fields of TensorProto packed, dims and
// attribute lists not), which is what protobuf itself writes.
#pragma once

#include <algorithm>   // std::find over dims
#include <bit>         // std::bit_cast to test a float for +0.0
#include <cstdint>     // fixed-width integers
#include <filesystem>  // file checks for clear I/O errors
#include <fstream>     // reading and writing files
#include <span>        // input bytes
#include <string>      // names, messages
#include <vector>      // bytes, repeated fields

#include "hone/core/error.hpp"
#include "hone/onnx/messages.hpp"
#include "hone/onnx/tensor_data.hpp"
#include "hone/onnx/wire.hpp"

namespace hone::onnx {

namespace detail {

using wire::Reader;
using wire::Tag;
using wire::Writer;

inline std::string bytes_to_string(std::span<const std::uint8_t> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

inline void parse_fields(Reader& r, StringStringEntryProto& m);
inline void parse_fields(Reader& r, OperatorSetIdProto& m);
inline void parse_fields(Reader& r, TensorProto& m);
inline void parse_fields(Reader& r, TensorShapeProto& m);
inline void parse_fields(Reader& r, TensorShapeProto::Dimension& m);
inline void parse_fields(Reader& r, TypeProto& m);
inline void parse_fields(Reader& r, TypeProto::Tensor& m);
inline void parse_fields(Reader& r, ValueInfoProto& m);
inline void parse_fields(Reader& r, GraphProto& m);
inline void parse_fields(Reader& r, AttributeProto& m);
inline void parse_fields(Reader& r, NodeProto& m);
inline void parse_fields(Reader& r, ModelProto& m);

/// A singular submessage, merged into `m` as protobuf does when it appears twice.
template <class Message>
void parse_message(Reader& r, Tag tag, const char* name, Message& m) {
  r.message_field(tag, name, Reader::no_index, [&] { parse_fields(r, m); });
}

/// One element of a repeated submessage field.
template <class Message>
void parse_element(Reader& r, Tag tag, const char* name, std::vector<Message>& v) {
  const std::size_t index = v.size();
  v.emplace_back();
  r.message_field(tag, name, index, [&] { parse_fields(r, v.back()); });
}

inline void parse_fields(Reader& r, StringStringEntryProto& m) {
  while (!r.at_end()) {
    const Tag tag = r.read_tag();
    switch (tag.field) {
      case 1: m.key = r.string_field(tag, "key"); break;
      case 2: m.value = r.string_field(tag, "value"); break;
      default: r.skip(tag);
    }
  }
}

inline void parse_fields(Reader& r, OperatorSetIdProto& m) {
  while (!r.at_end()) {
    const Tag tag = r.read_tag();
    switch (tag.field) {
      case 1: m.domain = r.string_field(tag, "domain"); break;
      case 2: m.version = r.int64_field(tag, "version"); break;
      default: r.skip(tag);
    }
  }
}

inline void parse_fields(Reader& r, TensorProto& m) {
  while (!r.at_end()) {
    const Tag tag = r.read_tag();
    switch (tag.field) {
      case 1: r.repeated_int64(tag, "dims", m.dims); break;
      case 2: m.data_type = r.int32_field(tag, "data_type"); break;
      case 3:
        r.fail("segment", "chunked tensors (TensorProto.segment) are not supported", "hone.onnx.unsupported");
      case 4: r.repeated_float(tag, "float_data", m.float_data); break;
      case 5: r.repeated_int32(tag, "int32_data", m.int32_data); break;
      case 6: m.string_data.push_back(r.string_field(tag, "string_data")); break;
      case 7: r.repeated_int64(tag, "int64_data", m.int64_data); break;
      case 8: m.name = r.string_field(tag, "name"); break;
      case 9: m.raw_data = r.string_field(tag, "raw_data"); break;
      case 10: r.repeated_double(tag, "double_data", m.double_data); break;
      case 11: r.repeated_uint64(tag, "uint64_data", m.uint64_data); break;
      case 12: m.doc_string = r.string_field(tag, "doc_string"); break;
      case 13: parse_element(r, tag, "external_data", m.external_data); break;
      case 14: m.data_location = static_cast<TensorProto::DataLocation>(r.int32_field(tag, "data_location")); break;
      default: r.skip(tag);
    }
  }
}

inline void parse_fields(Reader& r, TensorShapeProto::Dimension& m) {
  while (!r.at_end()) {
    const Tag tag = r.read_tag();
    switch (tag.field) {
      case 1:  // oneof value: the last one set wins
        m.dim_value = r.int64_field(tag, "dim_value");
        m.has_dim_value = true;
        m.dim_param.clear();
        break;
      case 2:
        m.dim_param = r.string_field(tag, "dim_param");
        m.has_dim_value = false;
        m.dim_value = 0;
        break;
      case 3: m.denotation = r.string_field(tag, "denotation"); break;
      default: r.skip(tag);
    }
  }
}

inline void parse_fields(Reader& r, TensorShapeProto& m) {
  while (!r.at_end()) {
    const Tag tag = r.read_tag();
    if (tag.field == 1) parse_element(r, tag, "dim", m.dim);
    else r.skip(tag);
  }
}

inline void parse_fields(Reader& r, TypeProto::Tensor& m) {
  while (!r.at_end()) {
    const Tag tag = r.read_tag();
    switch (tag.field) {
      case 1: m.elem_type = r.int32_field(tag, "elem_type"); break;
      case 2:
        parse_message(r, tag, "shape", m.shape);
        m.has_shape = true;
        break;
      default: r.skip(tag);
    }
  }
}

inline void parse_fields(Reader& r, TypeProto& m) {
  while (!r.at_end()) {
    const Tag tag = r.read_tag();
    switch (tag.field) {
      case 1:  // oneof value: tensor_type, or one of the alternatives kept encoded
        if (!m.has_tensor_type) m.tensor_type = {};
        parse_message(r, tag, "tensor_type", m.tensor_type);
        m.has_tensor_type = true;
        m.other_type_field = 0;
        m.other_type.clear();
        break;
      case 4:
      case 5:
      case 7:
      case 8:
      case 9: {
        const char* name = tag.field == 4 ? "sequence_type" : tag.field == 5 ? "map_type"
                           : tag.field == 7 ? "opaque_type" : tag.field == 8 ? "sparse_tensor_type"
                           : "optional_type";
        const std::string encoded = bytes_to_string(r.bytes_field(tag, name));
        if (m.other_type_field != tag.field) m.other_type.clear();
        m.other_type += encoded;  // concatenated encodings merge, as protobuf merges
        m.other_type_field = tag.field;
        m.has_tensor_type = false;
        m.tensor_type = {};
        break;
      }
      case 6: m.denotation = r.string_field(tag, "denotation"); break;
      default: r.skip(tag);
    }
  }
}

inline void parse_fields(Reader& r, ValueInfoProto& m) {
  while (!r.at_end()) {
    const Tag tag = r.read_tag();
    switch (tag.field) {
      case 1: m.name = r.string_field(tag, "name"); break;
      case 2: parse_message(r, tag, "type", m.type); break;
      case 3: m.doc_string = r.string_field(tag, "doc_string"); break;
      default: r.skip(tag);
    }
  }
}

inline void parse_fields(Reader& r, AttributeProto& m) {
  while (!r.at_end()) {
    const Tag tag = r.read_tag();
    switch (tag.field) {
      case 1: m.name = r.string_field(tag, "name"); break;
      case 2: m.f = r.float_field(tag, "f"); break;
      case 3: m.i = r.int64_field(tag, "i"); break;
      case 4: m.s = r.string_field(tag, "s"); break;
      case 5: parse_message(r, tag, "t", m.t); break;
      case 6: parse_message(r, tag, "g", m.g); break;
      case 7: r.repeated_float(tag, "floats", m.floats); break;
      case 8: r.repeated_int64(tag, "ints", m.ints); break;
      case 9: m.strings.push_back(r.string_field(tag, "strings")); break;
      case 10: parse_element(r, tag, "tensors", m.tensors); break;
      case 11: parse_element(r, tag, "graphs", m.graphs); break;
      case 13: m.doc_string = r.string_field(tag, "doc_string"); break;
      case 14: m.tp += bytes_to_string(r.bytes_field(tag, "tp")); break;
      case 15: m.type_protos.push_back(bytes_to_string(r.bytes_field(tag, "type_protos"))); break;
      case 20: m.type = static_cast<AttributeProto::AttributeType>(r.int32_field(tag, "type")); break;
      case 21: m.ref_attr_name = r.string_field(tag, "ref_attr_name"); break;
      case 22: m.sparse_tensor += bytes_to_string(r.bytes_field(tag, "sparse_tensor")); break;
      case 23: m.sparse_tensors.push_back(bytes_to_string(r.bytes_field(tag, "sparse_tensors"))); break;
      default: r.skip(tag);
    }
  }
}

inline void parse_fields(Reader& r, NodeProto& m) {
  while (!r.at_end()) {
    const Tag tag = r.read_tag();
    switch (tag.field) {
      case 1: m.input.push_back(r.string_field(tag, "input")); break;
      case 2: m.output.push_back(r.string_field(tag, "output")); break;
      case 3: m.name = r.string_field(tag, "name"); break;
      case 4: m.op_type = r.string_field(tag, "op_type"); break;
      case 5: parse_element(r, tag, "attribute", m.attribute); break;
      case 6: m.doc_string = r.string_field(tag, "doc_string"); break;
      case 7: m.domain = r.string_field(tag, "domain"); break;
      default: r.skip(tag);
    }
  }
}

inline void parse_fields(Reader& r, GraphProto& m) {
  while (!r.at_end()) {
    const Tag tag = r.read_tag();
    switch (tag.field) {
      case 1: parse_element(r, tag, "node", m.node); break;
      case 2: m.name = r.string_field(tag, "name"); break;
      case 5: parse_element(r, tag, "initializer", m.initializer); break;
      case 10: m.doc_string = r.string_field(tag, "doc_string"); break;
      case 11: parse_element(r, tag, "input", m.input); break;
      case 12: parse_element(r, tag, "output", m.output); break;
      case 13: parse_element(r, tag, "value_info", m.value_info); break;
      case 14:
        m.quantization_annotation.push_back(bytes_to_string(r.bytes_field(tag, "quantization_annotation")));
        break;
      case 15: m.sparse_initializer.push_back(bytes_to_string(r.bytes_field(tag, "sparse_initializer"))); break;
      default: r.skip(tag);
    }
  }
}

inline void parse_fields(Reader& r, ModelProto& m) {
  while (!r.at_end()) {
    const Tag tag = r.read_tag();
    switch (tag.field) {
      case 1: m.ir_version = r.int64_field(tag, "ir_version"); break;
      case 2: m.producer_name = r.string_field(tag, "producer_name"); break;
      case 3: m.producer_version = r.string_field(tag, "producer_version"); break;
      case 4: m.domain = r.string_field(tag, "domain"); break;
      case 5: m.model_version = r.int64_field(tag, "model_version"); break;
      case 6: m.doc_string = r.string_field(tag, "doc_string"); break;
      case 7: parse_message(r, tag, "graph", m.graph); break;
      case 8: parse_element(r, tag, "opset_import", m.opset_import); break;
      case 14: parse_element(r, tag, "metadata_props", m.metadata_props); break;
      case 20: m.training_info.push_back(bytes_to_string(r.bytes_field(tag, "training_info"))); break;
      case 25: m.functions.push_back(bytes_to_string(r.bytes_field(tag, "functions"))); break;
      default: r.skip(tag);
    }
  }
}

// --- serializing --------------------------------------------------------------------------

inline void write_fields(Writer& w, const StringStringEntryProto& m);
inline void write_fields(Writer& w, const OperatorSetIdProto& m);
inline void write_fields(Writer& w, const TensorProto& m);
inline void write_fields(Writer& w, const TensorShapeProto& m);
inline void write_fields(Writer& w, const TypeProto& m);
inline void write_fields(Writer& w, const ValueInfoProto& m);
inline void write_fields(Writer& w, const GraphProto& m);
inline void write_fields(Writer& w, const AttributeProto& m);
inline void write_fields(Writer& w, const NodeProto& m);
inline void write_fields(Writer& w, const ModelProto& m);

template <class Message>
void write_message(Writer& w, std::uint32_t field, const Message& m) {
  w.message_field(field, [&] { write_fields(w, m); });
}
template <class Message>
void write_elements(Writer& w, std::uint32_t field, const std::vector<Message>& v) {
  for (const auto& m : v) write_message(w, field, m);
}
inline void write_string(Writer& w, std::uint32_t field, const std::string& s) {
  if (!s.empty()) w.bytes_field(field, s);
}
inline void write_strings(Writer& w, std::uint32_t field, const std::vector<std::string>& v) {
  for (const auto& s : v) w.bytes_field(field, s);
}

inline void write_fields(Writer& w, const StringStringEntryProto& m) {
  w.bytes_field(1, m.key);  // both always, as onnx.helper writes them (an empty value is a value)
  w.bytes_field(2, m.value);
}

inline void write_fields(Writer& w, const OperatorSetIdProto& m) {
  w.bytes_field(1, m.domain);  // always: "" names the default domain, as onnx.helper writes it
  w.int64_field(2, m.version);
}

inline void write_fields(Writer& w, const TensorProto& m) {
  for (const auto d : m.dims) w.int64_field(1, d);
  if (m.data_type != 0) w.int32_field(2, m.data_type);
  w.packed_float(4, m.float_data);
  w.packed_int32(5, m.int32_data);
  write_strings(w, 6, m.string_data);
  w.packed_int64(7, m.int64_data);
  write_string(w, 8, m.name);
  // A tensor without elements gets an empty raw_data, as numpy_helper.from_array writes it
  // (not for STRING, which must not use raw_data, nor for external or typed data).
  const bool no_elements = std::find(m.dims.begin(), m.dims.end(), 0) != m.dims.end();
  const bool typed = !m.float_data.empty() || !m.int32_data.empty() || !m.string_data.empty() ||
                     !m.int64_data.empty() || !m.double_data.empty() || !m.uint64_data.empty();
  if (!m.raw_data.empty() || (no_elements && !typed && m.data_location == TensorProto::DEFAULT &&
                              m.data_type != TensorProto::STRING && m.data_type != TensorProto::UNDEFINED))
    w.bytes_field(9, m.raw_data);
  w.packed_double(10, m.double_data);
  w.packed_uint64(11, m.uint64_data);
  write_string(w, 12, m.doc_string);
  write_elements(w, 13, m.external_data);
  if (m.data_location != TensorProto::DEFAULT) w.int32_field(14, m.data_location);
}

inline void write_fields(Writer& w, const TensorShapeProto& m) {
  for (const auto& d : m.dim)
    w.message_field(1, [&] {
      if (d.has_dim_value) w.int64_field(1, d.dim_value);
      else write_string(w, 2, d.dim_param);
      write_string(w, 3, d.denotation);
    });
}

inline void write_fields(Writer& w, const TypeProto& m) {
  if (m.has_tensor_type)
    w.message_field(1, [&] {
      if (m.tensor_type.elem_type != 0) w.int32_field(1, m.tensor_type.elem_type);
      if (m.tensor_type.has_shape) write_message(w, 2, m.tensor_type.shape);
    });
  const bool other_first = m.other_type_field != 0 && m.other_type_field < 6;
  if (other_first) w.bytes_field(m.other_type_field, m.other_type);
  write_string(w, 6, m.denotation);
  if (m.other_type_field != 0 && !other_first) w.bytes_field(m.other_type_field, m.other_type);
}

inline void write_fields(Writer& w, const ValueInfoProto& m) {
  write_string(w, 1, m.name);
  if (m.type.has_tensor_type || m.type.other_type_field != 0 || !m.type.denotation.empty())
    write_message(w, 2, m.type);
  write_string(w, 3, m.doc_string);
}

inline void write_fields(Writer& w, const AttributeProto& m) {
  using A = AttributeProto;
  write_string(w, 1, m.name);
  // The field that `type` selects is written even when it holds its default value.
  if (m.type == A::FLOAT || std::bit_cast<std::uint32_t>(m.f) != 0) w.float_field(2, m.f);
  if (m.type == A::INT || m.i != 0) w.int64_field(3, m.i);
  if (m.type == A::STRING || !m.s.empty()) w.bytes_field(4, m.s);
  if (m.type == A::TENSOR || !(m.t == TensorProto{})) write_message(w, 5, m.t);
  if (m.type == A::GRAPH || !(m.g == GraphProto{})) write_message(w, 6, m.g);
  for (const float f : m.floats) w.float_field(7, f);
  for (const auto i : m.ints) w.int64_field(8, i);
  write_strings(w, 9, m.strings);
  write_elements(w, 10, m.tensors);
  write_elements(w, 11, m.graphs);
  write_string(w, 13, m.doc_string);
  if (m.type == A::TYPE_PROTO || !m.tp.empty()) w.bytes_field(14, m.tp);
  write_strings(w, 15, m.type_protos);
  if (m.type != A::UNDEFINED) w.int32_field(20, m.type);
  write_string(w, 21, m.ref_attr_name);
  if (m.type == A::SPARSE_TENSOR || !m.sparse_tensor.empty()) w.bytes_field(22, m.sparse_tensor);
  write_strings(w, 23, m.sparse_tensors);
}

inline void write_fields(Writer& w, const NodeProto& m) {
  write_strings(w, 1, m.input);
  write_strings(w, 2, m.output);
  write_string(w, 3, m.name);
  write_string(w, 4, m.op_type);
  write_elements(w, 5, m.attribute);
  write_string(w, 6, m.doc_string);
  write_string(w, 7, m.domain);
}

inline void write_fields(Writer& w, const GraphProto& m) {
  write_elements(w, 1, m.node);
  write_string(w, 2, m.name);
  write_elements(w, 5, m.initializer);
  write_string(w, 10, m.doc_string);
  write_elements(w, 11, m.input);
  write_elements(w, 12, m.output);
  write_elements(w, 13, m.value_info);
  write_strings(w, 14, m.quantization_annotation);
  write_strings(w, 15, m.sparse_initializer);
}

inline void write_fields(Writer& w, const ModelProto& m) {
  if (m.ir_version != 0) w.int64_field(1, m.ir_version);
  write_string(w, 2, m.producer_name);
  write_string(w, 3, m.producer_version);
  write_string(w, 4, m.domain);
  if (m.model_version != 0) w.int64_field(5, m.model_version);
  write_string(w, 6, m.doc_string);
  if (!(m.graph == GraphProto{})) write_message(w, 7, m.graph);
  write_elements(w, 8, m.opset_import);
  write_elements(w, 14, m.metadata_props);
  write_strings(w, 20, m.training_info);
  write_strings(w, 25, m.functions);
}

template <class Message>
Message parse_top(std::span<const std::uint8_t> bytes, const char* root, const std::string& source) {
  Reader r(bytes, root, source);
  Message m;
  parse_fields(r, m);
  return m;
}

/// The whole file; IOError naming it (and saying why) when it cannot be read.
inline std::vector<std::uint8_t> read_file_bytes(const std::string& path, const char* what) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status))
    throw IOError(hone::detail::concat("cannot read ", what, " \"", path, "\": the file does not exist"));
  if (std::filesystem::is_directory(status))
    throw IOError(hone::detail::concat("cannot read ", what, " \"", path, "\": it is a directory"));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IOError(hone::detail::concat("cannot open ", what, " \"", path, "\" for reading"));
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(0, std::ios::beg);
  if (size < 0) throw IOError(hone::detail::concat("cannot determine the size of ", what, " \"", path, "\""));
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size))
    throw IOError(hone::detail::concat("cannot read ", what, " \"", path, "\" (", size, " bytes)"));
  return bytes;
}

inline void write_file_bytes(const std::vector<std::uint8_t>& bytes, const std::string& path, const char* what) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw IOError(hone::detail::concat("cannot open \"", path, "\" to write ", what));
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) throw IOError(hone::detail::concat("cannot write ", what, " to \"", path, "\""));
}

}  // namespace detail

/// Parses a serialized ModelProto (the contents of an .onnx file). `source` (a file name,
/// or empty) prefixes error messages. Throws ParseError naming the field path and offset.
inline ModelProto parse_model(std::span<const std::uint8_t> bytes, const std::string& source = {}) {
  return detail::parse_top<ModelProto>(bytes, "ModelProto", source);
}

/// Parses a serialized TensorProto (ONNX's .pb test inputs and outputs). Throws ParseError.
inline TensorProto parse_tensor(std::span<const std::uint8_t> bytes, const std::string& source = {}) {
  return detail::parse_top<TensorProto>(bytes, "TensorProto", source);
}

/// The protobuf encoding of a model (what an .onnx file holds).
inline std::vector<std::uint8_t> serialize(const ModelProto& model) {
  wire::Writer w;
  detail::write_fields(w, model);
  return w.take();
}

/// The protobuf encoding of a tensor (what a .pb tensor file holds).
inline std::vector<std::uint8_t> serialize(const TensorProto& tensor) {
  wire::Writer w;
  detail::write_fields(w, tensor);
  return w.take();
}

/// Reads an .onnx file. Throws IOError naming the file when it cannot be read, ParseError
/// (message starting with the file name) when it is not a valid ModelProto. External
/// tensor data stays on disk until decoded (see tensor_data.hpp), relative to the
/// file's directory.
inline ModelProto read_model_file(const std::string& path) {
  return parse_model(detail::read_file_bytes(path, "the ONNX model"), path);
}

/// Reads a serialized TensorProto file (.pb). Throws IOError or ParseError as read_model_file.
inline TensorProto read_tensor_file(const std::string& path) {
  return parse_tensor(detail::read_file_bytes(path, "the tensor file"), path);
}

/// Writes a model as an .onnx file. Throws IOError naming the file when it cannot be written.
inline void write_model_file(const ModelProto& model, const std::string& path) {
  detail::write_file_bytes(serialize(model), path, "the ONNX model");
}

/// Writes a tensor as a .pb file. Throws IOError naming the file when it cannot be written.
inline void write_tensor_file(const TensorProto& tensor, const std::string& path) {
  detail::write_file_bytes(serialize(tensor), path, "the tensor");
}

}  // namespace hone::onnx
