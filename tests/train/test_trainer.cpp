// The trainer, checkpoints, L2-SP and the feature cache. Oracles: a larger batch for
// gradient accumulation, an uninterrupted run for resuming, finite differences for L2-SP, and
// the full model for the feature cache.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "hone/core/rng.hpp"
#include "hone/data/datasets.hpp"
#include "hone/graph/builder.hpp"
#include "hone/train/bn_policy.hpp"
#include "hone/train/checkpoint.hpp"
#include "hone/train/feature_cache.hpp"
#include "hone/train/optim.hpp"
#include "hone/train/regularize.hpp"
#include "hone/train/schedule.hpp"
#include "hone/train/trainer.hpp"

#include "../common/temp_dir.hpp"

using hone::Graph;
using hone::Shape;
using hone::Tensor;
namespace train = hone::train;

namespace {

/// Three Gaussian blobs in 4-D, n samples, labels 0..2 (seeded).
hone::data::Dataset blobs(std::int64_t n, std::uint64_t seed) {
  hone::Generator gen(seed);
  Tensor<float> x(Shape{n, 4});
  Tensor<std::int64_t> y(Shape{n});
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t c = i % 3;
    y[i] = c;
    for (std::int64_t d = 0; d < 4; ++d)
      x[i * 4 + d] = static_cast<float>((d == c ? 2.0 : 0.0) + 0.6 * gen.normal());
  }
  return hone::data::tensor_dataset(x, y);
}

/// x (4) -> fc1 (8) -> relu [-> dropout] -> fc2 (3).
template <class T>
Graph<T> mlp(std::uint64_t seed, bool dropout = false) {
  hone::Builder<T> b(seed);
  auto x = b.input("x", {4});
  auto h = b.relu(b.linear(x, 8, true, "fc1"));
  if (dropout) {
    hone::Attributes a;
    a.set_float("ratio", 0.25);
    h = b.op("Dropout", {h}, a, "drop");
  }
  b.output(b.linear(h, 3, true, "fc2"));
  return b.build();
}

template <class T>
std::vector<Tensor<T>> params_of(const Graph<T>& g) {
  std::vector<Tensor<T>> out;
  for (const auto& p : g.parameters()) out.push_back(p.data.clone());
  return out;
}

template <class T>
bool bit_identical(const Tensor<T>& a, const Tensor<T>& b) {
  if (!(a.shape() == b.shape())) return false;
  for (std::int64_t i = 0; i < a.numel(); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(T)) != 0) return false;
  return true;
}

train::TrainerOptions quiet(std::size_t epochs, std::size_t batch) {
  train::TrainerOptions o;
  o.epochs = epochs;
  o.batch_size = batch;
  o.progress = train::Progress::none;
  o.seed = 7;
  return o;
}

}  // namespace

TEST_CASE("trainer: learns separable blobs and writes its history", "[train][trainer]") {
  hone_test::TempDir dir("trainer");
  auto model = mlp<float>(1);
  train::SGD<float> opt(model, {.lr = 0.1, .momentum = 0.9});
  auto options = quiet(8, 16);
  options.history_path = (dir.path() / "history.json").string();
  train::Trainer<float> trainer(model, opt, nullptr, options);
  const auto data = blobs(96, 1), val = blobs(60, 2);
  const train::Evaluation before = trainer.evaluate(val);
  const train::History h = trainer.fit(data, &val);
  REQUIRE(h.epochs.size() == 8);
  CHECK(h.epochs.back().steps == 8 * 6);
  CHECK(h.epochs.back().train_loss < h.epochs.front().train_loss);
  CHECK(h.best_val_accuracy > 0.9);
  CHECK(h.best_val_accuracy > before.accuracy() + 0.2);
  CHECK(h.stop_reason == "epochs");
  std::ifstream in(options.history_path);
  std::stringstream text;
  text << in.rdbuf();
  CHECK(text.str().find("\"val_accuracy\"") != std::string::npos);
  CHECK(text.str().find("\"epochs\": [") != std::string::npos);
  // evaluate() agrees with the last epoch's validation numbers (same weights unless keep-best
  // restored earlier ones).
  const train::Evaluation after = trainer.evaluate(val);
  CHECK(after.confusion.total() == 60);
  CHECK(after.accuracy() == Approx(h.epochs[h.best_epoch].val_accuracy));
}

