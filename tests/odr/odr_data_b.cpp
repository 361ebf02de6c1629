// ODR check for the data pipeline, second translation unit (headers in another order).
#include <hone/data/transforms.hpp>
#include <hone/data.hpp>

#include <cstdio>

std::size_t odr_data_a();

int main() {
  hone::data::Pipeline p = hone::data::imagenet_eval(32);
  hone::data::Image im(40, 50, 3);
  hone::Generator gen(0);
  const auto n = static_cast<std::size_t>(p(im, gen).numel());
  if (n != odr_data_a() || n != 3 * 32 * 32) {
    std::puts("the two translation units disagree");
    return 1;
  }
  std::puts("odr data ok");
  return 0;
}
