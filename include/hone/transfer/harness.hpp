// hone/transfer/harness.hpp — did transfer pay off? Fine-tune a pretrained model and train the
// same architecture from a fresh initialisation on the same data, with the same recipe,
// budget and seed, and measure both: learning curves (validation accuracy against epochs and
// wall time), final and best accuracy, time to a target accuracy (by default the scratch
// run's best), the training time saved, peak resident memory and estimated FLOPs; optionally
// a k-shot sweep (accuracy of both at k images per class) for a sample-efficiency curve.
//
// Definitions:
//   time to target  = the elapsed training time (Trainer's EpochRecord::elapsed, validation
//                     included) at the end of the first epoch whose validation accuracy is
//                     >= the target; NaN when no epoch reaches it;
//   time saving     = 1 - transfer's time to target / scratch's time to target (a fraction;
//                     0.8 means transfer got there in a fifth of the time), NaN when either
//                     never reached it;
//   peak RSS        = the process's peak resident memory during the run (reset before it,
//                     Linux), so it includes the data and the model;
//   train FLOPs     = forward_flops(model) x 3 x samples trained on (an estimate: a frozen
//                     prefix costs less).
// The scratch model is, unless given, a copy of the pretrained architecture with every
// layer re-initialised by PyTorch's defaults (reinitialize()).
#pragma once

#include <cmath>       // std::sqrt, NaN checks
#include <cstdint>     // counts
#include <functional>  // recipes and model factories
#include <limits>      // NaN
#include <string>      // names
#include <utility>     // std::move
#include <vector>      // curves

#include "hone/core/error.hpp"
#include "hone/core/init.hpp"
#include "hone/core/memory.hpp"
#include "hone/core/rng.hpp"
#include "hone/data/datasets.hpp"
#include "hone/graph/flops.hpp"
#include "hone/graph/graph.hpp"
#include "hone/train/recipes.hpp"
#include "hone/train/surgery.hpp"

