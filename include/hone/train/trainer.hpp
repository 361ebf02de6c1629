// hone/train/trainer.hpp — the training loop: epochs or steps over a Dataset, a loss on the
// model's logits, gradient accumulation and clipping, a schedule, validation with metrics,
// early stopping, keep-best, callbacks, a progress display and a JSON history.
//
// The model Graph is left as it is: the trainer trains a copy of it with a loss attached
// (with_loss), whose parameter tensors share storage with the model, so every update lands
// in the model's own tensors. The copy is rebuilt at the start of each epoch, so trainable
// flags, BatchNorm policies and replaced parameters set on the model between epochs (e.g. by
// a gradual-unfreezing recipe) take effect at the next epoch.
//
// Determinism: batches come from data::Loader seeded with `seed` (its order and
// augmentations depend on the seed and the epoch only), and the session of epoch e is seeded
// with Generator(seed).fork(e), so a run is bit-identical for the same seed and thread count,
// and a run resumed from a checkpoint continues bit-identically (see checkpoint.hpp).
#pragma once

#include <chrono>      // epoch and run timing
#include <cmath>       // std::isnan
#include <cstdint>     // counters
#include <cstdio>      // progress output
#include <functional>  // callbacks, regularizers, dataset providers
#include <limits>      // infinity
#include <optional>    // loader batches
#include <string>      // names, JSON
#include <utility>     // std::move
#include <vector>      // history

#if __has_include(<unistd.h>)
#include <unistd.h>  // isatty: progress bar only on a terminal
#define HONE_TRAIN_HAS_ISATTY 1
#endif

#include "hone/core/error.hpp"
#include "hone/core/json.hpp"
#include "hone/core/rng.hpp"
#include "hone/core/tensor.hpp"
#include "hone/data/loader.hpp"
#include "hone/graph/graph.hpp"
#include "hone/graph/session.hpp"
#include "hone/train/checkpoint.hpp"
#include "hone/train/history.hpp"
#include "hone/train/metrics.hpp"
#include "hone/train/optim.hpp"
#include "hone/train/schedule.hpp"

