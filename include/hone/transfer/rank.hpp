// hone/transfer/rank.hpp — choose the model and the cut before training: score candidate
// models, or cut points (named values) inside one model, on the target data with the
// transferability scores of scores.hpp, side by side with a sanity column, the held-out
// accuracy of a linear probe trained on the same features.
//
// For each candidate the backbone up to the cut runs once over the target data (inference
// mode, BatchNorm on running statistics, through the feature cache). Features of rank > 2
// (N, C, H, W...) are averaged over their spatial axes to (N, C), as is usual for
// intermediate layers. LogME, H-score and GBC are computed on the features; LEEP and NCE on
// the softmax of the model's own (source) output, when it is (N, Cs) scores (otherwise NaN).
// The linear probe: a stratified split (probe_holdout of each class held out, seeded), a
// linear layer trained with Adam on the standardised features of the rest, accuracy on the
// held-out part. Requires hone::eigen (scores.hpp).
#pragma once

#include <chrono>   // timing per candidate
#include <cmath>    // std::exp, std::sqrt
#include <limits>   // NaN
#include <string>   // names
#include <vector>   // rows

#include "hone/core/error.hpp"
#include "hone/core/json.hpp"
#include "hone/data/datasets.hpp"
#include "hone/graph/builder.hpp"
#include "hone/graph/graph.hpp"
#include "hone/train/bn_policy.hpp"
#include "hone/train/feature_cache.hpp"
#include "hone/train/optim.hpp"
#include "hone/train/surgery.hpp"
#include "hone/train/trainer.hpp"
#include "hone/transfer/scores.hpp"

namespace hone::transfer {

/// A model to score and where to cut it ("" = the head's input: the penultimate features).
struct Candidate {
  std::string name;
  const Graph<float>* model = nullptr;
  std::string cut = {};
};

struct RankOptions {
  std::size_t batch_size = 64;
  double probe_holdout = 0.3;   ///< fraction of each class held out for the probe accuracy
  std::size_t probe_epochs = 30;
  double probe_lr = 1e-2;
  std::uint64_t seed = 0;
};

/// One candidate's scores (higher is better for every score).
struct RankRow {
  std::string name, cut;
  std::int64_t feature_dim = 0;
  double logme = std::numeric_limits<double>::quiet_NaN();
  double h_score = std::numeric_limits<double>::quiet_NaN();
  double gbc = std::numeric_limits<double>::quiet_NaN();
  double leep = std::numeric_limits<double>::quiet_NaN();
  double nce = std::numeric_limits<double>::quiet_NaN();
  double probe_accuracy = std::numeric_limits<double>::quiet_NaN();
  double seconds = 0;  ///< feature extraction, scores and probe
};

namespace detail_rank {

/// (N, C, spatial...) -> (N, C) by averaging; (N, D) unchanged; as double.
inline Tensor<double> pooled(const Tensor<float>& f) {
  const std::int64_t n = f.dim(0), c = f.rank() > 1 ? f.dim(1) : 1;
  const std::int64_t inner = f.numel() / std::max<std::int64_t>(n * c, 1);
  Tensor<double> out(Shape{n, c});
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < c; ++j) {
      double s = 0;
      for (std::int64_t k = 0; k < inner; ++k) s += static_cast<double>(f[(i * c + j) * inner + k]);
      out[i * c + j] = s / static_cast<double>(inner);
    }
  return out;
}

/// All of `data` through `model` (inference, frozen BN) up to `value`: (N, ...) float.
inline Tensor<float> features_at(const Graph<float>& model, const std::string& value, const data::Dataset& data,
                                 std::size_t batch) {
  Graph<float> g = model.clone();
  for (const auto& n : g.nodes())
    if (n.op == "BatchNormalization") {
      train::set_bn_policy(g, train::BnPolicy::frozen, "*", false);
      break;
    }
  if (!(g.outputs().size() == 1 && g.outputs()[0] == value)) train::truncate_at(g, value);
  train::FeatureCacheOptions o;
  o.batch_size = batch;
  return train::FeatureCache::build(g, data, o).features(0);
}

/// Held-out accuracy of a linear classifier on standardised features.
inline double probe_accuracy(const Tensor<double>& f, const std::vector<std::int64_t>& labels, std::size_t classes,
                             const RankOptions& o) {
  const std::int64_t n = f.dim(0), d = f.dim(1);
  Tensor<float> x(Shape{n, d});
  for (std::int64_t j = 0; j < d; ++j) {
    double mean = 0, var = 0;
    for (std::int64_t i = 0; i < n; ++i) mean += f[i * d + j];
    mean /= static_cast<double>(n);
    for (std::int64_t i = 0; i < n; ++i) var += (f[i * d + j] - mean) * (f[i * d + j] - mean);
    const double sd = std::sqrt(var / static_cast<double>(n)) + 1e-8;
    for (std::int64_t i = 0; i < n; ++i) x[i * d + j] = static_cast<float>((f[i * d + j] - mean) / sd);
  }
  const auto y = Tensor<std::int64_t>::from(Shape{n}, std::span<const std::int64_t>(labels));
  const data::Dataset all = data::tensor_dataset(x, y);
  auto [fit, held] = all.split(o.probe_holdout, o.seed);
  if (fit.empty() || held.empty()) return std::numeric_limits<double>::quiet_NaN();
  Builder<float> b(o.seed);
  auto in = b.input("features", {d});
  b.output(b.linear(in, static_cast<std::int64_t>(classes), true, "probe"));
  Graph<float> probe = b.build();
  train::Adam<float> opt(probe, {.lr = o.probe_lr});
  train::TrainerOptions to;
  to.epochs = o.probe_epochs;
  to.batch_size = 32;
  to.seed = o.seed;
  to.progress = train::Progress::none;
  to.keep_best = false;
  train::Trainer<float> trainer(probe, opt, nullptr, to);
  trainer.fit(fit);
  return trainer.evaluate(held).accuracy();
}

}  // namespace detail_rank

