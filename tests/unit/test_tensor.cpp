// Tests for hone/core/tensor.hpp.
#include <catch2/catch.hpp>

#include <hone/core/tensor.hpp>

#include <cstdint>
#include <cstring>
#include <numeric>
#include <vector>

using hone::Shape;
using hone::Tensor;

TEMPLATE_TEST_CASE("tensor: storage is 64-byte aligned and zero-filled", "[tensor]", float,
                   double, std::int64_t, std::uint8_t) {
  for (std::int64_t n : {1, 3, 15, 16, 17, 1000, 4097}) {
    Tensor<TestType> t(Shape{n});
    CHECK(reinterpret_cast<std::uintptr_t>(t.data()) % 64 == 0);
    for (auto x : t) CHECK(x == TestType{0});
  }
}

TEST_CASE("tensor: multi-index access follows row-major strides", "[tensor]") {
  Tensor<float> t(Shape{2, 3, 4});
  for (std::int64_t i = 0; i < t.numel(); ++i) t[i] = static_cast<float>(i);
  // The oracle is the row-major formula, written out here independently of Shape::strides.
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 3; ++b)
      for (int c = 0; c < 4; ++c) {
        CHECK(t(a, b, c) == static_cast<float>((a * 3 + b) * 4 + c));
        CHECK(t.at({a, b, c}) == static_cast<float>((a * 3 + b) * 4 + c));
      }
}

TEST_CASE("tensor: at() reports the bad index and the shape", "[tensor]") {
  Tensor<double> t(Shape{2, 3});
  CHECK_THROWS_WITH(t.at({1, 3}), "[hone.shape] at: index 3 at axis 1 is out of range for shape (2, 3)");
  CHECK_THROWS_WITH(t.at({1}), "[hone.shape] at: 1 indices given for shape (2, 3) of rank 2");
  CHECK_THROWS_AS(t.at({-1, 0}), hone::ShapeError);
}

TEST_CASE("tensor: from() copies values and checks their count", "[tensor]") {
  const auto t = Tensor<float>::from(Shape{2, 2}, {1.f, 2.f, 3.f, 4.f});
  CHECK(t(1, 0) == 3.f);
  CHECK_THROWS_WITH(Tensor<float>::from(Shape{2, 2}, {1.f, 2.f, 3.f}),
                    "[hone.shape] Tensor::from: 3 values given for shape (2, 2) which holds 4");
}

TEST_CASE("tensor: copies share storage, clone() does not", "[tensor]") {
  Tensor<float> a(Shape{4}, 1.f);
  Tensor<float> shared = a;
  Tensor<float> deep = a.clone();
  a[2] = 9.f;
  CHECK(shared[2] == 9.f);
  CHECK(deep[2] == 1.f);
  CHECK(shared.shares_storage_with(a));
  CHECK_FALSE(deep.shares_storage_with(a));
  CHECK(reinterpret_cast<std::uintptr_t>(deep.data()) % 64 == 0);
}

TEST_CASE("tensor: batch slices are views into the same storage", "[tensor]") {
  Tensor<float> batch(Shape{5, 2, 3});
  std::iota(batch.begin(), batch.end(), 0.f);
  Tensor<float> rows = batch.slice(1, 3);
  CHECK(rows.shape() == (Shape{2, 2, 3}));
  CHECK(rows.data() == batch.data() + 6);
  CHECK(rows(0, 0, 0) == 6.f);
  CHECK(rows(1, 1, 2) == 17.f);
  rows(0, 1, 1) = -1.f;
  CHECK(batch(1, 1, 1) == -1.f);
  CHECK(rows.slice(1, 2)(0, 0, 0) == 12.f);
  CHECK(batch.slice(5, 5).numel() == 0);
  CHECK_THROWS_WITH(batch.slice(2, 6),
                    "[hone.shape] slice: range [2, 6) is outside the first axis of shape (5, 2, 3) "
                    "(valid: 0 <= begin <= end <= 5)");
  CHECK_THROWS_AS(batch.slice(3, 2), hone::ShapeError);
  CHECK_THROWS_AS(Tensor<float>(Shape{}).slice(0, 1), hone::ShapeError);
}

TEST_CASE("tensor: a view keeps the storage alive after its source is gone", "[tensor]") {
  Tensor<double> view;
  {
    Tensor<double> source(Shape{3, 4}, 2.5);
    view = source.slice(2, 3);
  }
  CHECK(view(0, 3) == 2.5);  // AddressSanitizer would report a use-after-free here
}

TEST_CASE("tensor: reshape keeps the elements and infers one -1", "[tensor]") {
  Tensor<int> t(Shape{2, 3, 4});
  std::iota(t.begin(), t.end(), 0);
  const auto flat = t.reshape({2, -1});
  CHECK(flat.shape() == (Shape{2, 12}));
  CHECK(flat(1, 5) == 17);
  CHECK(flat.shares_storage_with(t));
  CHECK(t.reshape(Shape{24}).shape() == (Shape{24}));
  CHECK_THROWS_WITH(t.reshape({5, 5}),
                    "[hone.shape] reshape: shape (5, 5) holds 25 elements but the tensor of shape "
                    "(2, 3, 4) holds 24");
  CHECK_THROWS_AS(t.reshape({-1, -1}), hone::ShapeError);
  CHECK_THROWS_AS(t.reshape({5, -1}), hone::ShapeError);
}

TEST_CASE("tensor: fill, copy_from and cast", "[tensor]") {
  Tensor<float> a(Shape{2, 3});
  a.fill(0.25f);
  Tensor<float> b(Shape{2, 3});
  b.copy_from(a);
  for (float x : b) CHECK(x == 0.25f);
  CHECK_THROWS_WITH(b.copy_from(Tensor<float>(Shape{3, 2})),
                    "[hone.shape] copy_from: source shape (3, 2) differs from destination shape (2, 3)");
  const auto d = a.cast<double>();
  CHECK(d.shape() == a.shape());
  CHECK(d[4] == 0.25);
}

TEST_CASE("tensor: copy_from between overlapping views behaves like memmove", "[tensor]") {
  for (int shift : {-3, -1, 1, 3}) {
    Tensor<int> t(Shape{10, 2});
    std::iota(t.begin(), t.end(), 100);
    std::vector<int> oracle(t.begin(), t.end());
    const int dst = shift > 0 ? shift : 0, src = shift > 0 ? 0 : -shift;
    const int rows = 10 - (shift > 0 ? shift : -shift);
    t.slice(dst, dst + rows).copy_from(t.slice(src, src + rows));
    std::memmove(oracle.data() + 2 * dst, oracle.data() + 2 * src, sizeof(int) * 2 * rows);
    CAPTURE(shift);
    CHECK(std::vector<int>(t.begin(), t.end()) == oracle);
  }
}

TEST_CASE("tensor: defined() separates an empty handle from a zero-element tensor", "[tensor]") {
  CHECK_FALSE(Tensor<float>().defined());
  const Tensor<float> empty(Shape{0, 3});
  CHECK(empty.defined());
  CHECK(empty.numel() == 0);
  CHECK(Tensor<float>(Shape{}).numel() == 1);
}
