// hone/core/shape.hpp — the dimensions of a tensor.
//
// A Shape is a small value type: up to Shape::max_rank non-negative extents stored inline
// (no heap allocation), so tensors and views copy shapes freely. Strides are always the
// contiguous row-major ones; hone's tensors never hold arbitrary strides.
#pragma once

#include <array>             // inline storage of the extents
#include <cstddef>           // std::size_t
#include <cstdint>           // std::int64_t extents
#include <initializer_list>  // Shape{2, 3, 4}
#include <limits>            // overflow checks in numel()
#include <ostream>           // operator<< for messages
#include <span>              // viewing the extents
#include <string>            // to_string()

#include "hone/core/error.hpp"

namespace hone {

/// The extents of a tensor, outermost first (row-major). Rank 0 is a scalar with one element.
class Shape {
 public:
  /// The largest supported rank; larger shapes throw UnsupportedError.
  static constexpr std::size_t max_rank = 8;

  Shape() = default;

  /// Builds a shape from extents; throws ShapeError on a negative extent and
  /// UnsupportedError above max_rank.
  Shape(std::initializer_list<std::int64_t> dims) { assign(dims.begin(), dims.size()); }
  explicit Shape(std::span<const std::int64_t> dims) { assign(dims.data(), dims.size()); }

  std::size_t rank() const noexcept { return rank_; }
  bool empty() const noexcept { return rank_ == 0; }

  /// Extent i (unchecked beyond HONE_ASSERT); see dim() for the checked, negative-index form.
  std::int64_t operator[](std::size_t i) const noexcept {
    HONE_ASSERT(i < rank_, "index ", i, " of a rank-", rank_, " shape");
    return dims_[i];
  }

  /// Extent at axis, counting from the back when negative (-1 is the last axis).
  /// Throws ShapeError when axis is outside [-rank, rank).
  std::int64_t dim(std::int64_t axis) const { return dims_[normalize_axis(axis)]; }

  /// Converts a possibly negative axis into [0, rank); throws ShapeError otherwise.
  std::size_t normalize_axis(std::int64_t axis) const {
    const auto r = static_cast<std::int64_t>(rank_);
    if (axis < -r || axis >= r)
      throw ShapeError(detail::concat("axis ", axis, " is out of range for shape ", to_string(),
                                      " (valid: ", -r, " to ", r - 1, ")"));
    return static_cast<std::size_t>(axis < 0 ? axis + r : axis);
  }

  /// Sets extent i; throws ShapeError for a negative extent or an index outside the rank.
  void set(std::size_t i, std::int64_t extent) {
    if (i >= rank_)
      throw ShapeError(detail::concat("index ", i, " is out of range for shape ", to_string()));
    if (extent < 0)
      throw ShapeError(detail::concat("extent ", extent, " at axis ", i, " is negative"));
    dims_[i] = extent;
  }

  std::span<const std::int64_t> dims() const noexcept { return {dims_.data(), rank_}; }
  const std::int64_t* begin() const noexcept { return dims_.data(); }
  const std::int64_t* end() const noexcept { return dims_.data() + rank_; }

  /// Number of elements (the product of the extents, 1 for rank 0). Throws ShapeError if it
  /// does not fit in int64.
  std::int64_t numel() const {
    std::int64_t n = 1;
    for (std::size_t i = 0; i < rank_; ++i) {
      if (dims_[i] != 0 && n > std::numeric_limits<std::int64_t>::max() / dims_[i])
        throw ShapeError(detail::concat("shape ", to_string(), " has more than 2^63 elements"));
      n *= dims_[i];
    }
    return n;
  }

  /// Contiguous row-major strides in elements: the last axis has stride 1.
  std::array<std::int64_t, max_rank> strides() const noexcept {
    std::array<std::int64_t, max_rank> s{};
    std::int64_t step = 1;
    for (std::size_t i = rank_; i-- > 0;) {
      s[i] = step;
      step *= dims_[i];
    }
    return s;
  }

  /// "(2, 3, 4)"; a scalar prints as "()".
  std::string to_string() const {
    std::string out = "(";
    for (std::size_t i = 0; i < rank_; ++i) {
      if (i) out += ", ";
      out += std::to_string(dims_[i]);
    }
    return out + ")";
  }

  friend bool operator==(const Shape& a, const Shape& b) noexcept {
    if (a.rank_ != b.rank_) return false;
    for (std::size_t i = 0; i < a.rank_; ++i)
      if (a.dims_[i] != b.dims_[i]) return false;
    return true;
  }

 private:
  void assign(const std::int64_t* dims, std::size_t rank) {
    if (rank > max_rank)
      throw UnsupportedError(detail::concat("rank ", rank, " exceeds the maximum supported rank ",
                                            max_rank));
    for (std::size_t i = 0; i < rank; ++i) {
      if (dims[i] < 0)
        throw ShapeError(detail::concat("extent ", dims[i], " at axis ", i, " is negative"));
      dims_[i] = dims[i];
    }
    rank_ = rank;
  }

  std::array<std::int64_t, max_rank> dims_{};
  std::size_t rank_ = 0;
};

inline std::ostream& operator<<(std::ostream& out, const Shape& shape) {
  return out << shape.to_string();
}

}  // namespace hone
