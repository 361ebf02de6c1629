// hone/train/recipes.hpp — fine-tuning strategies as small objects: linear probe, full
// fine-tuning, LP-FT, gradual unfreezing, and fastai's fine_tune.
//
// Each recipe sets what is trainable and how BatchNorm behaves, builds the optimizer and
// schedule for each of its phases, runs a Trainer per phase and returns the joined history
// plus one line per phase saying what it did. The model must already have the right head
// (replace_head). What they follow:
//   - LinearProbe: only the head trains; the backbone is frozen with BatchNorm on running
//     statistics, so its features are fixed and, when nothing random precedes the head, are
//     computed once (feature_cache.hpp) instead of every step.
//   - FullFineTune: everything trains, BatchNorm per `bn` (default: batch statistics, as
//     PyTorch's train mode; BnPolicy::frozen is the Keras recommendation for small data).
//   - LPFT (Kumar et al., "Fine-Tuning can Distort Pretrained Features", ICLR 2022): a
//     linear probe, then full fine-tuning from the probed head at a lower rate (lr / 10 by
//     default), so the random head does not distort the features early on.
//   - GradualUnfreezing (Howard & Ruder, ULMFiT 2018): the last block group trains first;
//     each following stage (one epoch by default) unfreezes the next group below, with
//     discriminative rates (each group below gets lr / 2.6); once all are unfrozen, the
//     remaining epochs train everything.
//   - fine_tune (fastai's Learner.fine_tune): freeze_epochs with the body frozen (head and
//     BatchNorm affine trainable, fastai's train_bn) under one-cycle at base_lr with
//     pct_start 0.99; then base_lr / 2, everything unfrozen, one-cycle with discriminative
//     rates from base_lr/200 to base_lr/2 over the block groups, pct_start 0.3, div 5.
// Optimizers default to AdamW (weight decay 0.01, none on biases and norms) as in fastai.
#pragma once

#include <algorithm>   // std::min, std::max
#include <cmath>       // std::isnan
#include <functional>  // callbacks
#include <memory>      // std::unique_ptr optimizers
#include <optional>    // the validation cache
#include <string>      // phase descriptions
#include <utility>     // std::move
#include <vector>      // groups

#include "hone/core/error.hpp"
#include "hone/data/datasets.hpp"
#include "hone/graph/graph.hpp"
#include "hone/train/bn_policy.hpp"
#include "hone/train/feature_cache.hpp"
#include "hone/train/optim.hpp"
#include "hone/train/schedule.hpp"
#include "hone/train/select.hpp"
#include "hone/train/surgery.hpp"
#include "hone/train/trainer.hpp"

