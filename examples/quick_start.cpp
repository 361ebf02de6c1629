#include <hone/hone.hpp>
#include <cstdio>

int main() {
  hone::Tensor<float> weight({64, 3, 7, 7});          // zero-filled, 64-byte aligned
  hone::Generator gen(/*seed=*/42);
  hone::init::kaiming_normal(weight, gen);            // same values on every platform

  hone::Tensor<float> batch({32, 3, 224, 224});
  hone::Tensor<float> first8 = batch.slice(0, 8);     // a view: no copy
  hone::parallel_for(0, first8.numel(), 4096, [&](std::int64_t lo, std::int64_t hi) {
    for (std::int64_t i = lo; i < hi; ++i) first8[i] = 1.0f;
  });
  std::printf("isa %s, %zu threads\n", hone::cpu::to_string(hone::cpu::active_isa()).data(),
              hone::get_num_threads());
}
