// hone/kernels/gemm.hpp — single-precision GEMM: C = alpha * op(A) op(B) + beta * C.
//
// Row-major and BLAS-like, GotoBLAS/BLIS structure: op(B) is packed in KC x NC blocks into
// NR-wide panels, and a register-blocked micro-kernel (AVX-512 12x32, AVX2 6x16, scalar
// 4x16, chosen at run time by cpu::active_isa()) computes MR x NR tiles of C. A is read in
// place when it is not transposed (its rows are already contiguous in k; measured faster
// than packing on the conv-as-GEMM shapes) unless the rows of a micro-panel crowd into a
// few L1 sets (a_rows_alias: lda a multiple of 1024 floats, say), and packed in MC x KC
// blocks when it is transposed. B is read in place when it is not transposed, A fits one
// block (small-batch layers) and B's rows are close together, and packed with in-register
// 16x16 transposes when it is transposed.
//
// Threads: C is split into a grid of rectangles, one per thread, each a multiple of the
// micro-tile, and each thread runs the blocked algorithm on its rectangle. Every element of
// C is accumulated in the same order whatever the split, so the result is bit-identical for
// any thread count (it differs between ISAs, which round differently).
//
// A weight used by many calls can be packed once (PackedMatrix::pack_b) and passed instead
// of B.
#pragma once

#include <algorithm>  // std::min, std::max
#include <cstddef>    // std::size_t
#include <cstdint>    // std::int64_t
#include <memory>     // std::shared_ptr for packed storage
#include <new>        // aligned operator new

#include "hone/core/cpu.hpp"
#include "hone/core/error.hpp"
#include "hone/core/parallel.hpp"
#include "hone/kernels/avx2/gemm.hpp"
#include "hone/kernels/avx512/gemm.hpp"
#include "hone/kernels/detail/gemm_common.hpp"
#include "hone/kernels/scalar/gemm.hpp"
#include "hone/kernels/trans.hpp"

