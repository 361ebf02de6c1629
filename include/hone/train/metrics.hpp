// hone/train/metrics.hpp — classification metrics from logits and integer labels: accuracy,
// top-k accuracy, per-class accuracy and the confusion matrix, accumulated batch by batch.
//
// Conventions: logits are (N, C) (any scores whose arg-max is the prediction; softmax is not
// needed); labels are (N) class indices. A tie between scores is broken towards the lower
// class index (as torch.argmax and std::max_element do), and top-k counts a sample as a hit
// when its label is among the k classes with the highest scores, ties again going to lower
// indices. Per-class accuracy is recall: hits of class c over samples of class c; a class
// without samples has accuracy NaN (documented so a report can print "n/a" instead of 0).
#pragma once

#include <algorithm>  // std::partial_sort
#include <cmath>      // NAN
#include <cstddef>    // std::size_t
#include <cstdint>    // std::int64_t counts
#include <cstdio>     // std::snprintf
#include <limits>     // quiet_NaN
#include <numeric>    // std::iota
#include <string>     // the text table
#include <vector>     // the matrix

#include "hone/core/error.hpp"
#include "hone/core/tensor.hpp"

namespace hone::train {

/// Counts of (true class, predicted class) plus top-k hits, accumulated over batches.
class ConfusionMatrix {
 public:
  /// A matrix for `num_classes` classes that also counts top-`top_k` hits (top_k >= 1; it is
  /// capped at num_classes). Throws InvalidArgument for zero classes or top_k 0.
  explicit ConfusionMatrix(std::size_t num_classes, std::size_t top_k = 5)
      : classes_(num_classes), top_k_(std::min(top_k, num_classes)),
        counts_(num_classes * num_classes, 0) {
    if (num_classes == 0) throw InvalidArgument("ConfusionMatrix: needs at least one class");
    if (top_k == 0) throw InvalidArgument("ConfusionMatrix: top_k must be at least 1");
  }

  /// Adds a batch: logits (N, C) with C == num_classes(), labels (N) in [0, C). Throws
  /// ShapeError for mismatched shapes and InvalidArgument for a label out of range (naming
  /// the sample).
  template <class T, class L>
  void add(const Tensor<T>& logits, const Tensor<L>& labels) {
    if (logits.rank() != 2 || logits.dim(1) != static_cast<std::int64_t>(classes_))
      throw ShapeError(hone::detail::concat("ConfusionMatrix: logits of shape ", logits.shape(),
                                      ", expected (N, ", classes_, ")"));
    if (labels.numel() != logits.dim(0))
      throw ShapeError(hone::detail::concat("ConfusionMatrix: ", labels.numel(), " labels for ",
                                      logits.dim(0), " rows of logits"));
    const auto c = static_cast<std::int64_t>(classes_);
    std::vector<std::size_t> order(classes_);
    for (std::int64_t i = 0; i < logits.dim(0); ++i) {
      const auto label = static_cast<std::int64_t>(labels[i]);
      if (label < 0 || label >= c || static_cast<double>(labels[i]) != static_cast<double>(label))
        throw InvalidArgument(hone::detail::concat("ConfusionMatrix: sample ", i, " has label ",
                                             static_cast<double>(labels[i]), "; classes are 0..",
                                             c - 1));
      const T* row = logits.data() + i * c;
      std::iota(order.begin(), order.end(), std::size_t{0});
      std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(top_k_),
                        order.end(), [row](std::size_t a, std::size_t b) {
                          return row[a] > row[b] || (row[a] == row[b] && a < b);
                        });
      ++counts_[static_cast<std::size_t>(label) * classes_ + order[0]];
      for (std::size_t k = 0; k < top_k_; ++k)
        if (order[k] == static_cast<std::size_t>(label)) {
          ++top_k_hits_;
          break;
        }
      ++total_;
    }
  }

  std::size_t num_classes() const noexcept { return classes_; }
  std::size_t top_k() const noexcept { return top_k_; }
  std::int64_t total() const noexcept { return total_; }
  /// Samples of true class `truth` predicted as `predicted`.
  std::int64_t count(std::size_t truth, std::size_t predicted) const {
    if (truth >= classes_ || predicted >= classes_)
      throw InvalidArgument(hone::detail::concat("ConfusionMatrix::count: class index out of range (",
                                           classes_, " classes)"));
    return counts_[truth * classes_ + predicted];
  }
  /// Fraction of samples whose arg-max is their label; NaN before any sample.
  double accuracy() const noexcept {
    std::int64_t hits = 0;
    for (std::size_t c = 0; c < classes_; ++c) hits += counts_[c * classes_ + c];
    return ratio(hits, total_);
  }
  /// Fraction of samples whose label is among the top_k() scores; NaN before any sample.
  double top_k_accuracy() const noexcept { return ratio(top_k_hits_, total_); }
  /// Recall of each class (NaN for a class without samples).
  std::vector<double> per_class_accuracy() const {
    std::vector<double> out(classes_);
    for (std::size_t c = 0; c < classes_; ++c) {
      std::int64_t n = 0;
      for (std::size_t p = 0; p < classes_; ++p) n += counts_[c * classes_ + p];
      out[c] = ratio(counts_[c * classes_ + c], n);
    }
    return out;
  }
  /// The matrix as rows of counts (row = true class, column = prediction).
  std::vector<std::vector<std::int64_t>> rows() const {
    std::vector<std::vector<std::int64_t>> out(classes_);
    for (std::size_t c = 0; c < classes_; ++c)
      out[c].assign(counts_.begin() + static_cast<std::ptrdiff_t>(c * classes_),
                    counts_.begin() + static_cast<std::ptrdiff_t>((c + 1) * classes_));
    return out;
  }

  /// A plain-text table: a header of predicted classes, one row per true class with its
  /// recall. `names` (optional, one per class) label the rows.
  std::string to_string(const std::vector<std::string>& names = {}) const {
    auto name = [&](std::size_t c) { return c < names.size() ? names[c] : std::to_string(c); };
    std::size_t width = 6;
    for (std::size_t c = 0; c < classes_; ++c) width = std::max(width, name(c).size());
    std::size_t cell = 5;
    for (auto v : counts_) cell = std::max(cell, std::to_string(v).size() + 1);
    auto pad = [](std::string s, std::size_t w) {
      return s.size() >= w ? s : std::string(w - s.size(), ' ') + s;
    };
    std::string out = pad("true\\pred", width + 1);
    for (std::size_t p = 0; p < classes_; ++p) out += pad(std::to_string(p), cell);
    out += "  recall\n";
    const auto recall = per_class_accuracy();
    for (std::size_t c = 0; c < classes_; ++c) {
      out += pad(name(c), width + 1);
      for (std::size_t p = 0; p < classes_; ++p)
        out += pad(std::to_string(counts_[c * classes_ + p]), cell);
      if (std::isnan(recall[c])) {
        out += "     n/a\n";
      } else {
        char buf[32];
        std::snprintf(buf, sizeof buf, "  %6.4f\n", recall[c]);
        out += buf;
      }
    }
    return out;
  }

 private:
  static double ratio(std::int64_t a, std::int64_t b) noexcept {
    return b == 0 ? std::numeric_limits<double>::quiet_NaN()
                  : static_cast<double>(a) / static_cast<double>(b);
  }

  std::size_t classes_, top_k_;
  std::vector<std::int64_t> counts_;
  std::int64_t top_k_hits_ = 0, total_ = 0;
};

}  // namespace hone::train