namespace hone::train {

enum class OptimizerKind { sgd, adam, adamw };

/// Which optimizer a recipe builds.
struct OptimizerChoice {
  OptimizerKind kind = OptimizerKind::adamw;
  double weight_decay = 0.01;  ///< on weights; biases and norms get none
  double momentum = 0.9;       ///< SGD momentum (Adam's beta1 is 0.9; one-cycle moves both)
};

/// An optimizer over `groups` as chosen.
template <class T>
std::unique_ptr<Optimizer<T>> make_optimizer(Graph<T>& graph, std::vector<GroupHyper> groups,
                                             const OptimizerChoice& choice) {
  switch (choice.kind) {
    case OptimizerKind::sgd: {
      SGDOptions o;
      o.momentum = choice.momentum;
      return std::make_unique<SGD<T>>(graph, std::move(groups), o);
    }
    case OptimizerKind::adam: return std::make_unique<Adam<T>>(graph, std::move(groups), AdamOptions{});
    case OptimizerKind::adamw: break;
  }
  return std::make_unique<AdamW<T>>(graph, std::move(groups), AdamWOptions{});
}

/// What every recipe shares.
struct RecipeOptions {
  OptimizerChoice optimizer = {};
  bool one_cycle = true;        ///< one-cycle per phase; false: constant rate
  TrainerOptions trainer = {};  ///< batch size, seed, progress, ...; epochs are per phase
  Trainer<float>::EpochCallback on_epoch = {};  ///< called after every epoch of every phase
};

/// The history of all phases (epochs numbered on) and one line per phase.
struct RecipeResult {
  History history;
  std::vector<std::string> phases;
};

namespace detail_recipes {

template <class T>
bool has_batch_norm(const Graph<T>& g) {
  for (const auto& n : g.nodes())
    if (n.op == "BatchNormalization") return true;
  return false;
}

/// Appends b's epochs to a (renumbered, elapsed times continued) and takes b's best if better.
inline void append(History& a, const History& b) {
  const std::size_t first = a.epochs.size();
  const double elapsed = a.epochs.empty() ? 0.0 : a.epochs.back().elapsed;
  const std::int64_t steps = a.epochs.empty() ? 0 : a.epochs.back().steps;
  for (EpochRecord e : b.epochs) {
    e.epoch += first;
    e.elapsed += elapsed;
    e.steps += steps;
    a.epochs.push_back(e);
  }
  if (!std::isnan(b.best_val_accuracy) &&
      (std::isnan(a.best_val_accuracy) || b.best_val_accuracy > a.best_val_accuracy)) {
    a.best_val_accuracy = b.best_val_accuracy;
    a.best_epoch = b.best_epoch + first;
  }
  a.stopped_early = b.stopped_early;
  a.restored_best = b.restored_best;
  a.stop_reason = b.stop_reason;
}

inline std::string describe_lr(double lr) { return hone::detail::concat(lr); }

/// Runs one phase: an optimizer over `groups`, one-cycle (with `one_cycle_options`) or
/// constant, `epochs` epochs of `train_for_epoch`.
template <class T>
History run_phase(Graph<T>& model, std::vector<GroupHyper> groups, std::size_t epochs,
                  const RecipeOptions& o, const typename Trainer<T>::DatasetForEpoch& train_for_epoch,
                  std::size_t train_size, const data::Dataset* val, OneCycleOptions one_cycle_options = {}) {
  auto optimizer = make_optimizer(model, std::move(groups), o.optimizer);
  TrainerOptions to = o.trainer;
  to.epochs = epochs;
  Trainer<T> probe(model, *optimizer, nullptr, to);
  const std::int64_t total = std::max<std::int64_t>(1, probe.steps_per_epoch(train_size) *
                                                           static_cast<std::int64_t>(epochs));
  OneCycle cycle(total, one_cycle_options);
  Trainer<T> trainer(model, *optimizer, o.one_cycle ? &cycle : nullptr, to);
  if (o.on_epoch) trainer.on_epoch(o.on_epoch);
  return trainer.fit(train_for_epoch, val);
}

}  // namespace detail_recipes

/// Trains the head only, on fixed backbone features (cached when possible).
struct LinearProbe {
  std::size_t epochs = 5;
  double lr = 1e-3;
  bool cache_features = true;  ///< compute the backbone once when it is deterministic
  std::size_t cache_views = 1; ///< augmented views to cache when the data is augmented
  RecipeOptions options = {};

