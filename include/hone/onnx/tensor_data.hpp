// hone/onnx/tensor_data.hpp — the values of a TensorProto: decoding them into doubles,
// floats, int64s or a hone::Tensor, and encoding a hone::Tensor as a TensorProto.
//
// ONNX stores a tensor's values in one of three places: raw_data (little-endian, row-major,
// every type but STRING), the typed field of its data type (float_data, int32_data, ...;
// FLOAT16, BFLOAT16, INT8, INT16, UINT8, UINT16 and BOOL live in int32_data, FLOAT16 and
// BFLOAT16 as their bit patterns, UINT32 in uint64_data), or an external file
// (data_location = EXTERNAL, keys "location", "offset", "length"). The decoders read any
// of them, check that the number of values is what the dims need, and name the tensor in
// every error.
//
// External data: "location" must be a relative path that stays inside the model's
// directory (no absolute path, no ".." component); it is resolved against `base_dir`,
// the directory of the model file. The file must hold offset + length bytes; without a
// length the tensor runs to the end of the file, as ONNX reads it. Symbolic links are
// followed (a link placed next to the model by its owner is trusted).
#pragma once

#include <bit>           // std::bit_cast for float16/bfloat16 and raw bytes
#include <charconv>      // std::from_chars for offset/length
#include <cstdint>       // fixed-width integers
#include <filesystem>    // external data paths
#include <fstream>       // external data files
#include <limits>        // range checks
#include <string>        // names, messages
#include <string_view>   // raw bytes
#include <type_traits>   // std::is_same_v
#include <vector>        // values

#include "hone/core/error.hpp"
#include "hone/core/shape.hpp"
#include "hone/core/tensor.hpp"
#include "hone/onnx/messages.hpp"

namespace hone::onnx {

/// The onnx.proto name of a TensorProto::DataType ("float", "int64", "bfloat16", ...), or
/// "data type N" for a value ONNX 1.12 does not define.
inline std::string data_type_name(std::int32_t data_type) {
  static constexpr const char* names[] = {"undefined", "float",  "uint8",     "int8",       "uint16",
                                          "int16",     "int32",  "int64",     "string",     "bool",
                                          "float16",   "double", "uint32",    "uint64",     "complex64",
                                          "complex128", "bfloat16"};
  if (data_type >= 0 && data_type <= TensorProto::BFLOAT16) return names[data_type];
  return "data type " + std::to_string(data_type);
}

/// True for the data types that hold integers: the signed and unsigned integers and bool.
inline bool is_integer_type(std::int32_t data_type) {
  switch (data_type) {
    case TensorProto::UINT8: case TensorProto::INT8: case TensorProto::UINT16: case TensorProto::INT16:
    case TensorProto::INT32: case TensorProto::INT64: case TensorProto::BOOL: case TensorProto::UINT32:
    case TensorProto::UINT64:
      return true;
    default:
      return false;
  }
}

/// Bytes per element in raw_data, 0 for STRING, UNDEFINED and unknown types.
inline std::size_t element_size(std::int32_t data_type) {
  switch (data_type) {
    case TensorProto::UINT8: case TensorProto::INT8: case TensorProto::BOOL: return 1;
    case TensorProto::UINT16: case TensorProto::INT16: case TensorProto::FLOAT16: case TensorProto::BFLOAT16:
      return 2;
    case TensorProto::FLOAT: case TensorProto::INT32: case TensorProto::UINT32: return 4;
    case TensorProto::INT64: case TensorProto::DOUBLE: case TensorProto::UINT64: case TensorProto::COMPLEX64:
      return 8;
    case TensorProto::COMPLEX128: return 16;
    default: return 0;
  }
}

/// IEEE half precision (binary16) bits to float; exact, including subnormals, inf and NaN.
inline float float16_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1fu;
  const std::uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24, exact in float
    const float v = static_cast<float>(mantissa) * 0x1p-24f;
    return sign ? -v : v;
  }
  if (exponent == 31) return std::bit_cast<float>(sign | 0x7f800000u | mantissa << 13);
  return std::bit_cast<float>(sign | (exponent + 112) << 23 | mantissa << 13);
}