namespace hone::train {

/// Names the trainer adds to the training copy of a model.
inline constexpr const char* kLabelsInput = "hone.labels";
inline constexpr const char* kLossOutput = "hone.loss";

struct LossOptions {
  std::string logits = {};       ///< the value holding (N, C) scores; default: first graph output
  double label_smoothing = 0.0;  ///< PyTorch's definition (see ops/loss.hpp)
};

/// A copy of `model` (parameter tensors shared) with a batched input kLabelsInput of class
/// indices (N) and a mean softmax cross-entropy kLossOutput on the logits; its outputs are
/// the loss and the logits. Throws InvalidArgument when the logits value is unknown or the
/// model already uses the trainer's names, and ShapeError when the logits are not (N, C).
template <class T>
Graph<T> with_loss(const Graph<T>& model, const LossOptions& options = {}) {
  if (model.outputs().empty() && options.logits.empty())
    throw InvalidArgument("with_loss: the model has no output to attach a loss to");
  const std::string logits = options.logits.empty() ? model.outputs()[0] : options.logits;
  const GraphAnalysis a = model.analyze();
  const Shape& s = a.shapes[a.value(logits)];
  if (s.rank() != 2)
    throw ShapeError(hone::detail::concat("with_loss: the logits \"", logits, "\" have shape ", s,
                                    "; a classification loss needs (N, C)"));
  // Rebuilt through the public API (rather than copied) so the outputs can be replaced;
  // Tensor copies share storage, so the parameters are the model's own.
  Graph<T> g;
  for (const auto& in : model.inputs()) g.add_input(in.name, in.shape, in.batched);
  for (const auto& p : model.parameters()) g.parameters().push_back(p);
  for (const auto& n : model.nodes()) g.add_node(n.op, n.inputs, n.outputs, n.attrs, n.name);
  g.add_input(kLabelsInput, Shape{s[0]}, true);
  Attributes attrs;
  attrs.set_string("reduction", "mean");
  if (options.label_smoothing != 0.0) attrs.set_float("label_smoothing", options.label_smoothing);
  g.add_node("SoftmaxCrossEntropyLoss", {logits, kLabelsInput}, {kLossOutput}, attrs,
             "hone.loss_node");
  g.add_output(kLossOutput);
  g.add_output(logits);
  return g;
}

/// How progress is shown: a bar redrawn in place on a terminal, one line per epoch
/// otherwise (automatic), or forced either way, or nothing.
enum class Progress { automatic, bar, lines, none };

struct TrainerOptions {
  std::size_t epochs = 1;
  std::int64_t max_steps = 0;        ///< optimizer steps after which training stops (0: none)
  std::size_t batch_size = 32;
  std::size_t eval_batch_size = 0;   ///< 0: batch_size
  std::size_t accumulation_steps = 1;  ///< micro-batches per optimizer step (loss divided by it)
  double clip_grad_norm = 0.0;       ///< max total gradient 2-norm; 0: no clipping
  LossOptions loss = {};
  std::uint64_t seed = 0;            ///< batch order, augmentation, dropout
  bool shuffle = true;
  bool drop_last = false;
  std::size_t num_workers = 0;       ///< loader threads (0: decode on the training thread)
  std::size_t top_k = 5;             ///< for the top-k accuracy metric
  std::size_t patience = 0;          ///< stop after this many epochs without a better
                                     ///< validation accuracy (0: no early stopping)
  double min_delta = 0.0;            ///< improvement needed to count as better
  bool keep_best = true;             ///< restore the best epoch's weights at the end (with val)
  Progress progress = Progress::automatic;
  std::FILE* log = stderr;           ///< where progress goes (nullptr: nowhere)
  std::string history_path = {};     ///< JSON history rewritten after every epoch ("" = none)
  std::string checkpoint_path = {};  ///< checkpoint rewritten after every epoch, every
                                     ///< checkpoint_every_steps steps and when training stops
  std::int64_t checkpoint_every_steps = 0;  ///< 0: only at epoch ends and at the stop
};

/// Loss and metrics of a model on a dataset.
struct Evaluation {
  double loss = 0.0;
  ConfusionMatrix confusion;
  double accuracy() const { return confusion.accuracy(); }
};

template <class T>
class Trainer {
 public:
  /// Called after every epoch; returning false stops training (stop_reason "callback").
  using EpochCallback = std::function<bool(const EpochRecord&)>;
  /// Called after every optimizer step with the step number (1-based) and the batch loss.
  using StepCallback = std::function<void(std::int64_t step, double loss)>;
  /// Adds its gradient to the session's parameter gradients and returns its penalty value;
  /// called once per optimizer step after the backward passes (e.g. L2SP::apply).
  using Regularizer = std::function<double(Session<T>&)>;
  /// The training data of an epoch (e.g. a feature cache's view for that epoch).
  using DatasetForEpoch = std::function<data::Dataset(std::size_t epoch)>;

  /// Trains `model` (which must outlive the trainer) with `optimizer` (built on the same
  /// graph) and an optional `schedule` applied before every optimizer step.
  Trainer(Graph<T>& model, Optimizer<T>& optimizer, const Schedule* schedule = nullptr,
          TrainerOptions options = {})
      : model_(model), optimizer_(optimizer), schedule_(schedule), options_(std::move(options)) {
    if (options_.batch_size == 0) throw InvalidArgument("Trainer: batch_size must be positive");
    if (options_.accumulation_steps == 0)
      throw InvalidArgument("Trainer: accumulation_steps must be at least 1");
    (void)with_loss(model_, options_.loss);  // fail early on a model without (N, C) logits
  }

  void set_regularizer(Regularizer r) { regularizer_ = std::move(r); }
  void on_epoch(EpochCallback cb) { epoch_callbacks_.push_back(std::move(cb)); }
  void on_step(StepCallback cb) { step_callbacks_.push_back(std::move(cb)); }
  TrainerOptions& options() noexcept { return options_; }

  /// Optimizer steps per epoch for a training set of n samples (for sizing schedules).
  std::int64_t steps_per_epoch(std::size_t n) const {
    const std::size_t b = options_.batch_size;
    const std::size_t batches = options_.drop_last ? n / b : (n + b - 1) / b;
    return static_cast<std::int64_t>((batches + options_.accumulation_steps - 1) /
                                     options_.accumulation_steps);
  }

  /// Trains for options().epochs epochs (or until max_steps, early stopping or a callback),
  /// validating on `val` after each epoch when given. Throws what the graph, the data and the
  /// optimizer throw; InvalidArgument when train is empty or a label does not fit the logits.
  History fit(const data::Dataset& train, const data::Dataset* val = nullptr) {
    return fit([&](std::size_t) { return train; }, val);
  }
  History fit(const DatasetForEpoch& train_for_epoch, const data::Dataset* val = nullptr) {
    return run(train_for_epoch, val, 0, 0);
  }

