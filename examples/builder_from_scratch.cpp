// A model built in C++ with hone::Builder and trained from scratch: a small CNN on a subset
// of Fashion-MNIST (2,000 training images, 200 per class), measured on 1,000 images of the
// test split. Runs in a few seconds on 2 cores. Exits 1 when the test accuracy is below
// 0.60 (chance is 0.10), so a regression in the graph, the kernels or the optimizer shows.
// Usage: builder_from_scratch DIR   (Fashion-MNIST's IDX files, e.g. Debian's
// dataset-fashion-mnist: /usr/share/datasets/fashion-mnist)
#include <cstdio>     // results
#include <exception>  // std::exception
#include <string>     // paths

#include <hone/train.hpp>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fputs("usage: builder_from_scratch FASHION_MNIST_DIR\n", stderr);
    return 2;
  }
  namespace ht = hone::train;
  try {
    const std::string dir = argv[1];
    auto split = [&](const std::string& set) {
      return hone::data::idx_dataset(dir + "/" + set + "-images-idx3-ubyte.gz", dir + "/" + set + "-labels-idx1-ubyte.gz",
                                     {}, 1, hone::data::fashion_mnist_classes());
    };
    const auto train = split("train").k_shot(200, /*seed=*/1);  // 200 images of each class
    const auto test = split("t10k").k_shot(100, /*seed=*/2);

    // (1, 28, 28) -> conv 8 -> BN -> ReLU -> pool -> conv 16 -> BN -> ReLU -> pool -> fc 10.
    hone::Builder<float> b(/*seed=*/1);
    auto x = b.input("image", {1, 28, 28});
    auto h = b.max_pool(b.relu(b.batch_norm(b.conv(x, 8, {.kernel = 3, .padding = 1}, "conv1"), "bn1")));
    h = b.max_pool(b.relu(b.batch_norm(b.conv(h, 16, {.kernel = 3, .padding = 1}, "conv2"), "bn2")));
    b.output(b.linear(b.flatten(h), 10, true, "fc"));
    hone::Graph<float> model = b.build();

    ht::Adam<float> optimizer(model, {.lr = 3e-3});
    ht::TrainerOptions options{.epochs = 4, .batch_size = 32, .seed = 1, .progress = ht::Progress::none};
    ht::Trainer<float> trainer(model, optimizer, nullptr, options);
    const ht::History history = trainer.fit(train);
    for (const ht::EpochRecord& e : history.epochs)
      std::printf("epoch %zu: train loss %.4f, train accuracy %.3f (%.2f s)\n", e.epoch + 1, e.train_loss,
                  e.train_accuracy, e.seconds);

    const double accuracy = trainer.evaluate(test).accuracy();
    std::printf("test accuracy %.3f on %zu images of 10 classes (chance 0.100, required 0.60)\n", accuracy,
                test.size());
    return accuracy >= 0.60 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "builder_from_scratch: %s\n", e.what());
    return 1;
  }
}
