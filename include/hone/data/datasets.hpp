// hone/data/datasets.hpp — labelled samples: image folders, CSV lists, IDX files and
// in-memory tensors, and the views that filter, relabel, split and sample them.
//
// A Dataset is a cheap handle (like Tensor): a shared, immutable source of samples, the
// list of source samples it shows, a label map and the transform Pipeline applied when a
// sample is read. Splits, k-shot samples, class filters and relabelling return new views
// of the same source; nothing is decoded until get() is called, and get() is const and
// safe to call from many threads (the Loader does).
//
// Constructors: image_folder (one subfolder per class, class names sorted, images
// recognised by content), csv_list (lines "path,label"), idx_dataset (MNIST-style IDX
// files) and tensor_dataset (tensors already in memory). Files that cannot be decoded
// raise, or with OnError::skip are skipped: get() returns no sample, the dataset's
// skipped() count grows, and the warning sink receives one line naming the file and why.
#pragma once

#include <algorithm>   // std::sort, std::max_element
#include <atomic>      // the shared skipped-sample counter
#include <cctype>      // std::isspace, std::tolower
#include <cmath>       // std::llround for split sizes
#include <cstddef>     // std::size_t, std::ptrdiff_t
#include <cstdint>     // std::int64_t
#include <filesystem>  // listing image folders
#include <fstream>     // reading the first bytes of candidate files
#include <map>         // class-name lookup
#include <memory>      // shared sources
#include <optional>    // get() of a skipped sample
#include <sstream>     // CSV lines
#include <string>      // paths, class names
#include <utility>     // std::pair, std::move
#include <vector>      // index lists

#include "hone/core/error.hpp"
#include "hone/core/rng.hpp"
#include "hone/core/tensor.hpp"
#include "hone/data/common.hpp"
#include "hone/data/idx.hpp"
#include "hone/data/image.hpp"
#include "hone/data/transforms.hpp"

namespace hone::data {

/// One sample: the model input (after the transform) and its class label.
struct Example {
  Tensor<float> input;
  std::int64_t label = 0;
};

/// How file-backed datasets decode their images.
struct FileOptions {
  int channels = 3;                           ///< channels the model expects (1, 3 or 4)
  bool apply_exif = true;                     ///< turn JPEGs upright by their EXIF orientation
  OnError on_error = OnError::raise;          ///< raise on an undecodable file, or skip it
  WarningSink warn = stderr_warnings();       ///< receives skip warnings (from loader threads too)
};

/// The ten Fashion-MNIST class names, in label order.
inline const std::vector<std::string>& fashion_mnist_classes() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
  return names;
}

namespace detail {

/// The samples behind a Dataset: a fixed list with labels, each readable as an image or a
/// tensor. Implementations are immutable after construction.
class Source {
 public:
  virtual ~Source() = default;
  virtual std::size_t size() const = 0;
  virtual std::int64_t label(std::size_t i) const = 0;
  /// A name for messages: the file path, or "sample <i>".
  virtual std::string describe(std::size_t i) const { return hone::detail::concat("sample ", i); }
  /// The input of sample i after `transform` (which may be empty).
  virtual Tensor<float> input(std::size_t i, const Pipeline& transform, Generator& gen) const = 0;
};

/// Image files with labels.
class FileSource final : public Source {
 public:
  FileSource(std::vector<std::string> paths, std::vector<std::int64_t> labels, DecodeOptions options)
      : paths_(std::move(paths)), labels_(std::move(labels)), options_(options) {}
  std::size_t size() const override { return paths_.size(); }
  std::int64_t label(std::size_t i) const override { return labels_[i]; }
  std::string describe(std::size_t i) const override { return paths_[i]; }
  Tensor<float> input(std::size_t i, const Pipeline& transform, Generator& gen) const override {
    return transform(load_image(paths_[i], options_), gen);
  }

