// hone/graph/session.hpp — runs a Graph: forward, backward (autograd), memory planning.
//
// Each forward analyses the graph with the actual input shapes (any batch size), then plans:
//   - requires-grad: a value needs a gradient when it is a trainable parameter, an input
//     named in SessionOptions::grad_inputs, or an output of a node with such an input. A
//     node runs backward only when one of its inputs needs a gradient, so a frozen prefix
//     runs forward only, saves nothing, and no gradient is computed for frozen parameters
//     or for anything below the lowest trainable parameter;
//   - saving: a backward node keeps exactly the inputs and outputs its op declares for the
//     gradients that are needed (OpDef::saves); every other activation is freed right after
//     its last forward consumer. Graph outputs are kept.
// Mode::train uses batch statistics and dropout; Mode::eval uses running statistics and can
// still run backward; Mode::inference behaves as eval and saves nothing (backward throws).
// Parameter gradients accumulate across backward calls until zero_grad(). The same seed,
// inputs and thread count give bit-identical results.
//
// Memory report (bytes of activations, i.e. node outputs; graph inputs and parameters are
// not counted, op-private saved state such as BatchNorm's batch statistics is reported
// separately): `planned_peak` is computed from the plan before running, `actual_peak` is
// measured from the tensors the session really holds; they agree unless the plan is wrong.
#pragma once

#include <algorithm>  // std::max
#include <chrono>     // profiling
#include <cstdint>  // byte counts
#include <utility>  // std::move
#include <string>   // names
#include <type_traits>  // fusion is float-only
#include <vector>   // per-value state

#include "hone/core/error.hpp"
#include "hone/core/parallel.hpp"
#include "hone/core/rng.hpp"
#include "hone/core/tensor.hpp"
#include "hone/graph/fusion.hpp"
#include "hone/graph/graph.hpp"
#include "hone/ops/registry.hpp"

namespace hone {

enum class Mode { train, eval, inference };

struct SessionOptions {
  Mode mode = Mode::train;
  std::uint64_t seed = 0;                ///< seeds the per-node streams (dropout)
  std::vector<std::string> grad_inputs = {};  ///< graph inputs that get gradients (input_grad())
  bool profile = false;  ///< time every node's forward and backward (profile())
  /// Mode::inference: run Conv -> BatchNormalization -> Relu/Clip chains as one
  /// convolution (graph/fusion.hpp); results differ from the unfused ops by rounding only.
  /// Mode::train and Mode::eval: run BatchNormalization -> Relu/Clip pairs as one kernel,
  /// forward and backward; results are bit-identical to the unfused ops'.
  bool fuse = true;
  /// Mode::inference with fuse: keep each fused chain's prepared weights (the
  /// BatchNormalization folded into the convolution, and the Winograd transforms of 3x3
  /// filters) from one forward to the next instead of rebuilding them on every call. Each
  /// forward hashes the chains' parameters (core/hash.hpp; about 3 ms for ResNet-18's 11.7 M
  /// weights) and rebuilds a chain's when they changed, so parameters written in place are
  /// picked up. Costs memory (prepared_weight_bytes(); ResNet-18: about 190 MiB, 4x the
  /// weights of its Winograd layers); off, the same work is redone on every forward.
  bool keep_prepared_weights = true;
};

/// Time spent in one op type over all forward/backward calls since the session began (or
/// since reset_profile()), with SessionOptions::profile set.
struct OpProfile {
  std::string op;
  double forward_seconds = 0, backward_seconds = 0;
  std::int64_t forward_calls = 0, backward_calls = 0;
};

/// Activation memory of the last forward/backward, in bytes.
struct MemoryReport {
  std::int64_t planned_peak = 0;     ///< from the plan, before running
  std::int64_t actual_peak = 0;      ///< measured while running forward and backward
  std::int64_t all_activations = 0;  ///< every activation of the forward, if none were freed
  std::int64_t saved_for_backward = 0;  ///< activations held when forward returned, outputs excluded
  std::int64_t op_state = 0;         ///< op-private state saved for backward (not in the peaks)
};

template <class T>
class Session {
 public:
  /// Binds the session to graph (which must outlive it; parameters are read in place and
  /// buffers updated in place). Validates the graph; throws as Graph::analyze().
  explicit Session(Graph<T>& graph, SessionOptions options = {})
      : graph_(graph), options_(std::move(options)) {
    analysis_ = graph_.analyze();
    for (const auto& name : options_.grad_inputs)
      if (analysis_.kind[analysis_.value(name)] != ValueKind::input)
        throw InvalidArgument(detail::concat("grad_inputs: \"", name, "\" is not a graph input"));
    param_grads_.resize(graph_.parameters().size());
  }