namespace hone {

namespace kernels::detail {

/// The SGEMM kernels of an ISA.
inline const GemmKernels& gemm_kernels_for(cpu::Isa isa) noexcept {
  switch (isa) {
    case cpu::Isa::avx512: return avx512::gemm_kernels;
    case cpu::Isa::avx2: return avx2::gemm_kernels;
    default: return scalar::gemm_kernels;
  }
}

/// A per-thread, 64-byte-aligned scratch buffer that only grows (packing space).
inline float* gemm_scratch(int slot, std::size_t floats) {
  struct Buffer {
    float* data = nullptr;
    std::size_t capacity = 0;
    ~Buffer() {
      if (data) ::operator delete(data, std::align_val_t{64});
    }
  };
  thread_local Buffer buffers[2];
  Buffer& buf = buffers[slot];
  if (buf.capacity < floats) {
    if (buf.data) ::operator delete(buf.data, std::align_val_t{64});
    buf.data = nullptr;
    buf.data = static_cast<float*>(::operator new(floats * sizeof(float), std::align_val_t{64}));
    buf.capacity = floats;
  }
  return buf.data;
}

constexpr std::int64_t round_up(std::int64_t x, std::int64_t to) { return (x + to - 1) / to * to; }

/// The depth of the KC blocks for a product of depth k: as few blocks as kern.kc allows,
/// of equal depth (rounded up to 8), so no block is left with a few steps that pay the
/// full cost of loading and storing C (k = 1024 runs as 4 x 256, not 3 x 320 + 64).
/// Depends on k only, so every thread and a PackedMatrix agree on it.
constexpr std::int64_t gemm_kc(const GemmKernels& kern, std::int64_t k) {
  if (k <= kern.kc) return std::max<std::int64_t>(k, 1);
  const std::int64_t blocks = (k + kern.kc - 1) / kern.kc;
  return std::min(kern.kc, round_up((k + blocks - 1) / blocks, 8));
}

/// op(B) packed whole: for each chunk of gemm_kc(k) rows starting at row pc, ceil(n/NR)
/// panels of kc*NR floats at offset pc*n_padded; the panel of column j0 (a multiple of NR)
/// at + j0*kc.
struct PackedBView {
  const float* data;
  std::int64_t n_padded;
  std::int64_t col_offset;  // first column of the sub-problem inside the packed matrix
};

/// Whether the mr rows of an A micro-panel read in place (row-major, lda floats apart)
/// crowd into few L1 sets: more than 6 of them at the same offset modulo 4 KiB (the period
/// of the L1 set index on current x86 cores: 64 sets of 64-byte lines). An 8-way L1 then
/// cannot hold the micro-panel next to the B stream, and A is packed. Measured on Zen 4,
/// 1 thread: 1024^3 with lda = 1024 (12 rows per set) ran at 68-89 GFLOP/s in place
/// against 86-93 packed; with 6 rows per set (lda = 512, 4608) packing gained nothing or
/// lost 5 %.
constexpr bool a_rows_alias(std::int64_t lda, std::int64_t mr) {
  constexpr std::int64_t period = 4096 / sizeof(float), line = 64 / sizeof(float);
  int rows_at[period / line] = {};  // rows per 64-byte line of the 4 KiB period
  for (std::int64_t r = 0; r < mr; ++r)
    if (++rows_at[r * lda % period / line] > 6) return true;
  return false;
}

// The single-threaded blocked GEMM on one rectangle of C. a points at op(A)(0,0), b at
// op(B)(0,0) (unused when packed_b is given), c at C(0,0).
inline void gemm_blocked(const GemmKernels& kern, Trans ta, Trans tb, std::int64_t m,
                         std::int64_t n, std::int64_t k, float alpha, const float* a,
                         std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
                         std::int64_t ldc, const PackedBView* packed_b) {
  const std::int64_t mr = kern.mr, nr = kern.nr;
  // B is read in place when it is not transposed and A fits one block, unless its rows are
  // far apart (>= 8 KiB) and one KC block covers k: then every k step of a micro-panel
  // touches another page and rows alias to few cache sets (1x1 convolutions on 56x56 and
  // larger planes ran 2 to 2.6x faster packed; with k > KC packing measured slower).
  const bool far_rows = ldb >= 2048 && k <= kern.kc;
  const bool pack_b = packed_b == nullptr && !(tb == Trans::No && m <= kern.mc && !far_rows);
  const bool pack_a = n > 2 * nr && (ta == Trans::Yes || a_rows_alias(lda, mr));
  const std::int64_t kc_step = gemm_kc(kern, k);  // <= k (k > 0 here)
  float* a_buf = pack_a ? gemm_scratch(0, static_cast<std::size_t>(
                                              round_up(std::min(m, kern.mc), mr) * kc_step))
                        : nullptr;
  float* b_buf = pack_b ? gemm_scratch(1, static_cast<std::size_t>(
                                              round_up(std::min(n, kern.nc), nr) * kc_step))
                        : nullptr;
  auto a_at = [&](std::int64_t i, std::int64_t p) {
    return ta == Trans::No ? a + i * lda + p : a + p * lda + i;
  };
  auto b_at = [&](std::int64_t p, std::int64_t j) {
    return tb == Trans::No ? b + p * ldb + j : b + j * ldb + p;
  };

  for (std::int64_t jc = 0; jc < n; jc += kern.nc) {
    const std::int64_t nc = std::min(kern.nc, n - jc);
    for (std::int64_t pc = 0; pc < k; pc += kc_step) {
      const std::int64_t kc = std::min(kc_step, k - pc);
      const float beta_block = pc == 0 ? beta : 1.f;
      const float* b_block;
      std::int64_t rs_b, b_panel_stride;
      if (packed_b) {
        b_block = packed_b->data + pc * packed_b->n_padded + (packed_b->col_offset + jc) * kc;
        rs_b = nr;
        b_panel_stride = nr * kc;
      } else if (pack_b) {
        kern.pack_b(tb, kc, nc, b_at(pc, jc), ldb, b_buf);
        b_block = b_buf;
        rs_b = nr;
        b_panel_stride = nr * kc;
      } else {  // tb == No: rows of B are contiguous in place
        b_block = b_at(pc, jc);
        rs_b = ldb;
        b_panel_stride = nr;
      }
      for (std::int64_t ic = 0; ic < m; ic += kern.mc) {
        const std::int64_t mc = std::min(kern.mc, m - ic);
        const float* a_block;
        std::int64_t rs_a, cs_a;
        if (pack_a) {
          kern.pack_a(ta, mc, kc, a_at(ic, pc), lda, a_buf);
          a_block = a_buf;
          rs_a = 1;
          cs_a = mr;
        } else {
          a_block = a_at(ic, pc);
          rs_a = ta == Trans::No ? lda : 1;
          cs_a = ta == Trans::No ? 1 : lda;
        }
        const std::int64_t a_panel_stride = pack_a ? mr * kc : mr * rs_a;
        auto tile = [&](std::int64_t ir, std::int64_t jr) {
          kern.tile(static_cast<int>(std::min(mr, mc - ir)), static_cast<int>(std::min(nr, nc - jr)),
                    kc, a_block + (ir / mr) * a_panel_stride, rs_a, cs_a,
                    b_block + (jr / nr) * b_panel_stride, rs_b, c + (ic + ir) * ldc + jc + jr, ldc,
                    alpha, beta_block);
        };
        // B read in place (small m) is read once with the B micro-panel outer.
        if (kern.ir_outer && (pack_b || packed_b)) {  // A micro-panel in L1, B from L2
          for (std::int64_t ir = 0; ir < mc; ir += mr)
            for (std::int64_t jr = 0; jr < nc; jr += nr) tile(ir, jr);
        } else {  // a B micro-panel stays in L1, A panels stream from L2
          for (std::int64_t jr = 0; jr < nc; jr += nr)
            for (std::int64_t ir = 0; ir < mc; ir += mr) tile(ir, jr);
        }
      }
    }
  }
}

/// How C is split among threads: a grid of row_parts x col_parts rectangles.
struct GemmSplit {
  std::int64_t row_parts = 1, col_parts = 1, tile_m = 0, tile_n = 0;
};

/// Picks the split for `threads` threads: the factorisation whose largest rectangle
/// (rounded up to whole micro-tiles) is smallest, preferring squarer rectangles. Tiny
/// problems use fewer threads (waking one costs about a million FMAs of work).
inline GemmSplit gemm_split(std::int64_t m, std::int64_t n, std::int64_t k, std::int64_t mr,
                            std::int64_t nr, std::int64_t threads) {
  const std::int64_t work = m * n * std::max<std::int64_t>(k, 1);
  threads = std::max<std::int64_t>(1, std::min(threads, work / (1 << 20)));
  GemmSplit best;
  double best_cost = -1;
  for (std::int64_t rp = 1; rp <= threads; ++rp) {
    if (threads % rp) continue;
    const std::int64_t cp = threads / rp;
    const std::int64_t tm = round_up((m + rp - 1) / rp, mr), tn = round_up((n + cp - 1) / cp, nr);
    const double cost = double(tm) * double(tn) + 16.0 * double(tm + tn);
    if (best_cost < 0 || cost < best_cost) {
      best_cost = cost;
      best = {rp, cp, tm, tn};
    }
  }
  return best;
}

inline void gemm_run(const GemmKernels& kern, Trans ta, Trans tb, std::int64_t m, std::int64_t n,
                     std::int64_t k, float alpha, const float* a, std::int64_t lda, const float* b,
                     std::int64_t ldb, float beta, float* c, std::int64_t ldc,
                     const PackedBView* packed_b) {
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == 0.f) {  // C = beta * C; beta == 0 clears C (NaNs included)
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j) {
        float& x = c[i * ldc + j];
        x = beta == 0.f ? 0.f : beta * x;
      }
    return;
  }
  const GemmSplit split = gemm_split(m, n, k, kern.mr, kern.nr,
                                     static_cast<std::int64_t>(get_num_threads()));
  const auto parts = static_cast<std::size_t>(split.row_parts * split.col_parts);
  auto run_part = [&](std::size_t part) {
    const auto index = static_cast<std::int64_t>(part);
    const std::int64_t i0 = (index / split.col_parts) * split.tile_m;
    const std::int64_t j0 = (index % split.col_parts) * split.tile_n;
    if (i0 >= m || j0 >= n) return;
    const std::int64_t rows = std::min(split.tile_m, m - i0), cols = std::min(split.tile_n, n - j0);
    const float* a_part = ta == Trans::No ? a + i0 * lda : a + i0;
    const float* b_part = b == nullptr ? nullptr : tb == Trans::No ? b + j0 : b + j0 * ldb;
    PackedBView view;
    if (packed_b) view = {packed_b->data, packed_b->n_padded, packed_b->col_offset + j0};
    gemm_blocked(kern, ta, tb, rows, cols, k, alpha, a_part, lda, b_part, ldb, beta,
                 c + i0 * ldc + j0, ldc, packed_b ? &view : nullptr);
  };
  if (parts == 1)
    run_part(0);
  else
    parallel_run(parts, run_part);
}