 private:
  std::vector<std::string> paths_;
  std::vector<std::int64_t> labels_;
  DecodeOptions options_;
};

/// Rows of a float tensor (N, ...) with labels. With a non-empty transform, rows must be
/// (C, H, W) images.
class FloatTensorSource final : public Source {
 public:
  FloatTensorSource(Tensor<float> inputs, std::vector<std::int64_t> labels)
      : inputs_(std::move(inputs)), labels_(std::move(labels)) {}
  std::size_t size() const override { return labels_.size(); }
  std::int64_t label(std::size_t i) const override { return labels_[i]; }
  Tensor<float> input(std::size_t i, const Pipeline& transform, Generator& gen) const override {
    const auto row = static_cast<std::int64_t>(i);
    Tensor<float> sample = inputs_.slice(row, row + 1);
    if (transform.size() == 0) {
      std::vector<std::int64_t> dims;
      for (std::size_t a = 1; a < inputs_.rank(); ++a) dims.push_back(inputs_.shape()[a]);
      return sample.reshape(Shape(std::span<const std::int64_t>(dims.data(), dims.size()))).clone();
    }
    if (inputs_.rank() != 4)
      throw ShapeError(hone::detail::concat("tensor_dataset: a transform needs (N, C, H, W) inputs, got ",
                                            inputs_.shape()));
    const std::int64_t c = inputs_.dim(1), h = inputs_.dim(2), w = inputs_.dim(3);
    Image image(h, w, c);
    for (std::int64_t k = 0; k < c; ++k)
      for (std::int64_t y = 0; y < h; ++y)
        for (std::int64_t x = 0; x < w; ++x) image.at(y, x, k) = sample[(k * h + y) * w + x];
    return transform(std::move(image), gen);
  }

 private:
  Tensor<float> inputs_;
  std::vector<std::int64_t> labels_;
};

/// 8-bit images (N, H, W) or (N, H, W, C) with labels, read as float images in [0, 1]
/// with `channels` channels (a single grey channel is replicated; otherwise the first
/// `channels` stored channels are used).
class ByteImageSource final : public Source {
 public:
  ByteImageSource(Tensor<std::uint8_t> images, std::vector<std::int64_t> labels, std::int64_t channels)
      : images_(std::move(images)), labels_(std::move(labels)), channels_(channels) {}
  std::size_t size() const override { return labels_.size(); }
  std::int64_t label(std::size_t i) const override { return labels_[i]; }
  Tensor<float> input(std::size_t i, const Pipeline& transform, Generator& gen) const override {
    const std::int64_t h = images_.dim(1), w = images_.dim(2);
    const std::int64_t stored = images_.rank() == 4 ? images_.dim(3) : 1;
    const std::int64_t c = channels_ > 0 ? channels_ : stored;
    ImageU8 image(h, w, c);
    const std::uint8_t* src = images_.data() + static_cast<std::int64_t>(i) * h * w * stored;
    for (std::int64_t p = 0; p < h * w; ++p)
      for (std::int64_t k = 0; k < c; ++k)
        image.pixels[static_cast<std::size_t>(p * c + k)] = src[p * stored + (stored == 1 ? 0 : std::min(k, stored - 1))];
    return transform(image, gen);
  }

 private:
  Tensor<std::uint8_t> images_;
  std::vector<std::int64_t> labels_;
  std::int64_t channels_;
};

/// State shared by all views of one source: the error policy and the skipped count.
struct SharedState {
  OnError on_error = OnError::raise;
  WarningSink warn;
  std::atomic<std::size_t> skipped{0};
};

inline std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

inline std::string trim(const std::string& s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

}  // namespace detail

/// A labelled set of samples; see the file comment. Copies share the source.
class Dataset {
 public:
  /// An empty dataset.
  Dataset() = default;

  /// A dataset showing every sample of `source`, with labels 0..class_names.size()-1.
  /// Used by the constructors below and by custom sources.
  Dataset(std::shared_ptr<const detail::Source> source, std::vector<std::string> class_names,
          Pipeline transform, OnError on_error = OnError::raise, WarningSink warn = stderr_warnings())
      : source_(std::move(source)), transform_(std::make_shared<const Pipeline>(std::move(transform))),
        class_names_(std::move(class_names)), state_(std::make_shared<detail::SharedState>()) {
    state_->on_error = on_error;
    state_->warn = warn ? std::move(warn) : stderr_warnings();
    indices_.resize(source_->size());
    for (std::size_t i = 0; i < indices_.size(); ++i) indices_[i] = i;
    label_map_.resize(class_names_.size());
    for (std::size_t c = 0; c < label_map_.size(); ++c) label_map_[c] = static_cast<std::int64_t>(c);
  }

