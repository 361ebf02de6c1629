// hone/graph/node.hpp — a node of the graph IR: an op type, its attributes, and the names of
// the values it reads and writes.
//
// Attributes follow ONNX: integers, floats, lists of integers or floats, and strings, looked
// up by name with a default. Nodes refer to values by name (as ONNX does), so a graph can be
// assembled in any order and checked afterwards by Graph::validate().
#pragma once

#include <cstdint>  // std::int64_t attribute values
#include <map>      // attribute storage, ordered so printing is stable
#include <string>   // names
#include <utility>  // std::move
#include <variant>  // the attribute value types
#include <vector>   // lists

#include "hone/core/error.hpp"

namespace hone {

/// One attribute value: int, float (stored as double), int list, float list or string.
using AttrValue = std::variant<std::int64_t, double, std::vector<std::int64_t>,
                               std::vector<double>, std::string>;

/// Named attributes of a node. Getters return the default when the name is absent and throw
/// InvalidArgument when it is present with another type.
class Attributes {
 public:
  Attributes& set_int(const std::string& name, std::int64_t v) { return put(name, v); }
  Attributes& set_float(const std::string& name, double v) { return put(name, v); }
  Attributes& set_ints(const std::string& name, std::vector<std::int64_t> v) {
    return put(name, std::move(v));
  }
  Attributes& set_floats(const std::string& name, std::vector<double> v) {
    return put(name, std::move(v));
  }
  Attributes& set_string(const std::string& name, std::string v) { return put(name, std::move(v)); }

  bool has(const std::string& name) const { return values_.count(name) != 0; }
  const std::map<std::string, AttrValue>& all() const noexcept { return values_; }

  std::int64_t get_int(const std::string& name, std::int64_t fallback) const {
    return get<std::int64_t>(name, fallback, "an integer");
  }
  /// A float attribute; an integer attribute is accepted and converted.
  double get_float(const std::string& name, double fallback) const {
    auto it = values_.find(name);
    if (it != values_.end())
      if (auto* i = std::get_if<std::int64_t>(&it->second)) return static_cast<double>(*i);
    return get<double>(name, fallback, "a float");
  }
  std::vector<std::int64_t> get_ints(const std::string& name,
                                     std::vector<std::int64_t> fallback) const {
    return get<std::vector<std::int64_t>>(name, std::move(fallback), "a list of integers");
  }
  std::string get_string(const std::string& name, std::string fallback) const {
    return get<std::string>(name, std::move(fallback), "a string");
  }

 private:
  Attributes& put(const std::string& name, AttrValue v) {
    values_[name] = std::move(v);
    return *this;
  }
  template <class V>
  V get(const std::string& name, V fallback, const char* what) const {
    auto it = values_.find(name);
    if (it == values_.end()) return fallback;
    if (auto* v = std::get_if<V>(&it->second)) return *v;
    throw InvalidArgument(detail::concat("attribute \"", name, "\" must be ", what));
  }

  std::map<std::string, AttrValue> values_;
};

/// A node: `op` (the ONNX op type, e.g. "Conv") applied to the values named in `inputs`,
/// producing the values named in `outputs`. `name` identifies it in error messages.
struct Node {
  std::string name;
  std::string op;
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  Attributes attrs;
};

namespace detail {
/// "node \"conv1\" (Conv): " — the prefix of every error about a node.
inline std::string node_prefix(const Node& node) {
  return concat("node \"", node.name, "\" (", node.op, "): ");
}
}  // namespace detail

}  // namespace hone