TEST_CASE("trainer: gradient accumulation over 2 micro-batches equals one batch of twice the size",
          "[train][trainer]") {
  auto a = mlp<double>(3), b = mlp<double>(3);
  train::SGD<double> opt_a(a, {.lr = 0.05, .momentum = 0.9});
  train::SGD<double> opt_b(b, {.lr = 0.05, .momentum = 0.9});
  auto oa = quiet(2, 16), ob = quiet(2, 8);
  oa.shuffle = ob.shuffle = false;
  ob.accumulation_steps = 2;
  const auto data = blobs(48, 4);
  train::Trainer<double>(a, opt_a, nullptr, oa).fit(data);
  train::Trainer<double>(b, opt_b, nullptr, ob).fit(data);
  CHECK(opt_a.steps() == 6);
  CHECK(opt_b.steps() == 6);
  for (std::size_t i = 0; i < a.parameters().size(); ++i) {
    const auto& pa = a.parameters()[i].data;
    const auto& pb = b.parameters()[i].data;
    for (std::int64_t k = 0; k < pa.numel(); ++k) CHECK(pa[k] == Approx(pb[k]).epsilon(1e-12));
  }
}

TEST_CASE("trainer: frozen parameters stay bit-identical", "[train][trainer]") {
  auto model = mlp<float>(5);
  model.freeze("fc1");
  const auto before = params_of(model);
  train::Adam<float> opt(model, {.lr = 0.01});
  train::Trainer<float>(model, opt, nullptr, quiet(3, 16)).fit(blobs(48, 5));
  for (std::size_t i = 0; i < model.parameters().size(); ++i) {
    const auto& p = model.parameters()[i];
    INFO(p.name);
    CHECK(bit_identical(p.data, before[i]) == (p.name.rfind("fc1", 0) == 0));
  }
}

TEST_CASE("trainer: early stopping and keep-best", "[train][trainer]") {
  auto model = mlp<float>(6);
  const auto data = blobs(96, 6), val = blobs(60, 7);
  {
    train::SGD<float> opt(model, {.lr = 0.1, .momentum = 0.9});
    train::Trainer<float>(model, opt, nullptr, quiet(8, 16)).fit(data);
  }
  // Learning rate 0: nothing changes, so validation accuracy never improves after epoch 0.
  train::SGD<float> still(model, {.lr = 0.0});
  auto options = quiet(10, 16);
  options.patience = 2;
  train::Trainer<float> patient(model, still, nullptr, options);
  const auto h = patient.fit(data, &val);
  CHECK(h.stop_reason == "early_stopping");
  CHECK(h.stopped_early);
  CHECK(h.epochs.size() == 3);
  // Keep-best: wreck the weights after epoch 1; the end of fit restores the best epoch's.
  const double good = patient.evaluate(val).accuracy();
  REQUIRE(good > 0.8);
  options.patience = 0;
  train::Trainer<float> keeper(model, still, nullptr, options);
  keeper.options().epochs = 4;
  keeper.on_epoch([&](const train::EpochRecord& r) {
    if (r.epoch == 1)
      for (auto& p : model.parameters()) p.data.fill(0.0f);
    return true;
  });
  const auto kh = keeper.fit(data, &val);
  CHECK(kh.restored_best);
  CHECK(kh.best_epoch <= 1);
  CHECK(kh.epochs.back().val_accuracy < good);
  CHECK(keeper.evaluate(val).accuracy() == Approx(good));
}

