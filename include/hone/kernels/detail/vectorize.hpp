// hone/kernels/detail/vectorize.hpp — run a plain loop compiled for the widest ISA this CPU
// has (and HONE_MAX_ISA allows), without compiling the whole program for it.
//
//   hone::kernels::detail::vectorized([&]() HONE_INLINE_LAMBDA {
//     for (std::int64_t i = 0; i < n; ++i) y[i] += a * x[i];
//   });
//
// The body is inlined into one of three copies of a small trampoline, compiled with
// target("avx512f,...") , target("avx2,fma") or the default target, and the copy for
// cpu::active_isa() runs. The loop then vectorises with that ISA's registers. FMA
// contraction may differ between the copies, so results may differ in the last bits between
// ISA paths (as the GEMM's do) but not between runs on one machine.
#pragma once

#include "hone/core/cpu.hpp"

/// Forces a lambda's body into the trampoline (so it is compiled for the trampoline's ISA).
#define HONE_INLINE_LAMBDA __attribute__((always_inline))

namespace hone::kernels::detail {

/// 16 floats: one AVX-512 register, two AVX2 ones, four SSE ones (whatever the trampoline
/// compiles for). may_alias and 4-byte aligned: loaded from and stored to any float.
typedef float Vec16 __attribute__((vector_size(64), aligned(4), may_alias));

/// Index lists for __builtin_shufflevector(a, b, ...) on two Vec16: the even or odd floats
/// of the 32, or a and b interleaved (low halves, high halves).
#define HONE_VEC16_EVENS 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30
#define HONE_VEC16_ODDS 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31
#define HONE_VEC16_ZIP_LO 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23
#define HONE_VEC16_ZIP_HI 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31

template <class F>
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma"))) inline void run_avx512(F& f) {
  f();
}

template <class F>
__attribute__((target("avx2,fma"))) inline void run_avx2(F& f) {
  f();
}

/// Runs f() compiled for the active ISA (see the file comment).
template <class F>
inline void vectorized(F&& f) {
#if defined(__x86_64__) || defined(__i386__)
  switch (cpu::active_isa()) {
    case cpu::Isa::avx512: run_avx512(f); return;
    case cpu::Isa::avx2: run_avx2(f); return;
    default: break;
  }
#endif
  f();
}

}  // namespace hone::kernels::detail
