// Deliberately reads one element past a heap buffer. Under AddressSanitizer this must be
// reported; the test passes only when the report appears.
#include <cstdio>
#include <vector>

int main(int argc, char**) {
  std::vector<int> values(static_cast<std::size_t>(argc) + 3, 1);
  volatile int* data = values.data();
  const int past_the_end = data[values.size()];  // out of bounds on purpose
  std::printf("read %d without a sanitizer report\n", past_the_end);
  return 0;
}
