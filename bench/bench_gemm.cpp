// SGEMM: hone (AVX-512 and AVX2 paths) next to oneDNN's dnnl_sgemm, OpenBLAS's cblas_sgemm
// and Eigen, on the same inputs in the same run, at 1 and 2 threads, over the shape suite
// of the GEMM issue; plus the machine's FMA peak from a tight FMA loop.
// Benchmarks are named gemm/<library>/<shape>/threads:<t>; counter GFLOPS (2mnk/s).
// bench/compare-gemm turns the JSON output into the comparison table.
#include <benchmark/benchmark.h>

#include <hone/hone.hpp>

#include <cblas.h>
#include <dnnl.h>
#include <omp.h>
#include <Eigen/Core>

#include <immintrin.h>

#include <cstdio>
#include <string>
#include <vector>

extern "C" void openblas_set_num_threads(int);

namespace {

struct Shape {
  const char* name;
  std::int64_t m, n, k;
  hone::Trans ta, tb;
};

using hone::Trans;
const std::vector<Shape> kShapes = {
    {"square256", 256, 256, 256, Trans::No, Trans::No},
    {"square512", 512, 512, 512, Trans::No, Trans::No},
    {"square1024", 1024, 1024, 1024, Trans::No, Trans::No},
    {"square2048", 2048, 2048, 2048, Trans::No, Trans::No},
    {"fc32x1000x512_NT", 32, 1000, 512, Trans::No, Trans::Yes},
    {"fc32x512x1000_NN", 32, 512, 1000, Trans::No, Trans::No},
    {"fc1000x512x32_TN", 1000, 512, 32, Trans::Yes, Trans::No},
    {"fc32x1280x1000_NT", 32, 1280, 1000, Trans::No, Trans::Yes},
    {"conv25088x64x576_NN", 25088, 64, 576, Trans::No, Trans::No},
    {"conv6272x128x1152_NN", 6272, 128, 1152, Trans::No, Trans::No},
    {"conv1568x256x2304_NN", 1568, 256, 2304, Trans::No, Trans::No},
    {"conv392x512x4608_NN", 392, 512, 4608, Trans::No, Trans::No},
    {"conv1x1_6272x256x128_NN", 6272, 256, 128, Trans::No, Trans::No},
    {"dgrad25088x576x64_NT", 25088, 576, 64, Trans::No, Trans::Yes},
    {"wgrad576x64x25088_TN", 576, 64, 25088, Trans::Yes, Trans::No},
    {"wgrad4608x512x392_TN", 4608, 512, 392, Trans::Yes, Trans::No},
};

struct Operands {
  std::vector<float> a, b, c;
  std::int64_t lda, ldb, ldc;
  explicit Operands(const Shape& s) {
    lda = s.ta == Trans::No ? s.k : s.m;
    ldb = s.tb == Trans::No ? s.n : s.k;
    ldc = s.n;
    hone::Generator g(1);
    a.resize(static_cast<std::size_t>(s.m * s.k));
    b.resize(static_cast<std::size_t>(s.k * s.n));
    c.resize(static_cast<std::size_t>(s.m * s.n));
    for (float& x : a) x = g.uniform_float() - 0.5f;
    for (float& x : b) x = g.uniform_float() - 0.5f;
  }
};

void set_all_threads(int threads) {
  hone::set_num_threads(static_cast<std::size_t>(threads));
  openblas_set_num_threads(threads);
  omp_set_num_threads(threads);
  Eigen::setNbThreads(threads);
}

void finish(benchmark::State& state, const Shape& s) {
  state.counters["GFLOPS"] = benchmark::Counter(2.0 * double(s.m) * double(s.n) * double(s.k) / 1e9,
                                                benchmark::Counter::kIsIterationInvariantRate);
}

void run_hone(benchmark::State& state, Shape s, int threads, hone::cpu::Isa isa) {
  set_all_threads(threads);
  hone::cpu::set_max_isa(isa);
  if (hone::cpu::active_isa() != isa) {
    state.SkipWithError("ISA not available on this machine");
    return;
  }
  Operands op(s);
  for (auto _ : state)
    hone::gemm(s.ta, s.tb, s.m, s.n, s.k, 1.f, op.a.data(), op.lda, op.b.data(), op.ldb, 0.f,
               op.c.data(), op.ldc);
  hone::cpu::set_max_isa(hone::cpu::Isa::avx512);
  finish(state, s);
}

void run_onednn(benchmark::State& state, Shape s, int threads) {
  set_all_threads(threads);
  Operands op(s);
  for (auto _ : state)
    dnnl_sgemm(s.ta == Trans::No ? 'N' : 'T', s.tb == Trans::No ? 'N' : 'T', s.m, s.n, s.k, 1.f,
               op.a.data(), op.lda, op.b.data(), op.ldb, 0.f, op.c.data(), op.ldc);
  finish(state, s);
}

void run_openblas(benchmark::State& state, Shape s, int threads) {
  set_all_threads(threads);
  Operands op(s);
  for (auto _ : state)
    cblas_sgemm(CblasRowMajor, s.ta == Trans::No ? CblasNoTrans : CblasTrans,
                s.tb == Trans::No ? CblasNoTrans : CblasTrans, int(s.m), int(s.n), int(s.k), 1.f,
                op.a.data(), int(op.lda), op.b.data(), int(op.ldb), 0.f, op.c.data(), int(op.ldc));
  finish(state, s);
}

void run_eigen(benchmark::State& state, Shape s, int threads) {
  set_all_threads(threads);
  Operands op(s);
  using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::Map<const Mat> a(op.a.data(), s.ta == Trans::No ? s.m : s.k, s.ta == Trans::No ? s.k : s.m);
  Eigen::Map<const Mat> b(op.b.data(), s.tb == Trans::No ? s.k : s.n, s.tb == Trans::No ? s.n : s.k);
  Eigen::Map<Mat> c(op.c.data(), s.m, s.n);
  for (auto _ : state) {
    if (s.ta == Trans::No && s.tb == Trans::No) c.noalias() = a * b;
    else if (s.ta == Trans::No) c.noalias() = a * b.transpose();
    else if (s.tb == Trans::No) c.noalias() = a.transpose() * b;
    else c.noalias() = a.transpose() * b.transpose();
    benchmark::DoNotOptimize(op.c.data());
  }
  finish(state, s);
}

// The FMA peak: 12 independent accumulators (more than latency x throughput), no memory.
__attribute__((target("avx512f,fma"))) double fma_loop_avx512(std::int64_t iters) {
  __m512 acc[12];
  for (auto& x : acc) x = _mm512_set1_ps(1.f);
  const __m512 mul = _mm512_set1_ps(0.999999f), add = _mm512_set1_ps(1e-7f);
  for (std::int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 12
    for (auto& x : acc) x = _mm512_fmadd_ps(x, mul, add);
  }
  __m512 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, acc[i]);
  alignas(64) float lanes[16];  // not _mm512_reduce_add_ps: GCC 12 warns inside it
  _mm512_store_ps(lanes, s);
  double total = 0;
  for (float x : lanes) total += x;
  return total;
}

