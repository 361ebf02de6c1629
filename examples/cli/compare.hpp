// examples/cli/compare.hpp — `hone compare`: did transfer pay off on the user's data? The
// pretrained ONNX classifier fine-tuned and the same architecture trained from scratch on the
// same images with the same recipe, budget and seed (hone::transfer::compare_transfer),
// optionally over a k-shot sweep; the report (JSON, markdown, SVG) written to a prefix and
// the markdown printed.
#pragma once

#include <cstdint>   // seeds
#include <cstdio>    // the markdown
#include <filesystem>  // the report's folder
#include <optional>  // --per-class
#include <string>    // names
#include <system_error>  // std::error_code
#include <vector>    // lists

#include "hone/transfer/harness.hpp"
#include "hone/transfer/report.hpp"

#include "common.hpp"

namespace hone_cli {

inline constexpr const char* kCompareUsage =
    "usage: hone compare MODEL.onnx --data TRAIN --val VAL [--out PREFIX] [--epochs E] [--batch B] [--lr LR]\n"
    "         [--per-class K] [--val-per-class K] [--classes LIST] [--shots K1,K2,...] [--seed S] [--threads N]\n"
    "         [--image-size HxW] [--grayscale] [--mean a,b,c] [--std a,b,c]\n";

inline constexpr const char* kCompareHelp =
    "\n"
    "Fine-tunes the classifier MODEL.onnx on TRAIN and trains the same architecture from a\n"
    "fresh initialisation (PyTorch's defaults) on the same images, with the same recipe (all\n"
    "parameters, Adam at a constant rate, no weight decay), budget and seed; validates both on\n"
    "VAL after every epoch. Prints a markdown summary (accuracies, time to scratch's best\n"
    "accuracy, training time saved, memory, FLOPs) and writes PREFIX.json, PREFIX.md,\n"
    "PREFIX-time.svg and, with --shots, PREFIX-shots.svg. TRAIN and VAL as for hone finetune\n"
    "(an image folder or idx:IMAGES:LABELS), preprocessed the same way, not augmented.\n"
    "\n"
    "  --out PREFIX      where the report goes (its folder is created if needed) [compare]\n"
    "  --epochs E        epochs of each run [10]\n"
    "  --batch B         samples per step [16]\n"
    "  --lr LR           Adam's rate [1e-3]\n"
    "  --per-class K     train on K images per class (seeded)\n"
    "  --val-per-class K validate on K images per class (seeded)\n"
    "  --classes LIST    keep these classes (names or 0-based indices, comma-separated), in order\n"
    "  --shots LIST      also a k-shot sweep: both runs again on k images per class for each k\n"
    "  --seed S          sampling, shuffling, the new head and the scratch initialisation [0]\n"
    "  --threads N       compute threads [all CPUs]\n"
    "  --image-size HxW, --grayscale, --mean a,b,c, --std a,b,c   as for hone finetune\n";

inline int compare_main(const Args& args) {
  namespace tr = hone::transfer;
  namespace hd = hone::data;
  if (args.help) {
    std::fputs(kCompareUsage, stdout);
    std::fputs(kCompareHelp, stdout);
    return 0;
  }
  const std::string model_path = args.model();
  const auto data = args.value("--data"), val_text = args.value("--val");
  if (!data) throw UsageError{"missing --data TRAIN"};
  if (!val_text) throw UsageError{"missing --val VAL"};
  const DataSpec train_spec = parse_data_spec("--data", *data), val_spec = parse_data_spec("--val", *val_text);
  const std::string prefix = args.value("--out").value_or("compare");
  tr::HarnessOptions o;
  if (const auto v = args.value("--epochs")) o.epochs = parse_count("--epochs", *v);
  if (const auto v = args.value("--batch")) o.batch_size = parse_count("--batch", *v);
  if (const auto v = args.value("--lr")) {
    o.lr = parse_real("--lr", *v);
    if (!(o.lr > 0)) throw UsageError{"--lr: the learning rate must be positive"};
  }
  std::optional<std::size_t> per_class, val_per_class;
  if (const auto v = args.value("--per-class")) per_class = parse_count("--per-class", *v);
  if (const auto v = args.value("--val-per-class")) val_per_class = parse_count("--val-per-class", *v);
  std::vector<std::string> class_items;
  if (const auto v = args.value("--classes")) class_items = split_list("--classes", *v);
  if (const auto v = args.value("--shots"))
    for (const auto& k : split_list("--shots", *v)) o.shots.push_back(parse_count("--shots", k));
  if (const auto v = args.value("--seed")) o.seed = parse_count("--seed", *v, 0);
  if (const auto v = args.value("--threads")) hone::set_num_threads(parse_count("--threads", *v));

  hone::Graph<float> model = load_model(model_path);
  const Geometry geometry = model_geometry(model);
  const Preprocess pre = read_preprocess(args, geometry);
  if (pre.height != geometry.height || pre.width != geometry.width)
    model = with_input_size(model, pre.height, pre.width);

  const hd::Pipeline plain = make_pipeline(pre, false);
  hd::Dataset train = load_data(train_spec, pre, plain);
  std::vector<std::string> classes = train.class_names();
  if (!class_items.empty()) {
    classes = resolve_classes(train, class_items);
    train = train.filter_classes(classes);
  }
  hd::Dataset val = load_data(val_spec, pre, plain);
  if (!class_items.empty()) val = val.filter_classes(classes);
  if (val.class_names() != classes)
    throw hone::InvalidArgument(hone::detail::concat("the validation data's classes (", join(val.class_names()),
                                                     ") differ from the training data's (", join(classes), ")"));
  if (per_class) train = train.k_shot(*per_class, o.seed);
  if (val_per_class) val = val.k_shot(*val_per_class, o.seed);
  if (train.empty()) throw hone::InvalidArgument("the training set is empty");
  if (val.empty()) throw hone::InvalidArgument("the validation set is empty");

  // The recipe trains on the logits before a final Softmax/LogSoftmax.
  const std::string logits = logits_value(model);
  const std::string out = model.outputs()[0];
  if (logits != out) {
    o.recipe = [o, logits](hone::Graph<float>& m, const hd::Dataset& t, const hd::Dataset* v) {
      hone::train::FullFineTune ft = hone::transfer::default_fine_tune(o);  // o.progress is none
      ft.options.trainer.loss.logits = logits;
      return ft.run(m, t, v);
    };
  }
  std::fprintf(stderr, "hone compare: transfer and scratch on %zu training / %zu validation images of %zu classes, "
                       "%zu epochs each%s\n",
               train.size(), val.size(), classes.size(), o.epochs, o.shots.empty() ? "" : ", then the k-shot sweep");
  if (const auto folder = std::filesystem::path(prefix).parent_path(); !folder.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(folder, ec);
    if (ec) throw hone::IOError(hone::detail::concat("cannot create the folder \"", folder.string(), "\": ", ec.message()));
  }
  const tr::Comparison c = tr::compare_transfer(model, train, val, o);
  const std::vector<std::string> written = tr::write_report(c, prefix);
  std::printf("%s\n", tr::to_markdown(c).c_str());
  std::printf("report: %s\n", join(written).c_str());
  return 0;
}

inline const std::vector<OptionSpec>& compare_options() {
  static const std::vector<OptionSpec> specs = {
      {"--data"},      {"--val"},           {"--out"},     {"--epochs"},  {"--batch"},
      {"--lr"},        {"--per-class"},     {"--val-per-class"},          {"--classes"},
      {"--shots"},     {"--seed"},          {"--threads"}, {"--image-size"}, {"--grayscale", Arity::flag},
      {"--mean"},      {"--std"}};
  return specs;
}

}  // namespace hone_cli
