// hone/core/init.hpp — seeded weight initialisers (uniform, normal, Kaiming, Xavier).
//
// The formulas and fan conventions are PyTorch's (torch.nn.init), so a layer initialised
// by hone has the same distribution as the same layer in PyTorch: for a weight of shape
// (out, in, k...) fan_in = in * prod(k) and fan_out = out * prod(k). The values themselves
// come from hone::Generator and are identical on every platform for a given seed; they
// are filled in row-major order, one draw per element.
#pragma once

#include <cmath>    // std::sqrt
#include <cstdint>  // std::int64_t
#include <type_traits>  // std::is_floating_point_v
#include <utility>  // std::pair

#include "hone/core/error.hpp"
#include "hone/core/rng.hpp"
#include "hone/core/tensor.hpp"

namespace hone::init {

/// Whether a Kaiming initialiser preserves the variance of the forward or backward pass.
enum class FanMode { fan_in, fan_out };

/// (fan_in, fan_out) of a weight shape, as torch.nn.init computes them. Throws ShapeError
/// for rank < 2, where fans are undefined.
inline std::pair<std::int64_t, std::int64_t> fans(const Shape& shape) {
  if (shape.rank() < 2)
    throw ShapeError(hone::detail::concat("fan_in/fan_out need a weight of rank >= 2, got shape ",
                                    shape));
  std::int64_t receptive = 1;
  for (std::size_t i = 2; i < shape.rank(); ++i) receptive *= shape[i];
  return {shape[1] * receptive, shape[0] * receptive};
}

/// Fills t with independent draws from U[low, high). Throws InvalidArgument if high < low.
template <class T>
void uniform(Tensor<T>& t, double low, double high, Generator& gen) {
  static_assert(std::is_floating_point_v<T>, "random initialisers need a floating-point tensor");
  if (!(high >= low))
    throw InvalidArgument(hone::detail::concat("init::uniform: high (", high, ") < low (", low, ")"));
  for (T& x : t) x = static_cast<T>(low + (high - low) * gen.uniform_double());
}

/// Fills t with independent draws from N(mean, stddev^2). Throws InvalidArgument if stddev < 0.
template <class T>
void normal(Tensor<T>& t, double mean, double stddev, Generator& gen) {
  static_assert(std::is_floating_point_v<T>, "random initialisers need a floating-point tensor");
  if (!(stddev >= 0))
    throw InvalidArgument(hone::detail::concat("init::normal: stddev ", stddev, " is negative"));
  for (T& x : t) x = static_cast<T>(mean + stddev * gen.normal());
}

/// The gain torch.nn.init.calculate_gain returns for leaky_relu with this negative slope
/// (slope 0 is plain ReLU: sqrt(2)).
inline double leaky_relu_gain(double negative_slope) {
  return std::sqrt(2.0 / (1.0 + negative_slope * negative_slope));
}

namespace init_detail {
inline std::int64_t kaiming_fan(const Shape& shape, FanMode mode, const char* who) {
  const auto [fan_in, fan_out] = fans(shape);
  const std::int64_t fan = mode == FanMode::fan_in ? fan_in : fan_out;
  if (fan == 0)
    throw ShapeError(hone::detail::concat(who, ": the fan of shape ", shape, " is zero"));
  return fan;
}
}  // namespace init_detail

/// He/Kaiming uniform: U(-b, b) with b = gain * sqrt(3 / fan), gain = sqrt(2 / (1 + a^2)).
/// PyTorch's default for Conv and Linear weights is a = sqrt(5), fan_in.
template <class T>
void kaiming_uniform(Tensor<T>& t, Generator& gen, double negative_slope = 0.0,
                     FanMode mode = FanMode::fan_in) {
  const auto fan = init_detail::kaiming_fan(t.shape(), mode, "init::kaiming_uniform");
  const double bound = leaky_relu_gain(negative_slope) * std::sqrt(3.0 / static_cast<double>(fan));
  uniform(t, -bound, bound, gen);
}

/// He/Kaiming normal: N(0, std^2) with std = gain / sqrt(fan).
template <class T>
void kaiming_normal(Tensor<T>& t, Generator& gen, double negative_slope = 0.0,
                    FanMode mode = FanMode::fan_in) {
  const auto fan = init_detail::kaiming_fan(t.shape(), mode, "init::kaiming_normal");
  normal(t, 0.0, leaky_relu_gain(negative_slope) / std::sqrt(static_cast<double>(fan)), gen);
}

/// Glorot/Xavier uniform: U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)).
template <class T>
void xavier_uniform(Tensor<T>& t, Generator& gen, double gain = 1.0) {
  const auto [fan_in, fan_out] = fans(t.shape());
  if (fan_in + fan_out == 0)
    throw ShapeError(hone::detail::concat("init::xavier_uniform: shape ", t.shape(), " has no fans"));
  const double bound = gain * std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
  uniform(t, -bound, bound, gen);
}

/// Glorot/Xavier normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)).
template <class T>
void xavier_normal(Tensor<T>& t, Generator& gen, double gain = 1.0) {
  const auto [fan_in, fan_out] = fans(t.shape());
  if (fan_in + fan_out == 0)
    throw ShapeError(hone::detail::concat("init::xavier_normal: shape ", t.shape(), " has no fans"));
  normal(t, 0.0, gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out)), gen);
}

}  // namespace hone::init