/// bfloat16 bits (the upper half of a float) to float; exact.
inline float bfloat16_to_float(std::uint16_t b) { return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16); }

namespace detail {

inline std::string tensor_label(const TensorProto& t) {
  std::string dims = "[";
  for (std::size_t i = 0; i < t.dims.size(); ++i) dims += (i ? ", " : "") + std::to_string(t.dims[i]);
  return hone::detail::concat("tensor \"", t.name, "\" (", data_type_name(t.data_type), ", dims ", dims, "])");
}

[[noreturn]] inline void tensor_fail(const TensorProto& t, const std::string& what) {
  throw ParseError("hone.onnx.tensor", tensor_label(t) + ": " + what);
}

}  // namespace detail

/// The number of elements the dims describe (1 for a scalar). Throws ParseError (id
/// hone.onnx.tensor) for a negative extent or a count above 2^60.
inline std::int64_t element_count(const TensorProto& t) {
  constexpr std::int64_t limit = std::int64_t{1} << 60;
  std::int64_t n = 1;
  for (const auto d : t.dims) {
    if (d < 0) detail::tensor_fail(t, hone::detail::concat("extent ", d, " is negative"));
    if (d != 0 && n > limit / d) detail::tensor_fail(t, "the dims describe more than 2^60 elements");
    n *= d;
  }
  return n;
}

namespace detail {

/// The typed field that holds values of `data_type`, and its name.
inline const char* typed_field_name(std::int32_t data_type) {
  switch (data_type) {
    case TensorProto::FLOAT: case TensorProto::COMPLEX64: return "float_data";
    case TensorProto::DOUBLE: case TensorProto::COMPLEX128: return "double_data";
    case TensorProto::INT64: return "int64_data";
    case TensorProto::UINT32: case TensorProto::UINT64: return "uint64_data";
    case TensorProto::STRING: return "string_data";
    default: return "int32_data";
  }
}

inline std::size_t typed_field_size(const TensorProto& t, std::string_view field) {
  if (field == "float_data") return t.float_data.size();
  if (field == "double_data") return t.double_data.size();
  if (field == "int64_data") return t.int64_data.size();
  if (field == "uint64_data") return t.uint64_data.size();
  if (field == "string_data") return t.string_data.size();
  return t.int32_data.size();
}

inline std::uint64_t parse_decimal(const TensorProto& t, const StringStringEntryProto& e) {
  std::uint64_t v = 0;
  const char* end = e.value.data() + e.value.size();
  const auto [ptr, ec] = std::from_chars(e.value.data(), end, v);
  if (e.value.empty() || ec != std::errc() || ptr != end)
    tensor_fail(t, "external_data \"" + e.key + "\" is \"" + e.value + "\", not a non-negative integer");
  return v;
}

/// Reads `count` elements' bytes of external data; see the header comment for the rules.
inline std::string read_external(const TensorProto& t, const std::string& base_dir, std::uint64_t expected) {
  std::string location;
  std::uint64_t offset = 0;
  bool has_length = false;
  std::uint64_t length = 0;
  for (const auto& e : t.external_data) {
    if (e.key == "location") location = e.value;
    else if (e.key == "offset") offset = parse_decimal(t, e);
    else if (e.key == "length") {
      length = parse_decimal(t, e);
      has_length = true;
    }
  }
  if (location.empty()) tensor_fail(t, "data_location is EXTERNAL but external_data has no \"location\"");
  const bool absolute = location[0] == '/' || location[0] == '\\' ||
                        (location.size() > 1 && location[1] == ':');
  bool escapes = false;
  std::size_t start = 0;
  while (start <= location.size()) {
    std::size_t end = location.find_first_of("/\\", start);
    if (end == std::string::npos) end = location.size();
    escapes = escapes || location.compare(start, end - start, "..") == 0;
    start = end + 1;
  }
  if (absolute || escapes || location.find('\0') != std::string::npos)
    tensor_fail(t, "external data location \"" + location +
                       "\" must be a relative path inside the model's directory (no absolute path, no \"..\")");
  const std::filesystem::path path = std::filesystem::path(base_dir) / location;
  std::error_code ec;
  if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec))
    tensor_fail(t, "its external data \"" + path.string() + "\" is not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw IOError(hone::detail::concat(tensor_label(t), ": cannot open its external data file \"", path.string(),
                                       "\""));
  in.seekg(0, std::ios::end);
  const std::streamoff file_size_signed = in.tellg();
  if (file_size_signed < 0) throw IOError("cannot determine the size of \"" + path.string() + "\"");
  const auto file_size = static_cast<std::uint64_t>(file_size_signed);
  if (offset > file_size)
    tensor_fail(t, hone::detail::concat("external data offset ", offset, " is beyond the end of \"", path.string(),
                                        "\" (", file_size, " bytes)"));
  if (!has_length) length = file_size - offset;
  if (length != expected)
    tensor_fail(t, hone::detail::concat("external data length ", length, has_length ? "" : " (to the end of the file)",
                                        " bytes; its dims and type need ", expected));
  if (length > file_size - offset)
    tensor_fail(t, hone::detail::concat("external data at offset ", offset, " with length ", length,
                                        " runs past the end of \"", path.string(), "\" (", file_size, " bytes)"));
  std::string bytes(static_cast<std::size_t>(length), '\0');
  in.seekg(static_cast<std::streamoff>(offset));
  if (length > 0 && !in.read(bytes.data(), static_cast<std::streamsize>(length)))
    throw IOError("cannot read " + std::to_string(length) + " bytes from \"" + path.string() + "\"");
  return bytes;
}

