// hone/interop/eigen.hpp — zero-copy views between hone tensors and Eigen (libeigen3-dev):
// a hone::Tensor seen as an Eigen::Map (matrix for rank 2, vector for rank 1) or an
// Eigen::TensorMap (any rank), and Eigen memory seen as a hone::Tensor. Nothing is copied:
// writes through either side are visible to the other, and the data pointers are equal.
//
// Opt-in: hone/hone.hpp does not include this header; link hone::eigen (CMake), which adds
// Eigen and defines HONE_HAS_EIGEN.
//
// Memory order. hone tensors are dense and row-major; Eigen matrices are column-major unless
// declared Eigen::RowMajor. The views from tensors are therefore always RowMajor maps
// (RowMatrix<T>), so m(i, j) is t(i, j). The other way, a column-major Eigen matrix is
// refused at compile time (its memory is the row-major tensor of its transpose, which a
// silent reinterpretation would hand back with rows and columns swapped): declare it
// RowMatrix<T>, copy it into one, or view m.transpose() (a (cols, rows) tensor over the
// same memory). Vectors (one compile-time row or column) have no
// memory order and are viewed as rank-1 tensors; blocks and strided maps must be
// contiguous (checked at run time).
//
// Lifetime and alignment. A view does not own what it views: a Map of a tensor is valid
// while the tensor's storage lives (any copy, slice or reshape keeps it alive), and a
// tensor made by tensor_view() is valid while the Eigen object's memory lives (pass the
// object's owner to keep it alive, see Tensor::view_of). Maps are declared Eigen::Unaligned:
// a tensor's storage is 64-byte aligned (tensor_alignment) but a slice starts anywhere, so
// Eigen must not assume alignment. A tensor viewing Eigen memory is aligned as Eigen
// allocated it (16 bytes or more for dynamic matrices), not to tensor_alignment; hone's
// kernels accept that.
#pragma once

#include <array>        // TensorMap dimensions
#include <cstdint>      // std::int64_t
#include <memory>       // std::shared_ptr owners
#include <span>         // Shape from the dimensions
#include <type_traits>  // std::remove_cvref_t, std::is_const_v
#include <utility>      // std::forward, std::move

#include <Eigen/Core>
#include <unsupported/Eigen/CXX11/Tensor>

#include "hone/core/error.hpp"
#include "hone/core/shape.hpp"
#include "hone/core/tensor.hpp"