  std::size_t size() const noexcept { return indices_.size(); }
  bool empty() const noexcept { return indices_.empty(); }
  std::size_t num_classes() const noexcept { return class_names_.size(); }
  const std::vector<std::string>& class_names() const noexcept { return class_names_; }

  /// The label of sample i, without reading it. Throws InvalidArgument when i >= size().
  std::int64_t label(std::size_t i) const {
    check_index(i);
    return label_map_[static_cast<std::size_t>(source_->label(indices_[i]))];
  }
  /// The file path (or "sample <n>") of sample i, for messages.
  std::string describe(std::size_t i) const {
    check_index(i);
    return source_->describe(indices_[i]);
  }
  /// The number of samples of each class (index = label).
  std::vector<std::size_t> class_counts() const {
    std::vector<std::size_t> counts(num_classes(), 0);
    for (std::size_t i = 0; i < size(); ++i) ++counts[static_cast<std::size_t>(label(i))];
    return counts;
  }

  /// Reads sample i and applies the transform with `gen`. Returns no value when the file
  /// cannot be decoded and the policy is OnError::skip (counted in skipped(), reported
  /// to the warning sink); with OnError::raise the IOError/UnsupportedError propagates.
  /// Throws InvalidArgument when i >= size().
  std::optional<Example> get(std::size_t i, Generator& gen) const {
    check_index(i);
    const std::size_t s = indices_[i];
    Example out;
    out.label = label_map_[static_cast<std::size_t>(source_->label(s))];
    try {
      out.input = source_->input(s, *transform_, gen);
    } catch (const Error& e) {
      const bool decode = dynamic_cast<const IOError*>(&e) || dynamic_cast<const UnsupportedError*>(&e);
      if (!decode || state_->on_error == OnError::raise) throw;
      state_->skipped.fetch_add(1, std::memory_order_relaxed);
      state_->warn(hone::detail::concat("skipped ", source_->describe(s), ": ", e.what()));
      return std::nullopt;
    }
    return out;
  }

  /// How many samples get() has skipped so far, over all views of this source.
  std::size_t skipped() const noexcept { return state_ ? state_->skipped.load() : 0; }

  /// The transform applied by get().
  const Pipeline& transform() const noexcept { return *transform_; }
  /// The same samples with another transform (e.g. the train and eval presets on two splits).
  Dataset with_transform(Pipeline transform) const {
    Dataset out = *this;
    out.transform_ = std::make_shared<const Pipeline>(std::move(transform));
    return out;
  }

  /// The samples at the given positions of this dataset, in that order (repeats allowed).
  /// Throws InvalidArgument for a position >= size().
  Dataset subset(const std::vector<std::size_t>& positions) const {
    Dataset out = *this;
    out.indices_.clear();
    out.indices_.reserve(positions.size());
    for (std::size_t p : positions) {
      check_index(p);
      out.indices_.push_back(indices_[p]);
    }
    return out;
  }

  /// Changes the labels: sample with label c gets new_label[c]; -1 drops its samples.
  /// `names` names the new classes; when empty, each new class takes the name of the old
  /// classes mapped to it, joined by "+". Throws InvalidArgument when new_label does not
  /// have num_classes() entries, the new labels are not exactly 0..K-1 (with -1 allowed),
  /// or `names` has the wrong size.
  Dataset relabel(const std::vector<std::int64_t>& new_label, std::vector<std::string> names = {}) const {
    if (new_label.size() != num_classes())
      throw InvalidArgument(hone::detail::concat("relabel: ", new_label.size(), " entries given for ",
                                                 num_classes(), " classes"));
    std::int64_t k = 0;
    for (std::int64_t l : new_label) {
      if (l < -1) throw InvalidArgument(hone::detail::concat("relabel: label ", l, " is negative"));
      k = std::max(k, l + 1);
    }
    std::vector<std::string> joined(static_cast<std::size_t>(k));
    for (std::size_t c = 0; c < new_label.size(); ++c)
      if (new_label[c] >= 0) {
        auto& name = joined[static_cast<std::size_t>(new_label[c])];
        name += (name.empty() ? "" : "+") + class_names_[c];
      }
    for (std::size_t c = 0; c < joined.size(); ++c)
      if (joined[c].empty())
        throw InvalidArgument(hone::detail::concat("relabel: no class maps to new label ", c,
                                                   " (new labels must be 0 to K-1 without gaps)"));
    if (!names.empty() && names.size() != joined.size())
      throw InvalidArgument(hone::detail::concat("relabel: ", names.size(), " names for ", joined.size(),
                                                 " classes"));
    Dataset out = *this;
    out.class_names_ = names.empty() ? std::move(joined) : std::move(names);
    for (auto& l : out.label_map_) l = l >= 0 ? new_label[static_cast<std::size_t>(l)] : -1;
    out.indices_.clear();
    for (std::size_t i = 0; i < size(); ++i)
      if (new_label[static_cast<std::size_t>(label(i))] >= 0) out.indices_.push_back(indices_[i]);
    return out;
  }

