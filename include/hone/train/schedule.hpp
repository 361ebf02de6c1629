// hone/train/schedule.hpp — learning-rate (and momentum) schedules, and the LR range finder.
//
// A Schedule is a pure function of the step: apply(opt, k) sets every group's lr (and, where
// the schedule cycles it, momentum, which is Adam's beta1) for step k, counted from 0, from
// the group's initial_lr. Call it before the k-th opt.step():
//
//   for (std::int64_t k = 0; k < total; ++k) { schedule.apply(opt, k); ...; opt.step(session); }
//
// PyTorch's equivalent is scheduler.step() after optimizer.step(): the lr that PyTorch's
// k-th optimizer.step() uses (after construction and k scheduler.step() calls) is the lr that
// apply(opt, k) sets. Being stateless, a schedule needs nothing in a checkpoint but the step
// (opt.steps()). The values are PyTorch's closed forms (torch.optim.lr_scheduler, 1.13);
// tests/train/test_optim.cpp compares them with PyTorch's schedulers step by step.
//
// lr_find is fastai's LR range test: an exponential lr sweep that records the loss and
// suggests a learning rate, and then restores the model and the optimizer. See
// docs/train-optim.md.
#pragma once

#include <algorithm>   // std::min, std::max, std::count_if, std::sort
#include <cmath>       // std::cos, std::pow, std::log, std::isfinite
#include <cstddef>     // std::size_t
#include <cstdint>     // std::int64_t steps
#include <functional>  // std::function for LambdaLR and lr_find's train step
#include <numbers>     // std::numbers::pi
#include <string>      // describe()
#include <utility>     // std::move
#include <vector>      // milestones, phases, records

#include "hone/core/error.hpp"
#include "hone/graph/graph.hpp"
#include "hone/train/optim.hpp"

namespace hone::train {

/// A learning-rate schedule: a function of the step only.
class Schedule {
 public:
  virtual ~Schedule() = default;
  /// Sets every group's lr (and momentum where the schedule cycles it) for the step about to
  /// be taken; step counts from 0. Throws InvalidArgument for a negative step.
  virtual void apply(OptimizerBase& opt, std::int64_t step) const = 0;
  /// One line naming the schedule and its parameters.
  virtual std::string describe() const = 0;
};

/// A schedule that multiplies every group's initial_lr by factor(step).
class FactorSchedule : public Schedule {
 public:
  void apply(OptimizerBase& opt, std::int64_t step) const override {
    const double f = factor(step);
    for (GroupHyper& g : opt.groups()) g.lr = g.initial_lr * f;
  }
  /// The multiplier of initial_lr at step (>= 0); throws InvalidArgument for step < 0.
  virtual double factor(std::int64_t step) const = 0;

 protected:
  static void check_step(const char* who, std::int64_t step) {
    if (step < 0)
      throw InvalidArgument("hone.schedule",
                            hone::detail::concat(who, ": step ", step, " is negative (steps count from 0)"));
  }
};

/// torch's ConstantLR: initial_lr * factor for the first total_iters steps, initial_lr after.
/// The defaults keep the lr constant.
class ConstantLR final : public FactorSchedule {
 public:
  explicit ConstantLR(double factor = 1.0, std::int64_t total_iters = 0)
      : factor_(factor), total_iters_(total_iters) {
    if (!(factor >= 0) || total_iters < 0)
      throw InvalidArgument("hone.schedule",
                            hone::detail::concat("ConstantLR: factor ", factor, " and total_iters ",
                                                 total_iters, " must be >= 0"));
  }
  double factor(std::int64_t step) const override {
    check_step("ConstantLR", step);
    return step < total_iters_ ? factor_ : 1.0;
  }
  std::string describe() const override {
    return hone::detail::concat("ConstantLR(factor=", factor_, ", total_iters=", total_iters_, ")");
  }

