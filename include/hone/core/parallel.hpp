// hone/core/parallel.hpp — the thread pool behind every multi-threaded kernel.
//
// One process-wide pool runs `parallel_run(n, task)`: tasks 0..n-1 are handed out to the
// pool's workers and to the calling thread, which takes part, and the call returns when
// all are done. A worker that finishes a job spins (pause instructions, then yielding) for
// up to spin_wait_us() microseconds (default 200, HONE_SPIN_US) watching for the next job
// before it sleeps on a condition variable, and the caller spins as long for the workers
// to finish: a kernel issues hundreds of parallel calls per training step, and waking a
// sleeping thread costs about 25 us on a VM. The first
// exception thrown by a task is rethrown in the caller once every running task has ended;
// tasks not yet started are then skipped.
//
// Determinism: parallel_for splits a range into chunks that depend only on the range, the
// grain and the thread count, never on timing, so a kernel whose chunks write disjoint
// outputs gives bit-identical results for a given thread count. A parallel call made from
// inside a task, or while another thread is using the pool, runs its chunks one after
// another on the calling thread: same chunks, same results, no deadlock.
//
// The thread count defaults to the HONE_NUM_THREADS environment variable, else the number
// of CPUs this process may run on; set_num_threads() changes it at run time.
#pragma once

#include <algorithm>           // std::min
#include <atomic>              // task counter, spin-wait flags
#include <chrono>              // spin deadline
#include <condition_variable>  // sleeping workers, waiting caller
#include <cstddef>             // std::size_t
#include <cstdint>             // std::int64_t
#include <cstdlib>             // std::getenv
#include <exception>           // std::exception_ptr
#include <functional>          // std::function for type-erased tasks
#include <memory>              // std::shared_ptr to the current pool
#include <mutex>               // pool state
#include <string>              // parsing HONE_NUM_THREADS
#include <thread>              // workers
#include <utility>             // std::exchange
#include <vector>              // worker list

#if defined(__linux__)
#include <sched.h>  // sched_getaffinity: CPUs this process may use
#endif

#include "hone/core/error.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>  // _mm_pause
#endif

namespace hone {

/// The largest thread count hone accepts.
inline constexpr std::size_t max_threads = 1024;

namespace detail {

inline thread_local bool in_parallel_task = false;

/// The value of environment variable `name` = `text` as an integer in [lo, hi]; otherwise
/// throws InvalidArgument (hone.config) quoting it and saying what was expected (`what`).
inline long long parse_env_integer(const char* name, const std::string& text, long long lo, long long hi,
                                   const char* what) {
  std::size_t used = 0;
  long long value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty() || value < lo || value > hi)
    throw InvalidArgument("hone.config", concat(name, "=\"", text, "\" is not ", what, " (expected an integer ",
                                                "from ", lo, " to ", hi, ")"));
  return value;
}

/// Parses a HONE_NUM_THREADS value: an integer in [1, max_threads].
inline std::size_t parse_thread_count(const std::string& text) {
  return static_cast<std::size_t>(
      parse_env_integer("HONE_NUM_THREADS", text, 1, static_cast<long long>(max_threads), "a thread count"));
}

/// The number of CPUs this process may run on (affinity-aware on Linux), at least 1.
inline std::size_t available_cpus() {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int count = CPU_COUNT(&set);
    if (count > 0) return static_cast<std::size_t>(count);
  }
#endif
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : hw;
}

/// Parses a HONE_SPIN_US value; throws InvalidArgument unless it is an integer in
/// [0, 1000000].
inline std::size_t parse_spin_us(const std::string& text) {
  return static_cast<std::size_t>(
      parse_env_integer("HONE_SPIN_US", text, 0, 1000000, "a spin time in microseconds"));
}

/// The spin-wait time in microseconds: HONE_SPIN_US when set (read once), else 200.
inline std::atomic<std::int64_t>& spin_wait_slot() {
  static std::atomic<std::int64_t> us{[] {
    const char* env = std::getenv("HONE_SPIN_US");
    return static_cast<std::int64_t>(env ? parse_spin_us(env) : 200);
  }()};
  return us;
}

/// One step of a spin-wait loop: a pause instruction for the first few thousand steps,
/// then a yield, so a spinning thread gives its core to a runnable thread that needs it.
inline void spin_pause(std::uint32_t step) {
  if (step < 2048) {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#endif
  } else {
    std::this_thread::yield();
  }
}

