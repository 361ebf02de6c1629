// ODR check for the data pipeline, first translation unit.
#include <hone/data.hpp>

std::size_t odr_data_a() {
  hone::data::Pipeline p = hone::data::imagenet_eval(32);
  hone::data::Image im(40, 50, 3);
  hone::Generator gen(0);
  return static_cast<std::size_t>(p(im, gen).numel());
}
