// examples/cli/common.hpp — what the `hone` subcommands share: strict option parsing (exit
// code 2 on bad usage), the data specs (an image folder or idx:IMAGES:LABELS), the model's
// input geometry, the preprocessing pipelines, class selection and evaluation.
#pragma once

#include <algorithm>     // std::find, std::all_of
#include <charconv>      // std::from_chars: strict numbers
#include <cmath>         // std::isfinite
#include <cstdint>       // std::int64_t, std::uint64_t
#include <cstdio>        // std::fprintf
#include <map>           // option values by name
#include <optional>      // absent options
#include <span>          // shape extents
#include <string>        // options, paths
#include <system_error>  // std::errc
#include <tuple>         // std::tie
#include <utility>       // std::pair, std::move
#include <vector>        // lists

#include "hone/data.hpp"
#include "hone/hone.hpp"
#include "hone/onnx/import.hpp"
#include "hone/train.hpp"

namespace hone_cli {

/// Bad usage: reported with the command's usage text, exit code 2.
struct UsageError {
  std::string message;
};

// --- options ------------------------------------------------------------------------------

/// How an option takes values.
enum class Arity { flag, single, repeated };

struct OptionSpec {
  std::string name;  ///< with the dashes: "--lr"
  Arity arity = Arity::single;
};

/// The parsed command line of one subcommand: "--name value" or "--name=value", flags,
/// repeated options (in command-line order) and positional arguments. "-h"/"--help"
/// anywhere sets help. Throws UsageError for an unknown option, a missing value, a single
/// option given twice or a value given to a flag.
class Args {
 public:
  Args(int argc, char** argv, int first, const std::vector<OptionSpec>& specs) {
    for (int i = first; i < argc; ++i) {
      std::string a = argv[i];
      if (a == "-h" || a == "--help") {
        help = true;
        continue;
      }
      if (a.size() < 2 || a[0] != '-') {
        positional.push_back(a);
        continue;
      }
      std::optional<std::string> inline_value;
      if (const auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
        inline_value = a.substr(eq + 1);
        a = a.substr(0, eq);
      }
      const OptionSpec* spec = nullptr;
      for (const auto& s : specs)
        if (s.name == a) spec = &s;
      if (!spec) throw UsageError{"unknown option " + a};
      if (spec->arity == Arity::flag) {
        if (inline_value) throw UsageError{a + " takes no value"};
        flags_[a] = true;
        continue;
      }
      std::string v;
      if (inline_value) {
        v = *inline_value;
      } else {
        if (i + 1 >= argc) throw UsageError{a + " needs a value"};
        v = argv[++i];
      }
      if (spec->arity == Arity::single && values_.count(a)) throw UsageError{a + " is given twice"};
      values_[a].push_back(v);
      ordered.emplace_back(a, v);
    }
  }

  bool flag(const std::string& name) const { return flags_.count(name) != 0; }
  std::optional<std::string> value(const std::string& name) const {
    const auto it = values_.find(name);
    if (it == values_.end()) return std::nullopt;
    return it->second.front();
  }
  std::vector<std::string> values(const std::string& name) const {
    const auto it = values_.find(name);
    return it == values_.end() ? std::vector<std::string>{} : it->second;
  }
  /// The one MODEL argument; throws UsageError when there is none or more than one.
  std::string model(const char* what = "MODEL.onnx") const {
    if (positional.empty()) throw UsageError{hone::detail::concat("missing ", what)};
    if (positional.size() > 1) throw UsageError{"unexpected argument " + positional[1]};
    return positional[0];
  }

  bool help = false;
  std::vector<std::string> positional;
  std::vector<std::pair<std::string, std::string>> ordered;  ///< every valued option, in order

 private:
  std::map<std::string, bool> flags_;
  std::map<std::string, std::vector<std::string>> values_;
};

// --- strict numbers -----------------------------------------------------------------------

/// A whole number >= `min`; the whole text must be digits.
inline std::uint64_t parse_count(const std::string& option, const std::string& text, std::uint64_t min = 1) {
  std::uint64_t v = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || ptr != end)
    throw UsageError{hone::detail::concat(option, ": \"", text, "\" is not a whole number")};
  if (v < min) throw UsageError{hone::detail::concat(option, ": ", v, " is below the minimum ", min)};
  return v;
}

