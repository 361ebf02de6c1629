// ODR check: both translation units must see one thread pool and agree on results.
#include <cstddef>
#include <cstdio>

double odr_a_sum();
double odr_b_sum();
void odr_a_set_threads(std::size_t n);
std::size_t odr_b_threads();

int main() {
  if (odr_a_sum() != 5.0 || odr_b_sum() != 5.0) {
    std::puts("the two translation units disagree");
    return 1;
  }
  odr_a_set_threads(3);  // set in one unit, observed in the other: one pool, not two
  if (odr_b_threads() != 3) {
    std::puts("the two translation units see different thread pools");
    return 1;
  }
  std::puts("odr ok");
  return 0;
}
