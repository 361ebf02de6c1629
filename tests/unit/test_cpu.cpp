// Tests for hone/core/cpu.hpp. Oracles: the kernel's view of the CPU (/proc/cpuinfo flags,
// which Linux clears for features the OS does not enable) and the compiler's
// __builtin_cpu_supports.
#include <catch2/catch.hpp>

#include <hone/core/cpu.hpp>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

using hone::cpu::Isa;

namespace {
std::set<std::string> proc_cpuinfo_flags() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) == 0) {
      std::istringstream words(line.substr(line.find(':') + 1));
      std::set<std::string> flags;
      for (std::string w; words >> w;) flags.insert(w);
      return flags;
    }
  }
  return {};
}

struct MaxIsaGuard {
  Isa saved = hone::cpu::max_isa();
  ~MaxIsaGuard() { hone::cpu::set_max_isa(saved); }
};
}  // namespace

#if HONE_ARCH_X86
TEST_CASE("cpu: detected features agree with /proc/cpuinfo", "[cpu]") {
  const auto flags = proc_cpuinfo_flags();
  if (flags.empty()) {
    WARN("/proc/cpuinfo has no flags line; skipping");
    return;
  }
  const auto& f = hone::cpu::features();
  CHECK(f.sse42 == (flags.count("sse4_2") == 1));
  CHECK(f.avx == (flags.count("avx") == 1));
  CHECK(f.avx2 == (flags.count("avx2") == 1));
  CHECK(f.fma == (flags.count("fma") == 1));
  CHECK(f.f16c == (flags.count("f16c") == 1));
  CHECK(f.avx512f == (flags.count("avx512f") == 1));
  CHECK(f.avx512bw == (flags.count("avx512bw") == 1));
  CHECK(f.avx512dq == (flags.count("avx512dq") == 1));
  CHECK(f.avx512vl == (flags.count("avx512vl") == 1));
  CHECK(f.avx512_vnni == (flags.count("avx512_vnni") == 1));
  CHECK(f.avx512_bf16 == (flags.count("avx512_bf16") == 1));
}

TEST_CASE("cpu: detected features agree with __builtin_cpu_supports", "[cpu]") {
  __builtin_cpu_init();
  const auto& f = hone::cpu::features();
  CHECK(f.avx2 == (__builtin_cpu_supports("avx2") != 0));
  CHECK(f.fma == (__builtin_cpu_supports("fma") != 0));
  CHECK(f.avx512f == (__builtin_cpu_supports("avx512f") != 0));
  CHECK(f.avx512bw == (__builtin_cpu_supports("avx512bw") != 0));
}
#endif

TEST_CASE("cpu: the detected ISA is the best one whose features are all present", "[cpu]") {
  const auto& f = hone::cpu::features();
  const bool v4 = f.avx512f && f.avx512bw && f.avx512dq && f.avx512vl && f.fma;
  const bool v3 = f.avx2 && f.fma;
  const Isa expected = v4 ? Isa::avx512 : v3 ? Isa::avx2 : Isa::scalar;
  CHECK(hone::cpu::detected_isa() == expected);
}

TEST_CASE("cpu: set_max_isa caps the active ISA", "[cpu]") {
  MaxIsaGuard guard;
  const Isa detected = hone::cpu::detected_isa();
  for (Isa cap : {Isa::scalar, Isa::avx2, Isa::avx512}) {
    hone::cpu::set_max_isa(cap);
    const Isa expected = static_cast<int>(cap) < static_cast<int>(detected) ? cap : detected;
    CHECK(hone::cpu::active_isa() == expected);
  }
}

TEST_CASE("cpu: ISA names round-trip and bad names are rejected", "[cpu]") {
  for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512})
    CHECK(hone::cpu::parse_isa(hone::cpu::to_string(isa)) == isa);
  CHECK_THROWS_WITH(hone::cpu::parse_isa("sse"),
                    "[hone.config] unknown ISA \"sse\" (valid: scalar, avx2, avx512)");
  CHECK_THROWS_AS(hone::cpu::parse_isa("AVX2"), hone::InvalidArgument);
}

TEST_CASE("cpu: HONE_MAX_ISA is honoured or rejected", "[.env]") {
  const char* expect = std::getenv("HONE_TEST_EXPECT_MAX_ISA");
  if (!expect) return;
  if (std::string(expect) == "error") {
    CHECK_THROWS_WITH(hone::cpu::active_isa(),
                      Catch::Contains("unknown ISA") && Catch::Contains("valid: scalar, avx2, avx512"));
    return;
  }
  const Isa cap = hone::cpu::parse_isa(expect);
  CHECK(hone::cpu::max_isa() == cap);
  const Isa detected = hone::cpu::detected_isa();
  CHECK(hone::cpu::active_isa() == (static_cast<int>(cap) < static_cast<int>(detected) ? cap : detected));
}
