// Tests for hone/interop/eigen.hpp (and Tensor::view_of, which it is built on): views in
// both directions share memory (equal data pointers, writes visible on the other side),
// carry the right shapes, and refuse ranks and memory layouts they cannot represent. The
// oracle for element positions is the row-major formula applied to the hone tensor.
#include <catch2/catch.hpp>

#include <hone/interop/eigen.hpp>

#include <cstdint>  // std::int64_t
#include <memory>   // std::shared_ptr owners

using hone::Shape;
using hone::Tensor;
namespace hi = hone::interop;

namespace {

Tensor<float> iota(const Shape& shape) {
  Tensor<float> t(shape);
  for (std::int64_t i = 0; i < t.numel(); ++i) t[i] = static_cast<float>(i) * 0.5f - 3.0f;
  return t;
}

}  // namespace

TEST_CASE("eigen: a rank-2 tensor is a RowMajor matrix map over its memory", "[interop][eigen]") {
  Tensor<float> t = iota(Shape{3, 4});
  auto m = hi::as_eigen_matrix(t);
  CHECK(m.data() == t.data());
  REQUIRE(m.rows() == 3);
  REQUIRE(m.cols() == 4);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j) CHECK(m(i, j) == t(i, j));
  m(1, 2) = 99.0f;
  CHECK(t(1, 2) == 99.0f);
  t(2, 3) = -5.0f;
  CHECK(m(2, 3) == -5.0f);

  // Eigen arithmetic on the view equals the same sum written over the tensor.
  const Eigen::VectorXf ones = Eigen::VectorXf::Ones(4);
  const Eigen::VectorXf row_sums = m * ones;
  for (int i = 0; i < 3; ++i) {
    float s = 0;
    for (int j = 0; j < 4; ++j) s += t(i, j);
    CHECK(row_sums(i) == Approx(s));
  }
  m *= 2.0f;  // in place, through the view
  CHECK(t(2, 3) == -10.0f);
}

TEST_CASE("eigen: vectors, const tensors and slices are viewed in place", "[interop][eigen]") {
  Tensor<double> v(Shape{5});
  auto ev = hi::as_eigen_vector(v);
  CHECK(ev.data() == v.data());
  CHECK(ev.size() == 5);
  ev.setLinSpaced(5, 1.0, 5.0);
  CHECK(v[0] == 1.0);
  CHECK(v[4] == 5.0);

  const Tensor<float> c = iota(Shape{2, 3});
  auto cm = hi::as_eigen_matrix(c);  // Map<const RowMatrix>
  CHECK(cm.data() == c.data());
  CHECK(cm(1, 0) == c(1, 0));
  CHECK(hi::as_eigen_vector(c.reshape({6})).data() == c.data());

  // A slice starts inside the 64-byte-aligned storage: the map is declared unaligned.
  Tensor<float> big = iota(Shape{5, 3});
  const Tensor<float> rows = big.slice(1, 4);
  auto sm = hi::as_eigen_matrix(rows);
  CHECK(sm.data() == big.data() + 3);
  CHECK(sm.rows() == 3);
  CHECK(sm(0, 0) == big(1, 0));
  CHECK(sm.sum() == Approx(big(1, 0) + big(1, 1) + big(1, 2) + big(2, 0) + big(2, 1) + big(2, 2) + big(3, 0) +
                           big(3, 1) + big(3, 2)));
}

TEST_CASE("eigen: a tensor of any rank is a RowMajor TensorMap", "[interop][eigen]") {
  Tensor<float> t = iota(Shape{2, 3, 4, 5});
  auto tm = hi::as_eigen_tensor<4>(t);
  CHECK(tm.data() == t.data());
  CHECK(tm.dimension(0) == 2);
  CHECK(tm.dimension(3) == 5);
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 3; ++b)
      for (int c = 0; c < 4; ++c)
        for (int d = 0; d < 5; ++d) CHECK(tm(a, b, c, d) == t[((a * 3 + b) * 4 + c) * 5 + d]);
  tm(1, 2, 3, 4) = 7.0f;
  CHECK(t(1, 2, 3, 4) == 7.0f);
  t(0, 1, 2, 3) = -1.0f;
  CHECK(tm(0, 1, 2, 3) == -1.0f);
  const Tensor<float>& ct = t;
  CHECK(hi::as_eigen_tensor<4>(ct)(0, 1, 2, 3) == -1.0f);
}

TEST_CASE("eigen: a rank mismatch throws ShapeError naming the shape", "[interop][eigen]") {
  Tensor<float> t(Shape{2, 3, 4});
  CHECK_THROWS_AS(hi::as_eigen_matrix(t), hone::ShapeError);
  CHECK_THROWS_WITH(hi::as_eigen_matrix(t),
                    "[hone.shape] as_eigen_matrix: the tensor of shape (2, 3, 4) has rank 3; the view needs rank 2 "
                    "(reshape it first, e.g. t.reshape({n, -1}))");
  CHECK_THROWS_WITH(hi::as_eigen_vector(t), Catch::Contains("as_eigen_vector: the tensor of shape (2, 3, 4) has rank 3"));
  CHECK_THROWS_WITH(hi::as_eigen_tensor<2>(t), Catch::Contains("as_eigen_tensor: the tensor of shape (2, 3, 4) has rank 3; "
                                                               "the view needs rank 2"));
  const Tensor<float> undefined;
  CHECK_THROWS_AS(hi::as_eigen_matrix(undefined), hone::ShapeError);
}