// The same loop on 256-bit registers: the ceiling of the AVX2 path, which on a CPU with
// full-width 512-bit FMA units is half the AVX-512 one.
__attribute__((target("avx2,fma"))) double fma_loop_avx2(std::int64_t iters) {
  __m256 acc[12];
  for (auto& x : acc) x = _mm256_set1_ps(1.f);
  const __m256 mul = _mm256_set1_ps(0.999999f), add = _mm256_set1_ps(1e-7f);
  for (std::int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 12
    for (auto& x : acc) x = _mm256_fmadd_ps(x, mul, add);
  }
  __m256 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, acc[i]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, s);
  double total = 0;
  for (float x : lanes) total += x;
  return total;
}

void run_fma_peak(benchmark::State& state, int threads, hone::cpu::Isa isa) {
  set_all_threads(threads);
  if (static_cast<int>(hone::cpu::detected_isa()) < static_cast<int>(isa)) {
    state.SkipWithError("ISA not available");
    return;
  }
  constexpr std::int64_t iters = 1 << 20;
  const bool wide = isa == hone::cpu::Isa::avx512;
  for (auto _ : state) {
    hone::parallel_run(static_cast<std::size_t>(threads), [&](std::size_t) {
      benchmark::DoNotOptimize(wide ? fma_loop_avx512(iters) : fma_loop_avx2(iters));
    });
  }
  state.counters["GFLOPS"] = benchmark::Counter(
      double(threads) * iters * 12 * (wide ? 16 : 8) * 2 / 1e9,
      benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

int main(int argc, char** argv) {
  for (int threads : {1, 2}) {
    const std::string t = "/threads:" + std::to_string(threads);
    benchmark::RegisterBenchmark(("peak/fma-avx512" + t).c_str(), run_fma_peak, threads,
                                 hone::cpu::Isa::avx512)->UseRealTime();
    benchmark::RegisterBenchmark(("peak/fma-avx2" + t).c_str(), run_fma_peak, threads,
                                 hone::cpu::Isa::avx2)->UseRealTime();
    for (const Shape& s : kShapes) {
      const std::string n = std::string("/") + s.name + t;
      benchmark::RegisterBenchmark(("gemm/hone" + n).c_str(), run_hone, s, threads, hone::cpu::Isa::avx512)->UseRealTime();
      benchmark::RegisterBenchmark(("gemm/hone-avx2" + n).c_str(), run_hone, s, threads, hone::cpu::Isa::avx2)->UseRealTime();
      benchmark::RegisterBenchmark(("gemm/onednn" + n).c_str(), run_onednn, s, threads)->UseRealTime();
      benchmark::RegisterBenchmark(("gemm/openblas" + n).c_str(), run_openblas, s, threads)->UseRealTime();
      benchmark::RegisterBenchmark(("gemm/eigen" + n).c_str(), run_eigen, s, threads)->UseRealTime();
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