inline void gemm_check(const char* who, Trans ta, Trans tb, std::int64_t m, std::int64_t n,
                       std::int64_t k, const void* a, std::int64_t lda, const void* b,
                       std::int64_t ldb, const void* c, std::int64_t ldc) {
  using hone::detail::concat;
  if (m < 0 || n < 0 || k < 0)
    throw InvalidArgument(concat(who, ": negative size (m=", m, ", n=", n, ", k=", k, ")"));
  const std::int64_t a_cols = ta == Trans::No ? k : m, a_rows = ta == Trans::No ? m : k;
  const std::int64_t b_cols = tb == Trans::No ? n : k, b_rows = tb == Trans::No ? k : n;
  if (a_rows > 0 && lda < std::max<std::int64_t>(1, a_cols))
    throw InvalidArgument(concat(who, ": lda=", lda, " is smaller than the ", a_cols,
                                 " columns of the stored A (m=", m, ", k=", k, ", ta=",
                                 ta == Trans::No ? "No" : "Yes", ")"));
  if (b && b_rows > 0 && ldb < std::max<std::int64_t>(1, b_cols))
    throw InvalidArgument(concat(who, ": ldb=", ldb, " is smaller than the ", b_cols,
                                 " columns of the stored B (k=", k, ", n=", n, ", tb=",
                                 tb == Trans::No ? "No" : "Yes", ")"));
  if (m > 0 && ldc < std::max<std::int64_t>(1, n))
    throw InvalidArgument(concat(who, ": ldc=", ldc, " is smaller than the ", n,
                                 " columns of C (m=", m, ", n=", n, ")"));
  if ((m > 0 && n > 0 && c == nullptr) || (m > 0 && k > 0 && a == nullptr))
    throw InvalidArgument(concat(who, ": null pointer for a non-empty matrix"));
}

}  // namespace kernels::detail

