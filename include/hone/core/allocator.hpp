// hone/core/allocator.hpp — where tensor storage comes from: 64-byte-aligned blocks, with a
// cache of freed large blocks so that a training loop, which frees and allocates the same
// activation sizes every step, stops paying page faults for fresh memory each time.
//
// Blocks of at least tensor_cache_min_bytes (256 KiB) go back to a per-size free list when
// their last tensor dies, as long as the cache stays under its limit (default: a quarter of
// the physical memory, at most 8 GiB; HONE_TENSOR_CACHE_BYTES sets it, 0 disables the cache;
// set_tensor_cache_limit() changes it at run time). Smaller blocks go straight back to the
// C++ runtime. A cached block is memory that was live a moment ago; blocks are reused only
// for the same size, so the cache can add to the peak what sits unused between a free and
// the next request of that size (about 15 % for a MobileNetV2 training step), and it keeps
// that memory after the work ends: release_tensor_cache() returns it. The cache is thread-safe (one mutex; allocations are per tensor, not per element).
#pragma once

#include <cstddef>        // std::size_t
#include <cstdint>        // std::int64_t
#include <cstdlib>        // std::getenv, std::strtoull
#include <mutex>          // the cache lock
#include <new>            // aligned operator new/delete
#include <unordered_map>  // free lists by size
#include <vector>         // free lists

#include <unistd.h>  // sysconf: physical memory

namespace hone {

/// Alignment in bytes of every tensor allocation.
inline constexpr std::size_t tensor_alignment = 64;

/// Blocks this large or larger are cached when freed.
inline constexpr std::size_t tensor_cache_min_bytes = std::size_t{256} << 10;

/// What the cache holds and did since the process started.
struct TensorCacheStats {
  std::size_t cached_bytes = 0;   ///< held in free lists now
  std::size_t limit_bytes = 0;    ///< the most it may hold
  std::uint64_t hits = 0;         ///< large allocations served from the cache
  std::uint64_t misses = 0;       ///< large allocations that went to the runtime
};

namespace detail {

class TensorCache {
 public:
  static TensorCache& instance() {
    static TensorCache* cache = new TensorCache();  // never destroyed: static tensors may outlive it
    return *cache;
  }

  void* allocate(std::size_t bytes) {
    if (bytes >= tensor_cache_min_bytes) {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(bytes);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        cached_ -= bytes;
        ++hits_;
        return p;
      }
      ++misses_;
    }
    return ::operator new(bytes, std::align_val_t{tensor_alignment});
  }

  void deallocate(void* p, std::size_t bytes) noexcept {
    if (bytes >= tensor_cache_min_bytes) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (cached_ + bytes <= limit_) {
        try {
          free_[bytes].push_back(p);
          cached_ += bytes;
          return;
        } catch (...) {  // no memory for the list entry: free the block instead
        }
      }
    }
    ::operator delete(p, std::align_val_t{tensor_alignment});
  }

  void set_limit(std::size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    limit_ = bytes;
    trim_locked();
  }

  void release() {
    std::lock_guard<std::mutex> lock(mutex_);
    const std::size_t keep = limit_;
    limit_ = 0;
    trim_locked();
    limit_ = keep;
  }

  TensorCacheStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return {cached_, limit_, hits_, misses_};
  }

 private:
  TensorCache() : limit_(default_limit()) {}

  static std::size_t default_limit() {
    if (const char* env = std::getenv("HONE_TENSOR_CACHE_BYTES")) {
      char* end = nullptr;
      const unsigned long long v = std::strtoull(env, &end, 10);
      if (end != env && *end == '\0') return static_cast<std::size_t>(v);
      // not a number: ignore it and keep the default (documented)
    }
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    const std::size_t physical =
        pages > 0 && page > 0 ? static_cast<std::size_t>(pages) * static_cast<std::size_t>(page) : 0;
    const std::size_t cap = std::size_t{8} << 30;
    return physical == 0 ? (std::size_t{1} << 30) : (physical / 4 < cap ? physical / 4 : cap);
  }

  void trim_locked() noexcept {
    for (auto it = free_.begin(); it != free_.end() && cached_ > limit_;) {
      while (!it->second.empty() && cached_ > limit_) {
        ::operator delete(it->second.back(), std::align_val_t{tensor_alignment});
        it->second.pop_back();
        cached_ -= it->first;
      }
      it = it->second.empty() ? free_.erase(it) : std::next(it);
    }
  }

  std::mutex mutex_;
  std::unordered_map<std::size_t, std::vector<void*>> free_;
  std::size_t cached_ = 0;
  std::size_t limit_;
  std::uint64_t hits_ = 0, misses_ = 0;
};

}  // namespace detail

/// Sets the most bytes of freed tensor blocks kept for reuse (0 disables the cache) and
/// frees what is above it.
inline void set_tensor_cache_limit(std::size_t bytes) { detail::TensorCache::instance().set_limit(bytes); }

/// Returns every cached block to the C++ runtime (tensors still alive are not affected).
inline void release_tensor_cache() { detail::TensorCache::instance().release(); }

/// The cache's size, limit and hit counts.
inline TensorCacheStats tensor_cache_stats() { return detail::TensorCache::instance().stats(); }

}  // namespace hone
