// hone/onnx/detail/fold.hpp — constant folding for the ONNX importer: the shape arithmetic
// exporters emit (Shape -> Gather -> Unsqueeze -> Concat -> Reshape, ConstantOfShape, Range,
// Cast, Slice, Squeeze, Expand, element-wise arithmetic on constants), evaluated on small
// typed constants so that the graph hone builds holds only real computation.
//
// A constant is integer (int64, exact) or real (double). The symbolic batch extent is an
// integer marker, kBatch, that Shape produces for a batched input's first axis and that
// Gather, Concat, Unsqueeze, Squeeze, Slice, Identity and Cast carry through; arithmetic on
// it does not fold (the importer then reports the node as depending on the batch size).
#pragma once

#include <algorithm>  // std::min, std::max
#include <cmath>      // std::floor, std::trunc
#include <cstdint>    // std::int64_t
#include <limits>     // the batch marker
#include <string>     // messages
#include <vector>     // values

#include "hone/core/error.hpp"
#include "hone/core/shape.hpp"
#include "hone/onnx/tensor_data.hpp"  // is_integer_type

namespace hone::onnx::detail {

/// The symbolic batch extent inside a folded shape vector.
inline constexpr std::int64_t kBatch = std::numeric_limits<std::int64_t>::min() + 7;

struct Const {
  std::vector<std::int64_t> dims;
  bool integer = false;
  std::vector<std::int64_t> ints;  ///< when integer
  std::vector<double> reals;       ///< when !integer
  int onnx_type = 1;               ///< ONNX TensorProto data type, for Cast and export

  std::int64_t numel() const {
    std::int64_t n = 1;
    for (auto d : dims) n *= d;
    return n;
  }
  std::size_t size() const { return integer ? ints.size() : reals.size(); }
  bool has_batch() const {
    for (auto v : ints)
      if (v == kBatch) return true;
    return false;
  }
  double real(std::size_t i) const {
    return integer ? static_cast<double>(ints[i]) : reals[i];
  }
  std::int64_t integral(std::size_t i) const {
    return integer ? ints[i] : static_cast<std::int64_t>(reals[i]);
  }
  /// The values as int64 (reals truncated), e.g. for axes or pads given as floats.
  std::vector<std::int64_t> as_ints() const {
    std::vector<std::int64_t> out(size());
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = integral(i);
    return out;
  }
  std::vector<double> as_reals() const {
    std::vector<double> out(size());
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = real(i);
    return out;
  }

