#include <hone/onnx/export.hpp>
#include <hone/train.hpp>
#include <cstdio>
#include <exception>
#include <string>

// Usage: train_tour DIR, where DIR holds Fashion-MNIST's IDX files (Debian's
// dataset-fashion-mnist: /usr/share/datasets/fashion-mnist). Writes tuned.onnx.
int main(int argc, char** argv) {
  if (argc != 2) return 2;
  namespace ht = hone::train;
  try {
    const std::string dir = argv[1];
    auto all = hone::data::idx_dataset(dir + "/train-images-idx3-ubyte.gz", dir + "/train-labels-idx1-ubyte.gz",
                                       {}, 1, hone::data::fashion_mnist_classes());
    auto shoes = all.filter_classes(std::vector<std::string>{"Sandal", "Sneaker", "Ankle boot"});
    auto [train, val] = shoes.k_shot(40, /*seed=*/1).split(0.25, /*seed=*/1);

    hone::Builder<float> b(/*seed=*/1);  // stands in for hone::onnx::load<float>("pretrained.onnx")
    auto x = b.input("image", {1, 28, 28});
    auto h = b.max_pool(b.relu(b.batch_norm(b.conv(x, 8, {.kernel = 3, .padding = 1}, "conv1"), "bn1")));
    h = b.max_pool(b.relu(b.batch_norm(b.conv(h, 16, {.kernel = 3, .padding = 1}, "conv2"), "bn2")));
    b.output(b.linear(b.flatten(h), 10, true, "fc"));
    hone::Graph<float> model = b.build();

    ht::replace_head(model, 3);                       // fc: 10 -> 3 classes, freshly initialised
    ht::FineTune recipe;                              // fastai: head first, then everything
    recipe.epochs = 3;
    recipe.options.trainer.batch_size = 10;
    recipe.options.trainer.progress = ht::Progress::lines;
    const ht::RecipeResult result = recipe.run(model, train, &val);
    for (const auto& phase : result.phases) std::printf("%s\n", phase.c_str());
    std::printf("best val accuracy %.3f (epoch %zu)\n", result.history.best_val_accuracy,
                result.history.best_epoch + 1);
    hone::onnx::save(model, "tuned.onnx");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_tour: %s\n", e.what());
    return 1;
  }
}