template <class U>
U load_le(const char* p) {
  using Bits = std::conditional_t<sizeof(U) == 1, std::uint8_t,
               std::conditional_t<sizeof(U) == 2, std::uint16_t,
               std::conditional_t<sizeof(U) == 4, std::uint32_t, std::uint64_t>>>;
  Bits v = 0;
  for (std::size_t i = sizeof(U); i-- > 0;) v = static_cast<Bits>(v << 8 | static_cast<std::uint8_t>(p[i]));
  return std::bit_cast<U>(v);
}

/// Converts a decoded element to the output type; integers are exact for int64 output.
template <class Out, class In>
Out convert(const TensorProto& t, In v) {
  if constexpr (std::is_same_v<Out, std::int64_t> && std::is_same_v<In, std::uint64_t>) {
    if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      throw InvalidArgument("hone.onnx.tensor",
                            tensor_label(t) + ": the uint64 value " + std::to_string(v) + " does not fit in int64");
  }
  return static_cast<Out>(v);
}

/// Decodes `n` elements of raw little-endian bytes.
template <class Out>
void decode_raw(const TensorProto& t, const char* p, std::size_t n, Out* out) {
  switch (t.data_type) {
    case TensorProto::FLOAT: for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(load_le<float>(p + 4 * i)); break;
    case TensorProto::DOUBLE: for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(load_le<double>(p + 8 * i)); break;
    case TensorProto::FLOAT16:
      for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(float16_to_float(load_le<std::uint16_t>(p + 2 * i)));
      break;
    case TensorProto::BFLOAT16:
      for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(bfloat16_to_float(load_le<std::uint16_t>(p + 2 * i)));
      break;
    case TensorProto::INT8: for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(load_le<std::int8_t>(p + i)); break;
    case TensorProto::UINT8: for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(load_le<std::uint8_t>(p + i)); break;
    case TensorProto::BOOL: for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(p[i] != 0 ? 1 : 0); break;
    case TensorProto::INT16: for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(load_le<std::int16_t>(p + 2 * i)); break;
    case TensorProto::UINT16: for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(load_le<std::uint16_t>(p + 2 * i)); break;
    case TensorProto::INT32: for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(load_le<std::int32_t>(p + 4 * i)); break;
    case TensorProto::UINT32: for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(load_le<std::uint32_t>(p + 4 * i)); break;
    case TensorProto::INT64: for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(load_le<std::int64_t>(p + 8 * i)); break;
    case TensorProto::UINT64:
      for (std::size_t i = 0; i < n; ++i) out[i] = convert<Out>(t, load_le<std::uint64_t>(p + 8 * i));
      break;
    default: tensor_fail(t, "cannot decode this data type");  // excluded by the caller
  }
}