 private:
  double factor_;
  std::int64_t total_iters_;
};

/// torch's StepLR: initial_lr * gamma^floor(step / step_size).
class StepLR final : public FactorSchedule {
 public:
  StepLR(std::int64_t step_size, double gamma = 0.1) : step_size_(step_size), gamma_(gamma) {
    if (step_size < 1 || !(gamma >= 0))
      throw InvalidArgument("hone.schedule",
                            hone::detail::concat("StepLR: step_size ", step_size, " must be >= 1 and gamma ",
                                                 gamma, " >= 0"));
  }
  double factor(std::int64_t step) const override {
    check_step("StepLR", step);
    return std::pow(gamma_, static_cast<double>(step / step_size_));
  }
  std::string describe() const override {
    return hone::detail::concat("StepLR(step_size=", step_size_, ", gamma=", gamma_, ")");
  }

 private:
  std::int64_t step_size_;
  double gamma_;
};

/// torch's MultiStepLR: initial_lr * gamma^(number of milestones <= step); a milestone given
/// twice counts twice, as in PyTorch.
class MultiStepLR final : public FactorSchedule {
 public:
  MultiStepLR(std::vector<std::int64_t> milestones, double gamma = 0.1)
      : milestones_(std::move(milestones)), gamma_(gamma) {
    std::sort(milestones_.begin(), milestones_.end());
    if (!(gamma >= 0) || (!milestones_.empty() && milestones_.front() < 0))
      throw InvalidArgument("hone.schedule",
                            "MultiStepLR: milestones and gamma must be >= 0");
  }
  double factor(std::int64_t step) const override {
    check_step("MultiStepLR", step);
    const auto passed = std::count_if(milestones_.begin(), milestones_.end(),
                                      [step](std::int64_t m) { return m <= step; });
    return std::pow(gamma_, static_cast<double>(passed));
  }
  std::string describe() const override {
    std::string list;
    for (std::size_t i = 0; i < milestones_.size(); ++i)
      list += hone::detail::concat(i ? ", " : "", milestones_[i]);
    return hone::detail::concat("MultiStepLR(milestones=[", list, "], gamma=", gamma_, ")");
  }

 private:
  std::vector<std::int64_t> milestones_;
  double gamma_;
};

/// torch's LambdaLR: initial_lr * fn(step).
class LambdaLR final : public FactorSchedule {
 public:
  explicit LambdaLR(std::function<double(std::int64_t)> fn, std::string description = "LambdaLR")
      : fn_(std::move(fn)), description_(std::move(description)) {
    if (!fn_) throw InvalidArgument("hone.schedule", "LambdaLR: the function is empty");
  }
  double factor(std::int64_t step) const override {
    check_step("LambdaLR", step);
    return fn_(step);
  }
  std::string describe() const override { return description_; }

 private:
  std::function<double(std::int64_t)> fn_;
  std::string description_;
};

/// Linear warmup, then cosine decay to a floor. With s = warmup_start_factor and
/// m = min_lr_factor, the multiplier of initial_lr is
///   s + (1 - s) * k / W                                  for k < W = warmup_steps
///   m + (1 - m) * (1 + cos(pi * (k - W) / (N - W))) / 2  for W <= k <= N = total_steps
/// and m after N. With s = m = 0 this is transformers' get_cosine_schedule_with_warmup; with
/// s > 0 it is torch's SequentialLR([LinearLR(s, 1, W), CosineAnnealingLR(N - W,
/// eta_min = m * lr)], milestones=[W]).
class CosineWithWarmup final : public FactorSchedule {
 public:
  CosineWithWarmup(std::int64_t warmup_steps, std::int64_t total_steps,
                   double warmup_start_factor = 0.0, double min_lr_factor = 0.0)
      : warmup_(warmup_steps), total_(total_steps), start_(warmup_start_factor),
        min_(min_lr_factor) {
    if (warmup_steps < 0 || total_steps <= warmup_steps)
      throw InvalidArgument("hone.schedule",
                            hone::detail::concat("CosineWithWarmup: needs 0 <= warmup_steps (", warmup_steps,
                                                 ") < total_steps (", total_steps, ")"));
    if (!(start_ >= 0 && start_ <= 1 && min_ >= 0 && min_ <= 1))
      throw InvalidArgument("hone.schedule",
                            hone::detail::concat("CosineWithWarmup: warmup_start_factor ", start_,
                                                 " and min_lr_factor ", min_, " must lie in [0, 1]"));
  }
  double factor(std::int64_t step) const override {
    check_step("CosineWithWarmup", step);
    if (step < warmup_)
      return start_ + (1 - start_) * static_cast<double>(step) / static_cast<double>(warmup_);
    const double t = static_cast<double>(std::min(step, total_) - warmup_);
    const double span = static_cast<double>(total_ - warmup_);
    return min_ + (1 - min_) * (1 + std::cos(std::numbers::pi * t / span)) / 2;
  }
  std::string describe() const override {
    return hone::detail::concat("CosineWithWarmup(warmup_steps=", warmup_, ", total_steps=", total_,
                                ", warmup_start_factor=", start_, ", min_lr_factor=", min_, ")");
  }