  static Const int_vector(std::vector<std::int64_t> v) {
    Const c;
    c.dims = {static_cast<std::int64_t>(v.size())};
    c.integer = true;
    c.ints = std::move(v);
    c.onnx_type = 7;
    return c;
  }
  static Const int_scalar(std::int64_t v) {
    Const c = int_vector({v});
    c.dims.clear();
    return c;
  }
};

[[noreturn]] inline void fold_fail(const std::string& where, const std::string& what) {
  throw InvalidArgument("hone.onnx.fold", where + what);
}

inline std::int64_t norm_axis(std::int64_t axis, std::int64_t rank, const std::string& where) {
  if (axis < -rank || axis >= rank)
    fold_fail(where, hone::detail::concat("axis ", axis, " is out of range for rank ", rank));
  return axis < 0 ? axis + rank : axis;
}

/// Strides of row-major dims.
inline std::vector<std::int64_t> strides_of(const std::vector<std::int64_t>& dims) {
  std::vector<std::int64_t> s(dims.size(), 1);
  for (std::size_t i = dims.size(); i-- > 1;) s[i - 1] = s[i] * dims[i];
  return s;
}

/// Copies element src of c onto the end of out (same kind).
inline void push_from(Const& out, const Const& c, std::int64_t src) {
  if (out.integer) out.ints.push_back(c.ints[static_cast<std::size_t>(src)]);
  else out.reals.push_back(c.reals[static_cast<std::size_t>(src)]);
}

inline Const empty_like(const Const& c, std::vector<std::int64_t> dims) {
  Const out;
  out.dims = std::move(dims);
  out.integer = c.integer;
  out.onnx_type = c.onnx_type;
  return out;
}

// Gather(data, indices, axis): out dims = data[:axis] + indices.dims + data[axis+1:].
inline Const fold_gather(const Const& data, const Const& indices, std::int64_t axis,
                         const std::string& where) {
  const auto r = static_cast<std::int64_t>(data.dims.size());
  if (r == 0) fold_fail(where, "Gather on a scalar");
  axis = norm_axis(axis, r, where);
  const std::int64_t extent = data.dims[static_cast<std::size_t>(axis)];
  std::vector<std::int64_t> dims(data.dims.begin(), data.dims.begin() + axis);
  dims.insert(dims.end(), indices.dims.begin(), indices.dims.end());
  dims.insert(dims.end(), data.dims.begin() + axis + 1, data.dims.end());
  Const out = empty_like(data, dims);
  std::int64_t outer = 1, inner = 1;
  for (std::int64_t i = 0; i < axis; ++i) outer *= data.dims[static_cast<std::size_t>(i)];
  for (std::int64_t i = axis + 1; i < r; ++i) inner *= data.dims[static_cast<std::size_t>(i)];
  const auto idx = indices.as_ints();
  for (std::int64_t o = 0; o < outer; ++o)
    for (std::int64_t k : idx) {
      if (k < -extent || k >= extent)
        fold_fail(where, hone::detail::concat("index ", k, " is out of range for extent ", extent));
      if (k < 0) k += extent;
      for (std::int64_t i = 0; i < inner; ++i) push_from(out, data, (o * extent + k) * inner + i);
    }
  return out;
}

// Concat along axis.
inline Const fold_concat(const std::vector<const Const*>& parts, std::int64_t axis,
                         const std::string& where) {
  if (parts.empty()) fold_fail(where, "Concat without inputs");
  const Const& first = *parts[0];
  const auto r = static_cast<std::int64_t>(first.dims.size());
  if (r == 0) fold_fail(where, "Concat of scalars");
  axis = norm_axis(axis, r, where);
  bool integer = true;
  for (const auto* p : parts) {
    integer = integer && p->integer;
    if (static_cast<std::int64_t>(p->dims.size()) != r) fold_fail(where, "Concat of different ranks");
    for (std::int64_t d = 0; d < r; ++d)
      if (d != axis && p->dims[static_cast<std::size_t>(d)] != first.dims[static_cast<std::size_t>(d)])
        fold_fail(where, "Concat of mismatched shapes");
  }
  std::vector<std::int64_t> dims = first.dims;
  dims[static_cast<std::size_t>(axis)] = 0;
  for (const auto* p : parts) dims[static_cast<std::size_t>(axis)] += p->dims[static_cast<std::size_t>(axis)];
  Const out;
  out.dims = dims;
  out.integer = integer;
  out.onnx_type = first.onnx_type;
  std::int64_t outer = 1, inner = 1;
  for (std::int64_t i = 0; i < axis; ++i) outer *= dims[static_cast<std::size_t>(i)];
  for (std::int64_t i = axis + 1; i < r; ++i) inner *= dims[static_cast<std::size_t>(i)];
  for (std::int64_t o = 0; o < outer; ++o)
    for (const auto* p : parts) {
      const std::int64_t block = p->dims[static_cast<std::size_t>(axis)] * inner;
      for (std::int64_t i = 0; i < block; ++i) {
        const auto at = static_cast<std::size_t>(o * block + i);
        if (integer) out.ints.push_back(p->ints[at]);
        else out.reals.push_back(p->real(at));
      }
    }
  return out;
}

// Slice with ONNX clamping (steps may be negative).
inline Const fold_slice(const Const& data, std::vector<std::int64_t> starts,
                        std::vector<std::int64_t> ends, std::vector<std::int64_t> axes,
                        std::vector<std::int64_t> steps, const std::string& where) {
  const auto r = static_cast<std::int64_t>(data.dims.size());
  if (axes.empty())
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(starts.size()); ++i) axes.push_back(i);
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (starts.size() != ends.size() || axes.size() != starts.size() || steps.size() != starts.size())
    fold_fail(where, "Slice: starts, ends, axes and steps differ in length");
  std::vector<std::vector<std::int64_t>> maps(static_cast<std::size_t>(r));
  for (std::int64_t d = 0; d < r; ++d)
    for (std::int64_t i = 0; i < data.dims[static_cast<std::size_t>(d)]; ++i)
      maps[static_cast<std::size_t>(d)].push_back(i);
  for (std::size_t k = 0; k < axes.size(); ++k) {
    const std::int64_t a = norm_axis(axes[k], r, where);
    const std::int64_t n = data.dims[static_cast<std::size_t>(a)];
    const std::int64_t step = steps[k];
    if (step == 0) fold_fail(where, "Slice step 0");
    std::int64_t s = starts[k], e = ends[k];
    if (s < 0) s += n;
    if (e < 0 && e > std::numeric_limits<std::int64_t>::min() / 2) e += n;
    std::vector<std::int64_t> m;
    if (step > 0) {
      s = std::clamp<std::int64_t>(s, 0, n);
      e = std::clamp<std::int64_t>(e, 0, n);
      for (std::int64_t i = s; i < e; i += step) m.push_back(i);
    } else {
      s = std::clamp<std::int64_t>(s, 0, n - 1);
      e = std::clamp<std::int64_t>(e, -1, n - 1);
      for (std::int64_t i = s; i > e; i += step) m.push_back(i);
    }
    maps[static_cast<std::size_t>(a)] = m;
  }
  std::vector<std::int64_t> dims;
  for (const auto& m : maps) dims.push_back(static_cast<std::int64_t>(m.size()));
  Const out = empty_like(data, dims);
  const auto st = strides_of(data.dims);
  const std::int64_t n = out.numel();
  std::vector<std::int64_t> idx(static_cast<std::size_t>(r), 0);
  for (std::int64_t flat = 0; flat < n; ++flat) {
    std::int64_t src = 0;
    for (std::int64_t d = 0; d < r; ++d)
      src += maps[static_cast<std::size_t>(d)][static_cast<std::size_t>(idx[static_cast<std::size_t>(d)])] *
             st[static_cast<std::size_t>(d)];
    push_from(out, data, src);
    for (std::int64_t d = r; d-- > 0;) {
      if (++idx[static_cast<std::size_t>(d)] < dims[static_cast<std::size_t>(d)]) break;
      idx[static_cast<std::size_t>(d)] = 0;
    }
  }
  return out;
}