/// Decodes the typed field of the tensor's data type (already checked to hold n values).
template <class Out>
void decode_typed(const TensorProto& t, std::size_t n, Out* out) {
  const auto& i32 = t.int32_data;
  switch (t.data_type) {
    case TensorProto::FLOAT: for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(t.float_data[i]); break;
    case TensorProto::DOUBLE: for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(t.double_data[i]); break;
    case TensorProto::INT64: for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(t.int64_data[i]); break;
    case TensorProto::UINT64: for (std::size_t i = 0; i < n; ++i) out[i] = convert<Out>(t, t.uint64_data[i]); break;
    case TensorProto::UINT32:
      for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(static_cast<std::uint32_t>(t.uint64_data[i]));
      break;
    // The narrow types keep the low bits of their int32_data entry, as numpy's casts do.
    case TensorProto::INT32: for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(i32[i]); break;
    case TensorProto::INT16: for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(static_cast<std::int16_t>(i32[i])); break;
    case TensorProto::UINT16: for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(static_cast<std::uint16_t>(i32[i])); break;
    case TensorProto::INT8: for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(static_cast<std::int8_t>(i32[i])); break;
    case TensorProto::UINT8: for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(static_cast<std::uint8_t>(i32[i])); break;
    case TensorProto::BOOL: for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(i32[i] != 0 ? 1 : 0); break;
    case TensorProto::FLOAT16:
      for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(float16_to_float(static_cast<std::uint16_t>(i32[i])));
      break;
    case TensorProto::BFLOAT16:
      for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(bfloat16_to_float(static_cast<std::uint16_t>(i32[i])));
      break;
    default: tensor_fail(t, "cannot decode this data type");  // excluded by the caller
  }
}

/// All values of a tensor as Out (double, float or int64_t).
template <class Out>
std::vector<Out> decode_values(const TensorProto& t, const std::string& base_dir) {
  const std::int32_t type = t.data_type;
  const std::size_t size = element_size(type);
  if (type == TensorProto::UNDEFINED) tensor_fail(t, "the data type is undefined (0)");
  if (type == TensorProto::STRING || type == TensorProto::COMPLEX64 || type == TensorProto::COMPLEX128 || size == 0)
    throw UnsupportedError("hone.onnx.unsupported_type",
                           tensor_label(t) + ": hone decodes float, double, float16, bfloat16 and the integer "
                                             "and bool types, not " + data_type_name(type));
  if (std::is_same_v<Out, std::int64_t> && !is_integer_type(type))
    throw InvalidArgument("hone.onnx.tensor", tensor_label(t) + ": integer values were asked for a " +
                                                  data_type_name(type) + " tensor");
  const std::int64_t count = element_count(t);
  const auto n = static_cast<std::size_t>(count);

  const char* typed_name = typed_field_name(type);
  const std::size_t typed_size = typed_field_size(t, typed_name);
  const std::size_t other_values = t.float_data.size() + t.double_data.size() + t.int64_data.size() +
                                   t.uint64_data.size() + t.string_data.size() + t.int32_data.size() - typed_size;
  if (other_values != 0)
    tensor_fail(t, hone::detail::concat(other_values, " values are in typed fields other than ", typed_name,
                                        ", the field of its data type"));
  const bool external = t.data_location == TensorProto::EXTERNAL;
  if (external && (!t.raw_data.empty() || typed_size != 0))
    tensor_fail(t, "data_location is EXTERNAL but the tensor also holds values in the file");
  if (!t.raw_data.empty() && typed_size != 0)
    tensor_fail(t, hone::detail::concat("values are both in raw_data and in ", typed_name));

  std::vector<Out> out;
  if (external || !t.raw_data.empty()) {
    const std::uint64_t expected = static_cast<std::uint64_t>(count) * size;
    std::string external_bytes;
    if (external) external_bytes = read_external(t, base_dir, expected);
    const std::string& raw = external ? external_bytes : t.raw_data;
    if (raw.size() != expected)
      tensor_fail(t, hone::detail::concat("raw_data holds ", raw.size(), " bytes; its dims need ", expected, " (",
                                          count, " elements of ", size, " bytes)"));
    out.resize(n);
    decode_raw(t, raw.data(), n, out.data());
  } else {
    if (typed_size != n)
      tensor_fail(t, hone::detail::concat(typed_name, " holds ", typed_size, " values; its dims need ", count));
    out.resize(n);
    decode_typed(t, n, out.data());
  }
  return out;
}

}  // namespace detail