  /// Keeps the named classes only, relabelled 0..K-1 in the given order. Throws
  /// InvalidArgument for an unknown or repeated name (the message lists the classes).
  Dataset filter_classes(const std::vector<std::string>& keep) const {
    std::vector<std::int64_t> ids;
    for (const auto& name : keep) {
      auto it = std::find(class_names_.begin(), class_names_.end(), name);
      if (it == class_names_.end()) {
        std::string all;
        for (const auto& n : class_names_) all += (all.empty() ? "" : ", ") + n;
        throw InvalidArgument(hone::detail::concat("filter_classes: no class \"", name, "\" (classes: ", all, ")"));
      }
      ids.push_back(it - class_names_.begin());
    }
    return filter_classes(ids);
  }
  /// Keeps the classes with these labels, relabelled 0..K-1 in the given order. Throws
  /// InvalidArgument for a label out of range or repeated.
  Dataset filter_classes(const std::vector<std::int64_t>& keep) const {
    std::vector<std::int64_t> map(num_classes(), -1);
    std::vector<std::string> names;
    for (std::size_t j = 0; j < keep.size(); ++j) {
      const std::int64_t c = keep[j];
      if (c < 0 || c >= static_cast<std::int64_t>(num_classes()) || map[static_cast<std::size_t>(c)] >= 0)
        throw InvalidArgument(hone::detail::concat("filter_classes: label ", c, " is out of range (0 to ",
                                                   num_classes(), ") or repeated"));
      map[static_cast<std::size_t>(c)] = static_cast<std::int64_t>(j);
      names.push_back(class_names_[static_cast<std::size_t>(c)]);
    }
    return relabel(map, std::move(names));
  }

  /// A stratified split: in every class, round(val_fraction * count) samples chosen at
  /// random (seeded) go to the second dataset and the rest to the first; both keep this
  /// dataset's order. Throws InvalidArgument unless 0 <= val_fraction <= 1.
  std::pair<Dataset, Dataset> split(double val_fraction, std::uint64_t seed) const {
    if (!(val_fraction >= 0.0 && val_fraction <= 1.0))
      throw InvalidArgument(hone::detail::concat("split: the validation fraction ", val_fraction,
                                                 " is outside [0, 1]"));
    std::vector<char> to_val(size(), 0);
    const auto groups = shuffled_classes(seed);
    for (const auto& members : groups) {
      const auto n_val = static_cast<std::size_t>(std::llround(val_fraction * static_cast<double>(members.size())));
      for (std::size_t j = 0; j < n_val; ++j) to_val[members[j]] = 1;
    }
    std::vector<std::size_t> train, val;
    for (std::size_t i = 0; i < size(); ++i) (to_val[i] ? val : train).push_back(i);
    return {subset(train), subset(val)};
  }

  /// k samples of every class, chosen at random (seeded), in this dataset's order. Throws
  /// InvalidArgument naming the class when one has fewer than k samples.
  Dataset k_shot(std::size_t k, std::uint64_t seed) const {
    std::vector<std::size_t> chosen;
    const auto groups = shuffled_classes(seed);
    for (std::size_t c = 0; c < groups.size(); ++c) {
      if (groups[c].size() < k)
        throw InvalidArgument(hone::detail::concat("k_shot: class \"", class_names_[c], "\" has ",
                                                   groups[c].size(), " samples, fewer than k = ", k));
      chosen.insert(chosen.end(), groups[c].begin(), groups[c].begin() + static_cast<std::ptrdiff_t>(k));
    }
    std::sort(chosen.begin(), chosen.end());
    return subset(chosen);
  }

