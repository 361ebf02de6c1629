// hone/core/tensor.hpp — Tensor<T>: a shape plus flat, 64-byte-aligned, shared storage.
//
// A Tensor is a handle, like a shared_ptr: copying it is cheap and the copy refers to the
// same elements; clone() makes an independent deep copy. Views (slice() along the first
// axis, reshape()) share storage with their source and are always contiguous, so every
// tensor is a dense row-major block starting at data(). The storage allocation is aligned
// to 64 bytes (one cache line, one AVX-512 register); a view that starts inside it is
// aligned to its offset only. view_of() wraps memory owned elsewhere (interop), aligned for
// T only.
#pragma once

#include <algorithm>         // std::fill_n, std::copy_n, std::copy_backward
#include <array>             // strides
#include <cstddef>           // std::size_t
#include <cstdint>           // std::int64_t
#include <initializer_list>  // Tensor::from({...})
#include <memory>            // std::shared_ptr for the shared storage
#include <new>               // aligned operator new
#include <span>              // std::span views of the elements
#include <type_traits>       // std::is_arithmetic_v
#include <utility>           // std::move

#include "hone/core/allocator.hpp"
#include "hone/core/error.hpp"
#include "hone/core/shape.hpp"

namespace hone {

namespace detail {

/// Allocates `count` elements of T aligned to tensor_alignment, value-initialised to zero
/// unless `zero` is false (large blocks come from the tensor cache, core/allocator.hpp).
template <class T>
std::shared_ptr<T> allocate_aligned(std::int64_t count, bool zero = true) {
  if (count == 0) return {};
  if (static_cast<std::size_t>(count) > static_cast<std::size_t>(-1) / sizeof(T))
    throw ShapeError(concat("a tensor of ", count, " elements does not fit in memory"));
  const auto bytes = static_cast<std::size_t>(count) * sizeof(T);
  T* typed = static_cast<T*>(TensorCache::instance().allocate(bytes));
  if (zero) std::fill_n(typed, count, T{});
  return std::shared_ptr<T>(typed, [bytes](T* p) { TensorCache::instance().deallocate(p, bytes); });
}

}  // namespace detail

/// A dense, contiguous, row-major tensor of arithmetic type T (float, double, integers).
template <class T>
class Tensor {
  static_assert(std::is_arithmetic_v<T>, "hone::Tensor holds arithmetic element types");

 public:
  using value_type = T;

  /// An undefined tensor: no storage, defined() is false.
  Tensor() = default;

  /// A zero-filled tensor of the given shape.
  explicit Tensor(const Shape& shape)
      : storage_(detail::allocate_aligned<T>(shape.numel())), data_(storage_.get()),
        shape_(shape), defined_(true) {}

  /// A tensor of the given shape with every element equal to value.
  Tensor(const Shape& shape, T value) : Tensor(shape) { fill(value); }

  static Tensor zeros(const Shape& shape) { return Tensor(shape); }

  /// A tensor whose elements are left uninitialised (indeterminate values): for outputs
  /// that are overwritten entirely right away, saving the zero fill.
  static Tensor uninitialized(const Shape& shape) {
    Tensor t;
    t.storage_ = detail::allocate_aligned<T>(shape.numel(), false);
    t.data_ = t.storage_.get();
    t.shape_ = shape;
    t.defined_ = true;
    return t;
  }
  static Tensor full(const Shape& shape, T value) { return Tensor(shape, value); }

  /// A tensor holding a copy of values in row-major order; throws ShapeError when the
  /// number of values differs from shape.numel().
  static Tensor from(const Shape& shape, std::span<const T> values) {
    if (static_cast<std::int64_t>(values.size()) != shape.numel())
      throw ShapeError(detail::concat("Tensor::from: ", values.size(), " values given for shape ",
                                      shape, " which holds ", shape.numel()));
    Tensor t(shape);
    std::copy_n(values.data(), values.size(), t.data());
    return t;
  }
  static Tensor from(const Shape& shape, std::initializer_list<T> values) {
    return from(shape, std::span<const T>(values.begin(), values.size()));
  }

