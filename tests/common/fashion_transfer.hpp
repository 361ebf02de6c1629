// tests/common/fashion_transfer.hpp — the Fashion-MNIST transfer setting shared by the
// fine-tuning and transfer-toolkit tests: a five-block CNN, pretrained by hone on classes
// 0-4, and the target task of classes 5-9 (Debian's dataset-fashion-mnist).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "hone/data/datasets.hpp"
#include "hone/graph/builder.hpp"
#include "hone/train/optim.hpp"
#include "hone/train/trainer.hpp"

namespace hone_test {

inline const std::string fashion_dir = "/usr/share/datasets/fashion-mnist";

inline bool have_fashion_mnist() {
  return std::filesystem::exists(fashion_dir + "/train-images-idx3-ubyte.gz");
}

inline hone::data::Dataset fashion(bool train_split) {
  const std::string set = train_split ? "train" : "t10k";
  return hone::data::idx_dataset(fashion_dir + "/" + set + "-images-idx3-ubyte.gz",
                                 fashion_dir + "/" + set + "-labels-idx1-ubyte.gz", {}, 1,
                                 hone::data::fashion_mnist_classes());
}

/// (1, 28, 28) -> conv 8 -> pool -> conv 16 -> pool -> conv 32 -> pool -> conv 32 -> conv 32
/// -> fc 64 -> fc `classes`.
inline hone::Graph<float> fashion_cnn(std::int64_t classes, std::uint64_t seed) {
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

inline hone::train::TrainerOptions quiet_options(std::size_t epochs, std::size_t batch, std::uint64_t seed = 5) {
  hone::train::TrainerOptions o;
  o.epochs = epochs;
  o.batch_size = batch;
  o.seed = seed;
  o.progress = hone::train::Progress::none;
  o.keep_best = false;
  return o;
}

/// The source model: fashion_cnn(5) trained by hone on 6,000 images of classes 0-4 (5 epochs,
/// Adam 2e-3, batch 64). Returns the final training accuracy through `accuracy`.
inline hone::Graph<float> pretrain_on_classes_0_to_4(double* accuracy = nullptr) {
  const auto source = fashion(true).filter_classes(std::vector<std::int64_t>{0, 1, 2, 3, 4}).k_shot(1200, 1);
  auto model = fashion_cnn(5, 11);
  hone::train::Adam<float> opt(model, {.lr = 2e-3});
  const auto h = hone::train::Trainer<float>(model, opt, nullptr, quiet_options(5, 64)).fit(source);
  if (accuracy) *accuracy = h.epochs.back().train_accuracy;
  return model;
}

/// Classes 5-9 relabelled 0-4: k images per class for training, 100 per class of the test
/// split for validation.
inline std::pair<hone::data::Dataset, hone::data::Dataset> target_task(std::size_t k, std::uint64_t seed = 2) {
  const std::vector<std::int64_t> classes = {5, 6, 7, 8, 9};
  return {fashion(true).filter_classes(classes).k_shot(k, seed), fashion(false).filter_classes(classes).k_shot(100, 3)};
}

}  // namespace hone_test
