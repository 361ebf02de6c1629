// examples/cli/rank.hpp — `hone rank`: choose the model and the cut before training. Each
// ONNX model (and each --cut inside it) is scored on the target data with
// hone::transfer::rank (LogME, H-score, GBC, LEEP, NCE and a linear probe's held-out
// accuracy) and the table printed as markdown, best LogME first. The scores need Eigen:
// built without hone::eigen, the command says so and exits 1.
#pragma once

#include <cstdint>     // seeds
#include <cstdio>      // the table
#include <filesystem>  // candidate names
#include <optional>    // --per-class
#include <string>      // names
#include <vector>      // rows

#include "common.hpp"

#if defined(HONE_HAS_EIGEN)
#include "hone/core/json.hpp"
#include "hone/transfer/rank.hpp"
#endif

namespace hone_cli {

inline constexpr const char* kRankUsage =
    "usage: hone rank MODEL.onnx [MODEL2.onnx ...] --data DATA [--cut VALUE]... [--per-class K] [--classes LIST]\n"
    "         [--json OUT.json] [--batch B] [--seed S] [--threads N]\n"
    "         [--image-size HxW] [--grayscale] [--mean a,b,c] [--std a,b,c]\n";

inline constexpr const char* kRankHelp =
    "\n"
    "Scores how well each model's features suit DATA before any training: the backbone runs\n"
    "once over DATA (inference mode) up to the cut, features are averaged over their spatial\n"
    "axes, and LogME, H-score and GBC are computed on them, LEEP and NCE on the softmax of the\n"
    "model's own output, plus the held-out accuracy of a linear probe trained on the features\n"
    "(30 % of each class held out). Higher is better for every score. Prints a markdown table,\n"
    "best LogME first. DATA as for hone finetune, preprocessed for each model's input.\n"
    "\n"
    "  --cut VALUE       score the features at this value (repeatable; every model is cut at\n"
    "                    each); default: the head's input (the penultimate features)\n"
    "  --per-class K     use K images per class (seeded)\n"
    "  --classes LIST    keep these classes (names or 0-based indices, comma-separated), in order\n"
    "  --json FILE       also write the rows as JSON\n"
    "  --batch B         samples per batch of the feature pass [64]\n"
    "  --seed S          sampling, the probe's split and initialisation [0]\n"
    "  --threads N       compute threads [all CPUs]\n"
    "  --image-size HxW, --grayscale, --mean a,b,c, --std a,b,c   as for hone finetune\n";

inline int rank_main(const Args& args) {
  if (args.help) {
    std::fputs(kRankUsage, stdout);
    std::fputs(kRankHelp, stdout);
    return 0;
  }
  if (args.positional.empty()) throw UsageError{"missing MODEL.onnx"};
  const auto data_text = args.value("--data");
  if (!data_text) throw UsageError{"missing --data DATA"};
  const DataSpec spec = parse_data_spec("--data", *data_text);
  const std::vector<std::string> cuts = args.values("--cut");
  std::optional<std::size_t> per_class;
  if (const auto v = args.value("--per-class")) per_class = parse_count("--per-class", *v);
  std::vector<std::string> class_items;
  if (const auto v = args.value("--classes")) class_items = split_list("--classes", *v);
  const std::string json_path = args.value("--json").value_or("");
  std::size_t batch = 64;
  if (const auto v = args.value("--batch")) batch = parse_count("--batch", *v);
  std::uint64_t seed = 0;
  if (const auto v = args.value("--seed")) seed = parse_count("--seed", *v, 0);
  if (const auto v = args.value("--threads")) hone::set_num_threads(parse_count("--threads", *v));
#if !defined(HONE_HAS_EIGEN)
  (void)spec, (void)cuts, (void)per_class, (void)class_items, (void)json_path, (void)batch, (void)seed;
  throw hone::UnsupportedError(
      "this hone was built without Eigen, which the transferability scores need (install libeigen3-dev, "
      "e.g. with scripts/install-deps, and rebuild)");
#else
  namespace tr = hone::transfer;
  tr::RankOptions o;
  o.batch_size = batch;
  o.seed = seed;
  // Each model gets the data preprocessed for its own input, so models of different input
  // sizes or channels can be compared on the same images.
  std::vector<tr::RankRow> rows;
  for (const auto& path : args.positional) {
    hone::Graph<float> model = load_model(path);
    const Geometry geometry = model_geometry(model);
    const Preprocess pre = read_preprocess(args, geometry);
    if (pre.height != geometry.height || pre.width != geometry.width)
      model = with_input_size(model, pre.height, pre.width);
    hone::data::Dataset data = load_data(spec, pre, make_pipeline(pre, false));
    if (!class_items.empty()) data = data.filter_classes(resolve_classes(data, class_items));
    if (per_class) data = data.k_shot(*per_class, seed);
    if (data.empty()) throw hone::InvalidArgument("the data holds no image");
    const std::string name = std::filesystem::path(path).filename().string();
    std::vector<tr::Candidate> candidates;
    if (cuts.empty()) candidates.push_back({name, &model, ""});
    for (const auto& cut : cuts) candidates.push_back({name, &model, cut});
    std::fprintf(stderr, "hone rank: %s on %zu images of %zu classes\n", path.c_str(), data.size(),
                 data.num_classes());
    for (auto& row : tr::rank(candidates, data, o)) rows.push_back(std::move(row));
  }
  std::printf("%s", tr::to_markdown(rows).c_str());
  if (!json_path.empty()) {
    hone::write_text_file(json_path, tr::to_json(rows), "the JSON rows");
    std::printf("json: %s\n", json_path.c_str());
  }
  return 0;
#endif
}

inline const std::vector<OptionSpec>& rank_options() {
  static const std::vector<OptionSpec> specs = {
      {"--data"},  {"--cut", Arity::repeated}, {"--per-class"}, {"--classes"}, {"--json"},
      {"--batch"}, {"--seed"},  {"--threads"}, {"--image-size"}, {"--grayscale", Arity::flag},
      {"--mean"},  {"--std"}};
  return specs;
}

}  // namespace hone_cli
