// examples/cli/bench.hpp — `hone bench`: throughput of inference or of a training step of an
// ONNX model on random data, the number bench/compare puts next to PyTorch and ONNX Runtime.
#pragma once

#include <algorithm>  // std::sort
#include <chrono>     // timing
#include <cstdio>     // the report
#include <string>     // names
#include <vector>     // timings

#include "common.hpp"
#include "hone/core/memory.hpp"

namespace hone_cli {

inline constexpr const char* kBenchUsage =
    "usage: hone bench MODEL.onnx [--batch B] [--mode infer|train-full|train-head] [--threads N]\n"
    "         [--iters N] [--warmup N] [--image-size HxW] [--seed S] [--profile]\n";

inline constexpr const char* kBenchHelp =
    "\n"
    "Times MODEL.onnx on random data (uniform in [-1, 1], random labels) after warm-up and\n"
    "prints the median images per second over the timed iterations and the process's peak\n"
    "resident memory. The last line is `<images per second> img/s`.\n"
    "\n"
    "  --mode infer       forward only, inference mode (BatchNorm uses running statistics) [default]\n"
    "  --mode train-full  one training step: forward in train mode, softmax cross-entropy on the\n"
    "                     first output, backward, SGD update (lr 0.01, momentum 0.9) of every parameter\n"
    "  --mode train-head  the same step with every parameter frozen except the classifier head's\n"
    "                     (find_head); BatchNorm still normalises with batch statistics\n"
    "  --batch B          images per iteration [32]\n"
    "  --iters N          timed iterations [10]\n"
    "  --warmup N         untimed iterations first [2]\n"
    "  --image-size HxW   input size when the model allows another one [the model's; 224x224\n"
    "                     when the model leaves it symbolic]\n"
    "  --threads N        compute threads [all CPUs]\n"
    "  --seed S           seed of the random data [0]\n"
    "  --profile          also print the time per op type (forward, backward) over the timed\n"
    "                     iterations (timing each node adds a little overhead)\n";

inline int bench_main(const Args& args) {
  if (args.help) {
    std::fputs(kBenchUsage, stdout);
    std::fputs(kBenchHelp, stdout);
    return 0;
  }
  const std::string model_path = args.model();
  std::int64_t batch = 32;
  if (const auto v = args.value("--batch")) batch = static_cast<std::int64_t>(parse_count("--batch", *v));
  std::string mode = "infer";
  if (const auto v = args.value("--mode")) mode = parse_choice("--mode", *v, {"infer", "train-full", "train-head"});
  std::size_t iters = 10, warmup = 2;
  if (const auto v = args.value("--iters")) iters = parse_count("--iters", *v);
  if (const auto v = args.value("--warmup")) warmup = parse_count("--warmup", *v, 0);
  std::uint64_t seed = 0;
  if (const auto v = args.value("--seed")) seed = parse_count("--seed", *v, 0);
  const bool profile = args.flag("--profile");
  if (const auto v = args.value("--threads")) hone::set_num_threads(parse_count("--threads", *v));

  hone::Graph<float> model = load_model(model_path);
  if (model.inputs().size() != 1)
    throw hone::InvalidArgument(hone::detail::concat("the model has ", model.inputs().size(),
                                                     " inputs; hone bench needs one image input (N, C, H, W)"));
  const auto& in = model.inputs()[0];
  if (in.shape.rank() != 4)
    throw hone::InvalidArgument(hone::detail::concat("the model's input \"", in.name, "\" has shape ", in.shape,
                                                     "; hone bench needs an image input (N, C, H, W)"));
  std::int64_t height = in.shape[2] > 0 ? in.shape[2] : 224, width = in.shape[3] > 0 ? in.shape[3] : 224;
  if (const auto v = args.value("--image-size")) std::tie(height, width) = parse_image_size("--image-size", *v);
  if (height != in.shape[2] || width != in.shape[3]) model = with_input_size(model, height, width);
  const std::int64_t channels = model.inputs()[0].shape[1];

  hone::Generator gen(seed);
  hone::Tensor<float> x(hone::Shape{batch, channels, height, width});
  for (auto& v : x.span()) v = 2.0f * gen.uniform_float() - 1.0f;

  using clock = std::chrono::steady_clock;
  std::vector<double> seconds;
  std::int64_t classes = 0;
  std::vector<hone::OpProfile> ops;
  std::int64_t prepared_bytes = -1;
  if (mode == "infer") {
    hone::Session<float> session(model, {hone::Mode::inference, seed, {}, profile});
    for (std::size_t i = 0; i < warmup + iters; ++i) {
      if (i == warmup) session.reset_profile();
      const auto t0 = clock::now();
      (void)session.forward({x});
      if (i >= warmup) seconds.push_back(std::chrono::duration<double>(clock::now() - t0).count());
    }
    ops = session.profile();
    prepared_bytes = session.prepared_weight_bytes();
  } else {
    const std::string logits = logits_value(model);
    classes = output_width(model, logits);
    if (mode == "train-head") {
      hone::train::freeze(model);
      hone::train::train_head_only(model);
    } else {
      hone::train::unfreeze(model);
    }
    hone::train::LossOptions lo;
    lo.logits = logits;
    hone::Graph<float> g = hone::train::with_loss(model, lo);
    hone::Tensor<float> labels(hone::Shape{batch});
    for (auto& v : labels.span()) v = static_cast<float>(gen.uniform_int(static_cast<std::uint64_t>(classes)));
    hone::train::SGD<float> sgd(model, {.lr = 0.01, .momentum = 0.9});
    hone::Session<float> session(g, {hone::Mode::train, seed, {}, profile});
    for (std::size_t i = 0; i < warmup + iters; ++i) {
      if (i == warmup) session.reset_profile();
      const auto t0 = clock::now();
      session.zero_grad();
      (void)session.forward({x, labels});
      session.backward({hone::Tensor<float>(hone::Shape{}, 1.0f), hone::Tensor<float>()});
      sgd.step(session);
      if (i >= warmup) seconds.push_back(std::chrono::duration<double>(clock::now() - t0).count());
    }
    ops = session.profile();
  }
  std::sort(seconds.begin(), seconds.end());
  const double median = seconds.size() % 2 ? seconds[seconds.size() / 2]
                                            : 0.5 * (seconds[seconds.size() / 2 - 1] + seconds[seconds.size() / 2]);
  const double ips = static_cast<double>(batch) / median;
  std::printf("model: %s\n", model_path.c_str());
  std::printf("mode: %s, batch %lld, input %lldx%lldx%lld, threads %zu, %zu timed iterations after %zu warm-up\n",
              mode.c_str(), static_cast<long long>(batch), static_cast<long long>(channels),
              static_cast<long long>(height), static_cast<long long>(width), hone::get_num_threads(), iters, warmup);
  std::printf("seconds per iteration: median %.4f, min %.4f, max %.4f\n", median, seconds.front(), seconds.back());
  std::printf("peak RSS: %.1f MiB\n", static_cast<double>(hone::peak_rss_bytes()) / (1024.0 * 1024.0));
  if (profile) {
    std::sort(ops.begin(), ops.end(), [](const hone::OpProfile& a, const hone::OpProfile& b) {
      return a.forward_seconds + a.backward_seconds > b.forward_seconds + b.backward_seconds;
    });
    const double per = 1.0 / static_cast<double>(iters);
    int op_width = 22;  // fused chains ("Conv+BatchNormalization+Relu") are longer
    for (const auto& p : ops) op_width = std::max(op_width, static_cast<int>(p.op.size()));
    std::printf("per iteration, by op type (fused ops joined by +):\n%-*s %10s %10s %8s\n",
                op_width, "op", "forward s", "backward s", "nodes");
    for (const auto& p : ops)
      std::printf("%-*s %10.4f %10.4f %8lld\n", op_width, p.op.c_str(), p.forward_seconds * per, p.backward_seconds * per,
                  static_cast<long long>(p.forward_calls / static_cast<std::int64_t>(iters)));
  }
  const hone::TensorCacheStats cache = hone::tensor_cache_stats();
  std::printf("tensor cache: %.1f MiB held, %llu hits, %llu misses\n",
              static_cast<double>(cache.cached_bytes) / (1024.0 * 1024.0),
              static_cast<unsigned long long>(cache.hits), static_cast<unsigned long long>(cache.misses));
  if (prepared_bytes >= 0)
    std::printf("prepared weights (fused chains): %.1f MiB\n", static_cast<double>(prepared_bytes) / (1024.0 * 1024.0));
  std::printf("%.2f img/s\n", ips);
  return 0;
}

inline const std::vector<OptionSpec>& bench_options() {
  static const std::vector<OptionSpec> specs = {{"--batch"}, {"--mode"},        {"--threads"}, {"--iters"},
                                                {"--warmup"}, {"--image-size"}, {"--seed"}, {"--profile", Arity::flag}};
  return specs;
}

}  // namespace hone_cli
