// Tests for hone/core/shape.hpp.
#include <catch2/catch.hpp>

#include <hone/core/shape.hpp>

#include <functional>
#include <numeric>
#include <string>
#include <vector>

using hone::Shape;

TEST_CASE("shape: rank, extents and element count", "[shape]") {
  const std::vector<std::vector<std::int64_t>> cases = {
      {}, {5}, {2, 3}, {2, 3, 4}, {32, 3, 224, 224}, {1, 1, 1, 1, 1, 1, 1, 7}, {4, 0, 3}};
  for (const auto& dims : cases) {
    const Shape s{std::span<const std::int64_t>(dims)};
    CAPTURE(s.to_string());
    CHECK(s.rank() == dims.size());
    CHECK(s.numel() == std::accumulate(dims.begin(), dims.end(), std::int64_t{1},
                                       std::multiplies<>()));
    for (std::size_t i = 0; i < dims.size(); ++i) CHECK(s[i] == dims[i]);
  }
}

TEST_CASE("shape: strides are contiguous row-major", "[shape]") {
  const Shape s{2, 3, 4, 5};
  const auto st = s.strides();
  // Row-major by definition: element (a,b,c,d) sits at ((a*3+b)*4+c)*5+d.
  CHECK(st[0] == 60);
  CHECK(st[1] == 20);
  CHECK(st[2] == 5);
  CHECK(st[3] == 1);
}

TEST_CASE("shape: negative axes count from the back", "[shape]") {
  const Shape s{2, 3, 4};
  CHECK(s.dim(-1) == 4);
  CHECK(s.dim(-3) == 2);
  CHECK(s.dim(1) == 3);
  CHECK(s.normalize_axis(-2) == 1);
  CHECK_THROWS_WITH(s.dim(3), "[hone.shape] axis 3 is out of range for shape (2, 3, 4) (valid: -3 to 2)");
  CHECK_THROWS_AS(s.dim(-4), hone::ShapeError);
}

TEST_CASE("shape: invalid extents and ranks are rejected with clear errors", "[shape]") {
  CHECK_THROWS_WITH((Shape{2, -1}), "[hone.shape] extent -1 at axis 1 is negative");
  CHECK_THROWS_AS((Shape{1, 2, 3, 4, 5, 6, 7, 8, 9}), hone::UnsupportedError);
  Shape s{2, 3};
  CHECK_THROWS_AS(s.set(2, 1), hone::ShapeError);
  CHECK_THROWS_AS(s.set(0, -5), hone::ShapeError);
  s.set(0, 7);
  CHECK(s == (Shape{7, 3}));
}

TEST_CASE("shape: element counts that overflow int64 are rejected", "[shape]") {
  const Shape huge{1 << 30, 1 << 30, 1 << 30};
  CHECK_THROWS_AS(huge.numel(), hone::ShapeError);
}

TEST_CASE("shape: printing and comparison", "[shape]") {
  CHECK(Shape{}.to_string() == "()");
  CHECK((Shape{1, 3, 224, 224}).to_string() == "(1, 3, 224, 224)");
  CHECK(Shape{}.numel() == 1);
  CHECK((Shape{2, 3}) == (Shape{2, 3}));
  CHECK_FALSE((Shape{2, 3}) == (Shape{3, 2}));
  CHECK_FALSE((Shape{2, 3}) == (Shape{2, 3, 1}));
}
