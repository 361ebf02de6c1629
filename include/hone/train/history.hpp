// hone/train/history.hpp — what a training run measured, epoch by epoch, and its JSON form.
#pragma once

#include <cstdint>  // step counts
#include <limits>   // NaN for absent validation numbers
#include <string>   // the JSON text
#include <vector>   // the epochs

#include "hone/core/json.hpp"

namespace hone::train {

/// One epoch's numbers. Validation fields are NaN when no validation set was given.
struct EpochRecord {
  std::size_t epoch = 0;       ///< 0-based
  std::int64_t steps = 0;      ///< optimizer steps so far (all epochs)
  double lr = 0.0;             ///< first group's learning rate at the epoch's last step
  double train_loss = 0.0;     ///< mean loss over the epoch's samples, plus the mean
                               ///< regulariser penalty over its steps
  double train_accuracy = 0.0;
  double val_loss = std::numeric_limits<double>::quiet_NaN();
  double val_accuracy = std::numeric_limits<double>::quiet_NaN();
  double val_top_k = std::numeric_limits<double>::quiet_NaN();
  double seconds = 0.0;        ///< wall time of this epoch's training and validation
  double elapsed = 0.0;        ///< wall time since fit() started, at the end of this epoch
};

/// Everything fit() measured.
struct History {
  std::vector<EpochRecord> epochs;
  std::size_t best_epoch = 0;  ///< epoch with the best validation accuracy (or last)
  double best_val_accuracy = std::numeric_limits<double>::quiet_NaN();
  bool stopped_early = false;
  bool restored_best = false;  ///< keep_best restored the weights of best_epoch
  std::string stop_reason;     ///< "epochs", "max_steps", "early_stopping", "callback"

  /// Writes the history as one JSON object value of `j` (the form of to_json()).
  void write_json(hone::JsonWriter& j) const {
    j.begin_object();
    j.key("best_epoch").value(static_cast<std::int64_t>(best_epoch));
    j.key("best_val_accuracy").value(best_val_accuracy);
    j.key("stopped_early").value(stopped_early);
    j.key("restored_best").value(restored_best);
    j.key("stop_reason").value(stop_reason);
    j.key("epochs").begin_array();
    for (const auto& e : epochs) {
      j.begin_object();
      j.key("epoch").value(static_cast<std::int64_t>(e.epoch));
      j.key("steps").value(e.steps);
      j.key("lr").value(e.lr);
      j.key("train_loss").value(e.train_loss);
      j.key("train_accuracy").value(e.train_accuracy);
      j.key("val_loss").value(e.val_loss);
      j.key("val_accuracy").value(e.val_accuracy);
      j.key("val_top_k").value(e.val_top_k);
      j.key("seconds").value(e.seconds);
      j.key("elapsed").value(e.elapsed);
      j.end_object();
    }
    j.end_array();
    j.end_object();
  }

  std::string to_json() const {
    hone::JsonWriter j;
    write_json(j);
    return j.str();
  }
};

}  // namespace hone::train
