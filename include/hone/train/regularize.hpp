// hone/train/regularize.hpp — L2-SP: weight decay towards the pretrained weights.
//
// Li, Grandvalet and Davoine, "Explicit Inductive Bias for Transfer Learning with
// Convolutional Networks" (ICML 2018): instead of pulling weights towards zero, which makes a
// fine-tuned network forget what it learned, pull the weights that came from the source
// model towards their starting values and only the new ones (the replaced head) towards zero:
//   penalty = alpha/2 * sum_{w in source} ||w - w0||^2 + beta/2 * sum_{w new} ||w||^2,
//   gradient  alpha * (w - w0)  for source weights,  beta * w  for new ones.
// The starting point w0 is snapshotted when the L2SP object is made (make it right after
// loading the pretrained model, before or after replacing the head). A parameter counts as
// new when it is named in `new_params`, or is absent from the snapshot, or its shape
// changed since (a head replaced with another width). Only parameters that receive a
// gradient in the session are penalised (frozen ones sit at w0 anyway). Biases and
// normalisation parameters are included unless `exclude_rank1` is set.
// Use it with an optimizer whose weight decay is 0 on the penalised parameters, or the two
// pulls add up.
#pragma once

#include <cstdint>        // counts
#include <string>         // names
#include <unordered_map>  // the snapshot by name
#include <unordered_set>  // new parameter names
#include <utility>        // std::move
#include <vector>         // options

#include "hone/core/error.hpp"
#include "hone/core/tensor.hpp"
#include "hone/graph/graph.hpp"
#include "hone/graph/session.hpp"

namespace hone::train {

struct L2SPOptions {
  double alpha = 0.01;  ///< strength towards the starting point (source weights)
  double beta = 0.01;   ///< strength towards zero (new weights)
  std::vector<std::string> new_params = {};  ///< parameters that are new (e.g. the head)
  bool exclude_rank1 = false;  ///< leave biases and normalisation parameters unpenalised
};

template <class T>
class L2SP {
 public:
  /// Snapshots the current value of every parameter of `graph` (not buffers or constants) as
  /// the starting point. Throws InvalidArgument for negative strengths or a new_params name
  /// that is not a parameter.
  L2SP(const Graph<T>& graph, L2SPOptions options = {}) : graph_(graph), options_(std::move(options)) {
    if (options_.alpha < 0 || options_.beta < 0)
      throw InvalidArgument(hone::detail::concat("L2SP: alpha (", options_.alpha, ") and beta (",
                                           options_.beta, ") must be non-negative"));
    for (const auto& p : graph.parameters())
      if (!p.buffer && !p.constant) start_.emplace(p.name, p.data.clone());
    for (const auto& n : options_.new_params) {
      if (!graph.has_parameter(n))
        throw InvalidArgument(hone::detail::concat("L2SP: new_params names \"", n,
                                             "\", which is not a parameter of the graph"));
      new_.insert(n);
    }
  }

  /// Marks a parameter as new after construction (e.g. the names replace_head returns).
  void mark_new(const std::string& name) { new_.insert(name); }

  /// Whether `name` is pulled towards zero (new) rather than towards its starting value.
  bool is_new(const std::string& name) const {
    if (new_.count(name)) return true;
    auto it = start_.find(name);
    return it == start_.end() || !(it->second.shape() == graph_.parameter(name).data.shape());
  }

  /// The penalty over the graph's trainable parameters at their current values.
  double penalty() const {
    double sum = 0.0;
    for (const auto& p : graph_.parameters())
      if (penalised(p)) sum += term(p);
    return sum;
  }

  /// Adds the penalty's gradient to every penalised parameter's gradient in `session` and
  /// returns the penalty over those parameters. The signature of Trainer::Regularizer.
  double apply(Session<T>& session) const {
    double sum = 0.0;
    for (const auto& p : graph_.parameters()) {
      if (!penalised(p) || !session.has_grad(p.name)) continue;
      Tensor<T> g = session.grad(p.name);  // shares storage with the session's gradient
      const bool fresh = is_new(p.name);
      const double strength = fresh ? options_.beta : options_.alpha;
      const T s = static_cast<T>(strength);
      const Tensor<T>& w = p.data;
      const T* w0 = fresh ? nullptr : start_.at(p.name).data();
      for (std::int64_t i = 0; i < w.numel(); ++i) g[i] += s * (w[i] - (w0 ? w0[i] : T(0)));
      sum += term(p);
    }
    return sum;
  }

 private:
  bool penalised(const Parameter<T>& p) const {
    return p.trainable && !p.buffer && !p.constant &&
           !(options_.exclude_rank1 && p.data.rank() <= 1);
  }
  double term(const Parameter<T>& p) const {
    const bool fresh = is_new(p.name);
    const T* w0 = fresh ? nullptr : start_.at(p.name).data();
    double ss = 0.0;
    for (std::int64_t i = 0; i < p.data.numel(); ++i) {
      const double d = static_cast<double>(p.data[i]) - (w0 ? static_cast<double>(w0[i]) : 0.0);
      ss += d * d;
    }
    return 0.5 * (fresh ? options_.beta : options_.alpha) * ss;
  }

  const Graph<T>& graph_;
  L2SPOptions options_;
  std::unordered_map<std::string, Tensor<T>> start_;
  std::unordered_set<std::string> new_;
};

}  // namespace hone::train