  Mode mode() const noexcept { return options_.mode; }
  void set_mode(Mode mode) noexcept { options_.mode = mode; }

  /// Runs forward on one tensor per graph input (in graph-input order) and returns the
  /// graph outputs. Throws ShapeError when an input does not fit.
  std::vector<Tensor<T>> forward(const std::vector<Tensor<T>>& inputs) {
    std::vector<Shape> shapes;
    for (const auto& t : inputs) shapes.push_back(t.shape());
    analysis_ = graph_.analyze(&shapes);
    const GraphAnalysis& a = analysis_;
    const auto& nodes = graph_.nodes();
    const std::size_t nv = a.names.size();
    plan(a);
    if (fusion_.chains.empty() || !options_.keep_prepared_weights)
      prepared_.clear();
    else
      prepared_.resize(nodes.size());
    ++step_;
    backward_ready_ = false;  // until this forward completes
    values_.assign(nv, Tensor<T>());
    saved_.assign(nodes.size(), {});
    input_grads_.assign(nv, Tensor<T>());
    for (std::size_t i = 0; i < a.inputs.size(); ++i) values_[a.inputs[i]] = inputs[i];
    for (std::size_t v = 0; v < nv; ++v)
      if (a.param[v] != npos) values_[v] = graph_.parameters()[a.param[v]].data;

    live_ = 0;
    memory_.actual_peak = 0;
    memory_.op_state = 0;
    const bool training = options_.mode == Mode::train;
    const Generator base = Generator(options_.seed).fork(step_);
    for (std::size_t pos = 0; pos < a.order.size(); ++pos) {
      const std::size_t n = a.order[pos];
      const Node& node = nodes[n];
      if ((!fusion_.chains.empty() && (fusion_.absorbed[n] || fusion_.chains[n].fused())) ||
          pairs_.absorbed_at(n)) {
        if (!fusion_.chains.empty() && !fusion_.absorbed[n]) run_fused(n);  // the chain's head: runs it all
        release_after(n, pos);  // a pair's activation: its BatchNormalization ran it
        continue;
      }
      // A BatchNormalization with its activation fused writes the activation's output.
      const std::size_t act = pairs_.at(n);
      const std::vector<std::size_t>& outs = act != detail_fusion::none ? a.node_outputs[act] : a.node_outputs[n];
      std::vector<Tensor<T>> in;
      for (std::size_t v : a.node_inputs[n]) in.push_back(values_[v]);
      std::vector<Tensor<T>> out;
      for (std::size_t v : outs)
        out.push_back(defs_[n]->writes_all_outputs ? Tensor<T>::uninitialized(a.shapes[v]) : Tensor<T>(a.shapes[v]));
      ForwardArgs<T> args{node, in, out, saved_[n], training, backward_node_[n], base.fork(n)};
      const auto t0 = std::chrono::steady_clock::now();
      if (act != detail_fusion::none)
        ops::detail_bn::forward_act(args, detail_fusion::norm_activation(nodes[act]));
      else
        defs_[n]->forward(args);
      if (options_.profile) {
        OpProfile& p = profile_entry(act != detail_fusion::none ? node.op + "+" + nodes[act].op : node.op);
        p.forward_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        ++p.forward_calls;
      }
      for (std::size_t k = 0; k < out.size(); ++k) {
        values_[outs[k]] = out[k];
        live_ += bytes(a.shapes[outs[k]]);
      }
      for (const auto& s : saved_[n]) memory_.op_state += bytes(s.shape());
      memory_.actual_peak = std::max(memory_.actual_peak, live_);
      release_after(n, pos);
    }
    memory_.saved_for_backward = 0;
    for (std::size_t v = 0; v < nv; ++v)
      if (a.kind[v] == ValueKind::activation && values_[v].defined() && !is_output_[v])
        memory_.saved_for_backward += bytes(a.shapes[v]);
    backward_ready_ = options_.mode != Mode::inference;
    std::vector<Tensor<T>> result;
    for (std::size_t v : a.outputs) result.push_back(values_[v]);
    return result;
  }

