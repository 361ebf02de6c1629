// hone/train/feature_cache.hpp — train the layers after a frozen backbone on features computed
// once, instead of running the backbone at every step.
//
// When everything before a cut value is frozen and deterministic (no Dropout, every
// BatchNormalization on running statistics: BnPolicy::frozen, see bn_policy.hpp), the
// backbone maps each input to the same features in every epoch, so they can be computed once
// (inference mode, no activations saved) and the rest of the model (split_at's suffix)
// trained on them. Training the suffix on the cache with a Trainer seeded like the full run
// gives the same batches in the same order, hence the same updates up to float rounding.
// With random augmentation, `views` > 1 caches that many augmented views of each sample
// (view v uses the Loader's augmentation draws of epoch v) and epoch e trains on view
// e % views.
// Memory: views x samples x feature elements x 4 bytes; bytes() reports it.
#pragma once

#include <cstdint>  // sizes
#include <string>   // names
#include <utility>  // std::move
#include <vector>   // the views

#include "hone/core/error.hpp"
#include "hone/core/tensor.hpp"
#include "hone/data/loader.hpp"
#include "hone/graph/graph.hpp"
#include "hone/graph/session.hpp"
#include "hone/train/bn_policy.hpp"
#include "hone/train/surgery.hpp"

namespace hone::train {

struct FeatureCacheOptions {
  std::size_t batch_size = 64;   ///< samples per backbone forward
  std::size_t views = 1;         ///< augmented views per sample (1: the dataset as is)
  std::uint64_t seed = 0;        ///< the Loader seed (use the Trainer's, for identical views)
  std::size_t num_workers = 0;   ///< loader threads
};

/// Throws InvalidArgument naming the first node or parameter before `cut` that makes the
/// prefix non-deterministic or trainable: a trainable parameter, a Dropout node, or a
/// BatchNormalization that would use batch statistics in training.
template <class T>
void check_cacheable(const Graph<T>& model, const std::string& cut) {
  const GraphAnalysis a = model.analyze();
  const std::size_t target = a.value(cut);
  // Nodes the cut depends on: walk producers backwards from it.
  std::vector<bool> needed(a.names.size(), false);
  std::vector<std::size_t> stack = {target};
  needed[target] = true;
  while (!stack.empty()) {
    const std::size_t v = stack.back();
    stack.pop_back();
    const std::size_t n = a.producer[v];
    if (n == npos) continue;
    const Node& node = model.nodes()[n];
    if (node.op == "Dropout")
      throw InvalidArgument(hone::detail::concat("feature cache: node \"", node.name,
                                           "\" (Dropout) before the cut \"", cut,
                                           "\" is random in training; its output cannot be cached"));
    if (node.op == "BatchNormalization" && !uses_running_stats(node))
      throw InvalidArgument(hone::detail::concat(
          "feature cache: node \"", node.name, "\" (BatchNormalization) before the cut \"", cut,
          "\" uses batch statistics in training; set BnPolicy::frozen on it first"));
    for (std::size_t in : a.node_inputs[n]) {
      if (needed[in]) continue;
      needed[in] = true;
      const std::size_t p = a.param[in];
      if (p != npos && model.parameters()[p].trainable)
        throw InvalidArgument(hone::detail::concat("feature cache: parameter \"", a.names[in],
                                             "\" before the cut \"", cut,
                                             "\" is trainable; freeze the backbone first"));
      stack.push_back(in);
    }
  }
}

/// Features of a dataset at a cut value, for `views` augmented views.
class FeatureCache {
 public:
  /// Runs `prefix` (one graph input, its first output the features, e.g. split_at's prefix)
  /// in inference mode over `data` once per view. Labels and class names are kept.
  template <class T>
  static FeatureCache build(Graph<T>& prefix, const data::Dataset& data,
                            const FeatureCacheOptions& options = {}) {
    if (options.views == 0) throw InvalidArgument("FeatureCache: views must be at least 1");
    if (data.empty()) throw InvalidArgument("FeatureCache: the dataset is empty");
    if (prefix.inputs().size() != 1)
      throw InvalidArgument(hone::detail::concat("FeatureCache: the backbone has ", prefix.inputs().size(),
                                           " inputs; one is supported"));
    FeatureCache cache;
    Session<T> session(prefix, {Mode::inference, options.seed, {}});
    std::vector<std::int64_t> label_values(data.size());
    for (std::size_t i = 0; i < data.size(); ++i) label_values[i] = data.label(i);
    const Tensor<std::int64_t> labels = Tensor<std::int64_t>::from(
        Shape{static_cast<std::int64_t>(data.size())}, std::span<const std::int64_t>(label_values));
    for (std::size_t v = 0; v < options.views; ++v) {
      data::Loader loader(data, {options.batch_size, false, false, options.num_workers, 4,
                                 options.seed});
      loader.start_epoch(v);
      Tensor<float> features;
      std::int64_t row = 0, row_elems = 0;
      while (auto batch = loader.next()) {
        if (batch->skipped)
          throw InvalidArgument(hone::detail::concat("FeatureCache: ", batch->skipped,
                                               " samples could not be read; a cache needs all of them"));
        Tensor<T> x;
        if constexpr (std::is_same_v<T, float>) x = batch->inputs;
        else x = batch->inputs.template cast<T>();
        const Tensor<T> f = session.forward({x})[0];
        if (!features.defined()) {
          std::vector<std::int64_t> dims = {static_cast<std::int64_t>(data.size())};
          for (std::size_t d = 1; d < f.rank(); ++d) dims.push_back(f.dim(static_cast<std::int64_t>(d)));
          features = Tensor<float>(hone::detail::to_shape(dims));
          row_elems = f.numel() / f.dim(0);
          cache.feature_shape_ = features.shape();
        }
        for (std::int64_t i = 0; i < f.numel(); ++i)
          features[row * row_elems + i] = static_cast<float>(f[i]);
        row += f.dim(0);
      }
      cache.views_.push_back(data::tensor_dataset(features, labels, data.class_names()));
      cache.features_.push_back(features);
      cache.bytes_ += features.numel() * static_cast<std::int64_t>(sizeof(float));
    }
    return cache;
  }

