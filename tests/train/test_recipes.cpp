// Recipes: what each one trains, when, and at which rate, observed on the model (parameters
// that must stay bit-identical, trainable counts per epoch) rather than on accuracy alone.
#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

#include "hone/data/datasets.hpp"
#include "hone/graph/builder.hpp"
#include "hone/train/recipes.hpp"

using hone::Graph;
using hone::Shape;
using hone::Tensor;
namespace train = hone::train;

namespace {

/// (1, 8, 8) -> conv1 (4) -> bn1 -> relu -> conv2 (8, stride 2) -> bn2 -> relu [-> dropout]
/// -> global average pool -> flatten -> fc (3).
Graph<float> net(std::uint64_t seed, bool dropout = false) {
  hone::Builder<float> b(seed);
  auto x = b.input("x", {1, 8, 8});
  auto h = b.relu(b.batch_norm(b.conv(x, 4, {.kernel = 3, .padding = 1}, "conv1"), "bn1"));
  h = b.relu(b.batch_norm(b.conv(h, 8, {.kernel = 3, .stride = 2, .padding = 1}, "conv2"), "bn2"));
  if (dropout) {
    hone::Attributes a;
    a.set_float("ratio", 0.2);
    h = b.op("Dropout", {h}, a, "drop");
  }
  b.output(b.linear(b.flatten(b.global_avg_pool(h)), 3, true, "fc"));
  return b.build();
}

/// Class c: a bright 3x3 patch at one of three places, plus noise.
hone::data::Dataset patches(std::int64_t n, std::uint64_t seed) {
  hone::Generator gen(seed);
  Tensor<float> x(Shape{n, 1, 8, 8});
  Tensor<std::int64_t> y(Shape{n});
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t c = i % 3;
    y[i] = c;
    for (std::int64_t k = 0; k < 64; ++k) x[i * 64 + k] = static_cast<float>(0.3 * gen.normal());
    for (std::int64_t r = 0; r < 3; ++r)
      for (std::int64_t s = 0; s < 3; ++s) x[i * 64 + (1 + 2 * c + r) * 8 + 1 + 2 * c + s] += 1.5f;
  }
  return hone::data::tensor_dataset(x, y);
}

train::RecipeOptions quiet() {
  train::RecipeOptions o;
  o.trainer.batch_size = 10;
  o.trainer.progress = train::Progress::none;
  o.trainer.seed = 3;
  return o;
}

bool same(const Tensor<float>& a, const Tensor<float>& b) {
  return a.numel() == b.numel() && std::memcmp(a.data(), b.data(), sizeof(float) * static_cast<std::size_t>(a.numel())) == 0;
}

std::vector<Tensor<float>> snapshot(const Graph<float>& g) {
  std::vector<Tensor<float>> out;
  for (const auto& p : g.parameters()) out.push_back(p.data.clone());
  return out;
}

}  // namespace

TEST_CASE("recipes: linear probe trains the head only, on cached features", "[train][recipes]") {
  auto model = net(1);
  const auto before = snapshot(model);
  const auto data = patches(60, 1), val = patches(30, 2);
  train::LinearProbe lp;
  lp.epochs = 4;
  lp.lr = 1e-2;
  lp.options = quiet();
  const auto r = lp.run(model, data, &val);
  CHECK(r.history.epochs.size() == 4);
  REQUIRE(r.phases.size() == 1);
  CHECK(r.phases[0].find("cached features of") != std::string::npos);
  for (std::size_t i = 0; i < model.parameters().size(); ++i) {
    const auto& p = model.parameters()[i];
    INFO(p.name);
    CHECK(same(p.data, before[i]) == (p.name.rfind("fc.", 0) != 0));  // running stats included
  }
  CHECK(r.history.epochs.back().train_loss < r.history.epochs.front().train_loss);
}

TEST_CASE("recipes: a linear probe behind dropout recomputes the backbone and says why",
          "[train][recipes]") {
  auto model = net(2, true);
  train::LinearProbe lp;
  lp.epochs = 2;
  lp.options = quiet();
  const auto r = lp.run(model, patches(30, 3));
  REQUIRE(r.phases.size() == 2);
  CHECK(r.phases[0].find("feature cache not used") != std::string::npos);
  CHECK(r.phases[0].find("Dropout") != std::string::npos);
  CHECK(r.phases[1].find("backbone recomputed") != std::string::npos);
}

TEST_CASE("recipes: LP-FT probes, then fine-tunes everything at a tenth of the rate",
          "[train][recipes]") {
  auto model = net(3);
  const auto before = snapshot(model);
  train::LPFT recipe;
  recipe.probe.epochs = 2;
  recipe.probe.lr = 1e-2;
  recipe.probe.options = quiet();
  recipe.ft_epochs = 3;
  std::vector<std::size_t> trainable;
  recipe.probe.options.on_epoch = [&](const train::EpochRecord&) {
    trainable.push_back(train::summarize(model).trainable_tensors);
    return true;
  };
  const auto r = recipe.run(model, patches(60, 4), nullptr);
  CHECK(r.history.epochs.size() == 5);
  CHECK(r.history.epochs.back().epoch == 4);
  REQUIRE(r.phases.size() == 2);
  CHECK(r.phases[1].find("lr 0.001") != std::string::npos);
  // Probe epochs: fc only (2 tensors); fine-tune epochs: all 10 (2 convs with bias, 2 BN
  // affine pairs, fc).
  CHECK(trainable == std::vector<std::size_t>{2, 2, 10, 10, 10});
  for (std::size_t i = 0; i < model.parameters().size(); ++i) {
    INFO(model.parameters()[i].name);
    CHECK_FALSE(same(model.parameters()[i].data, before[i]));
  }
}

TEST_CASE("recipes: gradual unfreezing adds one block group per epoch from the top",
          "[train][recipes]") {
  auto model = net(4);
  const auto groups = train::blocks(model);
  REQUIRE(groups.size() == 5);  // conv1, bn1, conv2, bn2, fc
  train::GradualUnfreezing g;
  g.epochs = 6;
  g.options = quiet();
  std::vector<std::size_t> trainable;
  g.options.on_epoch = [&](const train::EpochRecord&) {
    trainable.push_back(train::summarize(model).trainable_tensors);
    return true;
  };
  const auto r = g.run(model, patches(30, 5));
  CHECK(r.history.epochs.size() == 6);
  CHECK(trainable == std::vector<std::size_t>{2, 4, 6, 8, 10, 10});
  CHECK(r.phases.size() == 5);
  CHECK(r.phases[0].find("training fc") != std::string::npos);
}

TEST_CASE("recipes: fine_tune trains head and BatchNorm first, then everything", "[train][recipes]") {
  auto model = net(5);
  const auto before = snapshot(model);
  std::vector<std::vector<bool>> changed;
  auto options = quiet();
  options.on_epoch = [&](const train::EpochRecord&) {
    std::vector<bool> c;
    for (std::size_t i = 0; i < model.parameters().size(); ++i)
      c.push_back(!same(model.parameters()[i].data, before[i]));
    changed.push_back(c);
    return true;
  };
  const auto r = train::fine_tune(model, patches(60, 6), nullptr, 2, 2e-3, options);
  CHECK(r.history.epochs.size() == 3);
  REQUIRE(changed.size() == 3);
  for (std::size_t i = 0; i < model.parameters().size(); ++i) {
    const auto& name = model.parameters()[i].name;
    INFO(name);
    const bool conv = name.rfind("conv", 0) == 0;
    CHECK(changed[0][i] == !conv);  // head, BN affine and running statistics moved
    CHECK(changed[2][i]);
  }
}