  /// Continues the run saved in checkpoint file `path` (see TrainerOptions::checkpoint_path):
  /// restores the model's parameters, buffers and trainable flags and the optimizer's state,
  /// then trains from the saved epoch and batch with the saved seed, so the result is
  /// bit-identical to a run that was never interrupted (same options, data and threads).
  /// Throws what load_checkpoint and restore_checkpoint throw.
  History resume(const std::string& path, const data::Dataset& train,
                 const data::Dataset* val = nullptr) {
    const Checkpoint<T> c = load_checkpoint<T>(path);
    restore_checkpoint(c, model_, optimizer_);
    options_.seed = c.position.seed;
    history_ = c.history;
    return run([&](std::size_t) { return train; }, val, c.position.epoch, c.position.batch_in_epoch);
  }

  /// Loss and confusion matrix of the model on `data` (inference mode, no updates).
  Evaluation evaluate(const data::Dataset& data) {
    Graph<T> g = with_loss(model_, options_.loss);
    Session<T> session(g, {Mode::inference, options_.seed, {}});
    const std::size_t classes = num_classes(g);
    Evaluation ev{0.0, ConfusionMatrix(classes, options_.top_k)};
    data::Loader loader(data, {options_.eval_batch_size ? options_.eval_batch_size
                                                        : options_.batch_size,
                               false, false, options_.num_workers, 4, options_.seed});
    loader.start_epoch(0);
    double loss_sum = 0.0;
    std::int64_t n = 0;
    while (auto batch = loader.next()) {
      if (batch->labels.numel() == 0) continue;
      auto out = session.forward({to_t(batch->inputs), labels_to_t(batch->labels, classes)});
      const auto b = batch->labels.numel();
      loss_sum += static_cast<double>(out[0][0]) * static_cast<double>(b);
      n += b;
      ev.confusion.add(out[1], batch->labels);
    }
    ev.loss = n ? loss_sum / static_cast<double>(n) : std::numeric_limits<double>::quiet_NaN();
    return ev;
  }

  /// The optimizer steps taken and the epoch/batch position, for checkpoints.
  std::int64_t global_step() const noexcept { return global_step_; }
  std::size_t epoch() const noexcept { return epoch_; }
  std::size_t batch_in_epoch() const noexcept { return batch_in_epoch_; }
  const History& history() const noexcept { return history_; }

  /// Stops the current fit() after the running optimizer step (from a callback).
  void request_stop() noexcept { stop_requested_ = true; }

 private:
  static std::size_t num_classes(const Graph<T>& g) {
    const GraphAnalysis a = g.analyze();
    const Shape& s = a.shapes[a.outputs[1]];
    return static_cast<std::size_t>(s[1]);
  }
  static Tensor<T> to_t(const Tensor<float>& x) {
    if constexpr (std::is_same_v<T, float>) return x;
    else return x.template cast<T>();
  }
  static Tensor<T> labels_to_t(const Tensor<std::int64_t>& labels, std::size_t classes) {
    Tensor<T> out(labels.shape());
    for (std::int64_t i = 0; i < labels.numel(); ++i) {
      if (labels[i] < 0 || static_cast<std::size_t>(labels[i]) >= classes)
        throw InvalidArgument(hone::detail::concat("Trainer: label ", labels[i], " but the model has ",
                                             classes, " outputs (classes 0..", classes - 1,
                                             "); replace the head to fit the data"));
      out[i] = static_cast<T>(labels[i]);
    }
    return out;
  }

  struct Snapshot {
    std::vector<std::pair<std::string, Tensor<T>>> values;
  };
  Snapshot snapshot() const {
    Snapshot s;
    for (const auto& p : model_.parameters())
      if (!p.constant) s.values.emplace_back(p.name, p.data.clone());
    return s;
  }
  void restore(const Snapshot& s) {
    for (const auto& [name, t] : s.values)
      if (model_.has_parameter(name)) model_.parameter(name).data.copy_from(t);
  }

  bool terminal() const {
#ifdef HONE_TRAIN_HAS_ISATTY
    return options_.log && isatty(fileno(options_.log));
#else
    return false;
#endif
  }