  /// A tensor that views `shape.numel()` row-major elements at `data` without copying or
  /// owning them: writes through either side are visible to the other. The memory must
  /// outlive the tensor and every copy, slice and reshape of it, unless `owner` is given:
  /// then every such tensor holds `owner` (e.g. the shared_ptr that owns the buffer) and
  /// keeps it alive. `data` need only be aligned for T, not to tensor_alignment: the kernels
  /// take any element-aligned pointer (as they do for slices); an aligned buffer is faster.
  /// For interop with other libraries (include/hone/interop/). Throws InvalidArgument when
  /// `data` is null and the shape holds elements.
  static Tensor view_of(T* data, const Shape& shape, std::shared_ptr<const void> owner = {}) {
    if (data == nullptr && shape.numel() != 0)
      throw InvalidArgument(detail::concat("Tensor::view_of: null data for shape ", shape, " of ",
                                           shape.numel(), " elements"));
    Tensor t;
    t.storage_ = owner ? std::shared_ptr<T>(std::move(owner), data) : std::shared_ptr<T>(data, [](T*) {});
    t.data_ = data;
    t.shape_ = shape;
    t.defined_ = true;
    return t;
  }

  /// How many tensors (copies and views) share this tensor's storage; 0 without storage.
  long use_count() const noexcept { return storage_.use_count(); }

  /// False only for a default-constructed tensor (a zero-element tensor is defined).
  bool defined() const noexcept { return defined_; }
  const Shape& shape() const noexcept { return shape_; }
  std::size_t rank() const noexcept { return shape_.rank(); }
  std::int64_t dim(std::int64_t axis) const { return shape_.dim(axis); }
  std::int64_t numel() const { return shape_.numel(); }
  std::array<std::int64_t, Shape::max_rank> strides() const noexcept { return shape_.strides(); }

  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  std::span<T> span() { return {data_, static_cast<std::size_t>(numel())}; }
  std::span<const T> span() const { return {data_, static_cast<std::size_t>(numel())}; }
  T* begin() noexcept { return data_; }
  T* end() { return data_ + numel(); }
  const T* begin() const noexcept { return data_; }
  const T* end() const { return data_ + numel(); }

  /// Element at a flat row-major index (checked only by HONE_ASSERT).
  T& operator[](std::int64_t flat) noexcept {
    HONE_ASSERT(flat >= 0 && flat < numel(), "flat index ", flat, " in shape ", shape_);
    return data_[flat];
  }
  const T& operator[](std::int64_t flat) const noexcept {
    HONE_ASSERT(flat >= 0 && flat < numel(), "flat index ", flat, " in shape ", shape_);
    return data_[flat];
  }

  /// Element at a multi-index with one index per axis (checked only by HONE_ASSERT).
  template <class... Index>
  T& operator()(Index... index) noexcept {
    return data_[offset_of(static_cast<std::int64_t>(index)...)];
  }
  template <class... Index>
  const T& operator()(Index... index) const noexcept {
    return data_[offset_of(static_cast<std::int64_t>(index)...)];
  }

  /// Element at a multi-index, bounds-checked: throws ShapeError naming the index and shape.
  T& at(std::initializer_list<std::int64_t> index) { return data_[checked_offset(index)]; }
  const T& at(std::initializer_list<std::int64_t> index) const {
    return data_[checked_offset(index)];
  }

  /// Sets every element to value.
  void fill(T value) { std::fill_n(data_, numel(), value); }

  /// Copies the elements of src into this tensor; throws ShapeError when the shapes differ.
  /// Overlapping storage (a tensor and a view of it) is handled like memmove.
  void copy_from(const Tensor& src) {
    if (!(src.shape_ == shape_))
      throw ShapeError(detail::concat("copy_from: source shape ", src.shape_,
                                      " differs from destination shape ", shape_));
    const auto n = static_cast<std::size_t>(numel());
    if (n == 0 || src.data_ == data_) return;
    if (src.data_ < data_ && data_ < src.data_ + n)
      std::copy_backward(src.data_, src.data_ + n, data_ + n);
    else
      std::copy_n(src.data_, n, data_);
  }

  /// An independent deep copy in fresh aligned storage.
  Tensor clone() const {
    Tensor out(shape_);
    std::copy_n(data_, numel(), out.data_);
    return out;
  }

  /// A copy with every element converted to U by static_cast.
  template <class U>
  Tensor<U> cast() const {
    Tensor<U> out(shape_);
    const auto n = numel();
    for (std::int64_t i = 0; i < n; ++i) out.data()[i] = static_cast<U>(data_[i]);
    return out;
  }

