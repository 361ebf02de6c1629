// ODR check, first translation unit: uses the library through the umbrella header.
#include <hone/hone.hpp>

double odr_a_sum() {
  hone::Tensor<double> t({8}, 0.5);
  double sum = 0;
  hone::parallel_for(0, t.numel(), 1, [&](std::int64_t, std::int64_t) {});
  for (double x : t) sum += x;
  return sum + static_cast<double>(hone::cpu::active_isa() == hone::cpu::detected_isa());
}

void odr_a_set_threads(std::size_t n) { hone::set_num_threads(n); }