 private:
  void check_index(std::size_t i) const {
    if (i >= size())
      throw InvalidArgument(hone::detail::concat("dataset index ", i, " is out of range (size ", size(), ")"));
  }

  /// The positions of each class, shuffled by Fisher-Yates with Generator(seed).fork(class).
  std::vector<std::vector<std::size_t>> shuffled_classes(std::uint64_t seed) const {
    std::vector<std::vector<std::size_t>> groups(num_classes());
    for (std::size_t i = 0; i < size(); ++i) groups[static_cast<std::size_t>(label(i))].push_back(i);
    for (std::size_t c = 0; c < groups.size(); ++c) {
      Generator gen = Generator(seed).fork(c);
      auto& g = groups[c];
      for (std::size_t j = g.size(); j > 1; --j) std::swap(g[j - 1], g[gen.uniform_int(j)]);
    }
    return groups;
  }

  std::shared_ptr<const detail::Source> source_;
  std::shared_ptr<const Pipeline> transform_ = std::make_shared<const Pipeline>();
  std::vector<std::size_t> indices_;        // positions in the source
  std::vector<std::int64_t> label_map_;     // source label -> label (-1: dropped)
  std::vector<std::string> class_names_;
  std::shared_ptr<detail::SharedState> state_;
};

/// A folder with one subfolder per class: root/<class>/.../<image>. Classes are the
/// subfolders sorted by name (byte order), labelled 0..K-1; images are the files below
/// each (recursively, sorted by path) whose content is an image format (see
/// detect_format), whatever their suffix; other files and names starting with '.' are
/// ignored. Throws IOError when root is not a readable folder, and IOError (id
/// hone.data.empty) when it has no class folder or a class folder holds no image.
inline Dataset image_folder(const std::string& root, Pipeline transform = {}, FileOptions options = {}) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(root, ec))
    throw IOError(hone::detail::concat("image_folder: \"", root, "\" is not a folder"));
  std::vector<std::string> classes;
  for (const auto& entry : fs::directory_iterator(root, ec))
    if (entry.is_directory() && entry.path().filename().string().rfind('.', 0) != 0)
      classes.push_back(entry.path().filename().string());
  if (ec) throw IOError(hone::detail::concat("image_folder: cannot list \"", root, "\": ", ec.message()));
  if (classes.empty())
    throw IOError("hone.data.empty", hone::detail::concat("image_folder: \"", root,
                                                          "\" has no class subfolders (expected root/<class>/<image>)"));
  std::sort(classes.begin(), classes.end());
  std::vector<std::string> paths;
  std::vector<std::int64_t> labels;
  for (std::size_t c = 0; c < classes.size(); ++c) {
    const fs::path dir = fs::path(root) / classes[c];
    std::vector<std::string> found;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (!name.empty() && name[0] == '.') {
        if (it->is_directory()) it.disable_recursion_pending();
        continue;
      }
      if (!it->is_regular_file()) continue;
      std::ifstream in(it->path(), std::ios::binary);
      std::uint8_t head[32] = {};
      in.read(reinterpret_cast<char*>(head), sizeof head);
      const auto got = static_cast<std::size_t>(in.gcount());
      if (detect_format({head, got}, name) != ImageFormat::unknown) found.push_back(it->path().string());
    }
    if (ec) throw IOError(hone::detail::concat("image_folder: cannot list \"", dir.string(), "\": ", ec.message()));
    if (found.empty())
      throw IOError("hone.data.empty", hone::detail::concat("image_folder: the class folder \"", dir.string(),
                                                            "\" holds no image file"));
    std::sort(found.begin(), found.end());
    for (auto& p : found) {
      paths.push_back(std::move(p));
      labels.push_back(static_cast<std::int64_t>(c));
    }
  }
  auto source = std::make_shared<detail::FileSource>(std::move(paths), std::move(labels),
                                                     DecodeOptions{options.channels, options.apply_exif});
  return Dataset(std::move(source), std::move(classes), std::move(transform), options.on_error,
                 std::move(options.warn));
}