  template <class T>
  RecipeResult run(Graph<T>& model, const data::Dataset& train, const data::Dataset* val = nullptr) const {
    RecipeResult r;
    if (detail_recipes::has_batch_norm(model)) set_bn_policy(model, BnPolicy::frozen, "*", false);
    train_head_only(model);
    const HeadInfo head = find_head(model);
    bool cached = false;
    if (cache_features) {
      try {
        check_cacheable(model, head.input);
        cached = true;
      } catch (const InvalidArgument& e) {
        r.phases.push_back(hone::detail::concat("feature cache not used: ", e.what()));
      }
    }
    if (cached) {
      SplitGraphs<T> parts = split_at(model, head.input);
      for (auto& p : parts.suffix.parameters())
        if (model.has_parameter(p.name)) p.data = model.parameter(p.name).data;
      FeatureCacheOptions co;
      co.batch_size = options.trainer.batch_size;
      co.views = cache_views;
      co.seed = options.trainer.seed;
      co.num_workers = options.trainer.num_workers;
      const FeatureCache train_cache = FeatureCache::build(parts.prefix, train, co);
      co.views = 1;
      std::optional<FeatureCache> val_cache;
      if (val) val_cache = FeatureCache::build(parts.prefix, *val, co);
      r.history = detail_recipes::run_phase(
          parts.suffix, default_groups(parts.suffix, lr, options.optimizer.weight_decay), epochs, options,
          [&](std::size_t e) { return train_cache.view(e); }, train.size(),
          val_cache ? &val_cache->view(0) : nullptr);
      r.phases.push_back(hone::detail::concat("linear probe: head \"", head.node, "\" on cached features of \"",
                                              head.input, "\" (", train_cache.views(), " view(s), ",
                                              train_cache.bytes(), " bytes), ", epochs, " epochs, lr ", lr));
    } else {
      r.history = detail_recipes::run_phase(
          model, default_groups(model, lr, options.optimizer.weight_decay), epochs, options,
          [&](std::size_t) { return train; }, train.size(), val);
      r.phases.push_back(hone::detail::concat("linear probe: head \"", head.node, "\", backbone recomputed, ",
                                              epochs, " epochs, lr ", lr));
    }
    return r;
  }
};

/// Trains everything.
struct FullFineTune {
  std::size_t epochs = 5;
  double lr = 1e-4;
  BnPolicy bn = BnPolicy::train;
  RecipeOptions options = {};

  template <class T>
  RecipeResult run(Graph<T>& model, const data::Dataset& train, const data::Dataset* val = nullptr) const {
    RecipeResult r;
    if (detail_recipes::has_batch_norm(model)) set_bn_policy(model, bn, "*", true);
    unfreeze(model);
    r.history = detail_recipes::run_phase(model, default_groups(model, lr, options.optimizer.weight_decay),
                                          epochs, options, [&](std::size_t) { return train; }, train.size(), val);
    r.phases.push_back(hone::detail::concat("full fine-tune: all parameters, ", epochs, " epochs, lr ", lr,
                                            bn == BnPolicy::frozen ? ", BatchNorm frozen" : ""));
    return r;
  }
};

/// A linear probe, then full fine-tuning at a lower rate.
struct LPFT {
  LinearProbe probe = {};
  std::size_t ft_epochs = 5;
  double ft_lr = 0.0;  ///< 0: probe.lr / 10
  BnPolicy bn = BnPolicy::train;

  template <class T>
  RecipeResult run(Graph<T>& model, const data::Dataset& train, const data::Dataset* val = nullptr) const {
    RecipeResult r = probe.run(model, train, val);
    FullFineTune ft{ft_epochs, ft_lr > 0 ? ft_lr : probe.lr / 10, bn, probe.options};
    RecipeResult second = ft.run(model, train, val);
    detail_recipes::append(r.history, second.history);
    r.phases.insert(r.phases.end(), second.phases.begin(), second.phases.end());
    return r;
  }
};

/// ULMFiT's gradual unfreezing with discriminative learning rates.
struct GradualUnfreezing {
  std::size_t epochs = 5;            ///< in total
  std::size_t epochs_per_stage = 1;  ///< before the next group below is unfrozen
  double lr = 1e-3;                  ///< of the last (top) group
  double factor = 2.6;               ///< each group below gets the rate of the one above / factor
  BnPolicy bn = BnPolicy::train;
  RecipeOptions options = {};

