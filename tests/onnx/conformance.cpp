// ONNX conformance: runs ONNX's own node tests (Debian's libonnx-testdata) for every test
// whose ops are all in hone's op set, and compares hone's outputs with ONNX's expected
// outputs (rtol 1e-3, atol 1e-7: the tolerances of ONNX's backend test runner). The runner
// itself is conformance.hpp, shared with the docs generator.
//
// Usage: hone_onnx_conformance [DATA_DIR] [-v]
//   DATA_DIR defaults to /usr/share/libonnx-testdata/data/node. Prints one line per in-set
//   test (PASS, FAIL with the reason, SKIP with the reason) with -v, failures and skips
//   always, then the counts. Exit code 1 when any in-set test fails or a skip is not for a
//   data type (element type, or a sequence/optional type).
#include <cstdio>      // the report
#include <filesystem>  // the data folder
#include <map>         // skip reasons
#include <string>      // arguments

#include "conformance.hpp"

namespace fs = std::filesystem;
namespace hc = hone_conformance;

int main(int argc, char** argv) {
  std::string root = "/usr/share/libonnx-testdata/data/node";
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-v") verbose = true;
    else root = a;
  }
  if (!fs::is_directory(root)) {
    std::fprintf(stderr, "conformance: %s is not a directory (install libonnx-testdata)\n", root.c_str());
    return 2;
  }
  int in_set = 0, passed = 0, failed = 0, skipped = 0, out_of_set = 0, bad_skips = 0;
  std::map<std::string, int> skip_reasons;
  const auto results = hc::run_all(root);
  for (const auto& r : results) {
    if (!r.in_set) {
      ++out_of_set;
      continue;
    }
    ++in_set;
    const hc::Outcome& o = r.outcome;
    switch (o.kind) {
      case hc::Outcome::pass:
        ++passed;
        if (verbose) std::printf("PASS %s\n", r.name.c_str());
        break;
      case hc::Outcome::fail:
        ++failed;
        std::printf("FAIL %s: %s\n", r.name.c_str(), o.reason.c_str());
        break;
      case hc::Outcome::skip:
        ++skipped;
        ++skip_reasons[o.reason];
        if (!hc::is_type_skip(o)) ++bad_skips;
        std::printf("SKIP %s: %s\n", r.name.c_str(), o.reason.c_str());
        break;
    }
  }
  std::printf("\nconformance: %d node tests, %d in hone's op set: %d passed, %d failed, %d skipped "
              "(%d use ops outside the set)\n",
              static_cast<int>(results.size()), in_set, passed, failed, skipped, out_of_set);
  for (const auto& [reason, count] : skip_reasons) std::printf("  skipped %d: %s\n", count, reason.c_str());
  return failed == 0 && bad_skips == 0 ? 0 : 1;
}