/// A CSV list of "path,label" lines (fields may be double-quoted, "" inside quotes is a
/// quote; blank lines and a first line "path,label" are skipped). Relative paths are
/// relative to the CSV file's folder. When every label is a non-negative integer the labels
/// are used as given (classes "0".."max"); otherwise labels are class names, sorted and
/// numbered. Files are not opened until read. Throws IOError when the list cannot be read
/// and ParseError (id hone.data.csv, naming the line) for a malformed line or an empty list.
inline Dataset csv_list(const std::string& csv_path, Pipeline transform = {}, FileOptions options = {}) {
  namespace fs = std::filesystem;
  const std::vector<std::uint8_t> bytes = read_file_bytes(csv_path);
  const std::string text(bytes.begin(), bytes.end());
  const fs::path base = fs::path(csv_path).parent_path();
  std::vector<std::string> paths, label_texts;
  std::istringstream lines(text);
  std::string line;
  for (std::size_t number = 1; std::getline(lines, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (detail::trim(line).empty()) continue;
    std::vector<std::string> fields(1);
    bool quoted = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
      const char ch = line[i];
      if (quoted) {
        if (ch == '"' && i + 1 < line.size() && line[i + 1] == '"') fields.back() += '"', ++i;
        else if (ch == '"') quoted = false;
        else fields.back() += ch;
      } else if (ch == '"') {
        quoted = true;
      } else if (ch == ',') {
        fields.emplace_back();
      } else {
        fields.back() += ch;
      }
    }
    if (quoted || fields.size() != 2 || detail::trim(fields[0]).empty() || detail::trim(fields[1]).empty())
      throw ParseError("hone.data.csv", hone::detail::concat("\"", csv_path, "\" line ", number,
                                                             ": expected \"path,label\", got \"", line, "\""));
    const std::string path = detail::trim(fields[0]), label = detail::trim(fields[1]);
    if (number == 1 && detail::lower(path) == "path" && detail::lower(label) == "label") continue;
    const fs::path p(path);
    paths.push_back(p.is_absolute() || base.empty() ? path : (base / p).string());
    label_texts.push_back(label);
  }
  if (paths.empty())
    throw ParseError("hone.data.csv", hone::detail::concat("\"", csv_path, "\" lists no samples"));
  bool numeric = true;
  for (const auto& l : label_texts)
    numeric = numeric && l.size() < 10 && l.find_first_not_of("0123456789") == std::string::npos;
  std::vector<std::int64_t> labels;
  std::vector<std::string> classes;
  if (numeric) {
    std::int64_t max_label = 0;
    for (const auto& l : label_texts) labels.push_back(std::stoll(l)), max_label = std::max(max_label, labels.back());
    for (std::int64_t c = 0; c <= max_label; ++c) classes.push_back(std::to_string(c));
  } else {
    std::map<std::string, std::int64_t> ids;
    for (const auto& l : label_texts) ids[l] = 0;
    for (auto& [name, id] : ids) {
      id = static_cast<std::int64_t>(classes.size());
      classes.push_back(name);
    }
    for (const auto& l : label_texts) labels.push_back(ids[l]);
  }
  auto source = std::make_shared<detail::FileSource>(std::move(paths), std::move(labels),
                                                     DecodeOptions{options.channels, options.apply_exif});
  return Dataset(std::move(source), std::move(classes), std::move(transform), options.on_error,
                 std::move(options.warn));
}

