// tests/common/conv_test_support.hpp — what the convolution kernel tests share: the ISA
// paths this machine has, a guard restoring the ISA cap, thread count and Winograd switch,
// random / widened / absolute-value data, and the per-element error check.
#pragma once

#include <catch2/catch.hpp>

#include <hone/core/cpu.hpp>
#include <hone/core/parallel.hpp>
#include <hone/core/rng.hpp>
#include <hone/kernels/conv.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace hone_test {

/// Restores the ISA cap, thread count and Winograd switch on destruction; sets the switch.
struct ConvGuard {
  hone::cpu::Isa saved = hone::cpu::max_isa();
  std::size_t threads = hone::get_num_threads();
  bool winograd = hone::kernels::conv_winograd();
  explicit ConvGuard(bool use_winograd) { hone::kernels::set_conv_winograd(use_winograd); }
  ~ConvGuard() {
    hone::cpu::set_max_isa(saved);
    hone::set_num_threads(threads);
    hone::kernels::set_conv_winograd(winograd);
  }
};

/// Every ISA path this machine can run: scalar, then AVX2 and AVX-512 where present.
inline std::vector<hone::cpu::Isa> isas() {
  using hone::cpu::Isa;
  std::vector<Isa> out = {Isa::scalar};
  if (static_cast<int>(hone::cpu::detected_isa()) >= static_cast<int>(Isa::avx2)) out.push_back(Isa::avx2);
  if (hone::cpu::detected_isa() == Isa::avx512) out.push_back(Isa::avx512);
  return out;
}

/// count floats uniform in [-1, 1).
inline std::vector<float> random(std::int64_t count, hone::Generator& gen) {
  std::vector<float> v(static_cast<std::size_t>(count));
  for (float& x : v) x = gen.uniform_float() * 2.f - 1.f;
  return v;
}

inline std::vector<double> widen(const std::vector<float>& v) { return {v.begin(), v.end()}; }

inline std::vector<double> absolute(const std::vector<double>& v) {
  std::vector<double> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = std::fabs(v[i]);
  return out;
}

/// Checks |got - want| <= 4 * (terms + 2) * eps_float * magnitude per element, magnitude
/// being the same computation on absolute values (a rounding bound for a sum of `terms`
/// products); reports the worst error / bound ratio on failure. NaNs fail.
inline void check(const std::vector<float>& got, const std::vector<double>& want, const std::vector<double>& magnitude,
                  std::int64_t terms, const std::string& what) {
  REQUIRE(got.size() == want.size());
  const double eps = 5.96e-8;
  std::size_t bad = 0;
  double worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(static_cast<double>(got[i]) - want[i]);
    const double bound = 4.0 * static_cast<double>(terms + 2) * eps * magnitude[i] + 1e-30;
    worst = std::max(worst, err / bound);
    if (!(err <= bound)) ++bad;
  }
  INFO(what << ": worst error / bound " << worst);
  CHECK(bad == 0);
}

}  // namespace hone_test