/// Spins until ready() or until `us` microseconds have passed; returns ready().
template <class Ready>
bool spin_until(std::int64_t us, Ready&& ready) {
  if (ready()) return true;
  if (us <= 0) return false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(us);
  for (std::uint32_t step = 0;; ++step) {
    if (ready()) return true;
    if ((step & 63) == 63 && std::chrono::steady_clock::now() >= deadline) return ready();
    spin_pause(step);
  }
}

/// HONE_NUM_THREADS when set, else available_cpus() capped at max_threads.
inline std::size_t default_thread_count() {
  if (const char* env = std::getenv("HONE_NUM_THREADS")) return parse_thread_count(env);
  return std::min(available_cpus(), max_threads);
}

/// A fixed set of worker threads plus the caller. See the file comment for the contract.
class ThreadPool {
 public:
  /// A pool running tasks on `threads` threads in total: threads - 1 workers plus the caller.
  explicit ThreadPool(std::size_t threads) : threads_(threads) {
    spin_wait_slot();  // reads and validates HONE_SPIN_US here, not in a worker thread
    workers_.reserve(threads - 1);
    for (std::size_t i = 0; i + 1 < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
  }

  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_.store(true, std::memory_order_release);
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
  }

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  std::size_t size() const noexcept { return threads_; }

  /// Runs task(i) for every i in [0, num_tasks) and returns when all have finished.
  void run(std::size_t num_tasks, const std::function<void(std::size_t)>& task) {
    if (num_tasks == 0) return;
    std::unique_lock<std::mutex> submit(submit_mutex_, std::try_to_lock);
    if (num_tasks == 1 || workers_.empty() || in_parallel_task || !submit.owns_lock()) {
      run_serially(num_tasks, task);
      return;
    }
    bool wake_sleepers;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &task;
      job_tasks_ = num_tasks;
      next_task_.store(0, std::memory_order_relaxed);
      error_ = nullptr;
      busy_workers_.store(workers_.size(), std::memory_order_relaxed);
      // Release: a worker that sees the new generation while spinning sees the job too.
      generation_.store(generation_.load(std::memory_order_relaxed) + 1,
                        std::memory_order_release);
      wake_sleepers = sleeping_workers_ > 0;
    }
    if (wake_sleepers) wake_.notify_all();
    work_on(task, num_tasks);
    const auto all_done = [this] { return busy_workers_.load(std::memory_order_acquire) == 0; };
    spin_until(spin_wait_slot().load(std::memory_order_relaxed), all_done);
    std::exception_ptr error;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      done_.wait(lock, all_done);
      job_ = nullptr;
      error = std::exchange(error_, nullptr);
    }
    if (error) std::rethrow_exception(error);
  }

 private:
  static void run_serially(std::size_t num_tasks, const std::function<void(std::size_t)>& task) {
    const bool outer = in_parallel_task;
    in_parallel_task = true;
    try {
      for (std::size_t i = 0; i < num_tasks; ++i) task(i);
    } catch (...) {
      in_parallel_task = outer;
      throw;
    }
    in_parallel_task = outer;
  }

  void work_on(const std::function<void(std::size_t)>& task, std::size_t num_tasks) {
    in_parallel_task = true;
    for (;;) {
      const std::size_t i = next_task_.fetch_add(1, std::memory_order_relaxed);
      if (i >= num_tasks) break;
      try {
        task(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
        next_task_.store(num_tasks, std::memory_order_relaxed);  // skip tasks not yet started
      }
    }
    in_parallel_task = false;
  }

  void worker_loop() {
    std::uint64_t seen = 0;
    const auto woken = [&] {
      return stop_.load(std::memory_order_acquire) ||
             generation_.load(std::memory_order_acquire) != seen;
    };
    for (;;) {
      if (!spin_until(spin_wait_slot().load(std::memory_order_relaxed), woken)) {
        std::unique_lock<std::mutex> lock(mutex_);
        ++sleeping_workers_;
        wake_.wait(lock, woken);
        --sleeping_workers_;
      }
      if (stop_.load(std::memory_order_acquire)) return;
      // The caller does not publish the next job before every worker has finished this
      // one, so job_ and job_tasks_ stay those of generation `seen` while we read them.
      seen = generation_.load(std::memory_order_acquire);
      const auto* task = job_;
      const std::size_t num_tasks = job_tasks_;
      work_on(*task, num_tasks);
      if (busy_workers_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(mutex_);  // pairs with the caller's predicate check
        done_.notify_one();
      }
    }
  }

  const std::size_t threads_;
  std::vector<std::thread> workers_;
  std::mutex submit_mutex_;  // one job at a time; others run serially
  std::mutex mutex_;         // guards everything below
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(std::size_t)>* job_ = nullptr;  // written before generation_
  std::size_t job_tasks_ = 0;
  std::atomic<std::size_t> next_task_{0};
  std::atomic<std::size_t> busy_workers_{0};  // workers still on the current job
  std::atomic<std::uint64_t> generation_{0};  // bumped (under mutex_) for each job
  std::size_t sleeping_workers_ = 0;          // workers in wake_.wait
  std::exception_ptr error_;
  std::atomic<bool> stop_{false};
};