/// Folded constants are small (shape arithmetic); a fold that would produce more elements
/// than this is refused rather than allocated.
inline constexpr std::int64_t kMaxFoldElements = std::int64_t{1} << 24;

inline void check_fold_size(const std::vector<std::int64_t>& dims, const std::string& where) {
  std::int64_t n = 1;
  for (auto d : dims) {
    if (d < 0) fold_fail(where, "negative extent in a folded constant");
    if (d != 0 && n > kMaxFoldElements / d) fold_fail(where, "constant folding would produce more than 2^24 elements");
    n *= d;
  }
}

/// numpy broadcasting of two dims lists; fails with a message naming both.
inline std::vector<std::int64_t> broadcast_dims(const std::vector<std::int64_t>& a,
                                                const std::vector<std::int64_t>& b,
                                                const std::string& where) {
  const std::size_t r = std::max(a.size(), b.size());
  std::vector<std::int64_t> out(r);
  for (std::size_t i = 0; i < r; ++i) {
    const std::int64_t x = i < r - a.size() ? 1 : a[i - (r - a.size())];
    const std::int64_t y = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (x != y && x != 1 && y != 1) fold_fail(where, "shapes do not broadcast");
    out[i] = x == 1 ? y : x;
  }
  check_fold_size(out, where);
  return out;
}