  /// A view of rows [begin, end) along the first axis, sharing storage. Throws ShapeError for
  /// a rank-0 tensor or a range outside [0, dim(0)].
  Tensor slice(std::int64_t begin, std::int64_t end) const {
    if (rank() == 0) throw ShapeError("slice: a scalar tensor has no axis to slice");
    if (begin < 0 || end < begin || end > shape_[0])
      throw ShapeError(detail::concat("slice: range [", begin, ", ", end,
                                      ") is outside the first axis of shape ", shape_,
                                      " (valid: 0 <= begin <= end <= ", shape_[0], ")"));
    Tensor view = *this;
    view.shape_.set(0, end - begin);
    view.data_ = data_ + begin * shape_.strides()[0];
    return view;
  }

  /// A view with a new shape and the same elements in the same order, sharing storage. At
  /// most one extent may be -1 and is then inferred. Throws ShapeError when the element
  /// counts differ or the -1 cannot be inferred.
  Tensor reshape(std::initializer_list<std::int64_t> dims) const {
    std::array<std::int64_t, Shape::max_rank> resolved{};
    if (dims.size() > Shape::max_rank)
      throw UnsupportedError(detail::concat("reshape: rank ", dims.size(), " exceeds ",
                                            Shape::max_rank));
    std::int64_t known = 1;
    int inferred = -1;
    int i = 0;
    for (std::int64_t d : dims) {
      if (d == -1) {
        if (inferred >= 0) throw ShapeError("reshape: more than one extent is -1");
        inferred = i;
      } else if (d < 0) {
        throw ShapeError(detail::concat("reshape: extent ", d, " at axis ", i, " is negative"));
      } else {
        known *= d;
      }
      resolved[static_cast<std::size_t>(i++)] = d;
    }
    if (inferred >= 0) {
      if (known == 0 || numel() % known != 0)
        throw ShapeError(detail::concat("reshape: cannot infer the -1 extent when reshaping ",
                                        shape_, " (", numel(), " elements)"));
      resolved[static_cast<std::size_t>(inferred)] = numel() / known;
    }
    return reshape(Shape(std::span<const std::int64_t>(resolved.data(), dims.size())));
  }
  Tensor reshape(const Shape& shape) const {
    if (shape.numel() != numel())
      throw ShapeError(detail::concat("reshape: shape ", shape, " holds ", shape.numel(),
                                      " elements but the tensor of shape ", shape_, " holds ",
                                      numel()));
    Tensor view = *this;
    view.shape_ = shape;
    return view;
  }

  /// True when both tensors refer to the same allocation (e.g. a tensor and its view).
  bool shares_storage_with(const Tensor& other) const noexcept {
    return storage_ != nullptr && storage_ == other.storage_;
  }

 private:
  template <class... Index>
  std::int64_t offset_of(Index... index) const noexcept {
    HONE_ASSERT(sizeof...(Index) == rank(), sizeof...(Index), " indices for shape ", shape_);
    const std::int64_t idx[] = {index..., 0};
    std::int64_t offset = 0;
    for (std::size_t i = 0; i < sizeof...(Index); ++i) {
      HONE_ASSERT(idx[i] >= 0 && idx[i] < shape_[i], "index ", idx[i], " at axis ", i,
                  " in shape ", shape_);
      offset = offset * shape_[i] + idx[i];
    }
    return offset;
  }

  std::int64_t checked_offset(std::initializer_list<std::int64_t> index) const {
    if (index.size() != rank())
      throw ShapeError(detail::concat("at: ", index.size(), " indices given for shape ", shape_,
                                      " of rank ", rank()));
    std::int64_t offset = 0;
    std::size_t axis = 0;
    for (std::int64_t i : index) {
      if (i < 0 || i >= shape_[axis])
        throw ShapeError(detail::concat("at: index ", i, " at axis ", axis,
                                        " is out of range for shape ", shape_));
      offset = offset * shape_[axis] + i;
      ++axis;
    }
    return offset;
  }

  std::shared_ptr<T> storage_;
  T* data_ = nullptr;
  Shape shape_;
  bool defined_ = false;
};

}  // namespace hone