TEST_CASE("trainer: a run resumed from a checkpoint is bit-identical to an unbroken one",
          "[train][trainer][checkpoint]") {
  hone_test::TempDir dir("resume");
  const std::string path = (dir.path() / "run.ckpt").string();
  const auto data = blobs(60, 8);  // 60 / 16 -> 4 batches per epoch
  auto options = quiet(3, 16);
  options.accumulation_steps = 1;
  const std::int64_t total = 12;
  // Unbroken run: Adam, one-cycle schedule, dropout in the model.
  auto a = mlp<float>(9, true);
  train::Adam<float> opt_a(a, {.lr = 0.01});
  train::OneCycle cycle_a(total);
  train::Trainer<float>(a, opt_a, &cycle_a, options).fit(data);
  // Interrupted after 6 steps (in the middle of epoch 1), then resumed into fresh objects
  // whose initial values differ, so everything must come from the checkpoint.
  auto b = mlp<float>(9, true);
  train::Adam<float> opt_b(b, {.lr = 0.01});
  train::OneCycle cycle_b(total);
  auto interrupted = options;
  interrupted.max_steps = 6;
  interrupted.checkpoint_path = path;
  const auto hb = train::Trainer<float>(b, opt_b, &cycle_b, interrupted).fit(data);
  CHECK(hb.stop_reason == "max_steps");
  auto c = mlp<float>(99, true);
  train::Adam<float> opt_c(c, {.lr = 0.5});
  train::OneCycle cycle_c(total);
  train::Trainer<float> resumed(c, opt_c, &cycle_c, options);
  resumed.resume(path, data);
  CHECK(opt_c.steps() == total);
  for (std::size_t i = 0; i < a.parameters().size(); ++i) {
    INFO(a.parameters()[i].name);
    CHECK(bit_identical(a.parameters()[i].data, c.parameters()[i].data));
  }
  CHECK(opt_c.groups()[0].lr == opt_a.groups()[0].lr);
}

TEST_CASE("checkpoint: bad files and mismatched models are refused clearly",
          "[train][checkpoint]") {
  hone_test::TempDir dir("ckpt");
  auto model = mlp<float>(1);
  train::SGD<float> opt(model, {.lr = 0.1, .momentum = 0.9});
  const auto c = train::make_checkpoint(model, opt, {2, 1, 9, 3});
  const auto bytes = train::serialize_checkpoint(c);
  const auto back = train::parse_checkpoint<float>(bytes);
  CHECK(back.position.epoch == 2);
  CHECK(back.position.batch_in_epoch == 1);
  CHECK(back.position.global_step == 9);
  CHECK(back.position.seed == 3);
  CHECK(back.model.size() == model.parameters().size());
  // Truncated: a ParseError with the field path and an offset.
  std::vector<std::uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(bytes.size() / 2));
  CHECK_THROWS_AS(train::parse_checkpoint<float>(cut), hone::ParseError);
  // An ONNX tensor file is valid protobuf but not a checkpoint.
  const auto tensor = hone::onnx::serialize(hone::onnx::from_tensor(Tensor<float>(Shape{2}), "t"));
  CHECK_THROWS_WITH(train::parse_checkpoint<float>(tensor), Catch::Contains("Checkpoint.format"));
  hone::onnx::wire::Writer other_format;
  other_format.bytes_field(1, "something.else");
  other_format.int64_field(2, 1);
  CHECK_THROWS_WITH(train::parse_checkpoint<float>(other_format.take()),
                    Catch::Contains("not a hone checkpoint (format field is \"something.else\")"));
  hone::onnx::wire::Writer future;
  future.bytes_field(1, "hone.checkpoint");
  future.int64_field(2, 7);
  CHECK_THROWS_WITH(train::parse_checkpoint<float>(future.take()), Catch::Contains("version 7 is not supported"));
  CHECK_THROWS_WITH(train::load_checkpoint<float>((dir.path() / "missing.ckpt").string()),
                    Catch::Contains("missing.ckpt"));
  // A model with another head width.
  hone::Builder<float> other(1);
  auto x = other.input("x", {4});
  auto h = other.relu(other.linear(x, 8, true, "fc1"));
  other.output(other.linear(h, 5, true, "fc2"));
  auto wide = other.build();
  train::SGD<float> opt_wide(wide, {.lr = 0.1, .momentum = 0.9});
  CHECK_THROWS_WITH(train::restore_checkpoint(c, wide, opt_wide),
                    Catch::Contains("\"fc2.weight\" has shape (3, 8) in the checkpoint but (5, 8)"));
}

