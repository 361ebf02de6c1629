// Head-only training of ResNet-18 (built with the Builder under torchvision's names, 10
// classes, 64x64 inputs, backbone frozen with BatchNorm on running statistics): one epoch
// over 64 images recomputing the backbone at every step (the anchor), against one epoch on
// features cached once (hone::train::cache_features). Counters: images/s. The program ends
// with the ratio of the two epoch times (medians of 5 timed epochs each, measured back to
// back in this process), and the one-off cost of building the cache.
#include <benchmark/benchmark.h>

#include <algorithm>  // std::sort
#include <chrono>     // the summary timings
#include <cstdio>     // the summary line
#include <string>
#include <vector>

#include "hone/graph/builder.hpp"
#include "hone/train/bn_policy.hpp"
#include "hone/train/feature_cache.hpp"
#include "hone/train/optim.hpp"
#include "hone/train/select.hpp"
#include "hone/train/trainer.hpp"

namespace {

constexpr std::int64_t kImages = 64, kSize = 64, kClasses = 10;

hone::Var basic_block(hone::Builder<float>& b, const hone::Var& x, std::int64_t channels,
                      std::int64_t stride, const std::string& name) {
  auto h = b.conv(x, channels, {.kernel = 3, .stride = stride, .padding = 1, .bias = false}, name + ".conv1");
  h = b.relu(b.batch_norm(h, name + ".bn1"));
  h = b.batch_norm(b.conv(h, channels, {.kernel = 3, .padding = 1, .bias = false}, name + ".conv2"), name + ".bn2");
  hone::Var skip = x;
  if (stride != 1 || x.shape[1] != channels)
    skip = b.batch_norm(b.conv(x, channels, {.kernel = 1, .stride = stride, .bias = false}, name + ".downsample.0"),
                        name + ".downsample.1");
  return b.relu(b.add(h, skip));
}

hone::Graph<float> resnet18() {
  hone::Builder<float> b(1);
  auto x = b.input("x", {3, kSize, kSize});
  auto h = b.relu(b.batch_norm(b.conv(x, 64, {.kernel = 7, .stride = 2, .padding = 3, .bias = false}, "conv1"), "bn1"));
  h = b.max_pool(h, {.kernel = 3, .stride = 2, .padding = 1});
  const std::int64_t widths[] = {64, 128, 256, 512};
  for (int l = 0; l < 4; ++l)
    for (int k = 0; k < 2; ++k)
      h = basic_block(b, h, widths[l], (l > 0 && k == 0) ? 2 : 1,
                      "layer" + std::to_string(l + 1) + "." + std::to_string(k));
  b.output(b.linear(b.flatten(b.global_avg_pool(h)), kClasses, true, "fc"));
  auto g = b.build();
  hone::train::train_head_only(g);
  hone::train::set_bn_policy(g, hone::train::BnPolicy::frozen, "*", false);
  return g;
}

hone::data::Dataset images() {
  hone::Generator gen(2);
  hone::Tensor<float> x(hone::Shape{kImages, 3, kSize, kSize});
  for (std::int64_t i = 0; i < x.numel(); ++i) x[i] = static_cast<float>(gen.normal());
  hone::Tensor<std::int64_t> y(hone::Shape{kImages});
  for (std::int64_t i = 0; i < kImages; ++i) y[i] = i % kClasses;
  return hone::data::tensor_dataset(x, y);
}

hone::train::TrainerOptions one_epoch() {
  hone::train::TrainerOptions o;
  o.epochs = 1;
  o.batch_size = 16;
  o.progress = hone::train::Progress::none;
  return o;
}

struct Fixture {
  hone::Graph<float> model = resnet18();
  hone::data::Dataset data = images();
  std::string cut;
  Fixture() { cut = model.nodes().back().inputs[0]; }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

double epoch_recompute() {
  auto& f = fixture();
  hone::train::SGD<float> opt(f.model, {.lr = 0.01, .momentum = 0.9});
  hone::train::Trainer<float> trainer(f.model, opt, nullptr, one_epoch());
  const auto t0 = std::chrono::steady_clock::now();
  trainer.fit(f.data);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct Cached {
  hone::train::CachedTraining<float> parts;
};

Cached& cached() {
  static Cached c{hone::train::cache_features(fixture().model, fixture().cut, fixture().data, {.batch_size = 16})};
  return c;
}

double epoch_cached() {
  auto& c = cached();
  hone::train::SGD<float> opt(c.parts.suffix, {.lr = 0.01, .momentum = 0.9});
  hone::train::Trainer<float> trainer(c.parts.suffix, opt, nullptr, one_epoch());
  const auto t0 = std::chrono::steady_clock::now();
  trainer.fit([&](std::size_t e) { return c.parts.cache.view(e); });
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void BM_head_epoch_recompute(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(epoch_recompute());
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(kImages * state.iterations()),
                                                  benchmark::Counter::kIsRate);
}
BENCHMARK(BM_head_epoch_recompute)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_head_epoch_cached(benchmark::State& state) {
  cached();
  for (auto _ : state) benchmark::DoNotOptimize(epoch_cached());
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(kImages * state.iterations()),
                                                  benchmark::Counter::kIsRate);
}
BENCHMARK(BM_head_epoch_cached)->Unit(benchmark::kMillisecond)->UseRealTime();

double median_of(double (*f)(), int n) {
  std::vector<double> t;
  for (int i = 0; i < n; ++i) t.push_back(f());
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  const auto t0 = std::chrono::steady_clock::now();
  auto probe = hone::train::cache_features(fixture().model, fixture().cut, fixture().data, {.batch_size = 16});
  const double build = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double recompute = median_of(epoch_recompute, 5), cache = median_of(epoch_cached, 5);
  std::printf("resnet18 head-only epoch (%lld images %lldx%lld): recompute %.4f s, cached %.6f s, "
              "speed-up %.0fx; building the cache %.3f s (%lld feature bytes)\n",
              static_cast<long long>(kImages), static_cast<long long>(kSize), static_cast<long long>(kSize),
              recompute, cache, recompute / cache, build, static_cast<long long>(probe.cache.bytes()));
  return 0;
}