  /// Backward from a scalar first output (a loss): its gradient is 1.
  void backward() {
    if (analysis_.outputs.empty()) throw StateError("backward: the graph has no output");
    const Shape& s = analysis_.shapes[analysis_.outputs[0]];
    if (s.numel() != 1)
      throw StateError(detail::concat("backward(): output \"", analysis_.names[analysis_.outputs[0]],
                                      "\" has shape ", s,
                                      "; pass its gradient explicitly for non-scalar outputs"));
    std::vector<Tensor<T>> grads(analysis_.outputs.size());
    grads[0] = Tensor<T>(s, T(1));
    backward(grads);
  }

  /// Backward with the given gradient for each graph output (undefined tensors for outputs
  /// that receive none). Adds parameter gradients into grad(); sets input_grad(). Throws
  /// StateError without a preceding train/eval forward, or when called twice for one forward.
  void backward(const std::vector<Tensor<T>>& output_grads) {
    if (!backward_ready_)
      throw StateError(options_.mode == Mode::inference && step_ > 0
                           ? "backward: the last forward ran in inference mode, which saves "
                             "nothing; use Mode::train or Mode::eval"
                           : "backward: needs one forward (train or eval mode) before each backward");
    const GraphAnalysis& a = analysis_;
    const auto& nodes = graph_.nodes();
    if (output_grads.size() != a.outputs.size())
      throw InvalidArgument(detail::concat("backward: ", output_grads.size(),
                                           " gradients for ", a.outputs.size(), " outputs"));
    backward_ready_ = false;
    std::vector<Tensor<T>> grads(a.names.size());
    for (std::size_t i = 0; i < a.outputs.size(); ++i) {
      if (!output_grads[i].defined()) continue;
      if (!(output_grads[i].shape() == a.shapes[a.outputs[i]]))
        throw ShapeError(detail::concat("backward: gradient of output \"", a.names[a.outputs[i]],
                                        "\" has shape ", output_grads[i].shape(), ", expected ",
                                        a.shapes[a.outputs[i]]));
      accumulate(grads[a.outputs[i]], output_grads[i]);
    }
    std::vector<std::size_t> bw_users = bw_users_;
    for (std::size_t pos = a.order.size(); pos-- > 0;) {
      const std::size_t n = a.order[pos];
      if (!backward_node_[n] || pairs_.absorbed_at(n)) continue;  // a pair's activation: see below
      // A BatchNormalization with its activation fused takes the activation's output gradient.
      const std::size_t act = pairs_.at(n);
      const std::vector<std::size_t>& outs = act != detail_fusion::none ? a.node_outputs[act] : a.node_outputs[n];
      bool any = false;
      for (std::size_t v : outs) any = any || grads[v].defined();
      if (any) {
        std::vector<Tensor<T>> in, out, gout, gin;
        std::vector<Shape> in_shapes, out_shapes;
        for (std::size_t v : a.node_inputs[n]) {
          in.push_back(values_[v]);
          in_shapes.push_back(a.shapes[v]);
          gin.push_back(!requires_grad_[v]            ? Tensor<T>()
                        : defs_[n]->assigns_grads ? Tensor<T>::uninitialized(a.shapes[v])
                                                  : Tensor<T>(a.shapes[v]));
        }
        for (std::size_t v : outs) {
          out.push_back(values_[v]);
          out_shapes.push_back(a.shapes[v]);
          gout.push_back(grads[v].defined() ? grads[v] : Tensor<T>(a.shapes[v]));
        }
        BackwardArgs<T> args{nodes[n], in, out, in_shapes, out_shapes, gout, saved_[n], gin,
                             need_grad_[n], options_.mode == Mode::train};
        const auto t0 = std::chrono::steady_clock::now();
        if (act != detail_fusion::none)
          ops::detail_bn::backward_act(args, detail_fusion::norm_activation(nodes[act]));
        else
          defs_[n]->backward(args);
        for (std::size_t k = 0; k < gin.size(); ++k)
          if (gin[k].defined()) accumulate_owned(grads[a.node_inputs[n][k]], std::move(gin[k]));
        if (options_.profile) {
          OpProfile& p = profile_entry(act != detail_fusion::none ? nodes[n].op + "+" + nodes[act].op : nodes[n].op);
          p.backward_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          ++p.backward_calls;
        }
      }
      for (std::size_t v : outs) grads[v] = Tensor<T>();
      saved_[n].clear();
      for (std::size_t v : saved_by_[n])
        if (--bw_users[v] == 0 && !is_output_[v]) release(v);
    }
    for (std::size_t v = 0; v < a.names.size(); ++v) {
      if (!grads[v].defined()) continue;
      if (a.param[v] != npos) accumulate_owned(param_grads_[a.param[v]], std::move(grads[v]));
      else if (a.kind[v] == ValueKind::input) input_grads_[v] = grads[v];
    }
  }

