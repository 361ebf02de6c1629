// Tests for hone/core/init.hpp. Oracles: the formulas of torch.nn.init (fans, gains,
// bounds and standard deviations as documented by PyTorch) and sample statistics.
#include <catch2/catch.hpp>

#include <hone/core/init.hpp>

#include <algorithm>
#include <cmath>

using hone::Generator;
using hone::Shape;
using hone::Tensor;

namespace {
double sample_std(const Tensor<float>& t) {
  double s = 0, s2 = 0;
  for (float x : t) {
    s += x;
    s2 += double(x) * x;
  }
  const double n = static_cast<double>(t.numel());
  return std::sqrt(s2 / n - (s / n) * (s / n));
}
float max_abs(const Tensor<float>& t) {
  float m = 0;
  for (float x : t) m = std::max(m, std::abs(x));
  return m;
}
}  // namespace

TEST_CASE("init: fans follow torch.nn.init's convention", "[init]") {
  CHECK(hone::init::fans(Shape{10, 20}) == std::pair<std::int64_t, std::int64_t>{20, 10});
  CHECK(hone::init::fans(Shape{64, 3, 7, 7}) == std::pair<std::int64_t, std::int64_t>{147, 3136});
  CHECK(hone::init::fans(Shape{32, 1, 3, 3}) == std::pair<std::int64_t, std::int64_t>{9, 288});
  CHECK_THROWS_WITH(hone::init::fans(Shape{10}),
                    "[hone.shape] fan_in/fan_out need a weight of rank >= 2, got shape (10)");
}

TEST_CASE("init: kaiming_uniform has bound gain*sqrt(3/fan)", "[init]") {
  Tensor<float> w(Shape{256, 128, 3, 3});
  Generator g(1);
  hone::init::kaiming_uniform(w, g);  // ReLU gain sqrt(2), fan_in 1152
  const double bound = std::sqrt(2.0) * std::sqrt(3.0 / 1152);
  CHECK(max_abs(w) <= bound * (1 + 1e-6));  // float rounding may land just above
  CHECK(max_abs(w) > 0.999 * bound);
  CHECK(sample_std(w) == Approx(bound / std::sqrt(3.0)).epsilon(0.01));
  // PyTorch's default Linear/Conv init, a = sqrt(5), has bound 1/sqrt(fan_in).
  Tensor<float> lin(Shape{1000, 512});
  hone::init::kaiming_uniform(lin, g, std::sqrt(5.0));
  CHECK(max_abs(lin) <= (1 + 1e-6) / std::sqrt(512.0));
  CHECK(max_abs(lin) > 0.999 / std::sqrt(512.0));
}

TEST_CASE("init: kaiming_normal has std gain/sqrt(fan), fan_in or fan_out", "[init]") {
  Tensor<float> w(Shape{64, 32, 3, 3});
  Generator g(2);
  hone::init::kaiming_normal(w, g);
  CHECK(sample_std(w) == Approx(std::sqrt(2.0 / 288)).epsilon(0.02));
  hone::init::kaiming_normal(w, g, 0.0, hone::init::FanMode::fan_out);
  CHECK(sample_std(w) == Approx(std::sqrt(2.0 / 576)).epsilon(0.02));
}

TEST_CASE("init: xavier bounds and std use fan_in + fan_out", "[init]") {
  Tensor<float> w(Shape{300, 200});
  Generator g(3);
  hone::init::xavier_uniform(w, g);
  const double bound = std::sqrt(6.0 / 500);
  CHECK(max_abs(w) <= bound * (1 + 1e-6));  // float rounding may land just above
  CHECK(sample_std(w) == Approx(bound / std::sqrt(3.0)).epsilon(0.02));
  hone::init::xavier_normal(w, g, 2.0);
  CHECK(sample_std(w) == Approx(2.0 * std::sqrt(2.0 / 500)).epsilon(0.02));
}

TEST_CASE("init: uniform and normal fill with the requested moments", "[init]") {
  Tensor<double> t(Shape{100000});
  Generator g(4);
  hone::init::uniform(t, -2.0, 6.0, g);
  double mn = 1e9, mx = -1e9, sum = 0;
  for (double x : t) {
    mn = std::min(mn, x);
    mx = std::max(mx, x);
    sum += x;
  }
  CHECK(mn >= -2.0);
  CHECK(mx < 6.0);
  CHECK(sum / 100000 == Approx(2.0).epsilon(0.01));
  hone::init::normal(t, 3.0, 0.5, g);
  sum = 0;
  for (double x : t) sum += x;
  CHECK(sum / 100000 == Approx(3.0).epsilon(0.002));
}

TEST_CASE("init: the same seed gives the same weights, in float and double alike", "[init]") {
  Tensor<float> a(Shape{16, 8, 3, 3}), b(Shape{16, 8, 3, 3}), c(Shape{16, 8, 3, 3});
  Tensor<double> d(Shape{16, 8, 3, 3});
  Generator ga(99), gb(99), gc(100), gd(99);
  hone::init::kaiming_normal(a, ga);
  hone::init::kaiming_normal(b, gb);
  hone::init::kaiming_normal(c, gc);
  hone::init::kaiming_normal(d, gd);
  CHECK(std::equal(a.begin(), a.end(), b.begin()));
  CHECK_FALSE(std::equal(a.begin(), a.end(), c.begin()));
  for (std::int64_t i = 0; i < a.numel(); ++i) REQUIRE(a[i] == static_cast<float>(d[i]));
}

TEST_CASE("init: invalid arguments are rejected", "[init]") {
  Tensor<float> t(Shape{4, 4});
  Generator g(0);
  CHECK_THROWS_AS(hone::init::uniform(t, 1.0, 0.0, g), hone::InvalidArgument);
  CHECK_THROWS_AS(hone::init::normal(t, 0.0, -1.0, g), hone::InvalidArgument);
  Tensor<float> vec(Shape{4});
  CHECK_THROWS_AS(hone::init::kaiming_uniform(vec, g), hone::ShapeError);
  Tensor<float> empty(Shape{0, 4});
  CHECK_THROWS_AS(hone::init::kaiming_uniform(empty, g, 0.0, hone::init::FanMode::fan_out),
                  hone::ShapeError);
}