/// Scores every candidate on `target` (see the file comment). Throws InvalidArgument for a
/// candidate without a model, an unknown cut value, or a target with fewer than 2 classes.
inline std::vector<RankRow> rank(const std::vector<Candidate>& candidates, const data::Dataset& target,
                                 const RankOptions& options = {}) {
  if (target.num_classes() < 2)
    throw InvalidArgument(hone::detail::concat("rank: the target data has ", target.num_classes(),
                                               " class; at least 2 are needed"));
  std::vector<std::int64_t> labels(target.size());
  for (std::size_t i = 0; i < target.size(); ++i) labels[i] = target.label(i);
  std::vector<RankRow> rows;
  for (const auto& c : candidates) {
    if (!c.model) throw InvalidArgument(hone::detail::concat("rank: candidate \"", c.name, "\" has no model"));
    const auto start = std::chrono::steady_clock::now();
    RankRow r;
    r.name = c.name;
    r.cut = c.cut.empty() ? train::find_head(*c.model).input : c.cut;
    const Tensor<double> f = detail_rank::pooled(detail_rank::features_at(*c.model, r.cut, target, options.batch_size));
    r.feature_dim = f.dim(1);
    r.logme = logme(f, labels);
    r.h_score = h_score(f, labels);
    r.gbc = gbc(f, labels);
    // Source scores from the model's own output, when it is (N, Cs) scores.
    const std::string out = c.model->outputs().empty() ? std::string() : c.model->outputs()[0];
    const GraphAnalysis a = c.model->analyze();
    if (!out.empty() && a.shapes[a.value(out)].rank() == 2) {
      const Tensor<float> logits = detail_rank::features_at(*c.model, out, target, options.batch_size);
      const std::int64_t n = logits.dim(0), k = logits.dim(1);
      Tensor<double> p(Shape{n, k});
      for (std::int64_t i = 0; i < n; ++i) {
        double mx = -std::numeric_limits<double>::infinity(), s = 0;
        for (std::int64_t j = 0; j < k; ++j) mx = std::max(mx, static_cast<double>(logits[i * k + j]));
        for (std::int64_t j = 0; j < k; ++j) s += (p[i * k + j] = std::exp(static_cast<double>(logits[i * k + j]) - mx));
        for (std::int64_t j = 0; j < k; ++j) p[i * k + j] /= s;
      }
      r.leep = leep(p, labels);
      r.nce = nce(p, labels);
    }
    r.probe_accuracy = detail_rank::probe_accuracy(f, labels, target.num_classes(), options);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    rows.push_back(r);
  }
  return rows;
}

/// Scores cut points inside one model (value names, e.g. "layer3" block outputs).
inline std::vector<RankRow> rank_cuts(const Graph<float>& model, const std::vector<std::string>& cuts,
                                      const data::Dataset& target, const RankOptions& options = {}) {
  std::vector<Candidate> candidates;
  for (const auto& cut : cuts) candidates.push_back({cut, &model, cut});
  return rank(candidates, target, options);
}

/// The rows as a markdown table, best LogME first.
inline std::string to_markdown(std::vector<RankRow> rows) {
  std::stable_sort(rows.begin(), rows.end(), [](const RankRow& a, const RankRow& b) { return a.logme > b.logme; });
  auto num = [](double v) {
    if (std::isnan(v)) return std::string("n/a");
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4f", v);
    return std::string(buf);
  };
  std::string s = "| candidate | cut | dim | LogME | H-score | GBC | LEEP | NCE | probe accuracy | seconds |\n"
                  "|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& r : rows)
    s += hone::detail::concat("| ", r.name, " | ", r.cut, " | ", r.feature_dim, " | ", num(r.logme), " | ",
                              num(r.h_score), " | ", num(r.gbc), " | ", num(r.leep), " | ", num(r.nce), " | ",
                              num(r.probe_accuracy), " | ", num(r.seconds), " |\n");
  return s;
}

/// The rows as JSON (NaN as null).
inline std::string to_json(const std::vector<RankRow>& rows) {
  JsonWriter j;
  j.begin_array();
  for (const auto& r : rows) {
    j.begin_object();
    j.key("name").value(r.name);
    j.key("cut").value(r.cut);
    j.key("feature_dim").value(r.feature_dim);
    j.key("logme").value(r.logme);
    j.key("h_score").value(r.h_score);
    j.key("gbc").value(r.gbc);
    j.key("leep").value(r.leep);
    j.key("nce").value(r.nce);
    j.key("probe_accuracy").value(r.probe_accuracy);
    j.key("seconds").value(r.seconds);
    j.end_object();
  }
  j.end_array();
  return j.str();
}

}  // namespace hone::transfer