TEST_CASE("L2-SP: the gradient matches finite differences of loss plus penalty",
          "[train][l2sp][grad]") {
  auto model = mlp<double>(11);
  train::L2SP<double> l2sp(model, {.alpha = 0.3, .beta = 0.7, .new_params = {"fc2.weight", "fc2.bias"}});
  // Move away from the starting point so both terms are non-zero.
  hone::Generator gen(12);
  for (auto& p : model.parameters())
    for (std::int64_t i = 0; i < p.data.numel(); ++i) p.data[i] += 0.1 * gen.normal();
  auto g = train::with_loss(model);
  hone::Session<double> session(g, {hone::Mode::train, 0, {}});
  Tensor<double> x(Shape{5, 4});
  for (std::int64_t i = 0; i < x.numel(); ++i) x[i] = gen.normal();
  const auto y = Tensor<double>::from(Shape{5}, {0, 1, 2, 1, 0});
  session.forward({x, y});
  session.backward({Tensor<double>(Shape{}, 1.0), Tensor<double>()});
  const double penalty = l2sp.apply(session);
  CHECK(penalty == Approx(l2sp.penalty()));
  auto total = [&] {
    hone::Session<double> s(g, {hone::Mode::eval, 0, {}});
    return s.forward({x, y})[0][0] + l2sp.penalty();
  };
  const double h = 1e-6;
  for (const char* name : {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}) {
    auto& w = model.parameter(name).data;
    const auto grad = session.grad(name);
    for (std::int64_t i = 0; i < w.numel(); i += 3) {
      const double keep = w[i];
      w[i] = keep + h;
      const double up = total();
      w[i] = keep - h;
      const double down = total();
      w[i] = keep;
      INFO(name << "[" << i << "]");
      CHECK(grad[i] == Approx((up - down) / (2 * h)).epsilon(1e-6).margin(1e-8));
    }
  }
}

TEST_CASE("feature cache: training on cached features equals training the full model",
          "[train][cache]") {
  // A frozen conv backbone with BatchNorm on running statistics, then a trainable head.
  auto build = [] {
    hone::Builder<float> b(21);
    auto x = b.input("x", {2, 6, 6});
    auto h = b.relu(b.batch_norm(b.conv(x, 4, {.kernel = 3, .padding = 1}, "conv1"), "bn1"));
    auto f = b.flatten(b.max_pool(h, {.kernel = 2}));
    b.output(b.linear(f, 3, true, "head"));
    auto g = b.build();
    // Non-trivial running statistics.
    hone::Generator gen(3);
    for (std::int64_t c = 0; c < 4; ++c) {
      g.parameter("bn1.running_mean").data[c] = static_cast<float>(0.2 * gen.normal());
      g.parameter("bn1.running_var").data[c] = static_cast<float>(0.5 + gen.uniform_double());
    }
    g.freeze();
    g.unfreeze("head");
    train::set_bn_policy(g, train::BnPolicy::frozen, "*", false);
    return g;
  };
  hone::Generator gen(4);
  Tensor<float> x(Shape{40, 2, 6, 6});
  for (std::int64_t i = 0; i < x.numel(); ++i) x[i] = static_cast<float>(gen.normal());
  Tensor<std::int64_t> y(Shape{40});
  for (std::int64_t i = 0; i < 40; ++i) y[i] = (x[i * 72] > 0) + (x[i * 72 + 1] > 0);
  const auto data = hone::data::tensor_dataset(x, y);
  auto options = quiet(3, 8);

  auto full = build();
  train::SGD<float> opt_full(full, {.lr = 0.05, .momentum = 0.9});
  train::Trainer<float>(full, opt_full, nullptr, options).fit(data);

  auto cached = build();
  const std::string cut = cached.nodes()[cached.nodes().size() - 1].inputs[0];
  auto parts = train::cache_features(cached, cut, data, {.batch_size = 16, .seed = options.seed});
  CHECK(parts.cache.feature_shape() == Shape{40, 36});
  train::SGD<float> opt_cached(parts.suffix, {.lr = 0.05, .momentum = 0.9});
  train::Trainer<float>(parts.suffix, opt_cached, nullptr, options)
      .fit([&](std::size_t e) { return parts.cache.view(e); });
  for (const char* name : {"head.weight", "head.bias"}) {
    const auto& a = full.parameter(name).data;
    const auto& b = cached.parameter(name).data;  // updated through the shared tensors
    for (std::int64_t i = 0; i < a.numel(); ++i) CHECK(b[i] == Approx(a[i]).epsilon(1e-5).margin(1e-6));
  }
  // Refusals: a trainable backbone, batch statistics.
  auto trainable = build();
  trainable.unfreeze("conv1");
  CHECK_THROWS_WITH(train::check_cacheable(trainable, cut), Catch::Contains("\"conv1.weight\""));
  auto batch_stats = build();
  train::set_bn_policy(batch_stats, train::BnPolicy::train, "*", false);
  CHECK_THROWS_WITH(train::check_cacheable(batch_stats, cut), Catch::Contains("batch statistics"));
}