/// A dataset of IDX files (gzipped or not): images (N, H, W) or (N, H, W, C) of unsigned
/// bytes and labels (N). Samples are float images in [0, 1] with `channels` channels (0
/// keeps the file's; a grey channel is replicated) passed through `transform`. Classes are
/// 0..max label, named by `class_names` when given (e.g. fashion_mnist_classes()). Throws
/// what read_idx throws, and ParseError (id hone.data.idx) when the files disagree, the
/// image file is not bytes of rank 3 or 4, or a label is negative or has no name.
inline Dataset idx_dataset(const std::string& images_path, const std::string& labels_path,
                           Pipeline transform = {}, std::int64_t channels = 0,
                           std::vector<std::string> class_names = {}) {
  Tensor<std::uint8_t> images = read_idx<std::uint8_t>(images_path);
  const Tensor<std::int64_t> labels = read_idx<std::int64_t>(labels_path);
  if (images.rank() != 3 && images.rank() != 4)
    throw ParseError("hone.data.idx", hone::detail::concat("\"", images_path, "\" holds shape ", images.shape(),
                                                           "; images must be (N, H, W) or (N, H, W, C)"));
  if (labels.rank() != 1 || labels.dim(0) != images.dim(0))
    throw ParseError("hone.data.idx", hone::detail::concat("\"", labels_path, "\" holds shape ", labels.shape(),
                                                           " but the images are ", images.shape()));
  std::int64_t max_label = -1;
  for (std::int64_t l : labels) {
    if (l < 0) throw ParseError("hone.data.idx", hone::detail::concat("\"", labels_path, "\": negative label ", l));
    max_label = std::max(max_label, l);
  }
  if (class_names.empty())
    for (std::int64_t c = 0; c <= max_label; ++c) class_names.push_back(std::to_string(c));
  if (static_cast<std::int64_t>(class_names.size()) <= max_label)
    throw ParseError("hone.data.idx", hone::detail::concat("\"", labels_path, "\": label ", max_label, " but only ",
                                                           class_names.size(), " class names"));
  auto source = std::make_shared<detail::ByteImageSource>(std::move(images), std::vector<std::int64_t>(labels.begin(), labels.end()),
                                                          channels);
  return Dataset(std::move(source), std::move(class_names), std::move(transform));
}

namespace detail {
inline std::vector<std::string> check_labels(const Tensor<std::int64_t>& labels, std::int64_t n,
                                             std::vector<std::string> class_names) {
  if (labels.rank() != 1 || labels.dim(0) != n)
    throw ShapeError(hone::detail::concat("tensor_dataset: labels of shape ", labels.shape(), " for ", n, " inputs"));
  std::int64_t max_label = -1;
  for (std::int64_t l : labels) {
    if (l < 0) throw InvalidArgument(hone::detail::concat("tensor_dataset: negative label ", l));
    max_label = std::max(max_label, l);
  }
  if (class_names.empty())
    for (std::int64_t c = 0; c <= max_label; ++c) class_names.push_back(std::to_string(c));
  if (static_cast<std::int64_t>(class_names.size()) <= max_label)
    throw InvalidArgument(hone::detail::concat("tensor_dataset: label ", max_label, " but ", class_names.size(),
                                               " class names"));
  return class_names;
}
}  // namespace detail

/// Samples that are rows of `inputs` (N, ...), labels (N). Without a transform, get()
/// returns a copy of the row; with one, rows must be float images (N, C, H, W). Throws
/// ShapeError when the counts disagree and InvalidArgument for a negative label.
inline Dataset tensor_dataset(Tensor<float> inputs, const Tensor<std::int64_t>& labels,
                              std::vector<std::string> class_names = {}, Pipeline transform = {}) {
  if (inputs.rank() < 1) throw ShapeError("tensor_dataset: inputs need a first (sample) axis");
  auto names = detail::check_labels(labels, inputs.dim(0), std::move(class_names));
  auto source = std::make_shared<detail::FloatTensorSource>(std::move(inputs),
                                                            std::vector<std::int64_t>(labels.begin(), labels.end()));
  return Dataset(std::move(source), std::move(names), std::move(transform));
}

/// Samples that are 8-bit images (N, H, W) or (N, H, W, C), read as float images in [0, 1]
/// with `channels` channels (0 keeps the stored count), then `transform`. Throws as above.
inline Dataset tensor_dataset(Tensor<std::uint8_t> images, const Tensor<std::int64_t>& labels,
                              std::vector<std::string> class_names = {}, Pipeline transform = {},
                              std::int64_t channels = 0) {
  if (images.rank() != 3 && images.rank() != 4)
    throw ShapeError(hone::detail::concat("tensor_dataset: 8-bit images must be (N, H, W) or (N, H, W, C), got ",
                                          images.shape()));
  auto names = detail::check_labels(labels, images.dim(0), std::move(class_names));
  auto source = std::make_shared<detail::ByteImageSource>(std::move(images),
                                                          std::vector<std::int64_t>(labels.begin(), labels.end()),
                                                          channels);
  return Dataset(std::move(source), std::move(names), std::move(transform));
}

}  // namespace hone::data