/// A finite real number ("0.01", "1e-3"); the whole text must be the number.
inline double parse_real(const std::string& option, const std::string& text) {
  double v = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || ptr != end || !std::isfinite(v))
    throw UsageError{hone::detail::concat(option, ": \"", text, "\" is not a number")};
  return v;
}

/// Comma-separated parts of a list ("a,b,c"); empty parts are an error.
inline std::vector<std::string> split_list(const std::string& option, const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    out.push_back(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (out.back().empty()) throw UsageError{hone::detail::concat(option, ": empty item in \"", text, "\"")};
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

/// Comma-separated reals ("0.485,0.456,0.406").
inline std::vector<float> parse_reals(const std::string& option, const std::string& text) {
  std::vector<float> out;
  for (const auto& part : split_list(option, text)) out.push_back(static_cast<float>(parse_real(option, part)));
  return out;
}

/// "HxW" or "S" (square), both positive.
inline std::pair<std::int64_t, std::int64_t> parse_image_size(const std::string& option, const std::string& text) {
  const std::size_t x = text.find('x');
  auto side = [&](const std::string& part) {
    std::uint64_t v = 0;
    const char* end = part.data() + part.size();
    const auto [ptr, ec] = std::from_chars(part.data(), end, v);
    if (part.empty() || ec != std::errc() || ptr != end || v == 0 || v > 65536)
      throw UsageError{hone::detail::concat(option, ": \"", text, "\" is not a size HxW (e.g. 224x224) or S")};
    return static_cast<std::int64_t>(v);
  };
  if (x == std::string::npos) {
    const std::int64_t s = side(text);
    return {s, s};
  }
  return {side(text.substr(0, x)), side(text.substr(x + 1))};
}

/// One of `choices`, else UsageError listing them.
inline std::string parse_choice(const std::string& option, const std::string& text,
                                const std::vector<std::string>& choices) {
  if (std::find(choices.begin(), choices.end(), text) != choices.end()) return text;
  std::string all;
  for (const auto& c : choices) all += (all.empty() ? "" : ", ") + c;
  throw UsageError{hone::detail::concat(option, ": unknown value \"", text, "\" (one of ", all, ")")};
}

// --- model geometry -----------------------------------------------------------------------

/// What the model takes: one batched image input (N, C, H, W).
struct Geometry {
  std::string input;
  std::int64_t channels = 0, height = 0, width = 0;
};

/// Loads a model for training or evaluation: axis 0 of the inputs is the batch even when
/// the file fixes it (exports made with batch 1 still train in batches).
inline hone::Graph<float> load_model(const std::string& path) {
  hone::onnx::ImportOptions o;
  o.batch = hone::onnx::BatchDim::first_axis;
  return hone::onnx::load<float>(path, o);
}

/// The model's single image input; throws InvalidArgument otherwise.
inline Geometry model_geometry(const hone::Graph<float>& model) {
  if (model.inputs().size() != 1)
    throw hone::InvalidArgument(hone::detail::concat("the model has ", model.inputs().size(),
                                                     " inputs; this command needs one image input (N, C, H, W)"));
  const auto& in = model.inputs()[0];
  if (in.shape.rank() != 4 || !(in.shape[1] == 1 || in.shape[1] == 3))
    throw hone::InvalidArgument(hone::detail::concat("the model's input \"", in.name, "\" has shape ", in.shape,
                                                     "; this command needs images (N, C, H, W) with C = 1 or 3"));
  return {in.name, in.shape[1], in.shape[2], in.shape[3]};
}

/// The model with its image input declared as (N, C, height, width) instead (parameters
/// shared): what --image-size trains or evaluates at, and what the exported model declares.
/// Throws InvalidArgument when a layer depends on the size (e.g. Flatten into a Gemm).
inline hone::Graph<float> with_input_size(const hone::Graph<float>& model, std::int64_t height, std::int64_t width) {
  const auto& in = model.inputs()[0];
  const std::int64_t dims[] = {in.shape[0], in.shape[1], height, width};
  hone::Graph<float> g;
  g.add_input(in.name, hone::Shape(std::span<const std::int64_t>(dims)), in.batched);
  for (const auto& p : model.parameters()) g.parameters().push_back(p);
  for (const auto& n : model.nodes()) g.add_node(n.op, n.inputs, n.outputs, n.attrs, n.name);
  for (const auto& o : model.outputs()) g.add_output(o);
  try {
    g.validate();
  } catch (const hone::Error& e) {
    throw hone::InvalidArgument(hone::detail::concat("--image-size ", height, "x", width, ": the model cannot take ",
                                                     "this size (it declares ", in.shape[2], "x", in.shape[3],
                                                     "): ", e.message()));
  }
  return g;
}

/// The value holding the logits: the first graph output, or the input of a Softmax or
/// LogSoftmax that computes it (so the loss is on logits, not probabilities).
inline std::string logits_value(const hone::Graph<float>& model) {
  if (model.outputs().empty()) throw hone::InvalidArgument("the model has no output");
  const std::string out = model.outputs()[0];
  for (const auto& n : model.nodes())
    if (!n.outputs.empty() && n.outputs[0] == out && (n.op == "Softmax" || n.op == "LogSoftmax")) {
      const hone::GraphAnalysis a = model.analyze();
      if (a.shapes[a.value(n.inputs[0])].rank() == 2) return n.inputs[0];
    }
  return out;
}

/// The (N, C) width of a value; throws InvalidArgument when it is not (N, C).
inline std::int64_t output_width(const hone::Graph<float>& model, const std::string& value) {
  const hone::GraphAnalysis a = model.analyze();
  const hone::Shape& s = a.shapes[a.value(value)];
  if (s.rank() != 2)
    throw hone::InvalidArgument(hone::detail::concat("the model's output \"", value, "\" has shape ", s,
                                                     "; a classifier's output must be (N, classes)"));
  return s[1];
}

// --- preprocessing ------------------------------------------------------------------------

/// The options every data-reading command shares.
struct Preprocess {
  std::int64_t channels = 0, height = 0, width = 0;  ///< the model's input (or --image-size)
  bool grayscale = false;                            ///< read grey, replicate to `channels`
  std::vector<float> mean, std;                      ///< one value, or one per channel

  /// Channels the files are decoded to.
  std::int64_t load_channels() const { return grayscale ? 1 : channels; }
};

/// Reads --image-size, --grayscale, --mean and --std over the model's geometry. Each of
/// --mean and --std replaces its own default: ImageNet's mean/std for 3 channels, 0 and 1
/// (no normalisation) for 1. Throws UsageError for a count that is neither 1 nor the
/// channel count, or a std that is not > 0.
inline Preprocess read_preprocess(const Args& args, const Geometry& g) {
  Preprocess p{g.channels, g.height, g.width, args.flag("--grayscale"), {0.0f}, {1.0f}};
  if (const auto s = args.value("--image-size")) std::tie(p.height, p.width) = parse_image_size("--image-size", *s);
  if (p.channels == 3) {
    p.mean.assign(hone::data::imagenet_mean.begin(), hone::data::imagenet_mean.end());
    p.std.assign(hone::data::imagenet_std.begin(), hone::data::imagenet_std.end());
  }
  if (const auto v = args.value("--mean")) p.mean = parse_reals("--mean", *v);
  if (const auto v = args.value("--std")) p.std = parse_reals("--std", *v);
  for (const auto* v : {&p.mean, &p.std})
    if (v->size() != 1 && static_cast<std::int64_t>(v->size()) != p.channels)
      throw UsageError{hone::detail::concat(v == &p.mean ? "--mean" : "--std", ": ", v->size(),
                                            " values for a model of ", p.channels, " channel(s) (give 1 or ",
                                            p.channels, ")")};
  for (float s : p.std)
    if (!(s > 0.0f)) throw UsageError{hone::detail::concat("--std: ", s, " is not positive")};
  return p;
}

/// Resize to the model's size (area averaging when shrinking, bilinear when enlarging,
/// nothing when the size already fits), grey replicated to the model's channels, an
/// optional random horizontal flip, then normalisation.
inline hone::data::Pipeline make_pipeline(const Preprocess& p, bool random_flip) {
  namespace hd = hone::data;
  const std::int64_t h = p.height, w = p.width;
  auto resized = [h, w](const auto& im) -> hd::Image {
    if (im.height == h && im.width == w) return hd::resize(im, h, w, hd::Interpolation::area);
    const bool shrink = im.height >= h && im.width >= w;
    return hd::resize(im, h, w, shrink ? hd::Interpolation::area : hd::Interpolation::bilinear);
  };
  hd::Pipeline pipe;
  pipe.then(
      "resize", [resized](hd::Image& im, hone::Generator&) { im = resized(im); },
      [resized](const hd::ImageU8& im, hone::Generator&) { return resized(im); });
  if (p.load_channels() != p.channels) {
    const std::int64_t c = p.channels;
    pipe.then("grey_to_channels", [c](hd::Image& im, hone::Generator&) {
      if (im.channels != 1) return;
      hd::Image out(im.height, im.width, c);
      const auto channels = static_cast<std::size_t>(c);
      for (std::size_t i = 0; i < im.pixels.size(); ++i)
        for (std::size_t k = 0; k < channels; ++k) out.pixels[i * channels + k] = im.pixels[i];
      im = std::move(out);
    });
  }
  if (random_flip) pipe.random_hflip(0.5);
  const bool identity = std::all_of(p.mean.begin(), p.mean.end(), [](float m) { return m == 0.0f; }) &&
                        std::all_of(p.std.begin(), p.std.end(), [](float s) { return s == 1.0f; });
  if (!identity) pipe.normalize(p.mean, p.std);
  return pipe;
}

// --- data ---------------------------------------------------------------------------------

/// A --data/--val argument: an image folder (one subfolder per class) or
/// idx:IMAGES:LABELS (IDX files, gzipped or not).
struct DataSpec {
  std::string text;
  bool idx = false;
  std::string root, images, labels;
};

inline DataSpec parse_data_spec(const std::string& option, const std::string& text) {
  DataSpec d{text, false, text, {}, {}};
  if (text.rfind("idx:", 0) != 0) return d;
  const std::string rest = text.substr(4);
  const std::size_t colon = rest.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size() ||
      rest.find(':', colon + 1) != std::string::npos)
    throw UsageError{hone::detail::concat(option, ": \"", text, "\" is not idx:IMAGES:LABELS")};
  d.idx = true;
  d.images = rest.substr(0, colon);
  d.labels = rest.substr(colon + 1);
  return d;
}

/// The dataset behind a spec, decoded to p's channel count and passed through `pipeline`.
inline hone::data::Dataset load_data(const DataSpec& d, const Preprocess& p, hone::data::Pipeline pipeline) {
  if (d.idx) return hone::data::idx_dataset(d.images, d.labels, std::move(pipeline), p.load_channels());
  hone::data::FileOptions o;
  o.channels = static_cast<int>(p.load_channels());
  return hone::data::image_folder(d.root, std::move(pipeline), o);
}

/// The class names a --classes list designates in `data`: each item is a class name, or
/// else a class index (0-based). Throws InvalidArgument for an item that is neither or a
/// class named twice.
inline std::vector<std::string> resolve_classes(const hone::data::Dataset& data,
                                                const std::vector<std::string>& items) {
  const auto& names = data.class_names();
  std::vector<std::string> out;
  for (const auto& item : items) {
    std::string name;
    if (std::find(names.begin(), names.end(), item) != names.end()) {
      name = item;
    } else {
      std::uint64_t index = 0;
      const char* end = item.data() + item.size();
      const auto [ptr, ec] = std::from_chars(item.data(), end, index);
      if (ec != std::errc() || ptr != end || index >= names.size()) {
        std::string all;
        for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
        throw hone::InvalidArgument(hone::detail::concat("--classes: \"", item,
                                                         "\" is neither a class name nor an index 0..",
                                                         names.size() - 1, " (classes: ", all, ")"));
      }
      name = names[index];
    }
    if (std::find(out.begin(), out.end(), name) != out.end())
      throw hone::InvalidArgument(hone::detail::concat("--classes: class \"", name, "\" is listed twice"));
    out.push_back(name);
  }
  return out;
}

inline std::string join(const std::vector<std::string>& items, const char* sep = ", ") {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

// --- evaluation ---------------------------------------------------------------------------

/// Loss and confusion matrix of `model` on `data` in inference mode, the loss on `logits`.
inline hone::train::Evaluation evaluate(hone::Graph<float>& model, const hone::data::Dataset& data,
                                        const std::string& logits, std::size_t batch, std::size_t workers) {
  hone::train::SGD<float> unused(model);  // the Trainer needs one; evaluate() never steps it
  hone::train::TrainerOptions o;
  o.batch_size = batch;
  o.num_workers = workers;
  o.loss.logits = logits;
  o.progress = hone::train::Progress::none;
  hone::train::Trainer<float> trainer(model, unused, nullptr, o);
  return trainer.evaluate(data);
}

/// Loader threads for a dataset: decoding image files is worth a thread, IDX rows are not.
inline std::size_t loader_workers(const DataSpec& d) { return d.idx ? 0 : 2; }

}  // namespace hone_cli