  template <class T>
  RecipeResult run(Graph<T>& model, const data::Dataset& train, const data::Dataset* val = nullptr) const {
    if (epochs_per_stage == 0) throw InvalidArgument("GradualUnfreezing: epochs_per_stage must be >= 1");
    RecipeResult r;
    if (detail_recipes::has_batch_norm(model)) set_bn_policy(model, bn, "*", true);
    const auto groups = blocks(model);
    const auto group_names = block_names(model);
    if (groups.empty()) throw InvalidArgument("GradualUnfreezing: the model has no parameters");
    std::size_t done = 0, unfrozen = 0;
    while (done < epochs) {
      unfrozen = std::min(groups.size(), unfrozen + 1);
      const bool all = unfrozen == groups.size();
      const std::size_t stage = all ? epochs - done : std::min(epochs_per_stage, epochs - done);
      freeze(model);
      std::vector<std::vector<std::string>> active;
      std::string names;
      for (std::size_t g = groups.size() - unfrozen; g < groups.size(); ++g) {
        for (const auto& p : groups[g]) model.parameter(p).trainable = true;
        active.push_back(groups[g]);
        names += hone::detail::concat(names.empty() ? "" : ", ", group_names[g]);
      }
      if (detail_recipes::has_batch_norm(model) && bn == BnPolicy::frozen)
        set_bn_policy(model, BnPolicy::frozen, "*", false);  // keep frozen statistics, affine per group
      const History h = detail_recipes::run_phase(
          model, discriminative_groups(model, active, lr, factor, options.optimizer.weight_decay), stage,
          options, [&](std::size_t) { return train; }, train.size(), val);
      detail_recipes::append(r.history, h);
      r.phases.push_back(hone::detail::concat("gradual unfreezing: ", stage, " epoch(s) training ", names,
                                              " (top lr ", lr, ", / ", factor, " per group below)"));
      done += stage;
    }
    return r;
  }
};

/// fastai's Learner.fine_tune: see the file comment.
struct FineTune {
  std::size_t epochs = 5;
  double base_lr = 2e-3;
  std::size_t freeze_epochs = 1;
  double lr_mult = 100;
  RecipeOptions options = {};

  template <class T>
  RecipeResult run(Graph<T>& model, const data::Dataset& train, const data::Dataset* val = nullptr) const {
    RecipeResult r;
    const bool bn = detail_recipes::has_batch_norm(model);
    if (bn) set_bn_policy(model, BnPolicy::train, "*", true);
    if (freeze_epochs > 0) {
      train_head_only(model);
      if (bn)
        for (const auto& n : model.nodes())
          if (n.op == "BatchNormalization")
            for (std::size_t k = 1; k < 3 && k < n.inputs.size(); ++k)
              if (model.has_parameter(n.inputs[k])) model.parameter(n.inputs[k]).trainable = true;
      OneCycleOptions first;
      first.pct_start = 0.99;
      first.final_div_factor = 1e5;
      r.history = detail_recipes::run_phase(model, default_groups(model, base_lr, options.optimizer.weight_decay),
                                            freeze_epochs, options, [&](std::size_t) { return train; },
                                            train.size(), val, first);
      r.phases.push_back(hone::detail::concat("fine_tune: ", freeze_epochs, " epoch(s) head", bn ? " and BatchNorm" : "",
                                              " only, one-cycle to ", base_lr));
    }
    const double lr = base_lr / 2;
    unfreeze(model);
    const std::vector<std::vector<std::string>> groups = blocks(model);
    OneCycleOptions second;
    second.pct_start = 0.3;
    second.div_factor = 5.0;
    second.final_div_factor = 1e5;
    const History h = detail_recipes::run_phase(
        model, discriminative_groups(model, groups, LrRange{lr / lr_mult, lr}, options.optimizer.weight_decay),
        epochs, options, [&](std::size_t) { return train; }, train.size(), val, second);
    detail_recipes::append(r.history, h);
    r.phases.push_back(hone::detail::concat("fine_tune: ", epochs, " epoch(s) all unfrozen, one-cycle, rates ",
                                            lr / lr_mult, " .. ", lr, " over ", groups.size(), " block groups"));
    return r;
  }
};

/// fastai's fine_tune(epochs, base_lr) with its defaults otherwise.
template <class T>
RecipeResult fine_tune(Graph<T>& model, const data::Dataset& train, const data::Dataset* val,
                       std::size_t epochs, double base_lr = 2e-3, RecipeOptions options = {}) {
  FineTune f;
  f.epochs = epochs;
  f.base_lr = base_lr;
  f.options = std::move(options);
  return f.run(model, train, val);
}

}  // namespace hone::train
