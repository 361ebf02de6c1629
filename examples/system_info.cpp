// Prints what hone sees on this machine: version, SIMD features, the kernel family it will
// use (after HONE_MAX_ISA) and the thread count (after HONE_NUM_THREADS).
#include <hone/hone.hpp>

#include <cstdio>
#include <exception>

int main() {
  try {
    const auto& f = hone::cpu::features();
    std::printf("hone %s\n", hone::version_string);
    std::printf("features: avx2=%d fma=%d avx512f=%d avx512bw=%d avx512dq=%d avx512vl=%d "
                "avx512_vnni=%d avx512_bf16=%d\n",
                f.avx2, f.fma, f.avx512f, f.avx512bw, f.avx512dq, f.avx512vl, f.avx512_vnni,
                f.avx512_bf16);
    std::printf("detected isa: %s\n", hone::cpu::to_string(hone::cpu::detected_isa()).data());
    std::printf("active isa:   %s\n", hone::cpu::to_string(hone::cpu::active_isa()).data());
    std::printf("threads:      %zu\n", hone::get_num_threads());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hone_system_info: %s\n", e.what());
    return 1;
  }
  return 0;
}
