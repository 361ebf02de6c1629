// Tests for hone/core/parallel.hpp.
#include <catch2/catch.hpp>

#include <hone/core/parallel.hpp>

#include <sys/resource.h>  // getrusage: CPU time used while idle

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {
/// Restores the thread count a test changed.
struct ThreadCountGuard {
  std::size_t saved = hone::get_num_threads();
  ~ThreadCountGuard() { hone::set_num_threads(saved); }
};

double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}
}  // namespace

TEST_CASE("parallel: parallel_for visits every index exactly once", "[parallel]") {
  ThreadCountGuard guard;
  for (std::size_t threads : {1u, 2u, 3u, 8u}) {
    hone::set_num_threads(threads);
    for (std::int64_t n : {0, 1, 2, 7, 64, 1001}) {
      for (std::int64_t grain : {1, 3, 100}) {
        std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n + 10));
        hone::parallel_for(10, 10 + n, grain, [&](std::int64_t lo, std::int64_t hi) {
          for (std::int64_t i = lo; i < hi; ++i) hits[static_cast<std::size_t>(i)]++;
        });
        CAPTURE(threads, n, grain);
        for (std::int64_t i = 0; i < n + 10; ++i)
          REQUIRE(hits[static_cast<std::size_t>(i)].load() == (i >= 10 ? 1 : 0));
      }
    }
  }
}

TEST_CASE("parallel: chunks depend only on range, grain and thread count", "[parallel]") {
  ThreadCountGuard guard;
  hone::set_num_threads(3);
  for (int repeat = 0; repeat < 20; ++repeat) {
    std::mutex m;
    std::set<std::pair<std::int64_t, std::int64_t>> chunks;
    hone::parallel_for(0, 10, 1, [&](std::int64_t lo, std::int64_t hi) {
      std::lock_guard<std::mutex> lock(m);
      chunks.insert({lo, hi});
    });
    // 10 elements over 3 threads: sizes 4, 3, 3 in order.
    REQUIRE(chunks == std::set<std::pair<std::int64_t, std::int64_t>>{{0, 4}, {4, 7}, {7, 10}});
  }
  std::set<std::pair<std::int64_t, std::int64_t>> coarse;
  std::mutex m;
  hone::parallel_for(0, 10, 6, [&](std::int64_t lo, std::int64_t hi) {
    std::lock_guard<std::mutex> lock(m);
    coarse.insert({lo, hi});
  });
  CHECK(coarse == std::set<std::pair<std::int64_t, std::int64_t>>{{0, 5}, {5, 10}});  // grain 6: 2 chunks
}

TEST_CASE("parallel: tasks really run concurrently", "[parallel]") {
  ThreadCountGuard guard;
  hone::set_num_threads(2);
  std::atomic<int> arrived{0};
  std::atomic<bool> met{true};
  hone::parallel_run(2, [&](std::size_t) {
    arrived++;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (arrived.load() < 2) {  // a rendezvous only two concurrent threads can pass
      if (std::chrono::steady_clock::now() > deadline) {
        met = false;
        return;
      }
      std::this_thread::yield();
    }
  });
  CHECK(met.load());
}

TEST_CASE("parallel: the first exception reaches the caller and the pool survives", "[parallel]") {
  ThreadCountGuard guard;
  hone::set_num_threads(4);
  CHECK_THROWS_WITH(hone::parallel_run(16, [](std::size_t i) {
                      if (i == 5) throw std::runtime_error("task 5 failed");
                    }),
                    "task 5 failed");
  CHECK_THROWS_AS(hone::parallel_for(0, 100, 1, [](std::int64_t, std::int64_t) {
                    throw hone::ShapeError("bad shape in a worker");
                  }),
                  hone::ShapeError);
  std::atomic<int> count{0};
  hone::parallel_run(100, [&](std::size_t) { count++; });
  CHECK(count.load() == 100);
}

TEST_CASE("parallel: nested calls run inline without deadlock", "[parallel]") {
  ThreadCountGuard guard;
  hone::set_num_threads(4);
  CHECK_FALSE(hone::in_parallel_region());
  std::atomic<int> inner{0};
  std::atomic<bool> flagged{true};
  hone::parallel_run(4, [&](std::size_t) {
    if (!hone::in_parallel_region()) flagged = false;
    hone::parallel_for(0, 8, 1, [&](std::int64_t lo, std::int64_t hi) { inner += int(hi - lo); });
  });
  CHECK(inner.load() == 32);
  CHECK(flagged.load());
  CHECK_FALSE(hone::in_parallel_region());
}

TEST_CASE("parallel: calls from several user threads all complete", "[parallel]") {
  ThreadCountGuard guard;
  hone::set_num_threads(2);
  std::atomic<long> total{0};
  std::vector<std::thread> users;
  for (int u = 0; u < 4; ++u)
    users.emplace_back([&] {
      for (int rep = 0; rep < 50; ++rep)
        hone::parallel_for(0, 1000, 10, [&](std::int64_t lo, std::int64_t hi) { total += hi - lo; });
    });
  for (auto& t : users) t.join();
  CHECK(total.load() == 4L * 50 * 1000);
}

