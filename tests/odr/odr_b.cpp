// ODR check, second translation unit: includes the same headers in another order.
#include <hone/core/tensor.hpp>
#include <hone/core/parallel.hpp>
#include <hone/hone.hpp>

double odr_b_sum() {
  hone::Tensor<double> t({4}, 1.0);
  double sum = 0;
  for (double x : t) sum += x;
  return sum + static_cast<double>(hone::cpu::active_isa() == hone::cpu::detected_isa());
}

std::size_t odr_b_threads() { return hone::get_num_threads(); }