/// C = alpha * op(A) op(B) + beta * C, single precision, row-major.
/// op(A) is (m,k): A is stored (m,k) with row stride lda when ta == No, (k,m) when Yes;
/// op(B) is (k,n): B is stored (k,n) with row stride ldb when tb == No, (n,k) when Yes;
/// C is (m,n) with row stride ldc. beta == 0 overwrites C without reading it (NaNs in C are
/// ignored). Throws InvalidArgument for negative sizes, leading dimensions smaller than the
/// stored width, or null pointers of non-empty matrices. Multi-threaded (get_num_threads()).
inline void gemm(Trans ta, Trans tb, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                 const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta,
                 float* c, std::int64_t ldc) {
  kernels::detail::gemm_check("gemm", ta, tb, m, n, k, a, lda, b, ldb, c, ldc);
  if (n > 0 && k > 0 && b == nullptr)
    throw InvalidArgument("gemm: null pointer for a non-empty matrix B");
  kernels::detail::gemm_run(kernels::detail::gemm_kernels_for(cpu::active_isa()), ta, tb, m, n, k,
                            alpha, a, lda, b, ldb, beta, c, ldc, nullptr);
}

/// A GEMM right-hand operand op(B) (k x n) packed once, in the layout of the ISA that was
/// active when it was packed, for reuse across calls (a layer's weight within a step).
/// Holds its own copy: later changes to the source matrix are not seen.
class PackedMatrix {
 public:
  PackedMatrix() = default;