  /// The accumulated gradient of a trainable parameter, or of an input named in
  /// SessionOptions::grad_inputs (last backward only). Throws StateError when the value has
  /// no gradient (frozen, a buffer, no backward yet) and InvalidArgument for unknown names.
  Tensor<T> grad(const std::string& name) const {
    const std::size_t v = analysis_.value(name);
    const Tensor<T>& g = analysis_.param[v] != npos ? param_grads_[analysis_.param[v]]
                                                     : input_grads_.size() > v ? input_grads_[v]
                                                                               : Tensor<T>();
    if (!g.defined())
      throw StateError(detail::concat("grad: \"", name, "\" has no gradient (",
                                      analysis_.param[v] != npos
                                          ? (graph_.parameters()[analysis_.param[v]].trainable
                                                 ? "no backward has reached it"
                                                 : "it is frozen or a buffer")
                                          : "not a trainable parameter or a grad input",
                                      ")"));
    return g;
  }
  bool has_grad(const std::string& name) const {
    const std::size_t v = analysis_.value(name);
    if (analysis_.param[v] != npos) return param_grads_[analysis_.param[v]].defined();
    return input_grads_.size() > v && input_grads_[v].defined();
  }

  /// Forward passes run so far; the per-node random streams (dropout) of a forward derive
  /// from this count, so a resumed run can line them up with skip_step().
  std::uint64_t step_count() const noexcept { return step_; }
  /// Advances the step count as a forward would, without running one (a resumed run skips
  /// batches it already trained on and stays bit-identical to an unbroken one).
  void skip_step() noexcept { ++step_; }

  /// Per op type, the time spent in forward and backward (SessionOptions::profile), in the
  /// order the op types were first run.
  const std::vector<OpProfile>& profile() const noexcept { return profile_; }
  void reset_profile() { profile_.clear(); }

  /// Drops all accumulated parameter gradients.
  void zero_grad() {
    for (auto& g : param_grads_) g = Tensor<T>();
  }

  /// Whether value `name` needs a gradient under the current trainable flags (as planned by
  /// the last forward, or at construction).
  bool requires_grad(const std::string& name) const {
    const std::size_t v = analysis_.value(name);
    return requires_grad_.size() > v && requires_grad_[v];
  }

  /// Activations held for backward when the last forward returned (graph outputs excluded).
  std::vector<std::string> saved_values() const {
    std::vector<std::string> out;
    for (std::size_t v = 0; v < values_.size(); ++v)
      if (analysis_.kind[v] == ValueKind::activation && values_[v].defined() && !is_output_[v])
        out.push_back(analysis_.names[v]);
    return out;
  }

  const MemoryReport& memory() const noexcept { return memory_; }
  const GraphAnalysis& analysis() const noexcept { return analysis_; }

  /// Bytes held by the fused chains' prepared weights (SessionOptions::keep_prepared_weights;
  /// 0 outside Mode::inference). Not part of memory(), which counts activations.
  std::int64_t prepared_weight_bytes() const noexcept {
    std::int64_t total = 0;
    for (const auto& p : prepared_) total += p.bytes();
    return total;
  }
  /// Frees the prepared weights; the next inference forward rebuilds them.
  void release_prepared_weights() noexcept { prepared_.clear(); }

 private:
  static std::int64_t bytes(const Shape& s) {
    return s.numel() * static_cast<std::int64_t>(sizeof(T));
  }

  static void accumulate(Tensor<T>& into, const Tensor<T>& g) {
    if (!into.defined()) {
      into = g.clone();
      return;
    }
    add_into(into, g);
  }

  /// As accumulate, for a gradient the caller gives up: taken over instead of copied when
  /// no other tensor shares its storage (an op may hand its output gradient through).
  static void accumulate_owned(Tensor<T>& into, Tensor<T>&& g) {
    if (!into.defined()) {
      if (g.use_count() == 1) into = std::move(g);
      else into = g.clone();
      return;
    }
    add_into(into, g);
  }