namespace hone::interop {

/// The Eigen matrix type with a hone tensor's memory order.
template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
/// A dynamic column vector (a rank-1 tensor).
template <class T>
using Vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;
/// The Eigen tensor type with a hone tensor's memory order.
template <class T, int Rank>
using RowTensor = Eigen::Tensor<T, Rank, Eigen::RowMajor, Eigen::Index>;

namespace detail_eigen {

inline void require_rank(const char* who, const Shape& shape, std::size_t rank, const char* hint) {
  if (shape.rank() != rank)
    throw ShapeError(hone::detail::concat(who, ": the tensor of shape ", shape, " has rank ", shape.rank(),
                                          "; the view needs rank ", rank, hint));
}

template <int Rank>
std::array<Eigen::Index, static_cast<std::size_t>(Rank)> dims_of(const char* who, const Shape& shape) {
  require_rank(who, shape, static_cast<std::size_t>(Rank), "");
  std::array<Eigen::Index, static_cast<std::size_t>(Rank)> dims{};
  for (std::size_t i = 0; i < dims.size(); ++i) dims[i] = static_cast<Eigen::Index>(shape[i]);
  return dims;
}

template <class M>
inline constexpr bool is_dense_v =
    std::is_base_of_v<Eigen::DenseBase<std::remove_cvref_t<M>>, std::remove_cvref_t<M>>;

template <class M>
inline constexpr bool owns_memory_v =
    std::is_base_of_v<Eigen::PlainObjectBase<std::remove_cvref_t<M>>, std::remove_cvref_t<M>>;

template <class E>
struct is_owning_tensor : std::false_type {};
template <class S, int R, int O, class I>
struct is_owning_tensor<Eigen::Tensor<S, R, O, I>> : std::true_type {};

}  // namespace detail_eigen

/// A rank-2 tensor as a RowMajor Eigen matrix map sharing its elements: (rows, cols) =
/// (dim(0), dim(1)). Throws ShapeError naming the shape for any other rank.
template <class T>
Eigen::Map<RowMatrix<T>, Eigen::Unaligned> as_eigen_matrix(Tensor<T>& t) {
  detail_eigen::require_rank("as_eigen_matrix", t.shape(), 2, " (reshape it first, e.g. t.reshape({n, -1}))");
  return {t.data(), static_cast<Eigen::Index>(t.dim(0)), static_cast<Eigen::Index>(t.dim(1))};
}
template <class T>
Eigen::Map<const RowMatrix<T>, Eigen::Unaligned> as_eigen_matrix(const Tensor<T>& t) {
  detail_eigen::require_rank("as_eigen_matrix", t.shape(), 2, " (reshape it first, e.g. t.reshape({n, -1}))");
  return {t.data(), static_cast<Eigen::Index>(t.dim(0)), static_cast<Eigen::Index>(t.dim(1))};
}

/// A rank-1 tensor as an Eigen column-vector map sharing its elements. Throws ShapeError
/// naming the shape for any other rank.
template <class T>
Eigen::Map<Vector<T>, Eigen::Unaligned> as_eigen_vector(Tensor<T>& t) {
  detail_eigen::require_rank("as_eigen_vector", t.shape(), 1, " (flatten it first: t.reshape({-1}))");
  return {t.data(), static_cast<Eigen::Index>(t.dim(0))};
}
template <class T>
Eigen::Map<const Vector<T>, Eigen::Unaligned> as_eigen_vector(const Tensor<T>& t) {
  detail_eigen::require_rank("as_eigen_vector", t.shape(), 1, " (flatten it first: t.reshape({-1}))");
  return {t.data(), static_cast<Eigen::Index>(t.dim(0))};
}

/// A tensor of rank `Rank` as a RowMajor Eigen::TensorMap sharing its elements (same
/// dimensions, same order). Throws ShapeError naming the shape when the rank differs.
template <int Rank, class T>
Eigen::TensorMap<RowTensor<T, Rank>, Eigen::Unaligned> as_eigen_tensor(Tensor<T>& t) {
  return {t.data(), detail_eigen::dims_of<Rank>("as_eigen_tensor", t.shape())};
}
template <int Rank, class T>
Eigen::TensorMap<const RowTensor<T, Rank>, Eigen::Unaligned> as_eigen_tensor(const Tensor<T>& t) {
  return {t.data(), detail_eigen::dims_of<Rank>("as_eigen_tensor", t.shape())};
}

/// A hone::Tensor viewing the memory of an Eigen matrix, array, vector, Map or contiguous
/// Block, without copying: rank 1 (size) for compile-time vectors, rank 2 (rows, cols)
/// otherwise, which must then be RowMajor (checked at compile time, see the file comment).
/// The Eigen memory must outlive the tensor unless `owner` keeps it alive. An owning Eigen
/// object (Matrix, Array) must be an lvalue; const objects are refused (a Tensor is
/// writable). Throws ShapeError when the memory is not contiguous (a block of some columns,
/// a column of a row-major matrix, a map with strides).
template <class M>
  requires detail_eigen::is_dense_v<M>
Tensor<typename std::remove_cvref_t<M>::Scalar> tensor_view(M&& m, std::shared_ptr<const void> owner = {}) {
  using Plain = std::remove_cvref_t<M>;
  using T = typename Plain::Scalar;
  static_assert(!std::is_const_v<std::remove_reference_t<M>> && (Plain::Flags & Eigen::LvalueBit),
                "hone::interop::tensor_view: a read-only Eigen object cannot back a writable hone::Tensor");
  static_assert(std::is_lvalue_reference_v<M> || !detail_eigen::owns_memory_v<M>,
                "hone::interop::tensor_view: the Eigen matrix is a temporary; its memory would be freed at "
                "the end of the statement");
  static_assert((Plain::Flags & Eigen::DirectAccessBit) != 0,
                "hone::interop::tensor_view: an Eigen expression has no memory to view; evaluate it first");
  static_assert(Plain::IsVectorAtCompileTime || Plain::IsRowMajor,
                "hone::interop::tensor_view: the Eigen matrix is column-major but hone tensors are row-major; "
                "declare it hone::interop::RowMatrix<T> (Eigen::RowMajor), copy it into one, or view "
                "m.transpose() as a (cols, rows) tensor");
  const auto rows = static_cast<std::int64_t>(m.rows()), cols = static_cast<std::int64_t>(m.cols());
  if constexpr (Plain::IsVectorAtCompileTime) {
    if (m.size() > 1 && m.innerStride() != 1)
      throw ShapeError(hone::detail::concat("tensor_view: the Eigen vector of ", m.size(),
                                            " elements is strided (inner stride ", m.innerStride(),
                                            "); only contiguous memory can be viewed"));
    return Tensor<T>::view_of(m.data(), Shape{static_cast<std::int64_t>(m.size())}, std::move(owner));
  } else {
    if (rows > 1 && cols > 0 && (m.innerStride() != 1 || m.outerStride() != cols))
      throw ShapeError(hone::detail::concat("tensor_view: the ", rows, "x", cols,
                                            " Eigen matrix is not contiguous (inner stride ", m.innerStride(),
                                            ", outer stride ", m.outerStride(), ", expected 1 and ", cols,
                                            "); only contiguous memory can be viewed"));
    if (rows == 1 && cols > 1 && m.innerStride() != 1)
      throw ShapeError(hone::detail::concat("tensor_view: the 1x", cols, " Eigen matrix is strided (inner stride ",
                                            m.innerStride(), "); only contiguous memory can be viewed"));
    return Tensor<T>::view_of(m.data(), Shape{rows, cols}, std::move(owner));
  }
}

/// The same, viewed with another shape of the same element count (e.g. an (N, C*H*W)
/// matrix as (N, C, H, W) images). Throws ShapeError when the element counts differ.
template <class M>
  requires detail_eigen::is_dense_v<M>
Tensor<typename std::remove_cvref_t<M>::Scalar> tensor_view(M&& m, const Shape& shape,
                                                            std::shared_ptr<const void> owner = {}) {
  auto t = tensor_view(std::forward<M>(m), std::move(owner));
  if (shape.numel() != t.numel())
    throw ShapeError(hone::detail::concat("tensor_view: shape ", shape, " holds ", shape.numel(),
                                          " elements but the Eigen object of shape ", t.shape(), " holds ",
                                          t.numel()));
  return t.reshape(shape);
}

/// A hone::Tensor viewing an Eigen::Tensor or Eigen::TensorMap (RowMajor, checked at compile
/// time), same dimensions, without copying. Lifetime as above.
template <class E>
  requires(std::is_base_of_v<Eigen::TensorBase<std::remove_cvref_t<E>, Eigen::WriteAccessors>,
                             std::remove_cvref_t<E>> &&
           requires(E& e) { e.data(); })
Tensor<typename std::remove_cvref_t<E>::Scalar> tensor_view(E&& e, std::shared_ptr<const void> owner = {}) {
  using Plain = std::remove_cvref_t<E>;
  static_assert(!std::is_const_v<std::remove_reference_t<E>>,
                "hone::interop::tensor_view: a const Eigen tensor cannot back a writable hone::Tensor");
  static_assert(std::is_lvalue_reference_v<E> || !detail_eigen::is_owning_tensor<Plain>::value,
                "hone::interop::tensor_view: the Eigen tensor is a temporary; its memory would be freed at the "
                "end of the statement");
  static_assert(static_cast<int>(Plain::Layout) == static_cast<int>(Eigen::RowMajor),
                "hone::interop::tensor_view: the Eigen tensor is column-major (Eigen's default) but hone "
                "tensors are row-major; declare it with Eigen::RowMajor (hone::interop::RowTensor<T, Rank>)");
  std::array<std::int64_t, static_cast<std::size_t>(Plain::NumIndices)> dims{};
  for (std::size_t i = 0; i < dims.size(); ++i) dims[i] = static_cast<std::int64_t>(e.dimension(static_cast<Eigen::Index>(i)));
  return Tensor<typename Plain::Scalar>::view_of(e.data(), Shape(std::span<const std::int64_t>(dims.data(), dims.size())),
                                                 std::move(owner));
}

}  // namespace hone::interop
