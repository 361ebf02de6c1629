// hone/onnx/messages.hpp — the subset of ONNX's protobuf messages hone reads and writes, as
// plain structs named and laid out like onnx.proto (ONNX 1.12, IR version 8).
//
// Field names, enum names and values are onnx.proto's, so ONNX's documentation applies
// directly (`TensorProto::FLOAT`, `AttributeProto::INTS`, `node.attribute[i].t`).
// Presence is explicit only where it carries meaning: `TypeProto::has_tensor_type`,
// `TypeProto::Tensor::has_shape` (a scalar has a shape with no dims, an unknown rank has
// none) and `TensorShapeProto::Dimension::has_dim_value` (the oneof of dim_value and
// dim_param). Elsewhere a default value means "absent", as in proto3.
//
// Messages that ONNX defines but hone does not model (sparse tensors, type protos of an
// attribute, non-tensor types, quantization annotations, training info, model-local
// functions) are kept as their encoded bytes in the fields named after them: a round trip
// preserves them and an importer can name what it does not support. Fields that are not
// in onnx.proto at all are skipped when parsing and not written back.
//
// Parsing and serializing live in hone/onnx/proto.hpp, decoding tensor contents in
// hone/onnx/tensor_data.hpp.
#pragma once

#include <cstdint>  // fixed-width integers
#include <string>   // names, strings and bytes
#include <vector>   // repeated fields

namespace hone::onnx {

/// onnx.proto's StringStringEntryProto: a key/value pair (metadata, external data).
struct StringStringEntryProto {
  std::string key;
  std::string value;

  bool operator==(const StringStringEntryProto&) const = default;
};

/// onnx.proto's OperatorSetIdProto: an operator set and its version; the empty domain
/// (or "ai.onnx") is the default ONNX operator set.
struct OperatorSetIdProto {
  std::string domain;
  std::int64_t version = 0;

  bool operator==(const OperatorSetIdProto&) const = default;
};

/// onnx.proto's TensorProto: dims, an element type, and the values in exactly one of
/// raw_data (little-endian), the typed field for the type, or external data. The
/// `segment` field (chunked tensors) is rejected when parsing.
struct TensorProto {
  enum DataType : std::int32_t {
    UNDEFINED = 0,
    FLOAT = 1,
    UINT8 = 2,
    INT8 = 3,
    UINT16 = 4,
    INT16 = 5,
    INT32 = 6,
    INT64 = 7,
    STRING = 8,
    BOOL = 9,
    FLOAT16 = 10,
    DOUBLE = 11,
    UINT32 = 12,
    UINT64 = 13,
    COMPLEX64 = 14,
    COMPLEX128 = 15,
    BFLOAT16 = 16,
  };
  enum DataLocation : std::int32_t { DEFAULT = 0, EXTERNAL = 1 };

  std::vector<std::int64_t> dims;
  std::int32_t data_type = UNDEFINED;  ///< a DataType value; int32 as in onnx.proto
  std::vector<float> float_data;        ///< FLOAT, COMPLEX64
  /// INT32, INT16, INT8, UINT16, UINT8, BOOL, FLOAT16 and BFLOAT16 (the bit patterns).
  std::vector<std::int32_t> int32_data;
  std::vector<std::string> string_data;  ///< STRING
  std::vector<std::int64_t> int64_data;  ///< INT64
  std::string name;
  std::string doc_string;
  std::string raw_data;  ///< all types but STRING, little-endian, row-major
  /// With data_location == EXTERNAL: "location" (a path relative to the model's
  /// directory), optional "offset" and "length" in bytes, optional "checksum".
  std::vector<StringStringEntryProto> external_data;
  DataLocation data_location = DEFAULT;
  std::vector<double> double_data;         ///< DOUBLE, COMPLEX128
  std::vector<std::uint64_t> uint64_data;  ///< UINT32, UINT64

  bool operator==(const TensorProto&) const = default;
};

/// onnx.proto's TensorShapeProto: one Dimension per axis.
struct TensorShapeProto {
  /// An extent: a value (has_dim_value), a symbolic name (dim_param), or unknown (neither).
  struct Dimension {
    bool has_dim_value = false;
    std::int64_t dim_value = 0;
    std::string dim_param;
    std::string denotation;

    bool operator==(const Dimension&) const = default;
  };
  std::vector<Dimension> dim;