 private:
  std::int64_t warmup_, total_;
  double start_, min_;
};

/// torch.optim.lr_scheduler.OneCycleLR's options (fastai's fit_one_cycle uses pct_start
/// 0.25, final_div_factor 1e5).
struct OneCycleOptions {
  enum class Anneal { cos, linear };
  double pct_start = 0.3;
  double div_factor = 25;          ///< start lr = max_lr / div_factor
  double final_div_factor = 1e4;   ///< final lr = start lr / final_div_factor
  Anneal anneal = Anneal::cos;
  bool three_phase = false;
  bool cycle_momentum = true;      ///< SGD momentum or Adam's beta1, inversely to the lr
  double base_momentum = 0.85;
  double max_momentum = 0.95;
};

/// The 1cycle policy, exactly torch.optim.lr_scheduler.OneCycleLR with max_lr = each group's
/// initial_lr: the lr rises from max_lr/div_factor to max_lr over pct_start of total_steps and
/// anneals to max_lr/div_factor/final_div_factor at step total_steps - 1, while momentum
/// moves from max_momentum to base_momentum and back. Steps past total_steps - 1 keep the
/// final values (PyTorch raises there instead).
class OneCycle final : public Schedule {
 public:
  explicit OneCycle(std::int64_t total_steps, OneCycleOptions options = {})
      : total_(total_steps), o_(options) {
    if (total_steps < 1)
      throw InvalidArgument("hone.schedule",
                            hone::detail::concat("OneCycle: total_steps ", total_steps, " must be >= 1"));
    if (!(o_.pct_start >= 0 && o_.pct_start <= 1) || !(o_.div_factor > 0) ||
        !(o_.final_div_factor > 0))
      throw InvalidArgument("hone.schedule",
                            hone::detail::concat("OneCycle: needs pct_start in [0, 1] (", o_.pct_start,
                                                 "), div_factor > 0 (", o_.div_factor,
                                                 ") and final_div_factor > 0 (", o_.final_div_factor, ")"));
    if (o_.cycle_momentum && !(o_.base_momentum >= 0 && o_.base_momentum <= o_.max_momentum &&
                               o_.max_momentum < 1))
      throw InvalidArgument("hone.schedule",
                            hone::detail::concat("OneCycle: needs 0 <= base_momentum (", o_.base_momentum,
                                                 ") <= max_momentum (", o_.max_momentum, ") < 1"));
    // PyTorch's phase ends, in the same floating-point arithmetic.
    const double total = static_cast<double>(total_steps);
    if (o_.three_phase)
      phases_ = {{o_.pct_start * total - 1, initial, peak, top, bottom},
                 {2 * o_.pct_start * total - 2, peak, initial, bottom, top},
                 {total - 1, initial, floor, top, top}};
    else
      phases_ = {{o_.pct_start * total - 1, initial, peak, top, bottom},
                 {total - 1, peak, floor, bottom, top}};
  }