/// The values of a tensor as doubles (int64/uint64 above 2^53 are rounded). `base_dir` is
/// the directory external data is resolved against (the model file's directory).
/// Throws ParseError (hone.onnx.tensor) when the values do not match the dims or the
/// external data is malformed, UnsupportedError for string and complex tensors, IOError
/// when an external file cannot be read.
inline std::vector<double> tensor_to_double(const TensorProto& t, const std::string& base_dir = ".") {
  return detail::decode_values<double>(t, base_dir);
}

/// The values of a tensor as floats (each value rounded once). Throws as tensor_to_double.
inline std::vector<float> tensor_to_float(const TensorProto& t, const std::string& base_dir = ".") {
  return detail::decode_values<float>(t, base_dir);
}

/// The values of an integer or bool tensor, exactly. Throws as tensor_to_double, and
/// InvalidArgument for a floating-point tensor or a uint64 value above 2^63 - 1.
inline std::vector<std::int64_t> tensor_to_int64(const TensorProto& t, const std::string& base_dir = ".") {
  return detail::decode_values<std::int64_t>(t, base_dir);
}

/// The tensor as a hone::Tensor<T> (T float or double) of the same dims. Throws as
/// tensor_to_double, and UnsupportedError above rank 8.
template <class T>
Tensor<T> to_tensor(const TensorProto& t, const std::string& base_dir = ".") {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "to_tensor makes float or double tensors");
  element_count(t);  // checks the dims before Shape sees them
  const Shape shape{std::span<const std::int64_t>(t.dims)};
  const std::vector<T> values = detail::decode_values<T>(t, base_dir);
  return Tensor<T>::from(shape, std::span<const T>(values));
}

/// A TensorProto (FLOAT or DOUBLE, values in little-endian raw_data) holding the tensor.
template <class T>
TensorProto from_tensor(const Tensor<T>& tensor, std::string name = {}) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "from_tensor takes float or double tensors");
  TensorProto t;
  t.name = std::move(name);
  t.data_type = std::is_same_v<T, float> ? TensorProto::FLOAT : TensorProto::DOUBLE;
  t.dims.assign(tensor.shape().begin(), tensor.shape().end());
  t.raw_data.resize(static_cast<std::size_t>(tensor.numel()) * sizeof(T));
  using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  for (std::int64_t i = 0; i < tensor.numel(); ++i) {
    const Bits bits = std::bit_cast<Bits>(tensor.data()[i]);
    for (std::size_t b = 0; b < sizeof(T); ++b)
      t.raw_data[static_cast<std::size_t>(i) * sizeof(T) + b] = static_cast<char>(static_cast<std::uint8_t>(bits >> (8 * b)));
  }
  return t;
}

}  // namespace hone::onnx
