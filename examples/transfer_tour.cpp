#include <hone/transfer/harness.hpp>
#include <hone/transfer/rank.hpp>
#include <hone/transfer/report.hpp>
#include <cstdio>
#include <exception>
#include <string>

// Usage: transfer_tour DIR (Fashion-MNIST's IDX files, e.g. /usr/share/datasets/fashion-mnist).
// Pretrains a small CNN on classes 0-4, then asks: where to cut it for classes 5-9, and does
// transfer beat training from scratch there? Writes transfer.json/.md/-time.svg.
int main(int argc, char** argv) {
  if (argc != 2) return 2;
  namespace ht = hone::train;
  namespace tr = hone::transfer;
  try {
    const std::string dir = argv[1];
    auto all = hone::data::idx_dataset(dir + "/train-images-idx3-ubyte.gz", dir + "/train-labels-idx1-ubyte.gz",
                                       {}, 1, hone::data::fashion_mnist_classes());
    auto source = all.filter_classes(std::vector<std::int64_t>{0, 1, 2, 3, 4}).k_shot(1200, 1);
    auto [train, val] = all.filter_classes(std::vector<std::int64_t>{5, 6, 7, 8, 9}).k_shot(40, 2).split(0.75, 3);

    hone::Builder<float> b(1);  // five conv blocks, then two linear layers
    auto x = b.input("image", {1, 28, 28});
    auto h = b.max_pool(b.relu(b.conv(x, 8, {.kernel = 3, .padding = 1}, "conv1")));
    h = b.max_pool(b.relu(b.conv(h, 16, {.kernel = 3, .padding = 1}, "conv2")));
    h = b.max_pool(b.relu(b.conv(h, 32, {.kernel = 3, .padding = 1}, "conv3")));
    auto block4 = b.relu(b.conv(h, 32, {.kernel = 3, .padding = 1}, "conv4"));
    h = b.relu(b.conv(block4, 32, {.kernel = 3, .padding = 1}, "conv5"));
    auto features = b.relu(b.linear(b.flatten(h), 64, true, "fc1"));
    b.output(b.linear(features, 5, true, "fc2"));
    auto model = b.build();
    ht::Adam<float> opt(model, {.lr = 2e-3});
    ht::Trainer<float>(model, opt, nullptr, {.epochs = 5, .batch_size = 64, .progress = ht::Progress::none}).fit(source);

    const auto rows = tr::rank_cuts(model, {block4.name, features.name}, train);
    std::printf("%s", tr::to_markdown(rows).c_str());
    const tr::Comparison c = tr::compare_transfer(model, train, val, {.epochs = 10, .batch_size = 10});
    std::printf("%s", tr::to_markdown(c).c_str());
    tr::write_report(c, "transfer");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "transfer_tour: %s\n", e.what());
    return 1;
  }
}
