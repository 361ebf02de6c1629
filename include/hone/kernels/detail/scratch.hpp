// hone/kernels/detail/scratch.hpp — per-thread scratch buffers for the convolution kernels.
#pragma once

#include <cstdint>  // std::int64_t
#include <memory>   // std::unique_ptr

namespace hone::kernels::detail_conv {

/// A per-thread scratch buffer that only grows (pool threads live as long as the pool).
/// Four slots, so one kernel can hold four buffers at once.
inline float* scratch(int slot, std::int64_t count) {
  struct Buffer {
    std::unique_ptr<float[]> data;
    std::int64_t size = 0;
  };
  thread_local Buffer buffers[4];
  Buffer& b = buffers[slot];
  if (b.size < count) {
    b.data.reset(new float[static_cast<std::size_t>(count)]);
    b.size = count;
  }
  return b.data.get();
}

}  // namespace hone::kernels::detail_conv
