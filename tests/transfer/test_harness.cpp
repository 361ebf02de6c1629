// The transfer-vs-scratch harness and its report: re-initialisation against PyTorch's bounds,
// FLOP counts against hand counts, and the comparison on Fashion-MNIST (direction of the gap,
// consistency of every derived number, well-formed SVG checked by Python's XML parser).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "hone/graph/builder.hpp"
#include "hone/graph/flops.hpp"
#include "hone/transfer/harness.hpp"
#include "hone/transfer/report.hpp"

#include "../common/fashion_transfer.hpp"
#include "../common/temp_dir.hpp"

namespace transfer = hone::transfer;

namespace {

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("harness: reinitialize draws PyTorch's default bounds and resets BatchNorm", "[transfer][harness]") {
  hone::Builder<float> b(1);
  auto x = b.input("x", {3, 8, 8});
  auto h = b.relu(b.batch_norm(b.conv(x, 16, {.kernel = 3, .padding = 1}, "conv"), "bn"));
  b.output(b.linear(b.flatten(b.global_avg_pool(h)), 10, true, "fc"));
  auto g = b.build();
  for (auto& p : g.parameters()) p.data.fill(9.0f);  // "pretrained" values
  CHECK(transfer::reinitialize(g, 3) == 8);  // conv w/b, bn 4, fc w/b
  auto within = [&](const std::string& name, double fan_in) {
    const auto& t = g.parameter(name).data;
    const double bound = 1.0 / std::sqrt(fan_in);
    double largest = 0;
    for (std::int64_t i = 0; i < t.numel(); ++i) largest = std::max(largest, std::abs(static_cast<double>(t[i])));
    INFO(name);
    CHECK(largest <= bound);
    CHECK(largest > 0.5 * bound);
  };
  within("conv.weight", 3 * 9);
  within("conv.bias", 3 * 9);
  within("fc.weight", 16);
  within("fc.bias", 16);
  for (std::int64_t c = 0; c < 16; ++c) {
    CHECK(g.parameter("bn.weight").data[c] == 1.0f);
    CHECK(g.parameter("bn.bias").data[c] == 0.0f);
    CHECK(g.parameter("bn.running_mean").data[c] == 0.0f);
    CHECK(g.parameter("bn.running_var").data[c] == 1.0f);
  }
  auto again = g.clone();
  transfer::reinitialize(again, 3);
  CHECK(again.parameter("fc.weight").data[5] == g.parameter("fc.weight").data[5]);
  transfer::reinitialize(again, 4);
  CHECK(again.parameter("fc.weight").data[5] != g.parameter("fc.weight").data[5]);
}

TEST_CASE("harness: forward_flops counts conv and linear multiply-adds", "[transfer][harness]") {
  hone::Builder<float> b(1);
  auto x = b.input("x", {3, 8, 8});
  auto h = b.relu(b.conv(x, 4, {.kernel = 3, .padding = 1}, "conv"));  // out (4, 8, 8)
  b.output(b.linear(b.flatten(h), 10, true, "fc"));                    // 256 -> 10
  const auto g = b.build();
  // conv: 2 * (4*8*8) * (3*3*3) = 13824; relu 256; flatten 256; fc: 2 * 10 * 256 = 5120.
  CHECK(hone::forward_flops(g) == Approx(13824 + 256 + 256 + 5120));
}

TEST_CASE("harness: transfer beats scratch on Fashion-MNIST 5-9 and the report is consistent",
          "[transfer][harness][e2e]") {
  INFO("needs Debian's dataset-fashion-mnist (scripts/install-deps)");
  REQUIRE(hone_test::have_fashion_mnist());
  const auto pretrained = hone_test::pretrain_on_classes_0_to_4();
  const auto [train, val] = hone_test::target_task(10);
  transfer::HarnessOptions o;
  o.epochs = 10;
  o.batch_size = 10;
  o.seed = 5;
  transfer::Comparison c = transfer::compare_transfer(pretrained, train, val, o);
  c.sweep = transfer::k_shot_sweep(pretrained, hone_test::target_task(20).first, val, {5, 20}, o);

  std::printf("harness: transfer final %.3f best %.3f, scratch final %.3f best %.3f, target %.3f, "
              "time to target %.2f s vs %.2f s (epoch %ld vs %ld), saving %.1f %%, sweep 5: %.3f/%.3f, 20: %.3f/%.3f\n",
              c.transfer.final_accuracy, c.transfer.best_accuracy, c.scratch.final_accuracy,
              c.scratch.best_accuracy, c.target_accuracy, c.transfer.time_to_target,
              c.scratch.time_to_target, static_cast<long>(c.transfer.epochs_to_target), static_cast<long>(c.scratch.epochs_to_target),
              100 * c.time_saving, c.sweep[0].transfer_accuracy,
              c.sweep[0].scratch_accuracy, c.sweep[1].transfer_accuracy, c.sweep[1].scratch_accuracy);
  // The direction of the gap.
  CHECK(c.transfer.final_accuracy > c.scratch.final_accuracy + 0.05);
  // The pretrained model was not touched (the harness trains copies).
  CHECK(pretrained.parameter("fc2.weight").data.shape() == hone::Shape{5, 64});
  // Consistency: the target is scratch's best; both reached it at the first epoch at or
  // above it; the saving follows from the two times.
  CHECK(c.target_accuracy == c.scratch.best_accuracy);
  REQUIRE(c.transfer.epochs_to_target > 0);
  REQUIRE(c.scratch.epochs_to_target > 0);
  for (const auto* r : {&c.transfer, &c.scratch}) {
    const auto& epochs = r->history.epochs;
    REQUIRE(epochs.size() == 10);
    const auto at = static_cast<std::size_t>(r->epochs_to_target - 1);
    CHECK(epochs[at].val_accuracy >= c.target_accuracy);
    for (std::size_t i = 0; i < at; ++i) CHECK(epochs[i].val_accuracy < c.target_accuracy);
    CHECK(r->time_to_target == epochs[at].elapsed);
    CHECK(r->final_accuracy == epochs.back().val_accuracy);
    CHECK(r->train_seconds == epochs.back().elapsed);
    CHECK(r->train_flops == Approx(3 * hone::forward_flops(pretrained) * 50 * 10).epsilon(0.01));
  }
  CHECK(c.transfer.epochs_to_target <= c.scratch.epochs_to_target);
  CHECK(c.time_saving == Approx(1 - c.transfer.time_to_target / c.scratch.time_to_target));
  // Wall-clock time is not asserted (a timed unit test on a shared machine is noise: CI once
  // measured 0.37 s vs 0.36 s for runs that reached the target at different epochs); the
  // saving's direction is asserted in epochs, which the seed fixes.
  CHECK(c.transfer.epochs_to_target < c.scratch.epochs_to_target);
  REQUIRE(c.sweep.size() == 2);
  CHECK(c.sweep[0].shots == 5);

  // Report files.
  hone_test::TempDir dir("harness");
  const auto paths = transfer::write_report(c, dir / "report");
  REQUIRE(paths.size() == 4);
  const std::string json = read(paths[0]), md = read(paths[1]), svg = read(paths[2]), shots = read(paths[3]);
  CHECK(json.find("\"time_saving\"") != std::string::npos);
  CHECK(json.find("\"curve\"") != std::string::npos);
  CHECK(md.find("| final accuracy |") != std::string::npos);
  CHECK(md.find("Training time saved") != std::string::npos);
  CHECK(count(svg, "<polyline") == 2);
  CHECK(count(svg, "<circle") == 20);
  CHECK(count(shots, "<circle") == 4);
  // An independent XML parser accepts both plots.
  for (std::size_t k : {2u, 3u}) {
    const std::string cmd = "/usr/bin/python3 -c \"import sys, xml.dom.minidom as m; "
                            "d = m.parse(sys.argv[1]); sys.exit(d.documentElement.tagName != 'svg')\" " + paths[k];
    INFO(cmd);
    CHECK(std::system(cmd.c_str()) == 0);
  }
}
