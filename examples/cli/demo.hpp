// examples/cli/demo.hpp — `hone demo`: the main job in one command. A small CNN pretrained by
// hone on Fashion-MNIST classes 0-4 (data/pretrained/fashion_0to4.onnx) is fine-tuned to
// classes 5-9 with a few images per class, the same network is trained from scratch on the
// same images with the same recipe, budget and seed (hone::transfer::compare_transfer), and
// the tool says how both did: accuracy, time to accuracy, the training time saved, and
// where the plot, the reports and the tuned model went.
#pragma once

#include <chrono>        // the whole run's time
#include <cstdint>       // class indices
#include <cstdio>        // the summary
#include <filesystem>    // the output folder, the model beside the program
#include <optional>      // --model, --threads
#include <string>        // paths
#include <system_error>  // std::error_code: create_directories, read_symlink
#include <vector>        // candidate paths

#include "hone/onnx/export.hpp"
#include "hone/transfer/harness.hpp"
#include "hone/transfer/report.hpp"

#include "common.hpp"

#ifndef HONE_CLI_PRETRAINED
#define HONE_CLI_PRETRAINED "data/pretrained/fashion_0to4.onnx"
#endif

namespace hone_cli {

inline constexpr const char* kDemoUsage =
    "usage: hone demo [--out DIR] [--per-class K] [--epochs E] [--threads N] [--seed S] [--model MODEL.onnx]\n";

inline constexpr const char* kDemoHelp =
    "\n"
    "Fine-tunes a CNN that hone pretrained on Fashion-MNIST classes 0-4 (T-shirt/top, Trouser,\n"
    "Pullover, Dress, Coat) to classes 5-9 (Sandal, Shirt, Sneaker, Bag, Ankle boot) with K\n"
    "training images per class, trains the same network from scratch on the same images with\n"
    "the same recipe (Adam 1e-3, batch 10, all parameters), and compares them on 100 test\n"
    "images per class. Reads Fashion-MNIST from /usr/share/datasets/fashion-mnist (Debian's\n"
    "dataset-fashion-mnist). Writes DIR/transfer.json, DIR/transfer.md (the report),\n"
    "DIR/transfer-time.svg (accuracy against training time) and DIR/tuned.onnx.\n"
    "\n"
    "  --out DIR         where the files go, created if needed [hone-demo]\n"
    "  --per-class K     training images per class [10]\n"
    "  --epochs E        epochs of each run [10]\n"
    "  --threads N       compute threads [all CPUs]\n"
    "  --seed S          the new head, the scratch model's initialisation and the shuffling [5];\n"
    "                    the images are a fixed sample (the tests')\n"
    "  --model FILE      start from this ONNX model instead (input (N, 1, 28, 28))\n";

inline const std::string kFashionDir = "/usr/share/datasets/fashion-mnist";

/// The pretrained model: beside the installed program (PREFIX/share/hone/), else the
/// source tree's data/pretrained/ (the build's path, compiled in). Throws InvalidArgument
/// naming both when neither exists.
inline std::string default_pretrained() {
  namespace fs = std::filesystem;
  std::vector<std::string> candidates;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) candidates.push_back((exe.parent_path().parent_path() / "share" / "hone" / "fashion_0to4.onnx").string());
  candidates.push_back(HONE_CLI_PRETRAINED);
  for (const auto& c : candidates)
    if (fs::is_regular_file(c, ec)) return c;
  throw hone::InvalidArgument(hone::detail::concat("the pretrained model is missing (looked for ", join(candidates, " and "),
                                                   "); give one with --model, or write it with hone_make_pretrained "
                                                   "(see data/pretrained/README.md)"));
}

/// One split of Fashion-MNIST; throws InvalidArgument naming the Debian package when the
/// files are missing.
inline hone::data::Dataset fashion_split(bool train_split) {
  const std::string set = train_split ? "train" : "t10k";
  const std::string images = kFashionDir + "/" + set + "-images-idx3-ubyte.gz";
  const std::string labels = kFashionDir + "/" + set + "-labels-idx1-ubyte.gz";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(images, ec) || !std::filesystem::is_regular_file(labels, ec))
    throw hone::InvalidArgument(hone::detail::concat("Fashion-MNIST is not installed (", images,
                                                     " is missing): install Debian's dataset-fashion-mnist "
                                                     "(sudo apt-get install dataset-fashion-mnist, or "
                                                     "./scripts/install-deps)"));
  return hone::data::idx_dataset(images, labels, {}, 1, hone::data::fashion_mnist_classes());
}

