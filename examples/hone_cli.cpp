// hone — the command-line tool. This file dispatches; each command lives in examples/cli/.
//
//   hone info MODEL.onnx
//       inputs, outputs, op counts, parameter counts, named layers and blocks, and whether
//       hone supports every op.
//   hone run MODEL.onnx -i input_0.pb [-i input_1.pb ...] -o OUTDIR
//       runs the model (inference) on serialized TensorProto inputs, matched to graph inputs
//       by their name, else by position, and writes OUTDIR/output_<k>.pb (TensorProto, the
//       graph output's name set) in graph-output order.
//   hone finetune MODEL.onnx --data TRAIN [--val VAL] --out TUNED.onnx [options]
//       fine-tunes a classifier with one of hone::train's recipes (cli/finetune.hpp).
//   hone eval MODEL.onnx --data DATA [options]
//       accuracy, top-5 and the confusion matrix of a classifier (cli/eval.hpp).
//   hone export MODEL.onnx --out OUT.onnx [--fold-batch-norm] [--truncate-at V] [--output N]...
//       re-exports through hone, optionally as a feature extractor (cli/export.hpp).
//   hone rank MODEL.onnx [MODEL2.onnx ...] --data DATA [--cut VALUE]... [options]
//       transferability scores of models and cut points on the target data (cli/rank.hpp).
//   hone compare MODEL.onnx --data TRAIN --val VAL [--out PREFIX] [options]
//       transfer against training from scratch, with a report (cli/compare.hpp).
//   hone bench MODEL.onnx [--batch B] [--mode infer|train-full|train-head] [--threads N] [--iters N]
//       median images/s of inference or a training step on random data (cli/bench.hpp).
//   hone demo [--out DIR] [options]
//       the main job: a Fashion-MNIST model pretrained by hone fine-tuned to new classes and
//       compared with training from scratch (cli/demo.hpp).
//
// `hone COMMAND --help` prints a command's options. Exit codes: 0 success, 2 bad usage (the
// message and the command's usage on stderr), 1 any other error ("hone COMMAND: <what>").
#include <cstdio>     // messages
#include <exception>  // std::exception
#include <string>     // the command
#include <vector>     // option tables

#include "cli/bench.hpp"
#include "cli/common.hpp"
#include "cli/compare.hpp"
#include "cli/demo.hpp"
#include "cli/eval.hpp"
#include "cli/export.hpp"
#include "cli/finetune.hpp"
#include "cli/inspect.hpp"
#include "cli/rank.hpp"

namespace {

constexpr const char* kUsage =
    "usage: hone info MODEL.onnx\n"
    "       hone run MODEL.onnx -i INPUT.pb [-i INPUT.pb ...] -o OUTDIR\n"
    "       hone finetune MODEL.onnx --data TRAIN [--val VAL] --out TUNED.onnx [options]\n"
    "       hone eval MODEL.onnx --data DATA [options]\n"
    "       hone export MODEL.onnx --out OUT.onnx [--fold-batch-norm] [--truncate-at VALUE] [--output NAME]...\n"
    "       hone rank MODEL.onnx [MODEL2.onnx ...] --data DATA [--cut VALUE]... [options]\n"
    "       hone compare MODEL.onnx --data TRAIN --val VAL [--out PREFIX] [options]\n"
    "       hone bench MODEL.onnx [--batch B] [--mode infer|train-full|train-head] [--threads N] [--iters N]\n"
    "       hone demo [--out DIR] [--per-class K] [--epochs E] [--threads N] [--seed S]\n"
    "       hone COMMAND --help    (the options of a command)\n";

struct Command {
  const char* name;
  const char* usage;
  const std::vector<hone_cli::OptionSpec>& (*options)();
  int (*main)(const hone_cli::Args&);
};

const Command kCommands[] = {
    {"info", kUsage, hone_cli::info_options, hone_cli::info_main},
    {"run", kUsage, hone_cli::run_options, hone_cli::run_main},
    {"finetune", hone_cli::kFinetuneUsage, hone_cli::finetune_options, hone_cli::finetune_main},
    {"eval", hone_cli::kEvalUsage, hone_cli::eval_options, hone_cli::eval_main},
    {"export", hone_cli::kExportUsage, hone_cli::export_options, hone_cli::export_main},
    {"rank", hone_cli::kRankUsage, hone_cli::rank_options, hone_cli::rank_main},
    {"compare", hone_cli::kCompareUsage, hone_cli::compare_options, hone_cli::compare_main},
    {"bench", hone_cli::kBenchUsage, hone_cli::bench_options, hone_cli::bench_main},
    {"demo", hone_cli::kDemoUsage, hone_cli::demo_options, hone_cli::demo_main},
};

}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc >= 2 ? argv[1] : "";
  if (cmd == "-h" || cmd == "--help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  const Command* command = nullptr;
  for (const auto& c : kCommands)
    if (cmd == c.name) command = &c;
  if (!command) {
    std::fprintf(stderr, "hone: %s\n%s", cmd.empty() ? "missing command" : ("unknown command " + cmd).c_str(), kUsage);
    return 2;
  }
  try {
    return command->main(hone_cli::Args(argc, argv, 2, command->options()));
  } catch (const hone_cli::UsageError& e) {
    std::fprintf(stderr, "hone %s: %s\n%s", command->name, e.message.c_str(), command->usage);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hone %s: %s\n", command->name, e.what());
    return 1;
  }
}
