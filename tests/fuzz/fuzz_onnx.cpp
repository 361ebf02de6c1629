// libFuzzer target over hone's ONNX reader and importer: the protobuf wire format, the ONNX
// messages, tensor decoding and import_model (the property checked is in fuzz_onnx_check.hpp). Built with
//   clang++ -std=c++20 -fsanitize=fuzzer,address,undefined -Iinclude tests/fuzz/fuzz_onnx.cpp
// by the ctest entry "fuzz: ONNX reader under libFuzzer" (tests/cmake/run_fuzz.cmake), which
// starts from tests/fuzz/corpus and tests/fuzz/regressions. An input that crashes it belongs
// in tests/fuzz/regressions/, where hone_onnx_tests replays it on every test run.
//
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>

#include "fuzz_onnx_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string problem = hone_fuzz::check_input(std::span<const std::uint8_t>(data, size));
  if (!problem.empty()) {
    std::fprintf(stderr, "fuzz_onnx: %s\n", problem.c_str());
    std::abort();
  }
  return 0;
}