TEST_CASE("eigen: tensor_view shares a RowMajor matrix's memory", "[interop][eigen]") {
  hi::RowMatrix<float> m(3, 4);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j) m(i, j) = static_cast<float>(10 * i + j);
  Tensor<float> t = hi::tensor_view(m);
  CHECK(t.data() == m.data());
  CHECK(t.shape() == Shape{3, 4});
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j) CHECK(t(i, j) == m(i, j));
  t(2, 1) = -8.0f;
  CHECK(m(2, 1) == -8.0f);
  m(0, 3) = 42.0f;
  CHECK(t(0, 3) == 42.0f);
  // A copy, slice or reshape of the view still points into the matrix.
  CHECK(t.slice(1, 2).data() == m.data() + 4);
  CHECK(t.reshape({12}).data() == m.data());

  // Another shape of the same element count; a wrong count names both shapes.
  const Tensor<float> images = hi::tensor_view(m, Shape{3, 1, 2, 2});
  CHECK(images.data() == m.data());
  CHECK(images(2, 0, 0, 1) == m(2, 1));
  CHECK_THROWS_WITH(hi::tensor_view(m, Shape{5, 2}),
                    "[hone.shape] tensor_view: shape (5, 2) holds 10 elements but the Eigen object of shape (3, 4) "
                    "holds 12");

  // The round trip: a map of a tensor, viewed back, is the same memory.
  Tensor<float> src = iota(Shape{2, 5});
  const Tensor<float> back = hi::tensor_view(hi::as_eigen_matrix(src));
  CHECK(back.data() == src.data());
  CHECK(back.shape() == src.shape());
}

TEST_CASE("eigen: vectors, transposes and contiguous blocks are viewed, strided memory refused",
          "[interop][eigen]") {
  Eigen::VectorXd v = Eigen::VectorXd::LinSpaced(6, 0.0, 5.0);
  const Tensor<double> tv = hi::tensor_view(v);
  CHECK(tv.data() == v.data());
  CHECK(tv.shape() == Shape{6});
  CHECK(tv[5] == 5.0);

  // A column-major matrix's memory is the row-major tensor of its transpose.
  Eigen::MatrixXf col(2, 3);
  col << 1, 2, 3, 4, 5, 6;
  const Tensor<float> tt = hi::tensor_view(col.transpose());
  CHECK(tt.data() == col.data());
  CHECK(tt.shape() == Shape{3, 2});
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 2; ++j) CHECK(tt(i, j) == col(j, i));

  hi::RowMatrix<float> m = hi::RowMatrix<float>::Zero(4, 3);
  const Tensor<float> top = hi::tensor_view(m.middleRows(1, 2));  // whole rows: contiguous
  CHECK(top.data() == m.data() + 3);
  CHECK(top.shape() == Shape{2, 3});
  CHECK_THROWS_WITH(hi::tensor_view(m.leftCols(2)),
                    "[hone.shape] tensor_view: the 4x2 Eigen matrix is not contiguous (inner stride 1, outer stride 3, "
                    "expected 1 and 2); only contiguous memory can be viewed");
  CHECK_THROWS_WITH(hi::tensor_view(m.col(1)), Catch::Contains("Eigen vector of 4 elements is strided (inner stride 3)"));
  CHECK(hi::tensor_view(m.row(2)).data() == m.data() + 6);  // a row of a row-major matrix is contiguous
}

TEST_CASE("eigen: Eigen tensors and TensorMaps are viewed in place", "[interop][eigen]") {
  hi::RowTensor<float, 3> e(2, 3, 4);
  e.setZero();
  e(1, 2, 3) = 5.0f;
  Tensor<float> t = hi::tensor_view(e);
  CHECK(t.data() == e.data());
  CHECK(t.shape() == Shape{2, 3, 4});
  CHECK(t(1, 2, 3) == 5.0f);
  t(0, 1, 1) = 3.0f;
  CHECK(e(0, 1, 1) == 3.0f);

  Tensor<float> src = iota(Shape{2, 2, 2});
  const Tensor<float> back = hi::tensor_view(hi::as_eigen_tensor<3>(src));  // a TensorMap temporary
  CHECK(back.data() == src.data());
  CHECK(back.shape() == src.shape());
}

TEST_CASE("eigen: an owner keeps the viewed memory alive", "[interop][eigen]") {
  auto owned = std::make_shared<hi::RowMatrix<float>>(hi::RowMatrix<float>::Constant(2, 2, 4.0f));
  const std::weak_ptr<hi::RowMatrix<float>> watch = owned;
  Tensor<float> t = hi::tensor_view(*owned, owned);
  Tensor<float> row = t.slice(1, 2);
  owned.reset();
  CHECK_FALSE(watch.expired());  // the tensor and its slice hold the matrix
  CHECK(row[1] == 4.0f);
  t = Tensor<float>();
  CHECK_FALSE(watch.expired());
  row = Tensor<float>();
  CHECK(watch.expired());
}

TEST_CASE("tensor: view_of wraps foreign memory without copying or owning it", "[interop][tensor]") {
  float buffer[7] = {0, 1, 2, 3, 4, 5, 6};
  // One float past a 64-byte boundary is still fine: view_of needs only element alignment.
  Tensor<float> t = Tensor<float>::view_of(buffer + 1, Shape{2, 3});
  CHECK(t.data() == buffer + 1);
  CHECK(t(1, 2) == 6.0f);
  t(0, 0) = -1.0f;
  CHECK(buffer[1] == -1.0f);
  const Tensor<float> copy = t;  // a handle: the same memory
  CHECK(copy.shares_storage_with(t));
  const Tensor<float> deep = t.clone();
  CHECK(deep.data() != buffer + 1);
  CHECK(deep(1, 2) == 6.0f);
  CHECK_THROWS_WITH(Tensor<float>::view_of(nullptr, Shape{2, 3}),
                    "[hone.invalid_argument] Tensor::view_of: null data for shape (2, 3) of 6 elements");
  CHECK(Tensor<float>::view_of(nullptr, Shape{0, 3}).numel() == 0);
}