  static void add_into(Tensor<T>& into, const Tensor<T>& g) {
    T* dst = into.data();
    const T* src = g.data();
    parallel_for(0, g.numel(), 1 << 15, [&](std::int64_t lo, std::int64_t hi) {
      for (std::int64_t i = lo; i < hi; ++i) dst[i] += src[i];
    });
  }

  OpProfile& profile_entry(const std::string& op) {
    for (auto& p : profile_)
      if (p.op == op) return p;
    profile_.push_back({op});
    return profile_.back();
  }

  void release(std::size_t v) {
    if (analysis_.kind[v] != ValueKind::activation || !values_[v].defined()) return;
    values_[v] = Tensor<T>();
    live_ -= bytes(analysis_.shapes[v]);
  }

  /// Frees the inputs and outputs of node n whose last forward reader is at position pos.
  void release_after(std::size_t n, std::size_t pos) {
    for (std::size_t v : analysis_.node_inputs[n])
      if (free_after_[v] == pos) release(v);
    for (std::size_t v : analysis_.node_outputs[n])
      if (free_after_[v] == pos) release(v);
  }

  /// Runs the fused chain headed by conv node n (graph/fusion.hpp); the values inside it
  /// stay undefined, its output is defined from here on.
  void run_fused(std::size_t n) {
    if constexpr (std::is_same_v<T, float>) {
      const GraphAnalysis& a = analysis_;
      const auto& nodes = graph_.nodes();
      const detail_fusion::ConvChain& c = fusion_.chains[n];
      std::vector<Tensor<T>> conv_in, bn_in;
      for (std::size_t v : a.node_inputs[n]) conv_in.push_back(values_[v]);
      if (c.bn != detail_fusion::none)
        for (std::size_t v : a.node_inputs[c.bn]) bn_in.push_back(values_[v]);
      const std::size_t ov = detail_fusion::chain_output(a, n, c);
      Tensor<T> out = Tensor<T>::uninitialized(a.shapes[ov]);
      const auto t0 = std::chrono::steady_clock::now();
      detail_fusion::run_chain(nodes, n, c, conv_in, bn_in, out, prepared_.empty() ? nullptr : &prepared_[n]);
      if (options_.profile) {
        OpProfile& p = profile_entry(detail_fusion::chain_name(nodes, c));
        p.forward_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        ++p.forward_calls;
      }
      values_[ov] = out;
      live_ += bytes(a.shapes[ov]);
      memory_.actual_peak = std::max(memory_.actual_peak, live_);
    }
  }