  void apply(OptimizerBase& opt, std::int64_t step) const override {
    if (step < 0)
      throw InvalidArgument("hone.schedule",
                            hone::detail::concat("OneCycle: step ", step, " is negative (steps count from 0)"));
    const double k = static_cast<double>(std::min(step, total_ - 1));
    for (GroupHyper& g : opt.groups()) {
      const double max_lr = g.initial_lr;
      const double initial_lr = max_lr / o_.div_factor;
      const double lrs[] = {initial_lr, max_lr, initial_lr / o_.final_div_factor};
      const double moms[] = {o_.max_momentum, o_.base_momentum};
      double start_step = 0;
      for (std::size_t i = 0; i < phases_.size(); ++i) {
        const Phase& ph = phases_[i];
        if (k <= ph.end_step || i + 1 == phases_.size()) {
          // A phase of length 0 (pct_start * total_steps == 1) is at its end; PyTorch divides
          // by zero there.
          const double pct = ph.end_step == start_step ? 1.0 : (k - start_step) / (ph.end_step - start_step);
          g.lr = anneal(lrs[ph.start_lr], lrs[ph.end_lr], pct);
          if (o_.cycle_momentum) g.momentum = anneal(moms[ph.start_mom], moms[ph.end_mom], pct);
          break;
        }
        start_step = ph.end_step;
      }
    }
  }

  std::string describe() const override {
    return hone::detail::concat("OneCycle(total_steps=", total_, ", pct_start=", o_.pct_start,
                                ", div_factor=", o_.div_factor, ", final_div_factor=", o_.final_div_factor,
                                ", anneal=", o_.anneal == OneCycleOptions::Anneal::cos ? "cos" : "linear",
                                o_.three_phase ? ", three_phase" : "",
                                o_.cycle_momentum
                                    ? hone::detail::concat(", momentum ", o_.max_momentum, " -> ",
                                                           o_.base_momentum, " -> ", o_.max_momentum)
                                    : std::string(", momentum not cycled"),
                                ")");
  }

  std::int64_t total_steps() const noexcept { return total_; }
  const OneCycleOptions& options() const noexcept { return o_; }

 private:
  // Indices into the per-group lr triple and the momentum pair.
  static constexpr std::size_t initial = 0, peak = 1, floor = 2, top = 0, bottom = 1;
  struct Phase {
    double end_step;
    std::size_t start_lr, end_lr, start_mom, end_mom;
  };

  double anneal(double start, double end, double pct) const {
    if (o_.anneal == OneCycleOptions::Anneal::linear) return (end - start) * pct + start;
    const double cos_out = std::cos(std::numbers::pi * pct) + 1;
    return end + (start - end) / 2.0 * cos_out;
  }

