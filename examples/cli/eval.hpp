// examples/cli/eval.hpp — `hone eval`: accuracy, top-5 and the confusion matrix of an ONNX
// classifier on an image folder or IDX files.
#pragma once

#include <cstdio>    // the report
#include <optional>  // --per-class
#include <string>    // names
#include <vector>    // lists

#include "common.hpp"

namespace hone_cli {

inline constexpr const char* kEvalUsage =
    "usage: hone eval MODEL.onnx --data DATA [--batch B] [--classes LIST] [--per-class K] [--seed S]\n"
    "         [--threads N] [--image-size HxW] [--grayscale] [--mean a,b,c] [--std a,b,c]\n";

inline constexpr const char* kEvalHelp =
    "\n"
    "Evaluates the classifier MODEL.onnx (inference mode) on DATA, an image folder (one\n"
    "subfolder per class) or idx:IMAGES:LABELS, preprocessed as `hone finetune` does (resize\n"
    "to the model's input, grey replicated for RGB models, no augmentation). The model's\n"
    "output width must equal the number of classes (after --classes). Prints the loss, the\n"
    "accuracy, the top-5 accuracy (more than 5 classes) and the confusion matrix.\n"
    "\n"
    "  --batch B         samples per batch [32]\n"
    "  --classes LIST    keep these classes (names or 0-based indices, comma-separated), in order\n"
    "  --per-class K     evaluate on K images per class (seeded by --seed [0])\n"
    "  --threads N       compute threads [all CPUs]\n"
    "  --image-size HxW, --grayscale, --mean a,b,c, --std a,b,c   as for hone finetune\n";

inline int eval_main(const Args& args) {
  if (args.help) {
    std::fputs(kEvalUsage, stdout);
    std::fputs(kEvalHelp, stdout);
    return 0;
  }
  const std::string model_path = args.model();
  const auto data_text = args.value("--data");
  if (!data_text) throw UsageError{"missing --data DATA"};
  const DataSpec spec = parse_data_spec("--data", *data_text);
  std::size_t batch = 32;
  if (const auto v = args.value("--batch")) batch = parse_count("--batch", *v);
  std::vector<std::string> class_items;
  if (const auto v = args.value("--classes")) class_items = split_list("--classes", *v);
  std::uint64_t seed = 0;
  if (const auto v = args.value("--seed")) seed = parse_count("--seed", *v, 0);
  std::optional<std::size_t> per_class;
  if (const auto v = args.value("--per-class")) per_class = parse_count("--per-class", *v);
  if (const auto v = args.value("--threads")) hone::set_num_threads(parse_count("--threads", *v));

  hone::Graph<float> model = load_model(model_path);
  const Geometry geometry = model_geometry(model);
  const Preprocess pre = read_preprocess(args, geometry);
  if (pre.height != geometry.height || pre.width != geometry.width)
    model = with_input_size(model, pre.height, pre.width);
  hone::data::Dataset data = load_data(spec, pre, make_pipeline(pre, false));
  if (!class_items.empty()) data = data.filter_classes(resolve_classes(data, class_items));
  if (per_class) data = data.k_shot(*per_class, seed);
  if (data.empty()) throw hone::InvalidArgument("the data holds no image");
  const std::string logits = logits_value(model);
  const std::int64_t width = output_width(model, logits);
  if (width != static_cast<std::int64_t>(data.num_classes()))
    throw hone::InvalidArgument(hone::detail::concat(
        "the model's output \"", logits, "\" has ", width, " classes but the data has ", data.num_classes(), " (",
        join(data.class_names()), "); choose ", width, " classes with --classes, or fine-tune the model first"));

  const hone::train::Evaluation ev = evaluate(model, data, logits, batch, loader_workers(spec));
  const auto& cm = ev.confusion;
  std::printf("model: %s\n", model_path.c_str());
  std::printf("data: %s, %zu images, %zu classes\n", spec.text.c_str(), data.size(), data.num_classes());
  std::printf("loss: %.4f\n", ev.loss);
  long long correct = 0;
  for (std::size_t c = 0; c < cm.num_classes(); ++c) correct += cm.count(c, c);
  std::printf("accuracy: %.4f (%lld of %lld)\n", cm.accuracy(), correct, static_cast<long long>(cm.total()));
  if (data.num_classes() > 5) std::printf("top-5 accuracy: %.4f\n", cm.top_k_accuracy());
  std::printf("confusion matrix (rows: true class, columns: predicted class index):\n%s",
              cm.to_string(data.class_names()).c_str());
  return 0;
}

inline const std::vector<OptionSpec>& eval_options() {
  static const std::vector<OptionSpec> specs = {
      {"--data"},  {"--batch"},      {"--classes"},   {"--per-class"}, {"--seed"},
      {"--threads"}, {"--image-size"}, {"--grayscale", Arity::flag}, {"--mean"},  {"--std"}};
  return specs;
}

}  // namespace hone_cli
