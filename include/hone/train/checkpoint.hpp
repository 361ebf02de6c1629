// hone/train/checkpoint.hpp — save and resume a training run: the model's parameters and
// buffers, which parameters are trainable, the optimizer's state (its tensors, step count and
// every group's hyper-parameters, which is where a schedule's position lives), the position
// in the data (epoch, batch within it, optimizer steps), the seed that drives batch order,
// augmentation and dropout, and the history so far. Resuming from a checkpoint continues the
// run bit-identically: same batches, same random draws, same updates (tested).
//
// File format: a protobuf message (written and read with hone's own wire code, so corrupt
// files give a ParseError with the field path and byte offset), tensors as ONNX
// TensorProtos (float or double, raw little-endian data). Field numbers of hone.Checkpoint:
//   1 format "hone.checkpoint"      2 version (1)          3 model tensors (repeated)
//   4 trainable names (repeated)    5 optimizer kind       6 optimizer steps
//   7 groups (repeated Group)       8 optimizer tensors    9 epoch   10 batch in epoch
//   11 global step                  12 seed                13 epochs (repeated Epoch)
//   14 best epoch                   15 best val accuracy   16 stopped early
//   17 optimizer per-parameter step counts (repeated ParamSteps: 1 name, 2 steps)
// Group: 1 name, 2 params (repeated), 3 lr, 4 initial_lr, 5 weight_decay, 6 momentum, 7 beta2.
// Epoch: 1 epoch, 2 steps, 3 lr, 4 train_loss, 5 train_accuracy, 6 val_loss, 7 val_accuracy,
//   8 val_top_k, 9 seconds, 10 elapsed.
#pragma once

#include <bit>      // double <-> fixed64
#include <cstdint>  // field values
#include <string>   // names
#include <utility>  // std::pair
#include <vector>   // repeated fields

#include "hone/core/error.hpp"
#include "hone/core/tensor.hpp"
#include "hone/graph/graph.hpp"
#include "hone/onnx/proto.hpp"
#include "hone/onnx/tensor_data.hpp"
#include "hone/onnx/wire.hpp"
#include "hone/train/history.hpp"
#include "hone/train/optim.hpp"

