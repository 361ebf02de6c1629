// End to end on real data: a small CNN pretrained on Fashion-MNIST classes 0-4 (T-shirt,
// trouser, pullover, dress, coat) is fine-tuned on classes 5-9 (sandal, shirt, sneaker, bag,
// ankle boot) with 10 images per class, and must beat the same network trained from scratch
// on the same 50 images with the same budget and seed. The oracle is the comparison itself:
// the direction of the gap, which the issue measured with PyTorch (0.82 vs 0.20 at 10 per
// class on a 5-block CNN).
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <string>

#include "hone/data/datasets.hpp"
#include "hone/graph/builder.hpp"
#include "hone/train/optim.hpp"
#include "hone/train/surgery.hpp"
#include "hone/train/trainer.hpp"

namespace train = hone::train;

namespace {

/// Five conv blocks: (1, 28, 28) -> conv 8 -> pool -> conv 16 -> pool -> conv 32 -> pool ->
/// conv 32 -> conv 32 -> fc 64 -> fc classes.
hone::Graph<float> small_cnn(std::int64_t classes, std::uint64_t seed) {
  hone::Builder<float> b(seed);
  auto x = b.input("x", {1, 28, 28});
  auto h = b.max_pool(b.relu(b.conv(x, 8, {.kernel = 3, .padding = 1}, "conv1")), {.kernel = 2});
  h = b.max_pool(b.relu(b.conv(h, 16, {.kernel = 3, .padding = 1}, "conv2")), {.kernel = 2});
  h = b.max_pool(b.relu(b.conv(h, 32, {.kernel = 3, .padding = 1}, "conv3")), {.kernel = 2});
  h = b.relu(b.conv(h, 32, {.kernel = 3, .padding = 1}, "conv4"));
  h = b.relu(b.conv(h, 32, {.kernel = 3, .padding = 1}, "conv5"));
  h = b.relu(b.linear(b.flatten(h), 64, true, "fc1"));
  b.output(b.linear(h, classes, true, "fc2"));
  return b.build();
}

/// A copy whose parameter tensors are its own (Graph copies share them).
hone::Graph<float> deep_copy(const hone::Graph<float>& g) {
  hone::Graph<float> out = g;
  for (auto& p : out.parameters()) p.data = p.data.clone();
  return out;
}

train::TrainerOptions options(std::size_t epochs, std::size_t batch) {
  train::TrainerOptions o;
  o.epochs = epochs;
  o.batch_size = batch;
  o.seed = 5;
  o.progress = train::Progress::none;
  o.keep_best = false;
  return o;
}

}  // namespace

TEST_CASE("transfer: pretrained on classes 0-4, fine-tuned on 5-9 with 10 per class, beats scratch",
          "[train][e2e]") {
  const std::string dir = HONE_TEST_FASHION_MNIST_DIR;
  INFO("needs Debian's dataset-fashion-mnist (scripts/install-deps)");
  REQUIRE(std::filesystem::exists(dir + "/train-images-idx3-ubyte.gz"));
  const auto all_train = hone::data::idx_dataset(dir + "/train-images-idx3-ubyte.gz",
                                                 dir + "/train-labels-idx1-ubyte.gz", {}, 1,
                                                 hone::data::fashion_mnist_classes());
  const auto all_test = hone::data::idx_dataset(dir + "/t10k-images-idx3-ubyte.gz",
                                                dir + "/t10k-labels-idx1-ubyte.gz", {}, 1,
                                                hone::data::fashion_mnist_classes());
  const std::vector<std::int64_t> source_classes = {0, 1, 2, 3, 4}, target_classes = {5, 6, 7, 8, 9};
  const auto source = all_train.filter_classes(source_classes).k_shot(1200, 1);  // 6,000 images
  const auto target = all_train.filter_classes(target_classes).k_shot(10, 2);   // 50 images
  const auto target_val = all_test.filter_classes(target_classes).k_shot(100, 3);

  // Pretrain on the source classes.
  auto pretrained = small_cnn(5, 11);
  {
    train::Adam<float> opt(pretrained, {.lr = 2e-3});
    const auto h = train::Trainer<float>(pretrained, opt, nullptr, options(5, 64)).fit(source);
    INFO("pretraining loss " << h.epochs.back().train_loss);
    CHECK(h.epochs.back().train_accuracy > 0.8);
  }

  // A budget of 10 epochs (50 steps). With this network, measured: transferred 0.83 vs
  // scratch 0.76 here (other seeds: 0.83 vs 0.61, 0.78 vs 0.70); after 30 epochs the gap
  // narrows to about 3 points (0.83 vs 0.80), so the budget is where transfer pays.
  const std::size_t epochs = 10;
  // Transfer: a new head for the 5 target classes, everything fine-tuned.
  auto transferred = deep_copy(pretrained);
  train::replace_head(transferred, 5, 12);
  train::Adam<float> opt_t(transferred, {.lr = 1e-3});
  const auto ht = train::Trainer<float>(transferred, opt_t, nullptr, options(epochs, 10)).fit(target, &target_val);
  // Scratch: the same network, freshly initialised, same data, budget and seed.
  auto scratch = small_cnn(5, 12);
  train::Adam<float> opt_s(scratch, {.lr = 1e-3});
  const auto hs = train::Trainer<float>(scratch, opt_s, nullptr, options(epochs, 10)).fit(target, &target_val);

  const double acc_t = ht.epochs.back().val_accuracy, acc_s = hs.epochs.back().val_accuracy;
  std::printf("transfer e2e: 10 images per class, %zu epochs: transferred %.3f (best %.3f), "
              "scratch %.3f (best %.3f)\n", epochs, acc_t, ht.best_val_accuracy, acc_s,
              hs.best_val_accuracy);
  CHECK(acc_t > acc_s + 0.05);
  CHECK(ht.best_val_accuracy > hs.best_val_accuracy);
}
