// hone/kernels/detail/scratch.hpp — per-thread scratch buffers for the convolution kernels.
#pragma once

#include <cstdint>  // std::int64_t, std::uintptr_t
#include <memory>   // std::unique_ptr

namespace hone::kernels::detail_conv {

/// A per-thread scratch buffer that only grows (pool threads live as long as the pool).
/// Four slots, so one kernel can hold four buffers at once. The buffer starts on a 64-byte
/// boundary, so that whole 16-float vectors at multiples of 16 floats never straddle two
/// cache lines.
inline float* scratch(int slot, std::int64_t count) {
  constexpr std::int64_t kAlign = 16;  // floats: 64 bytes
  struct Buffer {
    std::unique_ptr<float[]> data;
    float* aligned = nullptr;
    std::int64_t size = 0;
  };
  thread_local Buffer buffers[4];
  Buffer& b = buffers[slot];
  if (b.size < count) {
    b.data.reset(new float[static_cast<std::size_t>(count + kAlign)]);
    const auto address = reinterpret_cast<std::uintptr_t>(b.data.get());
    b.aligned = b.data.get() + ((64 - address % 64) % 64) / sizeof(float);
    b.size = count;
  }
  return b.aligned;
}

}  // namespace hone::kernels::detail_conv