  History run(const DatasetForEpoch& train_for_epoch, const data::Dataset* val,
              std::size_t first_epoch, std::size_t skip_batches) {
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    const double elapsed_before = history_.epochs.empty() ? 0.0 : history_.epochs.back().elapsed;
    stop_requested_ = false;
    const Progress mode = options_.progress == Progress::automatic
                              ? (terminal() ? Progress::bar : Progress::lines)
                              : options_.progress;
    double best = history_.epochs.empty() ? -std::numeric_limits<double>::infinity()
                                          : history_.best_val_accuracy;
    if (std::isnan(best)) best = -std::numeric_limits<double>::infinity();
    std::size_t since_best = 0;
    std::optional<Snapshot> best_weights;
    history_.stop_reason = "epochs";
    history_.stopped_early = false;
    global_step_ = optimizer_.steps();

    for (epoch_ = first_epoch; epoch_ < options_.epochs; ++epoch_) {
      const auto epoch_start = clock::now();
      const data::Dataset train = train_for_epoch(epoch_);
      if (train.empty()) throw InvalidArgument("Trainer: the training set is empty");
      Graph<T> g = with_loss(model_, options_.loss);
      const std::size_t classes = num_classes(g);
      Session<T> session(g, {Mode::train, Generator(options_.seed).fork(epoch_).stream(), {}});
      data::Loader loader(train, {options_.batch_size, options_.shuffle, options_.drop_last,
                                  options_.num_workers, 4, options_.seed});
      loader.start_epoch(epoch_);
      const std::size_t batches = loader.batches_per_epoch();
      double loss_sum = 0.0;
      std::int64_t seen = 0, hits = 0;
      std::size_t micro = 0;
      double step_loss = 0.0, penalty_sum = 0.0;
      std::int64_t penalty_steps = 0;
      batch_in_epoch_ = 0;
      session.zero_grad();
      bool stop = false;
      while (auto batch = loader.next()) {
        const std::size_t index = batch_in_epoch_++;
        if (batch->labels.numel() == 0) continue;
        if (index < skip_batches) {
          session.skip_step();  // keeps the dropout streams aligned with an unbroken run
          continue;
        }
        const bool last_batch = batch_in_epoch_ == batches;
        auto out = session.forward({to_t(batch->inputs), labels_to_t(batch->labels, classes)});
        // The loss is a mean over the batch; divide by the micro-batches of this step.
        const std::size_t group = std::min<std::size_t>(
            options_.accumulation_steps,
            batches - (index / options_.accumulation_steps) * options_.accumulation_steps);
        session.backward({Tensor<T>(Shape{}, T(1) / static_cast<T>(group)), Tensor<T>()});
        const auto b = batch->labels.numel();
        const double batch_loss = static_cast<double>(out[0][0]);
        loss_sum += batch_loss * static_cast<double>(b);
        step_loss += batch_loss / static_cast<double>(group);
        seen += b;
        hits += count_hits(out[1], batch->labels);
        if (++micro < options_.accumulation_steps && !last_batch) continue;
        micro = 0;
        if (regularizer_) {
          const double penalty = regularizer_(session);
          step_loss += penalty;
          penalty_sum += penalty;
          ++penalty_steps;
        }
        if (options_.clip_grad_norm > 0) clip_grad_norm(session, options_.clip_grad_norm);
        if (schedule_) schedule_->apply(optimizer_, global_step_);
        optimizer_.step(session);
        session.zero_grad();
        ++global_step_;
        for (auto& cb : step_callbacks_) cb(global_step_, step_loss);
        if (mode == Progress::bar && options_.log)
          std::fprintf(options_.log, "\repoch %zu/%zu  batch %zu/%zu  loss %.4f ", epoch_ + 1,
                       options_.epochs, batch_in_epoch_, batches, step_loss);
        step_loss = 0.0;
        if (options_.checkpoint_every_steps > 0 &&
            global_step_ % options_.checkpoint_every_steps == 0)
          save({epoch_, batch_in_epoch_, global_step_, options_.seed});
        if ((options_.max_steps > 0 && global_step_ >= options_.max_steps) || stop_requested_) {
          history_.stop_reason = stop_requested_ ? "callback" : "max_steps";
          stop = true;
          break;
        }
      }
      skip_batches = 0;
      EpochRecord rec;
      rec.epoch = epoch_;
      rec.steps = global_step_;
      rec.lr = optimizer_.groups().empty() ? 0.0 : optimizer_.groups()[0].lr;
      rec.train_loss = seen ? loss_sum / static_cast<double>(seen)
                            : std::numeric_limits<double>::quiet_NaN();
      if (penalty_steps) rec.train_loss += penalty_sum / static_cast<double>(penalty_steps);
      rec.train_accuracy = seen ? static_cast<double>(hits) / static_cast<double>(seen)
                                : std::numeric_limits<double>::quiet_NaN();
      if (val) {
        const Evaluation ev = evaluate(*val);
        rec.val_loss = ev.loss;
        rec.val_accuracy = ev.confusion.accuracy();
        rec.val_top_k = ev.confusion.top_k_accuracy();
      }
      const auto now = clock::now();
      rec.seconds = std::chrono::duration<double>(now - epoch_start).count();
      rec.elapsed = elapsed_before + std::chrono::duration<double>(now - start).count();
      history_.epochs.push_back(rec);
      report(mode, rec);

      const double score = val ? rec.val_accuracy : -rec.train_loss;
      if (!std::isnan(score) && score > best + options_.min_delta) {
        best = score;
        since_best = 0;
        history_.best_epoch = epoch_;
        if (val) history_.best_val_accuracy = rec.val_accuracy;
        if (val && options_.keep_best) best_weights = snapshot();
      } else {
        ++since_best;
      }
      if (!options_.history_path.empty()) write_history();
      for (auto& cb : epoch_callbacks_)
        if (!cb(rec)) {
          history_.stop_reason = "callback";
          stop = true;
        }
      if (!stop && options_.patience > 0 && since_best >= options_.patience && val) {
        history_.stop_reason = "early_stopping";
        history_.stopped_early = true;
        stop = true;
      }
      if (stop) {
        // Stopped inside the epoch (max_steps, request_stop): resume continues there.
        const bool inside = batch_in_epoch_ < batches;
        save(inside ? TrainingPosition{epoch_, batch_in_epoch_, global_step_, options_.seed}
                    : TrainingPosition{epoch_ + 1, 0, global_step_, options_.seed});
        ++epoch_;
        break;
      }
      save({epoch_ + 1, 0, global_step_, options_.seed});
    }
    history_.restored_best = false;
    if (best_weights && history_.best_epoch + 1 != history_.epochs.size()) {
      restore(*best_weights);
      history_.restored_best = true;
    }
    if (!options_.history_path.empty()) write_history();
    return history_;
  }

