// Tensor fill and copy bandwidth in GB/s, next to std::memset / std::memcpy on the same
// buffers (the anchor). Sizes: 256 KiB (in L2) and 64 MiB (memory-bound).
#include <benchmark/benchmark.h>

#include <hone/hone.hpp>

#include <cstring>

namespace {

void set_bandwidth(benchmark::State& state, double bytes_per_iteration) {
  // Printed as "GB=<value>/s": Google Benchmark appends "/s" to rate counters.
  state.counters["GB"] = benchmark::Counter(bytes_per_iteration / 1e9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

void BM_tensor_fill(benchmark::State& state) {
  hone::Tensor<float> t(hone::Shape{state.range(0)});
  for (auto _ : state) {
    t.fill(1.5f);
    benchmark::DoNotOptimize(t.data());
    benchmark::ClobberMemory();
  }
  set_bandwidth(state, static_cast<double>(t.numel()) * sizeof(float));
}

void BM_anchor_memset(benchmark::State& state) {
  hone::Tensor<float> t(hone::Shape{state.range(0)});
  for (auto _ : state) {
    std::memset(t.data(), 0, static_cast<std::size_t>(t.numel()) * sizeof(float));
    benchmark::DoNotOptimize(t.data());
    benchmark::ClobberMemory();
  }
  set_bandwidth(state, static_cast<double>(t.numel()) * sizeof(float));
}

void BM_tensor_copy(benchmark::State& state) {
  hone::Tensor<float> src(hone::Shape{state.range(0)}, 2.f), dst(hone::Shape{state.range(0)});
  for (auto _ : state) {
    dst.copy_from(src);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  set_bandwidth(state, 2.0 * static_cast<double>(src.numel()) * sizeof(float));  // read + write
}

void BM_anchor_memcpy(benchmark::State& state) {
  hone::Tensor<float> src(hone::Shape{state.range(0)}, 2.f), dst(hone::Shape{state.range(0)});
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), static_cast<std::size_t>(src.numel()) * sizeof(float));
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  set_bandwidth(state, 2.0 * static_cast<double>(src.numel()) * sizeof(float));
}

constexpr std::int64_t kL2 = 64 * 1024;            // floats: 256 KiB
constexpr std::int64_t kMemory = 16 * 1024 * 1024;  // floats: 64 MiB

}  // namespace

BENCHMARK(BM_anchor_memset)->Arg(kL2)->Arg(kMemory);
BENCHMARK(BM_tensor_fill)->Arg(kL2)->Arg(kMemory);
BENCHMARK(BM_anchor_memcpy)->Arg(kL2)->Arg(kMemory);
BENCHMARK(BM_tensor_copy)->Arg(kL2)->Arg(kMemory);

BENCHMARK_MAIN();