  bool operator==(const TensorShapeProto&) const = default;
};

/// onnx.proto's TypeProto. Only the tensor alternative of its oneof is modelled; the
/// others (sequence 4, map 5, onnx-ml.proto's opaque 7, sparse tensor 8, optional 9) are
/// kept encoded.
struct TypeProto {
  /// onnx.proto's TypeProto.Tensor: the element type (a TensorProto::DataType) and shape.
  struct Tensor {
    std::int32_t elem_type = 0;
    bool has_shape = false;  ///< false: the rank is unknown
    TensorShapeProto shape;

    bool operator==(const Tensor&) const = default;
  };
  bool has_tensor_type = false;
  Tensor tensor_type;
  std::string denotation;
  std::uint32_t other_type_field = 0;  ///< field number of a non-tensor alternative, or 0
  std::string other_type;              ///< that alternative's encoded message

  bool operator==(const TypeProto&) const = default;
};

/// onnx.proto's ValueInfoProto: a named, typed value (graph input, output, value_info).
struct ValueInfoProto {
  std::string name;
  TypeProto type;
  std::string doc_string;

  bool operator==(const ValueInfoProto&) const = default;
};

struct NodeProto;

/// onnx.proto's GraphProto: nodes in topological order, initializers, inputs, outputs.
struct GraphProto {
  std::vector<NodeProto> node;
  std::string name;
  std::vector<TensorProto> initializer;
  std::vector<std::string> sparse_initializer;  ///< encoded SparseTensorProtos (not modelled)
  std::string doc_string;
  std::vector<ValueInfoProto> input;
  std::vector<ValueInfoProto> output;
  std::vector<ValueInfoProto> value_info;
  std::vector<std::string> quantization_annotation;  ///< encoded TensorAnnotations (not modelled)

  bool operator==(const GraphProto&) const = default;
};

/// onnx.proto's AttributeProto: a named value whose `type` says which field holds it.
/// Graph-valued attributes (If, Loop, Scan bodies) are parsed into nested GraphProtos.
struct AttributeProto {
  enum AttributeType : std::int32_t {
    UNDEFINED = 0,
    FLOAT = 1,
    INT = 2,
    STRING = 3,
    TENSOR = 4,
    GRAPH = 5,
    FLOATS = 6,
    INTS = 7,
    STRINGS = 8,
    TENSORS = 9,
    GRAPHS = 10,
    SPARSE_TENSOR = 11,
    SPARSE_TENSORS = 12,
    TYPE_PROTO = 13,
    TYPE_PROTOS = 14,
  };

  std::string name;
  std::string ref_attr_name;  ///< inside functions: the caller's attribute this refers to
  std::string doc_string;
  AttributeType type = UNDEFINED;
  float f = 0.0f;
  std::int64_t i = 0;
  std::string s;  ///< bytes (usually UTF-8)
  TensorProto t;
  GraphProto g;
  std::string sparse_tensor;  ///< encoded SparseTensorProto (not modelled)
  std::string tp;             ///< encoded TypeProto (not modelled)
  std::vector<float> floats;
  std::vector<std::int64_t> ints;
  std::vector<std::string> strings;
  std::vector<TensorProto> tensors;
  std::vector<GraphProto> graphs;
  std::vector<std::string> sparse_tensors;  ///< encoded SparseTensorProtos (not modelled)
  std::vector<std::string> type_protos;     ///< encoded TypeProtos (not modelled)

  bool operator==(const AttributeProto&) const = default;
};

/// onnx.proto's NodeProto: one operator call.
struct NodeProto {
  std::vector<std::string> input;  ///< value names; "" marks an omitted optional input
  std::vector<std::string> output;
  std::string name;
  std::string op_type;
  std::string domain;  ///< "" (or "ai.onnx") is the default operator set
  std::vector<AttributeProto> attribute;
  std::string doc_string;

  bool operator==(const NodeProto&) const = default;
};

/// onnx.proto's ModelProto: the file's top-level message.
struct ModelProto {
  std::int64_t ir_version = 0;
  std::vector<OperatorSetIdProto> opset_import;
  std::string producer_name;
  std::string producer_version;
  std::string domain;
  std::int64_t model_version = 0;
  std::string doc_string;
  GraphProto graph;
  std::vector<StringStringEntryProto> metadata_props;
  std::vector<std::string> training_info;  ///< encoded TrainingInfoProtos (not modelled)
  std::vector<std::string> functions;      ///< encoded FunctionProtos (not modelled)

  bool operator==(const ModelProto&) const = default;
};

}  // namespace hone::onnx