  static std::int64_t count_hits(const Tensor<T>& logits, const Tensor<std::int64_t>& labels) {
    const std::int64_t c = logits.dim(1);
    std::int64_t hits = 0;
    for (std::int64_t i = 0; i < logits.dim(0); ++i) {
      const T* row = logits.data() + i * c;
      std::int64_t arg = 0;
      for (std::int64_t k = 1; k < c; ++k)
        if (row[k] > row[arg]) arg = k;
      hits += arg == labels[i];
    }
    return hits;
  }

  void report(Progress mode, const EpochRecord& r) const {
    if (mode == Progress::none || !options_.log) return;
    if (mode == Progress::bar) std::fputs("\r\033[K", options_.log);
    std::fprintf(options_.log, "epoch %zu/%zu  loss %.4f  acc %.4f", r.epoch + 1, options_.epochs,
                 r.train_loss, r.train_accuracy);
    if (!std::isnan(r.val_accuracy))
      std::fprintf(options_.log, "  val_loss %.4f  val_acc %.4f", r.val_loss, r.val_accuracy);
    std::fprintf(options_.log, "  lr %.3g  %.1fs\n", r.lr, r.seconds);
    std::fflush(options_.log);
  }

  void save(const TrainingPosition& position) const {
    if (options_.checkpoint_path.empty()) return;
    save_checkpoint(make_checkpoint(model_, optimizer_, position, history_), options_.checkpoint_path);
  }

  void write_history() const { write_text_file(options_.history_path, history_.to_json()); }

  Graph<T>& model_;
  Optimizer<T>& optimizer_;
  const Schedule* schedule_;
  TrainerOptions options_;
  Regularizer regularizer_;
  std::vector<EpochCallback> epoch_callbacks_;
  std::vector<StepCallback> step_callbacks_;
  History history_;
  std::int64_t global_step_ = 0;
  std::size_t epoch_ = 0, batch_in_epoch_ = 0;
  bool stop_requested_ = false;
};

}  // namespace hone::train