  /// Requires-grad, backward nodes, saved values and free points for analysis a; also the
  /// planned peak, by replaying the forward with byte counts only.
  void plan(const GraphAnalysis& a) {
    const auto& nodes = graph_.nodes();
    const std::size_t nv = a.names.size();
    requires_grad_.assign(nv, false);
    is_output_.assign(nv, false);
    for (std::size_t v : a.outputs) is_output_[v] = true;
    fusion_ = {};
    pairs_ = {};
    if (std::is_same_v<T, float> && options_.mode == Mode::inference && options_.fuse)
      fusion_ = detail_fusion::plan_fusion(nodes, a, is_output_);
    if (options_.mode != Mode::inference && options_.fuse) pairs_ = detail_fusion::plan_norm_act(nodes, a, is_output_);
    if (options_.mode != Mode::inference) {
      for (std::size_t v = 0; v < nv; ++v)
        if (a.param[v] != npos && graph_.parameters()[a.param[v]].trainable) requires_grad_[v] = true;
      for (const auto& name : options_.grad_inputs) requires_grad_[a.value(name)] = true;
    }
    defs_.assign(nodes.size(), nullptr);
    backward_node_.assign(nodes.size(), false);
    need_grad_.assign(nodes.size(), {});
    saved_by_.assign(nodes.size(), {});
    bw_users_.assign(nv, 0);
    std::vector<bool> keep(nv, false);
    const bool training = options_.mode == Mode::train;
    for (std::size_t n : a.order) {
      defs_[n] = ops::find_op<T>(nodes[n].op);
      std::vector<bool> need;
      bool any = false;
      for (std::size_t v : a.node_inputs[n]) {
        need.push_back(requires_grad_[v]);
        any = any || requires_grad_[v];
      }
      need_grad_[n] = need;
      backward_node_[n] = any;
      if (!any) continue;
      for (std::size_t v : a.node_outputs[n]) requires_grad_[v] = true;
      if (pairs_.absorbed_at(n)) continue;  // a pair's activation: its BatchNormalization saves
      const std::size_t act = pairs_.at(n);
      const SaveSpec spec = act != detail_fusion::none ? ops::detail_bn::saves_act(nodes[n], need, training)
                                                       : defs_[n]->saves(nodes[n], need, training);
      auto mark = [&](std::size_t v) {
        keep[v] = true;
        ++bw_users_[v];
        saved_by_[n].push_back(v);
      };
      for (std::size_t k = 0; k < spec.inputs.size(); ++k)
        if (spec.inputs[k]) mark(a.node_inputs[n][k]);
      for (std::size_t k = 0; k < spec.outputs.size(); ++k)
        if (spec.outputs[k]) mark(a.node_outputs[act != detail_fusion::none ? act : n][k]);
    }
    // Free point: the position of the last forward consumer (or the producer when unused);
    // npos for kept values, outputs and non-activations.
    free_after_.assign(nv, npos);
    for (std::size_t pos = 0; pos < a.order.size(); ++pos) {
      const std::size_t n = a.order[pos];
      for (std::size_t v : a.node_outputs[n]) free_after_[v] = pos;
      for (std::size_t v : a.node_inputs[n]) free_after_[v] = pos;
    }
    for (std::size_t v = 0; v < nv; ++v)
      if (keep[v] || is_output_[v] || a.kind[v] != ValueKind::activation) free_after_[v] = npos;
    // Replay with byte counts. Per node, the values it makes: a fused chain's or pair's head
    // makes the last node's output (and the values inside are never made), the nodes it
    // absorbed make nothing.
    std::vector<std::vector<std::size_t>> makes(nodes.size());
    for (std::size_t n : a.order) {
      if (pairs_.absorbed_at(n) || (!fusion_.chains.empty() && fusion_.absorbed[n])) continue;
      if (pairs_.at(n) != detail_fusion::none)
        makes[n] = a.node_outputs[pairs_.at(n)];
      else if (!fusion_.chains.empty() && fusion_.chains[n].fused())
        makes[n] = {detail_fusion::chain_output(a, n, fusion_.chains[n])};
      else
        makes[n] = a.node_outputs[n];
    }
    std::int64_t live = 0, peak = 0, all = 0;
    std::vector<bool> freed(nv, true);  // values never made are never freed either
    for (const auto& m : makes)
      for (std::size_t v : m) freed[v] = false;
    for (std::size_t pos = 0; pos < a.order.size(); ++pos) {
      const std::size_t n = a.order[pos];
      for (std::size_t v : a.node_outputs[n]) all += bytes(a.shapes[v]);
      for (std::size_t v : makes[n]) live += bytes(a.shapes[v]);
      peak = std::max(peak, live);
      auto free_now = [&](std::size_t v) {
        if (free_after_[v] == pos && !freed[v]) {
          freed[v] = true;
          live -= bytes(a.shapes[v]);
        }
      };
      for (std::size_t v : a.node_inputs[n]) free_now(v);
      for (std::size_t v : a.node_outputs[n]) free_now(v);
    }
    memory_.planned_peak = peak;
    memory_.all_activations = all;
  }

  Graph<T>& graph_;
  SessionOptions options_;
  GraphAnalysis analysis_;
  std::uint64_t step_ = 0;
  bool backward_ready_ = false;
  std::vector<const OpDef<T>*> defs_;
  std::vector<bool> requires_grad_, is_output_, backward_node_;
  std::vector<std::vector<bool>> need_grad_;
  std::vector<std::vector<std::size_t>> saved_by_;
  std::vector<std::size_t> bw_users_, free_after_;
  std::vector<Tensor<T>> values_, input_grads_, param_grads_;
  std::vector<std::vector<Tensor<T>>> saved_;
  std::vector<OpProfile> profile_;
  detail_fusion::FusionPlan fusion_;  // empty unless Mode::inference fuses
  detail_fusion::NormActPlan pairs_;  // empty unless Mode::train / Mode::eval fuses
  std::vector<detail_fusion::PreparedChain> prepared_;  // per chain head; empty when not kept
  std::int64_t live_ = 0;
  MemoryReport memory_;
};

}  // namespace hone