inline std::mutex& pool_config_mutex() {
  static std::mutex m;
  return m;
}

inline std::shared_ptr<ThreadPool>& pool_slot() {
  static std::shared_ptr<ThreadPool> pool;
  return pool;
}

/// The current pool, created on first use with default_thread_count() threads.
inline std::shared_ptr<ThreadPool> current_pool() {
  std::lock_guard<std::mutex> lock(pool_config_mutex());
  auto& slot = pool_slot();
  if (!slot) slot = std::make_shared<ThreadPool>(default_thread_count());
  return slot;
}

}  // namespace detail

/// The number of threads hone's kernels use (the calling thread included). Throws
/// InvalidArgument (id hone.config) on first use when HONE_NUM_THREADS is malformed.
inline std::size_t get_num_threads() { return detail::current_pool()->size(); }

/// Sets the number of threads hone's kernels use, from 1 to max_threads; throws
/// InvalidArgument otherwise. Safe to call while other threads run parallel work: they
/// finish on the pool they started with.
inline void set_num_threads(std::size_t threads) {
  if (threads < 1 || threads > max_threads)
    throw InvalidArgument(detail::concat("set_num_threads: ", threads,
                                         " is not a thread count (expected 1 to ", max_threads,
                                         ")"));
  std::shared_ptr<detail::ThreadPool> old;
  {
    std::lock_guard<std::mutex> lock(detail::pool_config_mutex());
    auto& slot = detail::pool_slot();
    if (slot && slot->size() == threads) return;
    old = std::exchange(slot, std::make_shared<detail::ThreadPool>(threads));
  }
  // `old` is released here, outside the lock; its workers are joined once no caller uses it.
}

/// How long (microseconds) idle workers spin for the next job before sleeping, and the
/// caller for the workers to finish. Default 200, or HONE_SPIN_US (read once; 0 to 1000000,
/// InvalidArgument with id hone.config otherwise). 0 makes every wait sleep at once: use it
/// when hone shares its cores with other busy threads.
inline std::size_t get_spin_wait_us() {
  return static_cast<std::size_t>(detail::spin_wait_slot().load(std::memory_order_relaxed));
}

/// Sets the spin-wait time (see get_spin_wait_us); throws InvalidArgument above 1000000.
inline void set_spin_wait_us(std::size_t us) {
  if (us > 1000000)
    throw InvalidArgument(detail::concat("set_spin_wait_us: ", us,
                                         " is not a spin time (expected 0 to 1000000)"));
  detail::spin_wait_slot().store(static_cast<std::int64_t>(us), std::memory_order_relaxed);
}

/// True while the calling thread is executing a task of parallel_run / parallel_for.
inline bool in_parallel_region() noexcept { return detail::in_parallel_task; }

/// Calls task(i) for i in [0, num_tasks) on the pool; returns when all have finished and
/// rethrows the first exception a task threw.
inline void parallel_run(std::size_t num_tasks, const std::function<void(std::size_t)>& task) {
  detail::current_pool()->run(num_tasks, task);
}

/// Splits [begin, end) into at most get_num_threads() contiguous chunks of at least `grain`
/// elements (chunk sizes differ by at most one) and calls fn(chunk_begin, chunk_end) for
/// each, in parallel. The chunks depend only on the range, grain and thread count.
template <class Fn>
void parallel_for(std::int64_t begin, std::int64_t end, std::int64_t grain, Fn&& fn) {
  if (end <= begin) return;
  const std::int64_t count = end - begin;
  const std::int64_t g = std::max<std::int64_t>(grain, 1);
  auto pool = detail::current_pool();
  const auto max_chunks = (count + g - 1) / g;
  const auto chunks = std::min<std::int64_t>(static_cast<std::int64_t>(pool->size()), max_chunks);
  if (chunks <= 1) {
    fn(begin, end);
    return;
  }
  const std::int64_t base = count / chunks, extra = count % chunks;
  pool->run(static_cast<std::size_t>(chunks), [&](std::size_t chunk) {
    const auto i = static_cast<std::int64_t>(chunk);
    const std::int64_t lo = begin + i * base + std::min(i, extra);
    fn(lo, lo + base + (i < extra ? 1 : 0));
  });
}

}  // namespace hone