  /// The cached dataset to train on in epoch `epoch` (view epoch % views()).
  const data::Dataset& view(std::size_t epoch) const { return views_[epoch % views_.size()]; }
  std::size_t views() const noexcept { return views_.size(); }
  /// The features of view `v` (v < views()): (samples, feature dims...), row i for sample i
  /// of the dataset the cache was built from.
  const Tensor<float>& features(std::size_t v) const {
    if (v >= features_.size())
      throw InvalidArgument(hone::detail::concat("FeatureCache: view ", v, " of ", features_.size()));
    return features_[v];
  }
  /// (samples, feature dims...) of one view.
  const Shape& feature_shape() const noexcept { return feature_shape_; }
  /// Bytes held by all views.
  std::int64_t bytes() const noexcept { return bytes_; }

 private:
  std::vector<data::Dataset> views_;
  std::vector<Tensor<float>> features_;
  Shape feature_shape_;
  std::int64_t bytes_ = 0;
};

/// The part of `model` after `cut` (split_at's suffix) with its parameter tensors shared
/// with `model`, so training it updates the model; and the cache of `data` at the cut.
template <class T>
struct CachedTraining {
  Graph<T> suffix;
  FeatureCache cache;
};

/// Checks that the prefix is cacheable (check_cacheable), splits at `cut`, builds the cache
/// and returns the suffix to train (e.g. Trainer(suffix, ...).fit([&](e){ return
/// cache.view(e); })). Throws what check_cacheable and split_at throw.
template <class T>
CachedTraining<T> cache_features(Graph<T>& model, const std::string& cut, const data::Dataset& data,
                                 const FeatureCacheOptions& options = {}) {
  check_cacheable(model, cut);
  auto parts = split_at(model, cut);
  for (auto& p : parts.suffix.parameters())
    if (model.has_parameter(p.name)) p.data = model.parameter(p.name).data;
  CachedTraining<T> out{std::move(parts.suffix), FeatureCache::build(parts.prefix, data, options)};
  return out;
}

}  // namespace hone::train
