// hone/interop/xtensor.hpp — zero-copy views between hone tensors and xtensor
// (libxtensor-dev, xtl-dev): a hone::Tensor seen as an xtensor adaptor (xt::adapt with
// xt::no_ownership: fixed rank with as_xtensor<Rank>, any rank with as_xarray), and an
// xtensor container's memory seen as a hone::Tensor. Nothing is copied: writes through
// either side are visible to the other, and the data pointers are equal.
//
// Opt-in: hone/hone.hpp does not include this header; link hone::xtensor (CMake), which adds
// xtensor and defines HONE_HAS_XTENSOR.
//
// Memory order. hone tensors are dense and row-major, and so are the adaptors made here
// (xt::layout_type::row_major). The other way, only row-major containers can be viewed:
// an xt::xarray created or reshaped column-major, or an adaptor with custom strides
// (layout dynamic), raises ShapeError naming its layout. xtensor's own default layout is
// row-major (XTENSOR_DEFAULT_LAYOUT).
//
// Lifetime and alignment. A view does not own what it views: an adaptor of a tensor is
// valid while the tensor's storage lives (any copy, slice or reshape keeps it alive), and a
// tensor made by tensor_view() is valid while the container's memory lives (pass the
// container's owner to keep it alive, see Tensor::view_of). A tensor viewing xtensor memory
// is aligned as xtensor allocated it (xsimd's alignment when xsimd is in use, else the
// allocator's), not to tensor_alignment; hone's kernels accept that.
#pragma once

#include <array>        // fixed-rank shapes
#include <cstddef>      // std::size_t
#include <cstdint>      // std::int64_t
#include <memory>       // std::shared_ptr owners
#include <span>         // Shape from the container's shape
#include <type_traits>  // std::remove_cvref_t
#include <utility>      // std::forward, std::move
#include <vector>       // dynamic-rank shapes

#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xtensor.hpp>

#include "hone/core/error.hpp"
#include "hone/core/shape.hpp"
#include "hone/core/tensor.hpp"

namespace hone::interop {

namespace detail_xtensor {

template <std::size_t Rank>
std::array<std::size_t, Rank> fixed_shape(const char* who, const Shape& shape) {
  if (shape.rank() != Rank)
    throw ShapeError(hone::detail::concat(who, ": the tensor of shape ", shape, " has rank ", shape.rank(),
                                          "; the view needs rank ", Rank, " (as_xarray takes any rank)"));
  std::array<std::size_t, Rank> out{};
  for (std::size_t i = 0; i < Rank; ++i) out[i] = static_cast<std::size_t>(shape[i]);
  return out;
}

inline std::vector<std::size_t> dynamic_shape(const Shape& shape) {
  std::vector<std::size_t> out(shape.rank());
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::size_t>(shape[i]);
  return out;
}

/// True for storage that does not own its elements: a reference to a container, or a
/// buffer adaptor without ownership (what xt::adapt(pointer, ..., xt::no_ownership()) holds).
template <class S>
struct borrows : std::is_reference<S> {};
template <class CP, class A>
struct borrows<xt::xbuffer_adaptor<CP, xt::no_ownership, A>> : std::true_type {};

inline const char* layout_name(xt::layout_type l) {
  switch (l) {
    case xt::layout_type::row_major: return "row_major";
    case xt::layout_type::column_major: return "column_major";
    case xt::layout_type::dynamic: return "dynamic (custom strides)";
    case xt::layout_type::any: return "any";
  }
  return "unknown";
}

}  // namespace detail_xtensor

/// A tensor of rank `Rank` as a row-major xtensor adaptor sharing its elements (xt::adapt,
/// xt::no_ownership; same shape). Throws ShapeError naming the shape when the rank differs.
template <std::size_t Rank, class T>
auto as_xtensor(Tensor<T>& t) {
  return xt::adapt(t.data(), static_cast<std::size_t>(t.numel()), xt::no_ownership(),
                   detail_xtensor::fixed_shape<Rank>("as_xtensor", t.shape()));
}
template <std::size_t Rank, class T>
auto as_xtensor(const Tensor<T>& t) {
  return xt::adapt(t.data(), static_cast<std::size_t>(t.numel()), xt::no_ownership(),
                   detail_xtensor::fixed_shape<Rank>("as_xtensor", t.shape()));
}

/// A tensor of any rank as a row-major, dynamic-rank xtensor adaptor sharing its elements.
template <class T>
auto as_xarray(Tensor<T>& t) {
  return xt::adapt(t.data(), static_cast<std::size_t>(t.numel()), xt::no_ownership(),
                   detail_xtensor::dynamic_shape(t.shape()));
}
template <class T>
auto as_xarray(const Tensor<T>& t) {
  return xt::adapt(t.data(), static_cast<std::size_t>(t.numel()), xt::no_ownership(),
                   detail_xtensor::dynamic_shape(t.shape()));
}

/// A hone::Tensor viewing the memory of an xtensor container (xt::xarray, xt::xtensor,
/// xt::xtensor_fixed, or an adaptor), same shape, without copying. The memory must outlive
/// the tensor unless `owner` keeps it alive; an owning container must be an lvalue, and a
/// const one is refused (a Tensor is writable). Throws ShapeError when the container's
/// layout is not row-major, and UnsupportedError above Shape::max_rank dimensions.
template <class E>
  requires std::is_base_of_v<xt::xcontainer<std::remove_cvref_t<E>>, std::remove_cvref_t<E>>
Tensor<typename std::remove_cvref_t<E>::value_type> tensor_view(E&& e, std::shared_ptr<const void> owner = {}) {
  using Plain = std::remove_cvref_t<E>;
  static_assert(!std::is_const_v<std::remove_reference_t<E>> && !std::is_const_v<typename Plain::value_type>,
                "hone::interop::tensor_view: a read-only xtensor container cannot back a writable hone::Tensor");
  static_assert(std::is_lvalue_reference_v<E> || detail_xtensor::borrows<typename Plain::storage_type>::value,
                "hone::interop::tensor_view: the xtensor container is a temporary that owns its memory; the "
                "memory would be freed at the end of the statement");
  if (e.layout() != xt::layout_type::row_major)
    throw ShapeError(hone::detail::concat("tensor_view: the xtensor container of ", e.size(), " elements has layout ",
                                          detail_xtensor::layout_name(e.layout()),
                                          "; hone tensors are row-major (copy it into a row-major container)"));
  std::vector<std::int64_t> dims(e.shape().begin(), e.shape().end());
  return Tensor<typename Plain::value_type>::view_of(e.data() + e.data_offset(),
                                                     Shape(std::span<const std::int64_t>(dims)), std::move(owner));
}

}  // namespace hone::interop
