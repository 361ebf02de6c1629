// Choosing the backbone and the cut point before training (hone::transfer::rank): for
// Fashion-MNIST classes 5-9, is a CNN pretrained by hone on classes 0-4
// (data/pretrained/fashion_0to4.onnx) a better start than the same network with random
// weights, and which layer's features should the new head read? Every candidate's features
// on 200 target images are scored by LogME (plus H-score, GBC, LEEP, NCE) next to the
// held-out accuracy of a linear probe; the table is printed best LogME first, and the best
// candidate is cut there, ready for a new head. Measured: the pretrained network's relu4
// (conv4's output) ranks first (probe accuracy 0.88), and its penultimate features (relu6,
// specialised to classes 0-4) below random weights. About 2 s on 2 cores. Needs Eigen
// (link hone::eigen).
// Usage: rank_cut MODEL.onnx DIR   (DIR: Fashion-MNIST's IDX files, e.g. Debian's
// dataset-fashion-mnist: /usr/share/datasets/fashion-mnist)
#include <algorithm>  // std::max_element
#include <cstdint>    // class labels
#include <cstdio>     // results
#include <exception>  // std::exception
#include <string>     // paths, cut names
#include <vector>     // candidates

#include <hone/onnx/import.hpp>
#include <hone/transfer/harness.hpp>  // reinitialize
#include <hone/transfer/rank.hpp>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fputs("usage: rank_cut MODEL.onnx FASHION_MNIST_DIR\n", stderr);
    return 2;
  }
  namespace tr = hone::transfer;
  try {
    const std::string dir = argv[2];
    const auto target = hone::data::idx_dataset(dir + "/train-images-idx3-ubyte.gz", dir + "/train-labels-idx1-ubyte.gz",
                                                {}, 1, hone::data::fashion_mnist_classes())
                            .filter_classes(std::vector<std::int64_t>{5, 6, 7, 8, 9})
                            .k_shot(40, /*seed=*/2);

    const hone::Graph<float> pretrained = hone::onnx::load<float>(argv[1]);
    hone::Graph<float> random = pretrained.clone();
    tr::reinitialize(random, /*seed=*/1);  // the same architecture, PyTorch's default init

    // Cut points: value names of the model (`hone info MODEL.onnx` lists them); "" is the
    // head's input, the penultimate features.
    std::vector<tr::Candidate> candidates;
    for (const std::string cut : {"maxpool2", "maxpool3", "relu4", "relu5", ""}) {
      candidates.push_back({"pretrained", &pretrained, cut});
      candidates.push_back({"random", &random, cut});
    }
    const std::vector<tr::RankRow> rows = tr::rank(candidates, target, {.seed = 1});
    std::printf("%s", tr::to_markdown(rows).c_str());

    const tr::RankRow& best = *std::max_element(rows.begin(), rows.end(),
                                                [](const tr::RankRow& a, const tr::RankRow& b) { return a.logme < b.logme; });
    std::printf("chosen: %s at %s (LogME %.4f, probe accuracy %.3f, %lld features)\n", best.name.c_str(),
                best.cut.c_str(), best.logme, best.probe_accuracy, static_cast<long long>(best.feature_dim));
    hone::Graph<float> backbone = (best.name == "pretrained" ? pretrained : random).clone();
    hone::train::truncate_at(backbone, best.cut);  // next: attach_head, then fine-tune
    std::printf("backbone: %zu nodes, %zu parameter tensors, output \"%s\"\n", backbone.nodes().size(),
                backbone.parameters().size(), backbone.outputs()[0].c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rank_cut: %s\n", e.what());
    return 1;
  }
}