inline int demo_main(const Args& args) {
  namespace tr = hone::transfer;
  namespace ht = hone::train;
  if (args.help) {
    std::fputs(kDemoUsage, stdout);
    std::fputs(kDemoHelp, stdout);
    return 0;
  }
  if (!args.positional.empty()) throw UsageError{"unexpected argument " + args.positional[0]};
  const std::string out_dir = args.value("--out").value_or("hone-demo");
  std::size_t per_class = 10, epochs = 10;
  std::uint64_t seed = 5;
  if (const auto v = args.value("--per-class")) per_class = parse_count("--per-class", *v);
  if (const auto v = args.value("--epochs")) epochs = parse_count("--epochs", *v);
  if (const auto v = args.value("--seed")) seed = parse_count("--seed", *v, 0);
  if (const auto v = args.value("--threads")) hone::set_num_threads(parse_count("--threads", *v));
  const auto start = std::chrono::steady_clock::now();

  const std::string model_path = args.value("--model").value_or("");
  const std::string pretrained_path = model_path.empty() ? default_pretrained() : model_path;
  const hone::Graph<float> pretrained = load_model(pretrained_path);
  const Geometry g = model_geometry(pretrained);
  if (g.channels != 1 || g.height != 28 || g.width != 28)
    throw hone::InvalidArgument(hone::detail::concat("the model's input \"", g.input, "\" takes (", g.channels, ", ",
                                                     g.height, ", ", g.width,
                                                     ") images; the demo needs Fashion-MNIST's (1, 28, 28)"));

  // The target task of the tests: classes 5-9, K images per class (sample seed 2) to train
  // on, 100 per class of the test split (sample seed 3) to validate on.
  const std::vector<std::int64_t> target = {5, 6, 7, 8, 9};
  const hone::data::Dataset train = fashion_split(true).filter_classes(target).k_shot(per_class, 2);
  const hone::data::Dataset val = fashion_split(false).filter_classes(target).k_shot(100, 3);

  // compare_transfer's default recipe (all parameters, Adam at a constant rate, no weight
  // decay), keeping a copy of the model of its first run, the transfer run.
  tr::HarnessOptions o;
  o.epochs = epochs;
  o.batch_size = 10;
  o.seed = seed;
  hone::Graph<float> tuned;
  bool have_tuned = false;
  o.recipe = [&](hone::Graph<float>& model, const hone::data::Dataset& t, const hone::data::Dataset* v) {
    ht::RecipeResult r = tr::default_fine_tune(o).run(model, t, v);
    if (!have_tuned) {
      tuned = model.clone();
      have_tuned = true;
    }
    return r;
  };
  std::fprintf(stderr, "hone demo: fine-tuning %s and training from scratch, %zu epochs each...\n",
               pretrained_path.c_str(), epochs);
  const tr::Comparison c = tr::compare_transfer(pretrained, train, val, o);

  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) throw hone::IOError(hone::detail::concat("cannot create the folder \"", out_dir, "\": ", ec.message()));
  const std::string prefix = (std::filesystem::path(out_dir) / "transfer").string();
  const std::vector<std::string> written = tr::write_report(c, prefix);
  const std::string tuned_path = (std::filesystem::path(out_dir) / "tuned.onnx").string();
  hone::onnx::save(tuned, tuned_path);
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  auto when = [](const tr::RunRecord& r) {
    if (r.epochs_to_target < 0) return std::string("not reached");
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f s (epoch %lld)", r.time_to_target, static_cast<long long>(r.epochs_to_target));
    return std::string(buf);
  };
  std::printf("hone demo: Fashion-MNIST, a CNN pretrained by hone on classes 0-4 (T-shirt/top, Trouser, "
              "Pullover, Dress, Coat)\n");
  std::printf("task: classes 5-9 (Sandal, Shirt, Sneaker, Bag, Ankle boot), %zu training images per class, "
              "%zu validation images, %zu epochs each\n",
              per_class, c.val_samples, epochs);
  std::printf("transfer accuracy: %.3f (best %.3f), %.2f s training\n", c.transfer.final_accuracy,
              c.transfer.best_accuracy, c.transfer.train_seconds);
  std::printf("scratch accuracy:  %.3f (best %.3f), %.2f s training\n", c.scratch.final_accuracy,
              c.scratch.best_accuracy, c.scratch.train_seconds);
  std::printf("time to %.3f (scratch's best): transfer %s, scratch %s\n", c.target_accuracy, when(c.transfer).c_str(),
              when(c.scratch).c_str());
  if (c.time_saving == c.time_saving) std::printf("training time saved: %.1f %%\n", 100 * c.time_saving);
  else std::printf("training time saved: n/a (a run never reached the target)\n");
  std::printf("plot: %s\n", written[2].c_str());
  std::printf("report: %s, %s\n", written[0].c_str(), written[1].c_str());
  std::printf("tuned model: %s\n", tuned_path.c_str());
  std::printf("total time: %.1f s\n", total);
  return 0;
}

inline const std::vector<OptionSpec>& demo_options() {
  static const std::vector<OptionSpec> specs = {{"--out"},     {"--per-class"}, {"--epochs"},
                                                {"--threads"}, {"--seed"},      {"--model"}};
  return specs;
}

}  // namespace hone_cli
