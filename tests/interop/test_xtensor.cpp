// Tests for hone/interop/xtensor.hpp: views in both directions share memory (equal data
// pointers, writes visible on the other side), carry the right shapes, and refuse ranks and
// layouts they cannot represent. The oracle for element positions is the row-major formula
// applied to the hone tensor.
#include <catch2/catch.hpp>

#include <hone/interop/xtensor.hpp>

#include <cstdint>  // std::int64_t
#include <memory>   // std::shared_ptr owners

using hone::Shape;
using hone::Tensor;
namespace hi = hone::interop;

namespace {

Tensor<float> iota(const Shape& shape) {
  Tensor<float> t(shape);
  for (std::int64_t i = 0; i < t.numel(); ++i) t[i] = static_cast<float>(i) * 0.25f + 1.0f;
  return t;
}

}  // namespace

TEST_CASE("xtensor: a tensor is a fixed-rank adaptor over its memory", "[interop][xtensor]") {
  Tensor<float> t = iota(Shape{2, 3, 4});
  auto x = hi::as_xtensor<3>(t);
  CHECK(x.data() == t.data());
  REQUIRE(x.dimension() == 3);
  CHECK(x.shape()[0] == 2);
  CHECK(x.shape()[1] == 3);
  CHECK(x.shape()[2] == 4);
  CHECK(x.layout() == xt::layout_type::row_major);
  for (std::size_t a = 0; a < 2; ++a)
    for (std::size_t b = 0; b < 3; ++b)
      for (std::size_t c = 0; c < 4; ++c) CHECK(x(a, b, c) == t[static_cast<std::int64_t>((a * 3 + b) * 4 + c)]);
  x(1, 2, 3) = 50.0f;
  CHECK(t(1, 2, 3) == 50.0f);
  t(0, 0, 1) = -2.0f;
  CHECK(x(0, 0, 1) == -2.0f);
  x *= 2.0f;  // xtensor arithmetic, in place through the adaptor
  CHECK(t(1, 2, 3) == 100.0f);
  float s = 0;
  for (float v : t) s += v;
  CHECK(xt::sum(x)() == Approx(s));
}

TEST_CASE("xtensor: any rank as a dynamic adaptor, const tensors read-only", "[interop][xtensor]") {
  Tensor<double> t(Shape{2, 1, 3, 2, 2});
  auto x = hi::as_xarray(t);
  CHECK(x.data() == t.data());
  CHECK(x.dimension() == 5);
  CHECK(x.size() == 24);
  x(1, 0, 2, 1, 1) = 3.5;
  CHECK(t(1, 0, 2, 1, 1) == 3.5);
  CHECK(t[23] == 3.5);

  const Tensor<float> c = iota(Shape{4, 2});
  auto cx = hi::as_xtensor<2>(c);
  CHECK(cx.data() == c.data());
  CHECK(cx(3, 1) == c(3, 1));
  CHECK(hi::as_xarray(c)(2, 0) == c(2, 0));

  Tensor<float> big = iota(Shape{6, 2});
  const Tensor<float> rows = big.slice(2, 5);  // starts inside the aligned storage
  auto rx = hi::as_xtensor<2>(rows);
  CHECK(rx.data() == big.data() + 4);
  CHECK(rx(0, 1) == big(2, 1));
}

TEST_CASE("xtensor: a rank mismatch throws ShapeError naming the shape", "[interop][xtensor]") {
  Tensor<float> t(Shape{2, 3});
  CHECK_THROWS_AS(hi::as_xtensor<3>(t), hone::ShapeError);
  CHECK_THROWS_WITH(hi::as_xtensor<3>(t),
                    "[hone.shape] as_xtensor: the tensor of shape (2, 3) has rank 2; the view needs rank 3 "
                    "(as_xarray takes any rank)");
  const Tensor<float>& ct = t;
  CHECK_THROWS_WITH(hi::as_xtensor<1>(ct), Catch::Contains("shape (2, 3) has rank 2; the view needs rank 1"));
}

TEST_CASE("xtensor: tensor_view shares a row-major container's memory", "[interop][xtensor]") {
  xt::xarray<float> a = xt::zeros<float>({3, 2, 2});
  a(2, 1, 0) = 9.0f;
  Tensor<float> t = hi::tensor_view(a);
  CHECK(t.data() == a.data());
  CHECK(t.shape() == Shape{3, 2, 2});
  CHECK(t(2, 1, 0) == 9.0f);
  t(0, 1, 1) = -4.0f;
  CHECK(a(0, 1, 1) == -4.0f);

  xt::xtensor<double, 2> m = {{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}};
  const Tensor<double> tm = hi::tensor_view(m);
  CHECK(tm.data() == m.data());
  CHECK(tm.shape() == Shape{2, 3});
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t j = 0; j < 3; ++j) CHECK(tm(i, j) == m(i, j));

  // The round trip through an adaptor (a temporary that owns nothing) is the same memory.
  Tensor<float> src = iota(Shape{4, 5});
  const Tensor<float> back = hi::tensor_view(hi::as_xarray(src));
  CHECK(back.data() == src.data());
  CHECK(back.shape() == src.shape());
  CHECK(hi::tensor_view(hi::as_xtensor<2>(src)).data() == src.data());
}

TEST_CASE("xtensor: column-major containers are refused", "[interop][xtensor]") {
  xt::xarray<float, xt::layout_type::column_major> col = xt::zeros<float>({2, 3});
  CHECK_THROWS_AS(hi::tensor_view(col), hone::ShapeError);
  CHECK_THROWS_WITH(hi::tensor_view(col),
                    "[hone.shape] tensor_view: the xtensor container of 6 elements has layout column_major; hone "
                    "tensors are row-major (copy it into a row-major container)");
  xt::xarray<float, xt::layout_type::dynamic> dyn(std::vector<std::size_t>{2, 3}, xt::layout_type::column_major);
  CHECK_THROWS_WITH(hi::tensor_view(dyn), Catch::Contains("layout column_major"));
  dyn.resize({2, 3}, xt::layout_type::row_major);
  CHECK(hi::tensor_view(dyn).data() == dyn.data());
}

TEST_CASE("xtensor: an owner keeps the viewed container alive", "[interop][xtensor]") {
  auto owned = std::make_shared<xt::xtensor<float, 1>>(xt::xtensor<float, 1>::from_shape({4}));
  owned->fill(2.5f);
  const std::weak_ptr<xt::xtensor<float, 1>> watch = owned;
  Tensor<float> t = hi::tensor_view(*owned, owned);
  owned.reset();
  CHECK_FALSE(watch.expired());
  CHECK(t[3] == 2.5f);
  t = Tensor<float>();
  CHECK(watch.expired());
}