TEST_CASE("parallel: set_num_threads validates and takes effect", "[parallel]") {
  ThreadCountGuard guard;
  hone::set_num_threads(5);
  CHECK(hone::get_num_threads() == 5);
  hone::set_num_threads(1);
  CHECK(hone::get_num_threads() == 1);
  CHECK_THROWS_WITH(hone::set_num_threads(0),
                    "[hone.invalid_argument] set_num_threads: 0 is not a thread count (expected 1 to 1024)");
  CHECK_THROWS_AS(hone::set_num_threads(100000), hone::InvalidArgument);
}

TEST_CASE("parallel: idle workers sleep after the default spin time", "[parallel]") {
  ThreadCountGuard guard;
  hone::set_num_threads(4);
  hone::parallel_run(4, [](std::size_t) {});  // make sure the workers exist and went idle
  const double before = process_cpu_seconds();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const double used = process_cpu_seconds() - before;
  CHECK(used < 0.1);  // three workers spinning all along would burn about 1.5 s of CPU here
}

namespace {
/// Restores the spin-wait time a test changed.
struct SpinGuard {
  std::size_t saved = hone::get_spin_wait_us();
  ~SpinGuard() { hone::set_spin_wait_us(saved); }
};
}  // namespace

TEST_CASE("parallel: set_spin_wait_us validates and takes effect", "[parallel]") {
  SpinGuard guard;
  hone::set_spin_wait_us(0);
  CHECK(hone::get_spin_wait_us() == 0);
  hone::set_spin_wait_us(1000000);
  CHECK(hone::get_spin_wait_us() == 1000000);
  CHECK_THROWS_WITH(hone::set_spin_wait_us(1000001),
                    "[hone.invalid_argument] set_spin_wait_us: 1000001 is not a spin time "
                    "(expected 0 to 1000000)");
}

TEST_CASE("parallel: back-to-back calls hand work over whether workers spin or sleep",
          "[parallel]") {
  // Every call must run each task exactly once and see the writes of the call before,
  // whether the workers catch the next job while spinning (long spin), find it only after
  // sleeping (no spin), or race the end of their spin (short spin, pauses between calls).
  ThreadCountGuard threads;
  SpinGuard guard;
  hone::set_num_threads(3);
  for (const std::size_t spin : {std::size_t{0}, std::size_t{20}, std::size_t{100000}}) {
    hone::set_spin_wait_us(spin);
    std::vector<int> hits(7, 0);
    for (int call = 0; call < 400; ++call) {
      hone::parallel_run(7, [&](std::size_t i) { hits[i] += 1; });
      if (call % 50 == 0) std::this_thread::sleep_for(std::chrono::microseconds(30));
      for (int h : hits) REQUIRE(h == call + 1);
    }
  }
}

TEST_CASE("parallel: idle workers stop spinning after the spin time", "[parallel]") {
  ThreadCountGuard threads;
  SpinGuard guard;
  hone::set_num_threads(3);
  hone::set_spin_wait_us(20000);  // 20 ms
  hone::parallel_run(3, [](std::size_t) {});
  const double before = process_cpu_seconds();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const double used = process_cpu_seconds() - before;
  CHECK(used < 0.2);  // two workers spinning for 20 ms each, not for 500 ms (1 s of CPU)
}

TEST_CASE("parallel: HONE_SPIN_US is honoured or rejected", "[.env]") {
  const char* expect = std::getenv("HONE_TEST_EXPECT_SPIN");
  if (!expect) return;
  if (std::string(expect) == "error") {
    CHECK_THROWS_AS(hone::get_num_threads(), hone::InvalidArgument);
    try {
      hone::get_spin_wait_us();
    } catch (const hone::Error& e) {
      CHECK(e.id() == "hone.config");
      CHECK(std::string(e.what()).find("HONE_SPIN_US=\"") != std::string::npos);
    }
  } else {
    CHECK(hone::get_spin_wait_us() == std::stoul(expect));
    CHECK(hone::get_num_threads() >= 1);
  }
}

TEST_CASE("parallel: HONE_NUM_THREADS is honoured or rejected", "[.env]") {
  const char* expect = std::getenv("HONE_TEST_EXPECT_THREADS");
  if (!expect) return;
  if (std::string(expect) == "error") {
    CHECK_THROWS_AS(hone::get_num_threads(), hone::InvalidArgument);
    try {
      hone::get_num_threads();
    } catch (const hone::Error& e) {
      CHECK(e.id() == "hone.config");
      CHECK(std::string(e.what()).find("HONE_NUM_THREADS=\"") != std::string::npos);
    }
  } else {
    CHECK(hone::get_num_threads() == std::stoul(expect));
  }
}
