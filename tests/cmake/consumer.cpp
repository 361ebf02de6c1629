// A program written the way a user of an installed or vendored hone would write it.
#include <hone/hone.hpp>

#include <cstdio>

int main() {
  hone::Tensor<float> t({4, 3}, 1.5f);
  hone::Generator gen(7);
  hone::init::kaiming_uniform(t, gen);
  double total = 0;
  for (float x : t) total += x * x;
  if (!(total > 0)) return 1;
  std::printf("hone %s consumer ok (isa %s, %zu threads)\n", hone::version_string,
              hone::cpu::to_string(hone::cpu::active_isa()).data(), hone::get_num_threads());
  return 0;
}
