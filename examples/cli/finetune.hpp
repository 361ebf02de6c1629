// examples/cli/finetune.hpp — `hone finetune`: an ONNX classifier fine-tuned on an image
// folder or IDX files with one of hone::train's recipes, saved as ONNX, with a JSON report.
#pragma once

#include <charconv>  // std::to_chars: report numbers
#include <chrono>    // training time
#include <cstdint>   // counts
#include <cstdio>    // summary and notes
#include <memory>    // the optimizer of the masked full fine-tune
#include <optional>  // optional settings
#include <string>    // names
#include <utility>   // std::pair
#include <vector>    // lists

#include "hone/core/json.hpp"
#include "hone/core/memory.hpp"
#include "hone/onnx/export.hpp"

#include "common.hpp"

namespace hone_cli {

inline constexpr const char* kFinetuneUsage =
    "usage: hone finetune MODEL.onnx --data TRAIN [--val VAL] --out TUNED.onnx [--report REPORT.json]\n"
    "         [--epochs E] [--batch B] [--lr LR] [--optimizer sgd|adam|adamw]\n"
    "         [--strategy linear-probe|full|lp-ft|gradual|fine-tune] [--freeze GLOB]... [--unfreeze GLOB]...\n"
    "         [--bn train|frozen|adabn] [--per-class K] [--val-per-class K] [--classes LIST]\n"
    "         [--seed S] [--threads N] [--image-size HxW] [--grayscale] [--mean a,b,c] [--std a,b,c] [--keep-head]\n";

inline constexpr const char* kFinetuneHelp =
    "\n"
    "Fine-tunes the classifier MODEL.onnx on TRAIN and writes TUNED.onnx. TRAIN and VAL are an\n"
    "image folder (one subfolder per class) or idx:IMAGES:LABELS (IDX files, gzipped or not).\n"
    "Without --val, 20 % of each class of TRAIN (seeded) is held out for validation.\n"
    "The input size and channels come from the model's input (N, C, H, W); images are resized\n"
    "to it, grey images are replicated for 3-channel models. A new head sized to the classes\n"
    "found replaces the model's (--keep-head keeps it when its width already matches: to go on\n"
    "training on the source's own classes). Image folders are augmented with a random\n"
    "horizontal flip; IDX data is not augmented.\n"
    "\n"
    "  --epochs E        linear-probe, full, gradual: E in all; lp-ft: E probing + E fine-tuning;\n"
    "                    fine-tune: 1 frozen + E unfrozen (fastai) [5]\n"
    "  --batch B         samples per step [32]\n"
    "  --lr LR           linear-probe: the head's rate [1e-3]; full: all parameters [1e-4];\n"
    "                    lp-ft: the probe's rate, fine-tuning at LR/10 [1e-3]; gradual: the top\n"
    "                    group, /2.6 per group below [1e-3]; fine-tune: base_lr [2e-3]\n"
    "  --optimizer O     sgd (momentum 0.9), adam or adamw [adamw, weight decay 0.01]\n"
    "  --strategy S      linear-probe, full, lp-ft, gradual or fine-tune [fine-tune]; one-cycle\n"
    "  --freeze GLOB     with --strategy full only: keep the matching parameters frozen;\n"
    "  --unfreeze GLOB   make them trainable again; applied in command-line order after\n"
    "                    everything is unfrozen ('*' matches dots too: 'conv1.*')\n"
    "  --bn P            BatchNorm: train (batch statistics), frozen (running statistics) or\n"
    "                    adabn (statistics re-estimated on TRAIN first, then frozen); full,\n"
    "                    lp-ft and gradual default to train, linear-probe is always frozen,\n"
    "                    fine-tune always train\n"
    "  --per-class K     train on K images per class (seeded)\n"
    "  --val-per-class K validate on K images per class (seeded)\n"
    "  --classes LIST    keep these classes (names or 0-based indices, comma-separated), in order\n"
    "  --seed S          data split, sampling, shuffling, augmentation and the new head [0]\n"
    "  --keep-head       keep the model's head (its width must equal the number of classes)\n"
    "  --threads N       compute threads [all CPUs]\n"
    "  --image-size HxW  train at this size (the tuned model declares it) instead of the\n"
    "                    model's; models whose layers depend on the size reject it\n"
    "  --grayscale       read images as grey (replicated to 3 channels for RGB models)\n"
    "  --mean, --std     normalisation, 1 or C values each [ImageNet's for 3 channels,\n"
    "                    0 and 1 (none) for 1]\n"
    "  --report FILE     a JSON report: accuracies, time, peak memory, history, phases, options\n";

/// Everything the command line says, checked and with the defaults resolved.
struct FinetuneSettings {
  std::string model, out, report;
  DataSpec train, val;
  bool has_val = false;
  std::size_t epochs = 5, batch = 32;
  std::optional<double> lr;  ///< absent: the strategy's default
  std::string optimizer = "adamw", strategy = "fine-tune", bn;
  std::vector<std::pair<std::string, std::string>> masks;  ///< --freeze/--unfreeze in order
  std::optional<std::size_t> per_class, val_per_class;
  std::vector<std::string> classes;
  std::uint64_t seed = 0;
  std::optional<std::size_t> threads;
  bool keep_head = false;
};

inline FinetuneSettings parse_finetune(const Args& args) {
  FinetuneSettings s;
  s.model = args.model();
  const auto data = args.value("--data"), out = args.value("--out");
  if (!data) throw UsageError{"missing --data TRAIN"};
  if (!out) throw UsageError{"missing --out TUNED.onnx"};
  s.train = parse_data_spec("--data", *data);
  s.out = *out;
  if (const auto v = args.value("--val")) {
    s.val = parse_data_spec("--val", *v);
    s.has_val = true;
  }
  s.report = args.value("--report").value_or("");
  if (const auto v = args.value("--epochs")) s.epochs = parse_count("--epochs", *v);
  if (const auto v = args.value("--batch")) s.batch = parse_count("--batch", *v);
  if (const auto v = args.value("--lr")) {
    s.lr = parse_real("--lr", *v);
    if (!(*s.lr > 0)) throw UsageError{"--lr: the learning rate must be positive"};
  }
  if (const auto v = args.value("--optimizer")) s.optimizer = parse_choice("--optimizer", *v, {"sgd", "adam", "adamw"});
  const auto strategy = args.value("--strategy");
  if (strategy)
    s.strategy = parse_choice("--strategy", *strategy, {"linear-probe", "full", "lp-ft", "gradual", "fine-tune"});
  if (const auto v = args.value("--bn")) s.bn = parse_choice("--bn", *v, {"train", "frozen", "adabn"});
  for (const auto& [name, value] : args.ordered)
    if (name == "--freeze" || name == "--unfreeze") s.masks.emplace_back(name, value);
  if (const auto v = args.value("--per-class")) s.per_class = parse_count("--per-class", *v);
  if (const auto v = args.value("--val-per-class")) s.val_per_class = parse_count("--val-per-class", *v);
  if (const auto v = args.value("--classes")) s.classes = split_list("--classes", *v);
  if (const auto v = args.value("--seed")) s.seed = parse_count("--seed", *v, 0);
  s.keep_head = args.flag("--keep-head");
  if (const auto v = args.value("--threads")) s.threads = parse_count("--threads", *v);

  if (!s.masks.empty() && s.strategy != "full")
    throw UsageError{hone::detail::concat("--freeze/--unfreeze need --strategy full (",
                                          strategy ? "" : "the default is ", s.strategy,
                                          " here): the other strategies set what trains in each phase themselves")};
  if (s.strategy == "linear-probe" && s.bn == "train")
    throw UsageError{"--bn train does not apply to linear-probe, which keeps BatchNorm on its running statistics so "
                     "the backbone's features stay fixed (frozen or adabn do)"};
  if (s.strategy == "fine-tune" && (s.bn == "frozen" || s.bn == "adabn"))
    throw UsageError{hone::detail::concat("--bn ", s.bn, " does not apply to fine-tune (fastai's recipe trains "
                                          "BatchNorm with batch statistics); use --strategy full, lp-ft or gradual")};
  return s;
}

/// The history in History::to_json's form, as a value of `j`.
inline void write_history(hone::JsonWriter& j, const hone::train::History& h) { h.write_json(j); }

/// Full fine-tuning with some parameters kept frozen: FullFineTune's single phase (BatchNorm
/// policy, AdamW or the chosen optimizer over default_groups, one-cycle) after the
/// --freeze/--unfreeze globs are applied, in order, to a fully unfrozen model.
inline hone::train::RecipeResult full_with_masks(hone::Graph<float>& model, const hone::data::Dataset& train,
                                                 const hone::data::Dataset* val, std::size_t epochs, double lr,
                                                 hone::train::BnPolicy bn, bool has_bn,
                                                 const std::vector<std::pair<std::string, std::string>>& masks,
                                                 const hone::train::RecipeOptions& o) {
  namespace ht = hone::train;
  if (has_bn) ht::set_bn_policy(model, bn, "*", true);
  ht::unfreeze(model);
  std::string applied;
  for (const auto& [option, glob] : masks) {
    if (option == "--freeze") ht::freeze(model, glob);
    else ht::unfreeze(model, glob);
    applied += hone::detail::concat(applied.empty() ? "" : " ", option, " ", glob);
  }
  const ht::ParamSummary s = ht::summarize(model);
  if (s.trainable_tensors == 0)
    throw hone::InvalidArgument(hone::detail::concat("\"", applied, "\" leaves no parameter to train"));
  auto optimizer = ht::make_optimizer(model, ht::default_groups(model, lr, o.optimizer.weight_decay), o.optimizer);
  ht::TrainerOptions to = o.trainer;
  to.epochs = epochs;
  const std::int64_t steps = ht::Trainer<float>(model, *optimizer, nullptr, to).steps_per_epoch(train.size());
  ht::OneCycle cycle(std::max<std::int64_t>(1, steps * static_cast<std::int64_t>(epochs)));
  ht::Trainer<float> trainer(model, *optimizer, o.one_cycle ? &cycle : nullptr, to);
  ht::RecipeResult r;
  r.history = trainer.fit(train, val);
  r.phases.push_back(hone::detail::concat("full fine-tune: ", s.trainable_tensors, " of ",
                                          s.trainable_tensors + s.frozen_tensors, " parameter tensors trainable (",
                                          applied, "), ", epochs, " epochs, lr ", lr,
                                          bn == ht::BnPolicy::frozen ? ", BatchNorm frozen" : ""));
  return r;
}

/// Floats as the doubles their shortest decimal form reads as (0.485f -> 0.485, not
/// 0.48500001430511475), for the report.
inline std::vector<double> as_doubles(const std::vector<float>& values) {
  std::vector<double> out;
  for (float v : values) {
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    double d = static_cast<double>(v);
    if (ec == std::errc()) std::from_chars(buf, end, d);
    out.push_back(d);
  }
  return out;
}

inline bool has_batch_norm(const hone::Graph<float>& g) {
  for (const auto& n : g.nodes())
    if (n.op == "BatchNormalization") return true;
  return false;
}

/// The strategy's default main learning rate (the recipe's own default).
inline double default_lr(const std::string& strategy) {
  namespace ht = hone::train;
  if (strategy == "linear-probe" || strategy == "lp-ft") return ht::LinearProbe{}.lr;
  if (strategy == "full") return ht::FullFineTune{}.lr;
  if (strategy == "gradual") return ht::GradualUnfreezing{}.lr;
  return ht::FineTune{}.base_lr;
}

inline int finetune_main(const Args& args) {
  namespace ht = hone::train;
  namespace hd = hone::data;
  if (args.help) {
    std::fputs(kFinetuneUsage, stdout);
    std::fputs(kFinetuneHelp, stdout);
    return 0;
  }
  const FinetuneSettings s = parse_finetune(args);
  const double lr = s.lr.value_or(default_lr(s.strategy));
  if (s.threads) hone::set_num_threads(*s.threads);

  hone::Graph<float> model = load_model(s.model);
  const Geometry geometry = model_geometry(model);
  const Preprocess pre = read_preprocess(args, geometry);
  if (pre.height != geometry.height || pre.width != geometry.width) {
    model = with_input_size(model, pre.height, pre.width);
    std::fprintf(stderr, "hone finetune: note: training at %lldx%lld, the model declared %lldx%lld\n",
                 static_cast<long long>(pre.height), static_cast<long long>(pre.width),
                 static_cast<long long>(geometry.height), static_cast<long long>(geometry.width));
  }

  // Data: classes, the validation split, k-shot samples, then the transforms.
  const hd::Pipeline plain = make_pipeline(pre, false);
  hd::Dataset train = load_data(s.train, pre, plain);
  std::vector<std::string> classes = train.class_names();
  if (!s.classes.empty()) {
    classes = resolve_classes(train, s.classes);
    train = train.filter_classes(classes);
  }
  hd::Dataset val;
  if (s.has_val) {
    val = load_data(s.val, pre, plain);
    if (!s.classes.empty()) val = val.filter_classes(classes);
    if (val.class_names() != classes)
      throw hone::InvalidArgument(hone::detail::concat("the validation data's classes (", join(val.class_names()),
                                                       ") differ from the training data's (", join(classes), ")"));
  } else {
    std::tie(train, val) = train.split(0.2, s.seed);
    std::fprintf(stderr, "hone finetune: no --val: holding out 20 %% of each class of the training data "
                         "(seed %llu) for validation, %zu images\n",
                 static_cast<unsigned long long>(s.seed), val.size());
  }
  if (s.per_class) train = train.k_shot(*s.per_class, s.seed);
  if (s.val_per_class) val = val.k_shot(*s.val_per_class, s.seed);
  if (train.empty()) throw hone::InvalidArgument("the training set is empty");
  if (val.empty()) throw hone::InvalidArgument("the validation set is empty (give --val, or more data)");
  const hd::Dataset train_plain = train;
  if (!s.train.idx) train = train.with_transform(make_pipeline(pre, true));

  // The head: sized to the classes found.
  const auto num_classes = static_cast<std::int64_t>(classes.size());
  const ht::HeadInfo old_head = ht::find_head(model);
  if (s.keep_head && old_head.out_features != num_classes)
    throw hone::InvalidArgument(hone::detail::concat("--keep-head: the head \"", old_head.node, "\" has ",
                                                     old_head.out_features, " classes but the data has ", num_classes));
  const bool replaced = !s.keep_head;
  if (replaced) {
    ht::replace_head(model, num_classes, s.seed);
    std::fprintf(stderr, "hone finetune: new head \"%s\": %lld -> %lld classes\n", old_head.node.c_str(),
                 static_cast<long long>(old_head.out_features), static_cast<long long>(num_classes));
  } else {
    std::fprintf(stderr, "hone finetune: keeping the head \"%s\" (%lld classes)\n", old_head.node.c_str(),
                 static_cast<long long>(num_classes));
  }
  const std::string logits = logits_value(model);
  if (output_width(model, logits) != num_classes)
    throw hone::InvalidArgument(hone::detail::concat("the model's output \"", logits, "\" has ",
                                                     output_width(model, logits), " classes after the head \"",
                                                     old_head.node, "\", the data ", num_classes));

  // BatchNorm.
  const bool has_bn = has_batch_norm(model);
  if (!s.bn.empty() && !has_bn)
    throw hone::InvalidArgument(hone::detail::concat("--bn ", s.bn, ": the model has no BatchNormalization layer"));
  const ht::BnPolicy bn = s.bn == "frozen" || s.bn == "adabn" ? ht::BnPolicy::frozen : ht::BnPolicy::train;
  const std::size_t workers = loader_workers(s.train);
  if (s.bn == "adabn") {
    hd::Loader loader(train_plain, {s.batch, false, false, workers, 4, s.seed});
    loader.start_epoch(0);
    const std::size_t batches = ht::adabn<float>(model, [&]() -> std::optional<std::vector<hone::Tensor<float>>> {
      auto b = loader.next();
      if (!b) return std::nullopt;
      return std::vector<hone::Tensor<float>>{b->inputs};
    });
    std::fprintf(stderr,
                 "hone finetune: adabn: BatchNorm statistics re-estimated on %zu training images (%zu batches)\n",
                 train_plain.size(), batches);
  }

  ht::RecipeOptions ro;
  ro.optimizer.kind = s.optimizer == "sgd" ? ht::OptimizerKind::sgd
                      : s.optimizer == "adam" ? ht::OptimizerKind::adam : ht::OptimizerKind::adamw;
  ro.trainer.batch_size = s.batch;
  ro.trainer.seed = s.seed;
  ro.trainer.num_workers = workers;
  ro.trainer.loss.logits = logits;
  ro.trainer.progress = ht::Progress::automatic;

  std::fprintf(stderr, "hone finetune: %s on %zu training / %zu validation images of %zu classes\n",
               s.strategy.c_str(), train.size(), val.size(), classes.size());
  const auto start = std::chrono::steady_clock::now();
  ht::RecipeResult result;
  if (s.strategy == "linear-probe") {
    ht::LinearProbe r;
    r.epochs = s.epochs;
    r.lr = lr;
    r.options = ro;
    result = r.run(model, train, &val);
  } else if (s.strategy == "full" && !s.masks.empty()) {
    result = full_with_masks(model, train, &val, s.epochs, lr, bn, has_bn, s.masks, ro);
  } else if (s.strategy == "full") {
    ht::FullFineTune r;
    r.epochs = s.epochs;
    r.lr = lr;
    r.bn = bn;
    r.options = ro;
    result = r.run(model, train, &val);
  } else if (s.strategy == "lp-ft") {
    ht::LPFT r;
    r.probe.epochs = s.epochs;
    r.probe.lr = lr;
    r.probe.options = ro;
    r.ft_epochs = s.epochs;
    r.bn = bn;
    result = r.run(model, train, &val);
  } else if (s.strategy == "gradual") {
    ht::GradualUnfreezing r;
    r.epochs = s.epochs;
    r.lr = lr;
    r.bn = bn;
    r.options = ro;
    result = r.run(model, train, &val);
  } else {
    ht::FineTune r;
    r.epochs = s.epochs;
    r.base_lr = lr;
    r.options = ro;
    result = r.run(model, train, &val);
  }
  const double train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  // The saved model's own numbers (keep-best may have restored an earlier epoch).
  const ht::Evaluation final_eval = evaluate(model, val, logits, s.batch, loader_workers(s.has_val ? s.val : s.train));
  hone::onnx::save(model, s.out);
  const std::int64_t peak_rss = hone::peak_rss_bytes();

  if (!s.report.empty()) {
    hone::JsonWriter j;
    j.begin_object();
    j.key("command").value("finetune");
    j.key("model").value(s.model);
    j.key("out").value(s.out);
    j.key("train_data").value(s.train.text);
    if (s.has_val) j.key("val_data").value(s.val.text);
    else j.key("val_data").null();
    if (s.has_val) j.key("val_split").null();
    else j.key("val_split").value(0.2);
    j.key("classes").array(classes);
    j.key("train_samples").value(static_cast<std::int64_t>(train.size()));
    j.key("val_samples").value(static_cast<std::int64_t>(val.size()));
    j.key("head").begin_object();
    j.key("node").value(old_head.node);
    j.key("replaced").value(replaced);
    j.key("from_classes").value(old_head.out_features);
    j.key("to_classes").value(num_classes);
    j.end_object();
    j.key("val_accuracy").value(final_eval.accuracy());
    j.key("val_loss").value(final_eval.loss);
    j.key("best_val_accuracy").value(result.history.best_val_accuracy);
    j.key("best_epoch").value(static_cast<std::int64_t>(result.history.best_epoch));
    j.key("epochs").value(static_cast<std::int64_t>(result.history.epochs.size()));
    j.key("train_seconds").value(train_seconds);
    j.key("peak_rss_bytes").value(peak_rss);
    j.key("threads").value(static_cast<std::int64_t>(hone::get_num_threads()));
    j.key("phases").array(result.phases);
    j.key("history");
    write_history(j, result.history);
    j.key("options").begin_object();
    j.key("strategy").value(s.strategy);
    j.key("epochs").value(static_cast<std::int64_t>(s.epochs));
    j.key("batch").value(static_cast<std::int64_t>(s.batch));
    j.key("lr").value(lr);
    j.key("optimizer").value(s.optimizer);
    j.key("bn").value(s.bn.empty() ? (s.strategy == "linear-probe" ? "frozen" : "train") : s.bn);
    j.key("masks").begin_array();
    for (const auto& [option, glob] : s.masks) j.value(option.substr(2) + " " + glob);
    j.end_array();
    if (s.per_class) j.key("per_class").value(static_cast<std::int64_t>(*s.per_class));
    else j.key("per_class").null();
    if (s.val_per_class) j.key("val_per_class").value(static_cast<std::int64_t>(*s.val_per_class));
    else j.key("val_per_class").null();
    j.key("classes").array(s.classes);
    j.key("seed").value(static_cast<std::int64_t>(s.seed));
    j.key("image_size").array(std::vector<std::int64_t>{pre.height, pre.width});
    j.key("channels").value(pre.channels);
    j.key("grayscale").value(pre.grayscale);
    j.key("mean").array(as_doubles(pre.mean));
    j.key("std").array(as_doubles(pre.std));
    j.key("augmentation").value(s.train.idx ? "none" : "random horizontal flip");
    j.end_object();
    j.end_object();
    hone::write_text_file(s.report, j.str());
  }

  std::printf("classes: %zu (%s)\n", classes.size(), join(classes).c_str());
  std::printf("samples: %zu training, %zu validation\n", train.size(), val.size());
  for (const auto& phase : result.phases) std::printf("phase: %s\n", phase.c_str());
  std::printf("val accuracy %.4f (best %.4f at epoch %zu of %zu)\n", final_eval.accuracy(),
              result.history.best_val_accuracy, result.history.best_epoch + 1, result.history.epochs.size());
  std::printf("time: %.1f s training, peak memory %.1f MiB\n", train_seconds,
              static_cast<double>(peak_rss) / (1024.0 * 1024.0));
  std::printf("model: %s\n", s.out.c_str());
  if (!s.report.empty()) std::printf("report: %s\n", s.report.c_str());
  return 0;
}

inline const std::vector<OptionSpec>& finetune_options() {
  static const std::vector<OptionSpec> specs = {
      {"--data"},          {"--val"},        {"--out"},        {"--report"},   {"--epochs"},
      {"--batch"},         {"--lr"},         {"--optimizer"},  {"--strategy"}, {"--freeze", Arity::repeated},
      {"--unfreeze", Arity::repeated},       {"--bn"},         {"--per-class"}, {"--val-per-class"},
      {"--classes"},       {"--seed"},       {"--threads"},    {"--image-size"}, {"--grayscale", Arity::flag},
      {"--mean"},          {"--std"},        {"--keep-head", Arity::flag}};
  return specs;
}

}  // namespace hone_cli
