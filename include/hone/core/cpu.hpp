// hone/core/cpu.hpp — which SIMD instruction sets this CPU and OS let hone use.
//
// Kernels come in per-ISA variants (scalar, AVX2+FMA, AVX-512) and are chosen at run time
// by active_isa(), never by compiler flags. An ISA counts as available only when the CPU
// reports it (CPUID) *and* the operating system saves its registers on context switches
// (XGETBV/XCR0): a kernel that boots with AVX-512 disabled reports the CPU bits but not the
// state bits. HONE_MAX_ISA=scalar|avx2|avx512 (or set_max_isa) caps the choice so that
// every path can be tested on one machine; a cap above what the machine has is harmless.
#pragma once

#include <atomic>       // the cached active ISA
#include <cstdint>      // register values
#include <cstdlib>      // std::getenv
#include <string>       // messages
#include <string_view>  // ISA names

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>  // __get_cpuid_max, __cpuid_count (GCC and Clang)
#define HONE_ARCH_X86 1
#else
#define HONE_ARCH_X86 0
#endif

#include "hone/core/error.hpp"

namespace hone::cpu {

/// The kernel families hone has, in increasing order of capability.
enum class Isa : int {
  scalar = 0,  ///< portable C++ loops
  avx2 = 1,    ///< AVX2 + FMA3 (x86-64-v3)
  avx512 = 2,  ///< AVX-512 F, BW, DQ and VL (x86-64-v4)
};

/// "scalar", "avx2" or "avx512".
constexpr std::string_view to_string(Isa isa) noexcept {
  switch (isa) {
    case Isa::scalar: return "scalar";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
  }
  return "unknown";
}

/// Parses an ISA name as accepted by HONE_MAX_ISA; throws InvalidArgument naming the
/// valid spellings otherwise.
inline Isa parse_isa(std::string_view name) {
  if (name == "scalar") return Isa::scalar;
  if (name == "avx2") return Isa::avx2;
  if (name == "avx512") return Isa::avx512;
  throw InvalidArgument("hone.config", detail::concat("unknown ISA \"", name,
                                                      "\" (valid: scalar, avx2, avx512)"));
}

/// Individual CPU features, each true only if both the CPU and the OS support it.
struct Features {
  bool sse42 = false;
  bool avx = false;
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512dq = false;
  bool avx512vl = false;
  bool avx512_vnni = false;
  bool avx512_bf16 = false;
};

namespace detail {

#if HONE_ARCH_X86
struct CpuidRegs {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
};

inline CpuidRegs cpuid(unsigned leaf, unsigned subleaf) {
  CpuidRegs r;
  __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
  return r;
}

inline std::uint64_t xgetbv0() {
  std::uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<std::uint64_t>(hi) << 32) | lo;
}

constexpr bool bit(unsigned reg, int b) { return ((reg >> b) & 1u) != 0; }
#endif

inline Features detect_features() {
  Features f;
#if HONE_ARCH_X86
  const unsigned max_leaf = __get_cpuid_max(0, nullptr);
  if (max_leaf < 1) return f;
  const CpuidRegs l1 = cpuid(1, 0);
  f.sse42 = bit(l1.ecx, 20);
  const bool osxsave = bit(l1.ecx, 27);
  const std::uint64_t xcr0 = osxsave ? xgetbv0() : 0;
  const bool os_avx = (xcr0 & 0x6) == 0x6;             // XMM and YMM state
  const bool os_avx512 = os_avx && (xcr0 & 0xE0) == 0xE0;  // opmask, ZMM_Hi256, Hi16_ZMM
  f.avx = os_avx && bit(l1.ecx, 28);
  f.fma = f.avx && bit(l1.ecx, 12);
  f.f16c = f.avx && bit(l1.ecx, 29);
  if (max_leaf >= 7) {
    const CpuidRegs l7 = cpuid(7, 0);
    f.avx2 = f.avx && bit(l7.ebx, 5);
    f.avx512f = os_avx512 && bit(l7.ebx, 16);
    f.avx512dq = f.avx512f && bit(l7.ebx, 17);
    f.avx512bw = f.avx512f && bit(l7.ebx, 30);
    f.avx512vl = f.avx512f && bit(l7.ebx, 31);
    f.avx512_vnni = f.avx512f && bit(l7.ecx, 11);
    if (l7.eax >= 1) f.avx512_bf16 = f.avx512f && bit(cpuid(7, 1).eax, 5);
  }
#endif
  return f;
}

inline constexpr int isa_unset = -1;

/// The cap from HONE_MAX_ISA / set_max_isa, or isa_unset before first use.
inline std::atomic<int>& max_isa_slot() {
  static std::atomic<int> slot{isa_unset};
  return slot;
}

}  // namespace detail

/// The features of this machine, detected once.
inline const Features& features() {
  static const Features f = detail::detect_features();
  return f;
}

/// The best kernel family this machine supports, ignoring any cap.
inline Isa detected_isa() {
  const Features& f = features();
  if (f.avx512f && f.avx512bw && f.avx512dq && f.avx512vl && f.fma) return Isa::avx512;
  if (f.avx2 && f.fma) return Isa::avx2;
  return Isa::scalar;
}

/// The cap on kernel families: HONE_MAX_ISA when set (throws InvalidArgument, id
/// hone.config, when malformed), else the last set_max_isa(), else avx512 (no cap).
inline Isa max_isa() {
  int cap = detail::max_isa_slot().load(std::memory_order_relaxed);
  if (cap == detail::isa_unset) {
    const char* env = std::getenv("HONE_MAX_ISA");
    const Isa parsed = env ? parse_isa(env) : Isa::avx512;
    int expected = detail::isa_unset;
    detail::max_isa_slot().compare_exchange_strong(expected, static_cast<int>(parsed));
    cap = detail::max_isa_slot().load(std::memory_order_relaxed);
  }
  return static_cast<Isa>(cap);
}

/// Caps the kernel family used from now on (overrides HONE_MAX_ISA). Kernels that cache a
/// dispatch decision re-read active_isa() on each call, so this takes effect immediately.
inline void set_max_isa(Isa cap) noexcept {
  detail::max_isa_slot().store(static_cast<int>(cap), std::memory_order_relaxed);
}

/// The kernel family hone's kernels use: the lower of detected_isa() and max_isa().
inline Isa active_isa() {
  const Isa detected = detected_isa();
  const Isa cap = max_isa();
  return static_cast<int>(cap) < static_cast<int>(detected) ? cap : detected;
}

}  // namespace hone::cpu
