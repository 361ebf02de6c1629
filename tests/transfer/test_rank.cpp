// Ranking candidates and cut points on Fashion-MNIST 5-9. The oracle is the linear-probe
// accuracy, trained and measured on held-out images independently of the scores: over the
// cut points of a pretrained and a randomly initialised copy of one network, LogME and
// H-score must order the candidates like the probe does (Spearman correlation), and at a
// deep convolutional cut the pretrained network must beat random weights on every score.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "hone/transfer/harness.hpp"
#include "hone/transfer/rank.hpp"

#include "../common/fashion_transfer.hpp"

namespace transfer = hone::transfer;

namespace {

/// Ranks with ties averaged.
std::vector<double> ranks(const std::vector<double>& v) {
  std::vector<std::size_t> order(v.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    for (std::size_t k = i; k <= j; ++k) r[order[k]] = 0.5 * static_cast<double>(i + j);
    i = j + 1;
  }
  return r;
}

double spearman(const std::vector<double>& a, const std::vector<double>& b) {
  const auto ra = ranks(a), rb = ranks(b);
  const double n = static_cast<double>(a.size());
  const double ma = std::accumulate(ra.begin(), ra.end(), 0.0) / n, mb = std::accumulate(rb.begin(), rb.end(), 0.0) / n;
  double num = 0, da = 0, db = 0;
  for (std::size_t i = 0; i < ra.size(); ++i) {
    num += (ra[i] - ma) * (rb[i] - mb);
    da += (ra[i] - ma) * (ra[i] - ma);
    db += (rb[i] - mb) * (rb[i] - mb);
  }
  return num / std::sqrt(da * db);
}

}  // namespace

TEST_CASE("rank: scores order cut points like held-out probe accuracy; pretrained beats random", "[transfer][rank][e2e]") {
  INFO("needs Debian's dataset-fashion-mnist (scripts/install-deps)");
  REQUIRE(hone_test::have_fashion_mnist());
  const auto pretrained = hone_test::pretrain_on_classes_0_to_4();
  auto random = pretrained.clone();
  transfer::reinitialize(random, 7);
  const auto target = hone_test::target_task(40).first;  // 200 images of classes 5-9

  std::vector<transfer::Candidate> candidates;
  for (const auto& n : pretrained.nodes())
    if (n.op == "Relu" || n.op == "MaxPool") {
      candidates.push_back({"pretrained", &pretrained, n.outputs[0]});
      candidates.push_back({"random", &random, n.outputs[0]});
    }
  const auto rows = transfer::rank(candidates, target);
  REQUIRE(rows.size() == 18);
  std::printf("%s", transfer::to_markdown(rows).c_str());
  std::vector<double> logme, h, probe;
  for (const auto& r : rows) {
    logme.push_back(r.logme);
    h.push_back(r.h_score);
    probe.push_back(r.probe_accuracy);
  }
  const double rho_logme = spearman(logme, probe), rho_h = spearman(h, probe);
  std::printf("rank: Spearman with probe accuracy: LogME %.3f, H-score %.3f\n", rho_logme, rho_h);
  CHECK(rho_logme > 0.7);
  CHECK(rho_h > 0.7);

  // conv5's ReLU output (N, 32, 3, 3), averaged to 32 features: pretrained vs random.
  const std::string conv5 = pretrained.nodes()[pretrained.nodes().size() - 5].outputs[0];
  const auto pair = transfer::rank_cuts(pretrained, {conv5}, target);
  const auto rnd = transfer::rank({{"random", &random, conv5}}, target);
  REQUIRE(pair.size() == 1);
  const auto& p = pair[0];
  const auto& r = rnd[0];
  CHECK(p.feature_dim == 32);
  CHECK(p.logme > r.logme);
  CHECK(p.h_score > r.h_score);
  CHECK(p.gbc > r.gbc);
  CHECK(p.leep > r.leep);
  CHECK(p.nce > r.nce);
  CHECK(p.probe_accuracy > r.probe_accuracy);
  // The default cut is the head's input (fc1's output, 64 features).
  const auto head = transfer::rank({{"pretrained", &pretrained, ""}}, target);
  CHECK(head[0].feature_dim == 64);
  CHECK(head[0].cut == hone::train::find_head(pretrained).input);
  CHECK(transfer::to_json(pair).find("\"probe_accuracy\"") != std::string::npos);
  CHECK_THROWS_WITH(transfer::rank_cuts(pretrained, {"no_such_value"}, target), Catch::Contains("no_such_value"));
}