namespace hone::train {

/// Where a run stands in its data.
struct TrainingPosition {
  std::size_t epoch = 0;           ///< the epoch to continue with
  std::size_t batch_in_epoch = 0;  ///< batches of that epoch already trained on
  std::int64_t global_step = 0;    ///< optimizer steps taken
  std::uint64_t seed = 0;          ///< the trainer's seed
};

/// The contents of a checkpoint file.
template <class T>
struct Checkpoint {
  std::vector<std::pair<std::string, Tensor<T>>> model;  ///< parameters and buffers
  std::vector<std::string> trainable;                    ///< names of trainable parameters
  typename Optimizer<T>::State optimizer;
  TrainingPosition position;
  History history;
};

namespace detail_checkpoint {

inline constexpr const char* kFormat = "hone.checkpoint";
inline constexpr std::int64_t kVersion = 1;

inline void write_double(onnx::wire::Writer& w, std::uint32_t field, double v) { w.double_field(field, v); }
inline double read_double(onnx::wire::Reader& r, onnx::wire::Tag tag, const char* name) {
  return std::bit_cast<double>(r.fixed64_field(tag, name));
}
inline std::string to_string(std::span<const std::uint8_t> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

template <class T>
void write_tensor(onnx::wire::Writer& w, std::uint32_t field, const std::string& name, const Tensor<T>& t) {
  const onnx::TensorProto proto = onnx::from_tensor(t, name);
  w.message_field(field, [&] { onnx::detail::write_fields(w, proto); });
}

template <class T>
std::pair<std::string, Tensor<T>> read_tensor(onnx::wire::Reader& r, onnx::wire::Tag tag, const char* name,
                                              std::size_t index) {
  onnx::TensorProto proto;
  r.message_field(tag, name, index, [&] { onnx::detail::parse_fields(r, proto); });
  return {proto.name, onnx::to_tensor<T>(proto)};
}

}  // namespace detail_checkpoint

/// Serializes a checkpoint (see the file comment for the format).
template <class T>
std::vector<std::uint8_t> serialize_checkpoint(const Checkpoint<T>& c) {
  using detail_checkpoint::write_double;
  onnx::wire::Writer w;
  w.bytes_field(1, detail_checkpoint::kFormat);
  w.int64_field(2, detail_checkpoint::kVersion);
  for (const auto& [name, t] : c.model) detail_checkpoint::write_tensor(w, 3, name, t);
  for (const auto& name : c.trainable) w.bytes_field(4, name);
  w.bytes_field(5, c.optimizer.kind);
  w.int64_field(6, c.optimizer.steps);
  for (const auto& g : c.optimizer.groups)
    w.message_field(7, [&] {
      w.bytes_field(1, g.name);
      for (const auto& p : g.params) w.bytes_field(2, p);
      write_double(w, 3, g.lr);
      write_double(w, 4, g.initial_lr);
      write_double(w, 5, g.weight_decay);
      write_double(w, 6, g.momentum);
      write_double(w, 7, g.beta2);
    });
  for (const auto& [name, t] : c.optimizer.tensors) detail_checkpoint::write_tensor(w, 8, name, t);
  w.int64_field(9, static_cast<std::int64_t>(c.position.epoch));
  w.int64_field(10, static_cast<std::int64_t>(c.position.batch_in_epoch));
  w.int64_field(11, c.position.global_step);
  w.uint64_field(12, c.position.seed);
  for (const auto& e : c.history.epochs)
    w.message_field(13, [&] {
      w.int64_field(1, static_cast<std::int64_t>(e.epoch));
      w.int64_field(2, e.steps);
      write_double(w, 3, e.lr);
      write_double(w, 4, e.train_loss);
      write_double(w, 5, e.train_accuracy);
      write_double(w, 6, e.val_loss);
      write_double(w, 7, e.val_accuracy);
      write_double(w, 8, e.val_top_k);
      write_double(w, 9, e.seconds);
      write_double(w, 10, e.elapsed);
    });
  w.int64_field(14, static_cast<std::int64_t>(c.history.best_epoch));
  write_double(w, 15, c.history.best_val_accuracy);
  w.bool_field(16, c.history.stopped_early);
  for (const auto& [name, steps] : c.optimizer.param_steps)
    w.message_field(17, [&] {
      w.bytes_field(1, name);
      w.int64_field(2, steps);
    });
  return w.take();
}

/// Parses a checkpoint. `source` (a file name) prefixes error messages. Throws ParseError
/// (field path and byte offset) for malformed bytes, and ParseError with id
/// hone.train.checkpoint when the bytes are not a hone checkpoint of a known version.
template <class T>
Checkpoint<T> parse_checkpoint(std::span<const std::uint8_t> bytes, const std::string& source = {}) {
  using detail_checkpoint::read_double;
  using onnx::wire::Tag;
  onnx::wire::Reader r(bytes, "Checkpoint", source);
  Checkpoint<T> c;
  std::string format;
  std::int64_t version = -1;
  auto nonneg = [&](std::int64_t v, const char* what) {
    if (v < 0) r.fail(what, hone::detail::concat("is negative (", v, ")"), "hone.train.checkpoint");
    return static_cast<std::size_t>(v);
  };
  while (!r.at_end()) {
    const Tag tag = r.read_tag();
    switch (tag.field) {
      case 1: format = r.string_field(tag, "format"); break;
      case 2: version = r.int64_field(tag, "version"); break;
      case 3: c.model.push_back(detail_checkpoint::read_tensor<T>(r, tag, "model", c.model.size())); break;
      case 4: c.trainable.push_back(r.string_field(tag, "trainable")); break;
      case 5: c.optimizer.kind = r.string_field(tag, "optimizer_kind"); break;
      case 6: c.optimizer.steps = r.int64_field(tag, "optimizer_steps"); break;
      case 7: {
        GroupHyper g;
        r.message_field(tag, "groups", c.optimizer.groups.size(), [&] {
          while (!r.at_end()) {
            const Tag t = r.read_tag();
            switch (t.field) {
              case 1: g.name = r.string_field(t, "name"); break;
              case 2: g.params.push_back(r.string_field(t, "params")); break;
              case 3: g.lr = read_double(r, t, "lr"); break;
              case 4: g.initial_lr = read_double(r, t, "initial_lr"); break;
              case 5: g.weight_decay = read_double(r, t, "weight_decay"); break;
              case 6: g.momentum = read_double(r, t, "momentum"); break;
              case 7: g.beta2 = read_double(r, t, "beta2"); break;
              default: r.skip(t);
            }
          }
        });
        c.optimizer.groups.push_back(std::move(g));
        break;
      }
      case 8:
        c.optimizer.tensors.push_back(
            detail_checkpoint::read_tensor<T>(r, tag, "optimizer_tensors", c.optimizer.tensors.size()));
        break;
      case 9: c.position.epoch = nonneg(r.int64_field(tag, "epoch"), "epoch"); break;
      case 10: c.position.batch_in_epoch = nonneg(r.int64_field(tag, "batch_in_epoch"), "batch_in_epoch"); break;
      case 11: c.position.global_step = r.int64_field(tag, "global_step"); break;
      case 12: c.position.seed = r.uint64_field(tag, "seed"); break;
      case 13: {
        EpochRecord e;
        r.message_field(tag, "epochs", c.history.epochs.size(), [&] {
          while (!r.at_end()) {
            const Tag t = r.read_tag();
            switch (t.field) {
              case 1: e.epoch = nonneg(r.int64_field(t, "epoch"), "epoch"); break;
              case 2: e.steps = r.int64_field(t, "steps"); break;
              case 3: e.lr = read_double(r, t, "lr"); break;
              case 4: e.train_loss = read_double(r, t, "train_loss"); break;
              case 5: e.train_accuracy = read_double(r, t, "train_accuracy"); break;
              case 6: e.val_loss = read_double(r, t, "val_loss"); break;
              case 7: e.val_accuracy = read_double(r, t, "val_accuracy"); break;
              case 8: e.val_top_k = read_double(r, t, "val_top_k"); break;
              case 9: e.seconds = read_double(r, t, "seconds"); break;
              case 10: e.elapsed = read_double(r, t, "elapsed"); break;
              default: r.skip(t);
            }
          }
        });
        c.history.epochs.push_back(e);
        break;
      }
      case 14: c.history.best_epoch = nonneg(r.int64_field(tag, "best_epoch"), "best_epoch"); break;
      case 15: c.history.best_val_accuracy = read_double(r, tag, "best_val_accuracy"); break;
      case 16: c.history.stopped_early = r.uint64_field(tag, "stopped_early") != 0; break;
      case 17: {
        std::pair<std::string, std::int64_t> entry;
        r.message_field(tag, "param_steps", c.optimizer.param_steps.size(), [&] {
          while (!r.at_end()) {
            const Tag t = r.read_tag();
            switch (t.field) {
              case 1: entry.first = r.string_field(t, "name"); break;
              case 2: entry.second = r.int64_field(t, "steps"); break;
              default: r.skip(t);
            }
          }
        });
        c.optimizer.param_steps.push_back(std::move(entry));
        break;
      }
      default: r.skip(tag);
    }
  }
  if (format != detail_checkpoint::kFormat)
    throw ParseError("hone.train.checkpoint",
                     hone::detail::concat(source.empty() ? "" : source + ": ",
                                    "not a hone checkpoint (format field is \"", format, "\")"),
                     0);
  if (version != detail_checkpoint::kVersion)
    throw ParseError("hone.train.checkpoint",
                     hone::detail::concat(source.empty() ? "" : source + ": ", "checkpoint version ", version,
                                    " is not supported (this hone reads version ",
                                    detail_checkpoint::kVersion, ")"),
                     0);
  return c;
}

/// The checkpoint of a run: `model`'s parameters and buffers (constants are part of the
/// model file, not of the run), its trainable flags, `optimizer`'s state and the position.
template <class T>
Checkpoint<T> make_checkpoint(const Graph<T>& model, const Optimizer<T>& optimizer,
                              const TrainingPosition& position, const History& history = {}) {
  Checkpoint<T> c;
  for (const auto& p : model.parameters()) {
    if (p.constant) continue;
    c.model.emplace_back(p.name, p.data);
    if (p.trainable) c.trainable.push_back(p.name);
  }
  c.optimizer = optimizer.state();
  c.position = position;
  c.history = history;
  return c;
}

/// Puts a checkpoint's values into `model` and `optimizer`: every parameter and buffer it
/// holds must exist in the model with the same shape, and every model parameter (not
/// constant) must be in it; trainable flags are restored. Throws InvalidArgument naming the
/// first mismatch (and what the optimizer's load_state throws).
template <class T>
void restore_checkpoint(const Checkpoint<T>& c, Graph<T>& model, Optimizer<T>& optimizer) {
  std::size_t expected = 0;
  for (const auto& p : model.parameters()) expected += p.constant ? 0 : 1;
  for (const auto& [name, t] : c.model) {
    if (!model.has_parameter(name))
      throw InvalidArgument(hone::detail::concat("checkpoint: \"", name, "\" is not a parameter of the model"));
    auto& p = model.parameter(name);
    if (!(p.data.shape() == t.shape()))
      throw InvalidArgument(hone::detail::concat("checkpoint: \"", name, "\" has shape ", t.shape(),
                                           " in the checkpoint but ", p.data.shape(), " in the model"));
  }
  if (c.model.size() != expected)
    throw InvalidArgument(hone::detail::concat("checkpoint: holds ", c.model.size(), " tensors, the model has ",
                                         expected, " parameters and buffers"));
  optimizer.load_state(c.optimizer);
  for (const auto& [name, t] : c.model) model.parameter(name).data.copy_from(t);
  for (auto& p : model.parameters())
    if (!p.buffer && !p.constant) p.trainable = false;
  for (const auto& name : c.trainable) {
    if (!model.has_parameter(name))
      throw InvalidArgument(hone::detail::concat("checkpoint: trainable \"", name, "\" is not a parameter"));
    model.parameter(name).trainable = true;
  }
}

/// Writes `c` to `path`. Throws IOError naming the file.
template <class T>
void save_checkpoint(const Checkpoint<T>& c, const std::string& path) {
  onnx::detail::write_file_bytes(serialize_checkpoint(c), path, "the checkpoint");
}

/// Reads a checkpoint file. Throws IOError or ParseError naming the file.
template <class T>
Checkpoint<T> load_checkpoint(const std::string& path) {
  return parse_checkpoint<T>(onnx::detail::read_file_bytes(path, "the checkpoint"), path);
}

}  // namespace hone::train