  std::int64_t total_;
  OneCycleOptions o_;
  std::vector<Phase> phases_;
};

// --- the LR range finder ----------------------------------------------------------------

struct LrFinderOptions {
  double start_lr = 1e-7;
  double end_lr = 10;
  std::int64_t num_steps = 100;
  double smooth = 0.98;   ///< exponential smoothing of the loss (bias-corrected)
  double diverge = 4;     ///< stop when the smoothed loss exceeds diverge x the best one
};

struct LrFinderResult {
  std::vector<double> lrs;       ///< the lr of each step taken (of the group with the largest initial_lr)
  std::vector<double> losses;    ///< the loss train_step returned
  std::vector<double> smoothed;  ///< bias-corrected exponential moving average of the losses
  double suggested_lr = 0;       ///< where the smoothed loss falls fastest per log(lr)
  double min_loss_lr = 0;        ///< where the smoothed loss is smallest
  double min_loss_suggestion = 0;  ///< min_loss_lr / 10, fastai's lr_min
  bool diverged = false;         ///< stopped early: loss not finite or above diverge x best
};

/// The LR range test (Smith 2015; fastai's lr_find). Step k of num_steps sets
/// lr_k = start_lr * (end_lr / start_lr)^(k / (num_steps - 1)) in the group(s) with the
/// largest initial_lr, and keeps every other group at its initial_lr ratio to them (so
/// discriminative rates keep their spread), then calls train_step, which must run forward,
/// backward and opt.step() on the next batch (zeroing the gradients) and return the loss. It
/// stops early when the loss is not finite or the smoothed loss exceeds diverge times the
/// best so far. The suggestion is taken over the points after the first num_steps/10 and
/// before the last 5 (all of them when fewer than 3 would remain), as fastai does:
/// suggested_lr is the lr where the smoothed loss has its steepest descent per log(lr),
/// min_loss_suggestion a tenth of the lr with the smallest smoothed loss. Afterwards, also
/// when train_step throws, every parameter and buffer of graph is restored bit for bit (in
/// place) and so is the optimizer (state, step count, groups). The batches train_step
/// consumed are not restored. Throws InvalidArgument for 0 < start_lr < end_lr not holding,
/// num_steps < 2, smooth outside [0, 1) or diverge <= 1.
template <class T>
LrFinderResult lr_find(Graph<T>& graph, Optimizer<T>& opt, const std::function<double()>& train_step,
                       const LrFinderOptions& options = {}) {
  const LrFinderOptions& o = options;
  if (!(o.start_lr > 0 && o.end_lr > o.start_lr) || o.num_steps < 2 ||
      !(o.smooth >= 0 && o.smooth < 1) || !(o.diverge > 1))
    throw InvalidArgument("hone.lr_find",
                          hone::detail::concat("lr_find: needs 0 < start_lr (", o.start_lr, ") < end_lr (",
                                               o.end_lr, "), num_steps >= 2 (", o.num_steps,
                                               "), smooth in [0, 1) (", o.smooth, ") and diverge > 1 (",
                                               o.diverge, ")"));
  // Restores the model and the optimizer on every exit.
  struct Restore {
    Graph<T>& graph;
    Optimizer<T>& opt;
    std::vector<std::pair<std::string, Tensor<T>>> params;
    typename Optimizer<T>::State state;
    ~Restore() {
      for (auto& [name, saved] : params)
        if (graph.has_parameter(name)) {
          Tensor<T>& live = graph.parameter(name).data;
          if (live.shape() == saved.shape()) live.copy_from(saved);
        }
      try {
        opt.load_state(state);
      } catch (const Error&) {  // the groups changed under lr_find: leave them
      }
    }
  } restore{graph, opt, {}, opt.state()};
  for (const Parameter<T>& p : graph.parameters()) restore.params.emplace_back(p.name, p.data.clone());

  double top = 0;
  for (const GroupHyper& g : opt.groups()) top = std::max(top, g.initial_lr);
  LrFinderResult r;
  double average = 0, best = 0;
  for (std::int64_t k = 0; k < o.num_steps; ++k) {
    const double lr = o.start_lr * std::pow(o.end_lr / o.start_lr, static_cast<double>(k) /
                                                                        static_cast<double>(o.num_steps - 1));
    for (GroupHyper& g : opt.groups()) g.lr = top > 0 ? lr * (g.initial_lr / top) : lr;
    const double loss = train_step();
    if (!std::isfinite(loss)) {
      r.diverged = true;
      break;
    }
    average = o.smooth * average + (1 - o.smooth) * loss;
    const double smoothed = average / (1 - std::pow(o.smooth, static_cast<double>(k + 1)));
    r.lrs.push_back(lr);
    r.losses.push_back(loss);
    r.smoothed.push_back(smoothed);
    if (k == 0 || smoothed < best) best = smoothed;
    if (smoothed > o.diverge * best) {
      r.diverged = true;
      break;
    }
  }
  if (r.lrs.empty()) return r;
  std::size_t begin = static_cast<std::size_t>(o.num_steps / 10), end = r.lrs.size();
  end = end > 5 ? end - 5 : 0;
  if (end < begin + 3) {
    begin = 0;
    end = r.lrs.size();
  }
  std::size_t steepest = begin, lowest = begin;
  double steepest_slope = 0;
  for (std::size_t i = begin; i < end; ++i) {
    if (r.smoothed[i] < r.smoothed[lowest]) lowest = i;
    if (i + 1 < end) {
      const double slope =
          (r.smoothed[i + 1] - r.smoothed[i]) / (std::log(r.lrs[i + 1]) - std::log(r.lrs[i]));
      if (i == begin || slope < steepest_slope) {
        steepest_slope = slope;
        steepest = i;
      }
    }
  }
  r.suggested_lr = r.lrs[steepest];
  r.min_loss_lr = r.lrs[lowest];
  r.min_loss_suggestion = r.min_loss_lr / 10;
  return r;
}

}  // namespace hone::train