  /// Packs op(B), where B is stored (k,n) with row stride ldb when tb == No, (n,k) when Yes.
  /// Throws InvalidArgument on bad sizes or strides.
  static PackedMatrix pack_b(Trans tb, std::int64_t k, std::int64_t n, const float* b,
                             std::int64_t ldb) {
    using namespace kernels::detail;
    gemm_check("PackedMatrix::pack_b", Trans::No, tb, 0, n, k, nullptr, 1, b, ldb, nullptr, 1);
    if (n > 0 && k > 0 && b == nullptr)
      throw InvalidArgument("PackedMatrix::pack_b: null pointer for a non-empty matrix");
    PackedMatrix out;
    out.isa_ = cpu::active_isa();
    const GemmKernels& kern = gemm_kernels_for(out.isa_);
    out.k_ = k;
    out.n_ = n;
    out.n_padded_ = round_up(n, kern.nr);
    const std::int64_t total = out.n_padded_ * k;
    if (total > 0) {
      float* raw = static_cast<float*>(
          ::operator new(static_cast<std::size_t>(total) * sizeof(float), std::align_val_t{64}));
      out.data_ = std::shared_ptr<float>(
          raw, [](float* p) { ::operator delete(p, std::align_val_t{64}); });
    }
    // Chunks of gemm_kc(k) rows, panels within a chunk: see PackedBView.
    const std::int64_t kc_step = gemm_kc(kern, k);
    const std::int64_t chunks = (k + kc_step - 1) / kc_step;
    parallel_for(0, chunks, 1, [&](std::int64_t lo, std::int64_t hi) {
      for (std::int64_t chunk = lo; chunk < hi; ++chunk) {
        const std::int64_t pc = chunk * kc_step, kc = std::min(kc_step, k - pc);
        const float* src = tb == Trans::No ? b + pc * ldb : b + pc;
        kern.pack_b(tb, kc, n, src, ldb, out.data_.get() + pc * out.n_padded_);
      }
    });
    return out;
  }

  std::int64_t rows() const noexcept { return k_; }
  std::int64_t cols() const noexcept { return n_; }
  /// The ISA whose layout this uses; gemm() with it requires that ISA to be active.
  cpu::Isa isa() const noexcept { return isa_; }
  const float* data() const noexcept { return data_.get(); }
  std::int64_t padded_cols() const noexcept { return n_padded_; }

 private:
  std::shared_ptr<float> data_;
  std::int64_t k_ = 0, n_ = 0, n_padded_ = 0;
  cpu::Isa isa_ = cpu::Isa::scalar;
};

/// C = alpha * op(A) B + beta * C with B packed by PackedMatrix::pack_b. m, n, k as in the
/// unpacked gemm; n and k must equal b.cols() and b.rows() (InvalidArgument otherwise), and
/// b must have been packed under the ISA active now (StateError otherwise: repack it).
inline void gemm(Trans ta, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                 const float* a, std::int64_t lda, const PackedMatrix& b, float beta, float* c,
                 std::int64_t ldc) {
  using hone::detail::concat;
  kernels::detail::gemm_check("gemm(packed)", ta, Trans::No, m, n, k, a, lda, nullptr, 1, c, ldc);
  if (n != b.cols() || k != b.rows())
    throw InvalidArgument(concat("gemm(packed): the packed B is (", b.rows(), " x ", b.cols(),
                                 ") but the call asks for (k=", k, " x n=", n, ")"));
  const cpu::Isa active = cpu::active_isa();
  if (b.isa() != active)
    throw StateError(concat("gemm(packed): B was packed for ", cpu::to_string(b.isa()),
                            " but the active ISA is ", cpu::to_string(active),
                            "; pack it again after changing the ISA cap"));
  const kernels::detail::PackedBView view{b.data(), b.padded_cols(), 0};
  kernels::detail::gemm_run(kernels::detail::gemm_kernels_for(active), ta, Trans::No, m, n, k,
                            alpha, a, lda, nullptr, 0, beta, c, ldc, &view);
}

}  // namespace hone