namespace hone::transfer {

/// Re-initialises every Conv, Gemm and MatMul weight and bias with PyTorch's defaults
/// (U(-1/sqrt(fan_in), 1/sqrt(fan_in)), which is kaiming_uniform with a = sqrt(5) for
/// weights) and every BatchNormalization to scale 1, shift 0, running mean 0 and running
/// variance 1, in place; parameter k of the graph draws from Generator(seed).fork(k). Other
/// parameters (e.g. PRelu slopes) and constants are left as they are. Returns the number of
/// tensors re-initialised.
template <class T>
std::size_t reinitialize(Graph<T>& graph, std::uint64_t seed) {
  std::vector<std::int64_t> fan_in(graph.parameters().size(), 0);
  std::vector<int> kind(graph.parameters().size(), 0);  // 1 uniform, 2 ones, 3 zeros
  auto index = [&](const std::string& name) -> std::size_t {
    for (std::size_t i = 0; i < graph.parameters().size(); ++i)
      if (graph.parameters()[i].name == name) return i;
    return npos;
  };
  for (const Node& n : graph.nodes()) {
    auto param = [&](std::size_t k) { return k < n.inputs.size() ? index(n.inputs[k]) : npos; };
    if (n.op == "Conv" || n.op == "Gemm" || n.op == "MatMul") {
      const std::size_t w = param(1);
      if (w == npos || graph.parameters()[w].constant) continue;
      const Shape& s = graph.parameters()[w].data.shape();
      std::int64_t fan = 1;
      if (n.op == "Conv") {
        for (std::size_t d = 1; d < s.rank(); ++d) fan *= s[d];
      } else if (n.op == "Gemm" && n.attrs.get_int("transB", 0) != 0) {
        fan = s[1];
      } else {
        fan = s[0];
      }
      fan_in[w] = fan;
      kind[w] = 1;
      if (n.op != "MatMul") {
        const std::size_t b = param(2);
        if (b != npos && !graph.parameters()[b].constant) {
          fan_in[b] = fan;
          kind[b] = 1;
        }
      }
    } else if (n.op == "BatchNormalization") {
      const int fill[] = {2, 3, 3, 2};
      for (std::size_t k = 1; k <= 4; ++k) {
        const std::size_t p = param(k);
        if (p != npos && !graph.parameters()[p].constant) kind[p] = fill[k - 1];
      }
    }
  }
  std::size_t count = 0;
  for (std::size_t i = 0; i < graph.parameters().size(); ++i) {
    Tensor<T>& t = graph.parameters()[i].data;
    if (kind[i] == 0) continue;
    ++count;
    if (kind[i] == 1) {
      Generator gen = Generator(seed).fork(i);
      const double bound = 1.0 / std::sqrt(static_cast<double>(std::max<std::int64_t>(fan_in[i], 1)));
      init::uniform(t, -bound, bound, gen);
    } else {
      t.fill(kind[i] == 2 ? T(1) : T(0));
    }
  }
  return count;
}

/// One training run of the comparison.
struct RunRecord {
  std::string name;            ///< "transfer" or "scratch"
  train::History history;      ///< per-epoch validation accuracy, elapsed seconds, ...
  std::vector<std::string> phases;
  double final_accuracy = std::numeric_limits<double>::quiet_NaN();
  double best_accuracy = std::numeric_limits<double>::quiet_NaN();
  double train_seconds = 0;    ///< elapsed at the last epoch
  double time_to_target = std::numeric_limits<double>::quiet_NaN();
  std::int64_t epochs_to_target = -1;  ///< 1-based epoch count, -1 when never reached
  std::int64_t peak_rss_bytes = -1;
  double train_flops = 0;
};

/// Validation accuracy of both runs at k images per class.
struct ShotPoint {
  std::size_t shots = 0;
  double transfer_accuracy = 0;
  double scratch_accuracy = 0;
};

struct Comparison {
  RunRecord transfer, scratch;
  double target_accuracy = std::numeric_limits<double>::quiet_NaN();
  double time_saving = std::numeric_limits<double>::quiet_NaN();  ///< fraction, see file comment
  std::size_t train_samples = 0, val_samples = 0, num_classes = 0;
  std::vector<ShotPoint> sweep;
};

using Recipe = std::function<train::RecipeResult(Graph<float>&, const data::Dataset&, const data::Dataset*)>;

struct HarnessOptions {
  std::size_t epochs = 10;
  std::size_t batch_size = 16;
  double lr = 1e-3;
  train::OptimizerKind optimizer = train::OptimizerKind::adam;
  std::uint64_t seed = 0;
  double target_accuracy = std::numeric_limits<double>::quiet_NaN();  ///< NaN: scratch's best
  std::vector<std::size_t> shots = {};  ///< k-shot sweep over the training set (images per
                                        ///< class); empty: none. See also k_shot_sweep().
  train::Progress progress = train::Progress::none;
  /// false: the pretrained model gets a new head (find_head's layer, seeded by `seed`) for the
  /// data's classes, as a transfer to new classes needs; true: its head is kept when its
  /// width already equals the number of classes (same classes as the source).
  bool keep_head = false;
  /// Run on both models (which have the data's number of classes); default: all parameters
  /// trained for `epochs` at a constant `lr` with `optimizer`, no weight decay.
  Recipe recipe = {};
};

/// The harness's default recipe as an object, for callers that adjust it (e.g. the loss's
/// logits value) and run it themselves: every parameter trained for `epochs` at a constant
/// `lr` with `optimizer`, no weight decay, no keep-best.
inline train::FullFineTune default_fine_tune(const HarnessOptions& o) {
  train::FullFineTune ft;
  ft.epochs = o.epochs;
  ft.lr = o.lr;
  ft.options.one_cycle = false;
  ft.options.optimizer.kind = o.optimizer;
  ft.options.optimizer.weight_decay = 0;
  ft.options.trainer.batch_size = o.batch_size;
  ft.options.trainer.seed = o.seed;
  ft.options.trainer.progress = o.progress;
  ft.options.trainer.keep_best = false;
  return ft;
}

namespace detail_harness {

inline Recipe default_recipe(const HarnessOptions& o) {
  return [o](Graph<float>& model, const data::Dataset& train, const data::Dataset* val) {
    return default_fine_tune(o).run(model, train, val);
  };
}

inline RunRecord run(const std::string& name, Graph<float> model, const Recipe& recipe,
                     const data::Dataset& train, const data::Dataset& val) {
  RunRecord r;
  r.name = name;
  reset_peak_rss();
  train::RecipeResult result = recipe(model, train, &val);
  r.peak_rss_bytes = peak_rss_bytes();
  r.history = std::move(result.history);
  r.phases = std::move(result.phases);
  if (!r.history.epochs.empty()) {
    r.final_accuracy = r.history.epochs.back().val_accuracy;
    r.train_seconds = r.history.epochs.back().elapsed;
    double best = -1;
    for (const auto& e : r.history.epochs)
      if (e.val_accuracy > best) best = e.val_accuracy;
    r.best_accuracy = best;
  }
  r.train_flops = 3.0 * forward_flops(model) * static_cast<double>(train.size()) *
                  static_cast<double>(r.history.epochs.size());
  return r;
}

inline void mark_target(RunRecord& r, double target) {
  r.time_to_target = std::numeric_limits<double>::quiet_NaN();
  r.epochs_to_target = -1;
  for (std::size_t i = 0; i < r.history.epochs.size(); ++i)
    if (r.history.epochs[i].val_accuracy >= target) {
      r.time_to_target = r.history.epochs[i].elapsed;
      r.epochs_to_target = static_cast<std::int64_t>(i + 1);
      return;
    }
}

/// The pretrained model with a new head for `classes` classes (kept instead when keep_head
/// and its width already fits).
inline Graph<float> with_head(const Graph<float>& pretrained, std::size_t classes, std::uint64_t seed,
                              bool keep_head) {
  Graph<float> model = pretrained.clone();
  const train::HeadInfo head = train::find_head(model);
  if (!keep_head || head.out_features != static_cast<std::int64_t>(classes))
    train::replace_head(model, static_cast<std::int64_t>(classes), seed);
  return model;
}

}  // namespace detail_harness

/// Validation accuracy of the transfer and scratch runs for each k in `shots`, each trained on
/// `pool.k_shot(k, options.seed)` (k images per class drawn from the pool) with the same
/// recipe. Throws InvalidArgument when a class of the pool has fewer than k images.
inline std::vector<ShotPoint> k_shot_sweep(const Graph<float>& pretrained, const data::Dataset& pool,
                                           const data::Dataset& val, const std::vector<std::size_t>& shots,
                                           const HarnessOptions& options = {},
                                           const std::function<Graph<float>()>& make_scratch = {}) {
  const Recipe recipe = options.recipe ? options.recipe : detail_harness::default_recipe(options);
  const std::size_t classes = pool.num_classes();
  std::vector<ShotPoint> out;
  for (std::size_t k : shots) {
    const data::Dataset subset = pool.k_shot(k, options.seed);
    Graph<float> scratch = make_scratch ? make_scratch() : detail_harness::with_head(pretrained, classes, options.seed, options.keep_head);
    if (!make_scratch) reinitialize(scratch, options.seed + 1);
    const RunRecord t = detail_harness::run("transfer", detail_harness::with_head(pretrained, classes, options.seed, options.keep_head),
                                            recipe, subset, val);
    const RunRecord s = detail_harness::run("scratch", std::move(scratch), recipe, subset, val);
    out.push_back({k, t.final_accuracy, s.final_accuracy});
  }
  return out;
}

/// Runs the comparison; see the file comment. `pretrained` is not modified (the runs use
/// copies; a head of the wrong width is replaced). `make_scratch` builds the scratch model
/// (default: the pretrained architecture, re-initialised with Generator(seed + 1)). Throws
/// InvalidArgument for empty data or a dataset with fewer than 2 classes, and what training
/// throws.
inline Comparison compare_transfer(const Graph<float>& pretrained, const data::Dataset& train,
                                   const data::Dataset& val, const HarnessOptions& options = {},
                                   const std::function<Graph<float>()>& make_scratch = {}) {
  if (train.empty() || val.empty())
    throw InvalidArgument("compare_transfer: the training and validation sets must not be empty");
  if (train.num_classes() < 2)
    throw InvalidArgument(hone::detail::concat("compare_transfer: the data has ", train.num_classes(),
                                               " class; at least 2 are needed"));
  const Recipe recipe = options.recipe ? options.recipe : detail_harness::default_recipe(options);
  const std::size_t classes = train.num_classes();
  auto scratch_model = [&]() {
    if (make_scratch) return make_scratch();
    Graph<float> m = detail_harness::with_head(pretrained, classes, options.seed, options.keep_head);
    reinitialize(m, options.seed + 1);
    return m;
  };
  Comparison c;
  c.train_samples = train.size();
  c.val_samples = val.size();
  c.num_classes = classes;
  c.transfer = detail_harness::run("transfer", detail_harness::with_head(pretrained, classes, options.seed, options.keep_head),
                                   recipe, train, val);
  c.scratch = detail_harness::run("scratch", scratch_model(), recipe, train, val);
  c.target_accuracy = std::isnan(options.target_accuracy) ? c.scratch.best_accuracy : options.target_accuracy;
  detail_harness::mark_target(c.transfer, c.target_accuracy);
  detail_harness::mark_target(c.scratch, c.target_accuracy);
  if (!std::isnan(c.transfer.time_to_target) && !std::isnan(c.scratch.time_to_target) &&
      c.scratch.time_to_target > 0)
    c.time_saving = 1.0 - c.transfer.time_to_target / c.scratch.time_to_target;
  if (!options.shots.empty()) c.sweep = k_shot_sweep(pretrained, train, val, options.shots, options, make_scratch);
  return c;
}

}  // namespace hone::transfer