/// Source flat index in `from` (dims) of each element of `to` under broadcasting.
inline std::vector<std::int64_t> broadcast_index(const std::vector<std::int64_t>& from,
                                                 const std::vector<std::int64_t>& to) {
  const std::size_t r = to.size(), off = r - from.size();
  const auto fs = strides_of(from);
  std::int64_t n = 1;
  for (auto d : to) n *= d;
  std::vector<std::int64_t> out;
  out.reserve(static_cast<std::size_t>(n));
  std::vector<std::int64_t> idx(r, 0);
  for (std::int64_t flat = 0; flat < n; ++flat) {
    std::int64_t src = 0;
    for (std::size_t d = off; d < r; ++d)
      if (from[d - off] != 1) src += idx[d] * fs[d - off];
    out.push_back(src);
    for (std::size_t d = r; d-- > 0;) {
      if (++idx[d] < to[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

inline Const fold_expand(const Const& data, const std::vector<std::int64_t>& shape,
                         const std::string& where) {
  const auto dims = broadcast_dims(data.dims, shape, where);
  Const out = empty_like(data, dims);
  for (std::int64_t src : broadcast_index(data.dims, dims)) push_from(out, data, src);
  return out;
}

/// Element-wise Add/Sub/Mul/Div/Pow/Max/Min on constants, with ONNX's integer semantics
/// (integer division truncates). Returns false when an operand holds the batch marker.
inline bool fold_binary(const std::string& op, const Const& a, const Const& b, Const& out,
                        const std::string& where) {
  if (a.has_batch() || b.has_batch()) return false;
  const auto dims = broadcast_dims(a.dims, b.dims, where);
  const auto ia = broadcast_index(a.dims, dims), ib = broadcast_index(b.dims, dims);
  out = Const();
  out.dims = dims;
  out.integer = a.integer && b.integer;
  out.onnx_type = a.onnx_type;
  for (std::size_t i = 0; i < ia.size(); ++i) {
    const auto x = static_cast<std::size_t>(ia[i]), y = static_cast<std::size_t>(ib[i]);
    if (out.integer) {
      const std::int64_t p = a.ints[x], q = b.ints[y];
      std::int64_t v = 0;
      if (op == "Add") v = p + q;
      else if (op == "Sub") v = p - q;
      else if (op == "Mul") v = p * q;
      else if (op == "Div") {
        if (q == 0) fold_fail(where, "integer division by zero");
        v = p / q;
      } else if (op == "Max") v = std::max(p, q);
      else if (op == "Min") v = std::min(p, q);
      else return false;
      out.ints.push_back(v);
    } else {
      const double p = a.real(x), q = b.real(y);
      double v = 0;
      if (op == "Add") v = p + q;
      else if (op == "Sub") v = p - q;
      else if (op == "Mul") v = p * q;
      else if (op == "Div") v = p / q;
      else if (op == "Pow") v = std::pow(p, q);
      else if (op == "Max") v = std::max(p, q);
      else if (op == "Min") v = std::min(p, q);
      else return false;
      out.reals.push_back(v);
    }
  }
  return true;
}

/// Cast to an ONNX data type: integers truncate toward zero (as numpy's astype).
inline Const fold_cast(const Const& c, int to) {
  Const out;
  out.dims = c.dims;
  out.onnx_type = to;
  out.integer = is_integer_type(to);
  if (out.integer) {
    if (c.integer) out.ints = c.ints;
    else
      for (double v : c.reals) out.ints.push_back(to == 9 ? (v != 0) : static_cast<std::int64_t>(std::trunc(v)));
    if (to == 9)
      for (auto& v : out.ints) v = v != 0 && v != kBatch ? 1 : v;
  } else {
    out.reals = c.as_reals();
  }
  return out;
}

inline Const fold_range(const Const& start, const Const& limit, const Const& delta,
                        const std::string& where) {
  Const out;
  out.integer = start.integer && limit.integer && delta.integer;
  out.onnx_type = start.onnx_type;
  const double s = start.real(0), l = limit.real(0), d = delta.real(0);
  if (d == 0) fold_fail(where, "Range with delta 0");
  const double count = std::max(0.0, std::ceil((l - s) / d));
  if (count > 1e7) fold_fail(where, "Range with more than 10^7 elements");
  const auto n = static_cast<std::int64_t>(count);
  for (std::int64_t i = 0; i < n; ++i) {
    if (out.integer) out.ints.push_back(start.ints[0] + i * delta.ints[0]);
    else out.reals.push_back(s + static_cast<double>(i) * d);
  }
  out.dims = {n};
  return out;
}

}  // namespace hone::onnx::detail
