// hone/train/optim.hpp — optimizers for fine-tuning: SGD, Adam and AdamW over parameter
// groups, gradient-norm clipping, and the group builders (the weight-decay split and
// discriminative learning rates).
//
// An optimizer is bound to a Graph and updates its parameters in place. Parameters are
// organised in groups (GroupHyper): each group has its own learning rate, weight decay and
// momentum, which schedules (schedule.hpp) change between steps. The update rules are
// PyTorch's (torch.optim.SGD, Adam, AdamW in 1.13, single-tensor path) operation for
// operation, so a float64 trajectory agrees with PyTorch's to rounding; tests/train/
// test_optim.cpp checks this against trajectories PyTorch writes at test time. A parameter is
// updated only when it is trainable and grad_of returns a gradient for it: frozen parameters,
// and parameters the last backward did not reach, keep their values and their optimizer
// state bit for bit. Optimizer state is created lazily at a parameter's first update, so a
// parameter unfrozen later needs no new optimizer. See docs/train-optim.md.
#pragma once

#include <algorithm>      // std::max
#include <cmath>          // std::pow, std::sqrt, std::fabs, std::isinf
#include <cstddef>        // std::size_t
#include <cstdint>        // std::int64_t step counts
#include <functional>     // std::function gradient lookup
#include <limits>         // infinity as the max-norm type
#include <map>            // per-parameter state by name
#include <string>         // names
#include <unordered_map>  // name -> parameter index, duplicate detection
#include <utility>        // std::pair, std::move
#include <vector>         // groups, state

#include "hone/core/error.hpp"
#include "hone/core/tensor.hpp"
#include "hone/graph/graph.hpp"
#include "hone/graph/session.hpp"

namespace hone::train {

/// Hyper-parameters of one parameter group. Schedules mutate lr (and momentum).
struct GroupHyper {
  std::string name;                 ///< "decay", "no_decay", "group3", ... for reports
  std::vector<std::string> params;  ///< parameter names (Graph::parameter names)
  double lr = 0;                    ///< current learning rate
  double initial_lr = 0;            ///< the lr given at construction; schedules scale this
  double weight_decay = 0;
  double momentum = 0;              ///< SGD momentum, or Adam's beta1 (schedules may cycle it)
  double beta2 = 0.999;             ///< Adam/AdamW only
};

/// A learning-rate range for discriminative_groups: the earliest layer group gets min, the
/// last gets max, the ones between are spread geometrically (fastai's slice(min, max)).
struct LrRange {
  double min = 0;
  double max = 0;
};

/// Two groups over every parameter of graph that is neither a buffer nor a constant, frozen
/// ones included (they are skipped at step() while frozen, so unfreezing later needs no new
/// optimizer): "decay" with weight_decay, and "no_decay" with 0 for the parameters of rank
/// <= 1 (biases and normalisation scales/shifts). Both get lr and initial_lr = lr; empty
/// groups are left out. Throws InvalidArgument for a negative lr or weight_decay.
template <class T>
std::vector<GroupHyper> default_groups(const Graph<T>& graph, double lr, double weight_decay);

/// ULMFiT/fastai discriminative learning rates: layer_groups lists parameter names per group,
/// earliest layers first; the last group gets base_lr and group i of n gets
/// base_lr / factor^(n-1-i). Each layer group i becomes "group<i>" (weight_decay) and
/// "group<i>.no_decay" (rank <= 1 parameters, weight decay 0); empty ones are left out.
/// Parameters in no layer group are not optimized. Throws InvalidArgument for an unknown
/// name, a buffer or constant, a name in two layer groups, or factor <= 0.
template <class T>
std::vector<GroupHyper> discriminative_groups(const Graph<T>& graph,
                                              const std::vector<std::vector<std::string>>& layer_groups,
                                              double base_lr, double factor, double weight_decay);

/// The same with the learning rates spread geometrically from range.min (earliest group) to
/// range.max (last group), as fastai's slice(min, max): lr_i = min * (max/min)^(i/(n-1)).
template <class T>
std::vector<GroupHyper> discriminative_groups(const Graph<T>& graph,
                                              const std::vector<std::vector<std::string>>& layer_groups,
                                              LrRange range, double weight_decay);

/// Names of the parameters (not buffers or constants) whose name starts with one of the
/// prefixes, in graph order: a way to write layer groups, e.g. {"layer4.", "fc."}.
template <class T>
std::vector<std::string> parameters_with_prefix(const Graph<T>& graph,
                                                const std::vector<std::string>& prefixes);

/// torch.nn.utils.clip_grad_norm_: the norm of all gradients together (norm_type 2 by
/// default; any p > 0 or infinity), and when it exceeds max_norm every gradient is scaled in
/// place by max_norm / (norm + 1e-6). Undefined tensors are skipped. Returns the norm before
/// clipping. As in PyTorch, a non-finite norm scales the gradients by NaN (or 0), which
/// shows up in the next loss. Throws InvalidArgument for max_norm < 0 or norm_type <= 0.
template <class T>
double clip_grad_norm(const std::vector<Tensor<T>>& grads, double max_norm, double norm_type = 2.0);

/// The same over every parameter gradient the session holds (trainable parameters reached
/// by the last backward); scales them in place.
template <class T>
double clip_grad_norm(Session<T>& session, double max_norm, double norm_type = 2.0);

/// The part of every optimizer that schedules need: the groups and the step count.
class OptimizerBase {
 public:
  virtual ~OptimizerBase() = default;

  std::vector<GroupHyper>& groups() noexcept { return groups_; }
  const std::vector<GroupHyper>& groups() const noexcept { return groups_; }
  /// Number of step() calls so far.
  std::int64_t steps() const noexcept { return steps_; }
  /// "sgd", "adam" or "adamw".
  virtual std::string kind() const = 0;

 protected:
  std::vector<GroupHyper> groups_;
  std::int64_t steps_ = 0;
};

/// An optimizer over parameters of a Graph<T>; see SGD, Adam, AdamW.
template <class T>
class Optimizer : public OptimizerBase {
 public:
  /// Returns the gradient of the named parameter, or an undefined tensor when it has none.
  using GradFn = std::function<Tensor<T>(const std::string&)>;

  /// Everything needed to continue bit-identically: "<param>.<slot>" tensors (slots:
  /// momentum_buffer; exp_avg, exp_avg_sq, max_exp_avg_sq), the number of updates of each
  /// parameter (Adam's bias correction counts per parameter, as PyTorch's state["step"]),
  /// the step count and the groups with their current lr and momentum.
  struct State {
    std::string kind;
    std::int64_t steps = 0;
    std::vector<GroupHyper> groups;
    std::vector<std::pair<std::string, Tensor<T>>> tensors;
    std::vector<std::pair<std::string, std::int64_t>> param_steps;
  };

  /// One update of every trainable parameter in every group for which grad_of returns a
  /// gradient; the others are skipped entirely (no state change, no weight decay).
  /// Parameters are updated in place in the graph. Throws InvalidArgument for invalid groups
  /// (checked at every step, since groups() is mutable), ShapeError for a gradient whose
  /// shape differs from its parameter, StateError for a parameter whose shape changed since
  /// its state was created.
  virtual void step(const GradFn& grad_of) {
    validate_groups(groups_, label());
    auto& params = graph_->parameters();
    for (const GroupHyper& group : groups_)
      for (const std::string& name : group.params) {
        Parameter<T>& param = params[param_index(name)];
        if (!param.trainable) continue;
        const Tensor<T> grad = grad_of(name);
        if (!grad.defined()) continue;
        if (!(grad.shape() == param.data.shape()))
          throw ShapeError(hone::detail::concat(label(), ": the gradient of \"", name,
                                                "\" has shape ", grad.shape(), ", the parameter ",
                                                param.data.shape()));
        ParamState& st = state_[name];
        if (st.tensors.empty()) st.tensors.resize(slot_names().size());
        for (const Tensor<T>& t : st.tensors)
          if (t.defined() && !(t.shape() == param.data.shape()))
            throw StateError("hone.optim.state",
                             hone::detail::concat(label(), ": parameter \"", name, "\" is now ",
                                                  param.data.shape(), " but its optimizer state is ",
                                                  t.shape(), "; build a new optimizer after changing "
                                                  "the model"));
        ++st.step;
        update(param.data, grad, st, group);
      }
    ++steps_;
  }

  /// step() with the gradients held by session (after its backward).
  void step(Session<T>& session) {
    step([&session](const std::string& name) {
      return session.has_grad(name) ? session.grad(name) : Tensor<T>();
    });
  }

  /// A deep copy of the optimizer state (later steps do not change it).
  virtual State state() const {
    State s{kind(), steps_, groups_, {}, {}};
    const std::vector<std::string> slots = slot_names();
    for (const GroupHyper& group : groups_)
      for (const std::string& name : group.params) {
        const auto it = state_.find(name);
        if (it == state_.end()) continue;
        s.param_steps.emplace_back(name, it->second.step);
        for (std::size_t k = 0; k < it->second.tensors.size(); ++k)
          if (it->second.tensors[k].defined())
            s.tensors.emplace_back(hone::detail::concat(name, ".", slots[k]),
                                   it->second.tensors[k].clone());
      }
    return s;
  }

  /// Replaces the state (tensors copied) and the groups' hyper-parameters with s. Throws
  /// InvalidArgument (hone.optim.state), leaving the optimizer unchanged, when s is of
  /// another kind, its groups differ in number, names or parameters, or a tensor has an
  /// unknown name, a parameter outside the groups, or a shape other than its parameter's.
  virtual void load_state(const State& s) {
    auto fail = [this](const std::string& what) {
      throw InvalidArgument("hone.optim.state", hone::detail::concat(label(), ": load_state: ", what));
    };
    if (s.kind != kind())
      fail(hone::detail::concat("the state is of a \"", s.kind, "\" optimizer, this is \"", kind(), "\""));
    if (s.steps < 0) fail(hone::detail::concat("negative step count ", s.steps));
    if (s.groups.size() != groups_.size())
      fail(hone::detail::concat("the state has ", s.groups.size(), " groups, the optimizer ",
                                groups_.size()));
    for (std::size_t g = 0; g < groups_.size(); ++g) {
      if (s.groups[g].name != groups_[g].name)
        fail(hone::detail::concat("group ", g, " is \"", s.groups[g].name, "\" in the state but \"",
                                  groups_[g].name, "\" here"));
      if (s.groups[g].params != groups_[g].params)
        fail(hone::detail::concat("group \"", groups_[g].name,
                                  "\" holds other parameters in the state"));
    }
    validate_groups(s.groups, label());
    std::unordered_map<std::string, const Tensor<T>*> members;
    for (const GroupHyper& group : groups_)
      for (const std::string& name : group.params)
        members[name] = &graph_->parameters()[param_index(name)].data;
    const std::vector<std::string> slots = slot_names();
    std::map<std::string, ParamState> loaded;
    auto entry = [&](const std::string& name) -> ParamState& {
      ParamState& st = loaded[name];
      if (st.tensors.empty()) st.tensors.resize(slots.size());
      return st;
    };
    std::unordered_map<std::string, bool> seen_steps;
    for (const auto& [name, count] : s.param_steps) {
      if (!members.count(name)) fail(hone::detail::concat("\"", name, "\" is in no group"));
      if (count < 0) fail(hone::detail::concat("negative step count for \"", name, "\""));
      if (!seen_steps.emplace(name, true).second)
        fail(hone::detail::concat("two step counts for \"", name, "\""));
      entry(name).step = count;
    }
    for (const auto& [full, tensor] : s.tensors) {
      std::size_t slot = slots.size();
      std::string param;
      for (std::size_t k = 0; k < slots.size(); ++k) {
        const std::string suffix = "." + slots[k];
        if (full.size() > suffix.size() &&
            full.compare(full.size() - suffix.size(), suffix.size(), suffix) == 0) {
          slot = k;
          param = full.substr(0, full.size() - suffix.size());
        }
      }
      if (slot == slots.size())
        fail(hone::detail::concat("unknown state tensor \"", full, "\" (a ", kind(),
                                  " optimizer holds <param>.", join(slots, ", <param>."), ")"));
      const auto member = members.find(param);
      if (member == members.end())
        fail(hone::detail::concat("state tensor \"", full, "\": parameter \"", param,
                                  "\" is in no group"));
      if (!tensor.defined() || !(tensor.shape() == member->second->shape()))
        fail(hone::detail::concat("state tensor \"", full, "\" has shape ",
                                  tensor.defined() ? tensor.shape().to_string() : "undefined",
                                  ", the parameter ", member->second->shape()));
      ParamState& st = entry(param);
      if (st.tensors[slot].defined()) fail(hone::detail::concat("state tensor \"", full, "\" appears twice"));
      st.tensors[slot] = tensor.clone();
    }
    for (const auto& [name, st] : loaded) {
      const std::string problem = check_loaded(st);
      if (!problem.empty()) fail(hone::detail::concat("parameter \"", name, "\": ", problem));
    }
    groups_ = s.groups;
    steps_ = s.steps;
    state_ = std::move(loaded);
  }

  Graph<T>& graph() noexcept { return *graph_; }
  const Graph<T>& graph() const noexcept { return *graph_; }

  // A copy would share its state tensors with the original (tensors are handles); copy
  // state() into a new optimizer instead.
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;
  Optimizer(Optimizer&&) noexcept = default;
  Optimizer& operator=(Optimizer&&) noexcept = default;

 protected:
  /// State of one parameter: its update count and one tensor per slot_names() entry
  /// (undefined until the update rule creates it).
  struct ParamState {
    std::int64_t step = 0;
    std::vector<Tensor<T>> tensors;
  };

  Optimizer(Graph<T>& graph, std::vector<GroupHyper> group_list) : graph_(&graph) {
    for (GroupHyper& g : group_list)
      if (g.initial_lr == 0) g.initial_lr = g.lr;
    groups_ = std::move(group_list);
  }

  /// Throws InvalidArgument naming the group when its hyper-parameters are out of range.
  virtual void check_hyper(const GroupHyper& g) const = 0;
  /// The state slots, e.g. {"momentum_buffer"}.
  virtual std::vector<std::string> slot_names() const = 0;
  /// An empty string, or what is wrong with a loaded parameter state.
  virtual std::string check_loaded(const ParamState&) const { return {}; }
  /// "SGD", "Adam", "AdamW": the prefix of messages.
  virtual std::string label() const = 0;
  /// One update of param with grad; state.step already counts this update.
  virtual void update(Tensor<T>& param, const Tensor<T>& grad, ParamState& state,
                      const GroupHyper& group) = 0;

  /// Checks names (known, not buffers or constants, in one group only) and hyper-parameters.
  void validate_groups(const std::vector<GroupHyper>& group_list, const std::string& who) {
    std::unordered_map<std::string, std::size_t> owner;
    const auto& params = graph_->parameters();
    for (std::size_t g = 0; g < group_list.size(); ++g) {
      const GroupHyper& group = group_list[g];
      check_hyper(group);
      for (const std::string& name : group.params) {
        const std::size_t index = param_index(name);
        auto at = [&] { return hone::detail::concat(who, ": group \"", group.name, "\": "); };
        if (index == npos)
          throw InvalidArgument("hone.optim.group", hone::detail::concat(at(), "parameter \"", name,
                                                                   "\" is not in the graph"));
        if (params[index].buffer)
          throw InvalidArgument("hone.optim.group",
                                hone::detail::concat(at(), "\"", name,
                                                     "\" is a buffer (state updated by forward, such "
                                                     "as running statistics), never optimized"));
        if (params[index].constant)
          throw InvalidArgument("hone.optim.group",
                                hone::detail::concat(at(), "\"", name,
                                                     "\" is a constant of the model, never optimized"));
        const auto [it, fresh] = owner.emplace(name, g);
        if (!fresh)
          throw InvalidArgument("hone.optim.group",
                                hone::detail::concat(who, ": parameter \"", name, "\" is in group \"",
                                                     group_list[it->second].name, "\" and in group \"",
                                                     group.name, "\"; a parameter belongs to one group"));
      }
    }
  }

  /// "<who>: group "<name>": " for messages about one group.
  std::string where(const GroupHyper& g) const {
    return hone::detail::concat(label(), ": group \"", g.name, "\": ");
  }
  void check_range(const GroupHyper& g, const char* what, double value, double lo, double hi,
                   bool hi_open) const {
    const bool ok = value >= lo && (hi_open ? value < hi : value <= hi);  // false for NaN
    if (!ok)
      throw InvalidArgument("hone.optim.hyper",
                            hone::detail::concat(where(g), what, " ", value, " is outside [", lo, ", ",
                                                 hi, hi_open ? ")" : "]"));
  }

 private:
  static std::string join(const std::vector<std::string>& parts, const std::string& sep) {
    std::string out;
    for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? sep : std::string()) + parts[i];
    return out;
  }

  /// Index into graph().parameters(), or npos; cached and re-resolved when the graph changed.
  std::size_t param_index(const std::string& name) {
    const auto& params = graph_->parameters();
    auto it = index_.find(name);
    if (it != index_.end() && it->second < params.size() && params[it->second].name == name)
      return it->second;
    index_.clear();
    for (std::size_t i = 0; i < params.size(); ++i) index_.emplace(params[i].name, i);
    it = index_.find(name);
    return it == index_.end() ? npos : it->second;
  }

  Graph<T>* graph_;
  std::map<std::string, ParamState> state_;
  std::unordered_map<std::string, std::size_t> index_;
};

// --- SGD --------------------------------------------------------------------------------

/// torch.optim.SGD's options. PyTorch has no default lr; 0.01 is Keras's.
struct SGDOptions {
  double lr = 0.01;
  double momentum = 0;
  double dampening = 0;
  bool nesterov = false;
  double weight_decay = 0;  ///< L2: added to the gradient (weight_decay * param)
};

/// Stochastic gradient descent with momentum, as torch.optim.SGD:
///   d = g + weight_decay * p
///   b = d at a parameter's first update, else momentum * b + (1 - dampening) * d
///   d = nesterov ? d + momentum * b : b            (when momentum != 0)
///   p = p - lr * d
/// State slot: momentum_buffer.
template <class T>
class SGD final : public Optimizer<T> {
 public:
  /// Groups keep their lr, initial_lr (lr when 0) and weight_decay; every group's momentum
  /// is set from opts (change it per group afterwards through groups()). Throws
  /// InvalidArgument for invalid groups or options. opts has no default, so that
  /// SGD(graph, {.lr = 0.1}) is unambiguous (GroupHyper has an lr too): write {} for it.
  SGD(Graph<T>& graph, std::vector<GroupHyper> group_list, SGDOptions opts)
      : Optimizer<T>(graph, std::move(group_list)), options_(opts) {
    if (!(opts.dampening >= 0 && opts.dampening <= 1))
      throw InvalidArgument("hone.optim.hyper",
                            hone::detail::concat("SGD: dampening ", opts.dampening, " is outside [0, 1]"));
    for (GroupHyper& g : this->groups_) g.momentum = opts.momentum;
    this->validate_groups(this->groups_, label());
  }
  /// Over default_groups(graph, opts.lr, opts.weight_decay).
  SGD(Graph<T>& graph, SGDOptions opts = {})
      : SGD(graph, default_groups(graph, opts.lr, opts.weight_decay), opts) {}

  std::string kind() const override { return "sgd"; }
  const SGDOptions& options() const noexcept { return options_; }

 protected:
  using typename Optimizer<T>::ParamState;
  std::string label() const override { return "SGD"; }
  std::vector<std::string> slot_names() const override { return {"momentum_buffer"}; }

  void check_hyper(const GroupHyper& g) const override {
    const double inf = std::numeric_limits<double>::infinity();
    this->check_range(g, "lr", g.lr, 0, inf, true);
    this->check_range(g, "weight_decay", g.weight_decay, 0, inf, true);
    this->check_range(g, "momentum", g.momentum, 0, inf, true);
    if (options_.nesterov && (g.momentum <= 0 || options_.dampening != 0))
      throw InvalidArgument("hone.optim.hyper",
                            hone::detail::concat(this->where(g), "Nesterov momentum needs momentum > 0 "
                                                 "and dampening 0 (momentum ", g.momentum,
                                                 ", dampening ", options_.dampening, ")"));
  }

  // p, g, b are flat views of the same numel.
  void update(Tensor<T>& param, const Tensor<T>& grad, ParamState& st,
              const GroupHyper& g) override {
    const bool decay = g.weight_decay != 0, use_momentum = g.momentum != 0;
    const T wd = static_cast<T>(g.weight_decay), momentum = static_cast<T>(g.momentum);
    const T keep = static_cast<T>(1 - options_.dampening), neg_lr = static_cast<T>(-g.lr);
    Tensor<T>& buf = st.tensors[0];
    const bool first = use_momentum && !buf.defined();
    if (first) buf = Tensor<T>(param.shape());
    T* p = param.data();
    const T* dp = grad.data();
    T* b = use_momentum ? buf.data() : nullptr;
    const std::int64_t n = param.numel();
    for (std::int64_t i = 0; i < n; ++i) {
      T d = dp[i];
      if (decay) d = d + wd * p[i];
      if (use_momentum) {
        b[i] = first ? d : b[i] * momentum + keep * d;
        d = options_.nesterov ? d + momentum * b[i] : b[i];
      }
      p[i] = p[i] + neg_lr * d;
    }
  }

 private:
  SGDOptions options_;
};

// --- Adam and AdamW ---------------------------------------------------------------------

/// torch.optim.Adam's options; weight_decay is L2 (added to the gradient).
struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;
  bool amsgrad = false;
};

/// torch.optim.AdamW's options; weight_decay is decoupled (PyTorch's default 0.01).
struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
};

namespace detail {

/// The Adam update, with L2 (Adam) or decoupled (AdamW) weight decay. t counts the updates
/// of this parameter, beta1 is group.momentum:
///   p = p * (1 - lr * weight_decay)                       (AdamW)
///   g = g + weight_decay * p                              (Adam)
///   m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g^2
///   vmax = max(vmax, v) with amsgrad
///   p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
/// State slots: exp_avg (m), exp_avg_sq (v), max_exp_avg_sq (vmax, amsgrad only).
template <class T>
class AdamFamily : public Optimizer<T> {
 public:
  double eps() const noexcept { return eps_; }
  bool amsgrad() const noexcept { return amsgrad_; }

 protected:
  using typename Optimizer<T>::ParamState;

  AdamFamily(Graph<T>& graph, std::vector<GroupHyper> group_list, double beta1, double beta2,
             double eps, bool amsgrad, bool decoupled)
      : Optimizer<T>(graph, std::move(group_list)), eps_(eps), amsgrad_(amsgrad),
        decoupled_(decoupled) {
    for (GroupHyper& g : this->groups_) {
      g.momentum = beta1;
      g.beta2 = beta2;
    }
  }

  std::vector<std::string> slot_names() const override {
    if (amsgrad_) return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
    return {"exp_avg", "exp_avg_sq"};
  }

  void check_hyper(const GroupHyper& g) const override {
    const double inf = std::numeric_limits<double>::infinity();
    this->check_range(g, "lr", g.lr, 0, inf, true);
    this->check_range(g, "weight_decay", g.weight_decay, 0, inf, true);
    this->check_range(g, "beta1 (momentum)", g.momentum, 0, 1, true);
    this->check_range(g, "beta2", g.beta2, 0, 1, true);
    this->check_range(g, "eps", eps_, 0, inf, true);
  }

  std::string check_loaded(const ParamState& st) const override {
    bool any = false, all = true;
    for (const Tensor<T>& t : st.tensors) {
      any = any || t.defined();
      all = all && t.defined();
    }
    if (st.step == 0 && any) return "state tensors but no update count";
    if (st.step > 0 && !all) return "an update count but not every state tensor";
    return {};
  }

  // p, g, m, v, vmax are flat views of the same numel.
  void update(Tensor<T>& param, const Tensor<T>& grad, ParamState& st,
              const GroupHyper& g) override {
    for (Tensor<T>& t : st.tensors)
      if (!t.defined()) t = Tensor<T>(param.shape());
    // Scalars in double, as PyTorch computes them in Python before the tensor ops.
    const double t = static_cast<double>(st.step);
    const double bias_correction1 = 1 - std::pow(g.momentum, t);
    const double bias_correction2 = 1 - std::pow(g.beta2, t);
    const T neg_step_size = static_cast<T>(-(g.lr / bias_correction1));
    const T bias_correction2_sqrt = static_cast<T>(std::sqrt(bias_correction2));
    const T beta1 = static_cast<T>(g.momentum), beta2 = static_cast<T>(g.beta2);
    const T one_minus_beta1 = static_cast<T>(1 - g.momentum);
    const T one_minus_beta2 = static_cast<T>(1 - g.beta2);
    const T eps = static_cast<T>(eps_), wd = static_cast<T>(g.weight_decay);
    const bool decay = g.weight_decay != 0;
    const T shrink = static_cast<T>(1 - g.lr * g.weight_decay);
    T* p = param.data();
    const T* dp = grad.data();
    T* m = st.tensors[0].data();
    T* v = st.tensors[1].data();
    T* vmax = amsgrad_ ? st.tensors[2].data() : nullptr;
    const std::int64_t n = param.numel();
    for (std::int64_t i = 0; i < n; ++i) {
      T gi = dp[i];
      if (decay) {
        if (decoupled_) p[i] = p[i] * shrink;
        else gi = gi + wd * p[i];
      }
      m[i] = m[i] * beta1 + one_minus_beta1 * gi;
      v[i] = v[i] * beta2 + one_minus_beta2 * gi * gi;
      T second = v[i];
      if (vmax) {
        vmax[i] = vmax[i] < v[i] ? v[i] : vmax[i];
        second = vmax[i];
      }
      const T denom = std::sqrt(second) / bias_correction2_sqrt + eps;
      p[i] = p[i] + neg_step_size * m[i] / denom;
    }
  }

 private:
  double eps_;
  bool amsgrad_;
  bool decoupled_;
};

}  // namespace detail

/// Adam (torch.optim.Adam), with L2 weight decay added to the gradient.
template <class T>
class Adam final : public detail::AdamFamily<T> {
 public:
  /// Groups keep their lr, initial_lr (lr when 0) and weight_decay; every group's momentum
  /// (beta1) and beta2 are set from opts. Throws InvalidArgument for invalid groups/options.
  Adam(Graph<T>& graph, std::vector<GroupHyper> group_list, AdamOptions opts)
      : detail::AdamFamily<T>(graph, std::move(group_list), opts.beta1, opts.beta2, opts.eps,
                              opts.amsgrad, false),
        options_(opts) {
    this->validate_groups(this->groups_, label());
  }
  /// Over default_groups(graph, opts.lr, opts.weight_decay).
  Adam(Graph<T>& graph, AdamOptions opts = {})
      : Adam(graph, default_groups(graph, opts.lr, opts.weight_decay), opts) {}

  std::string kind() const override { return "adam"; }
  const AdamOptions& options() const noexcept { return options_; }

 protected:
  std::string label() const override { return "Adam"; }

 private:
  AdamOptions options_;
};

/// AdamW (torch.optim.AdamW): decoupled weight decay, p *= 1 - lr * weight_decay before the
/// Adam update.
template <class T>
class AdamW final : public detail::AdamFamily<T> {
 public:
  /// As Adam's constructor.
  AdamW(Graph<T>& graph, std::vector<GroupHyper> group_list, AdamWOptions opts)
      : detail::AdamFamily<T>(graph, std::move(group_list), opts.beta1, opts.beta2, opts.eps,
                              opts.amsgrad, true),
        options_(opts) {
    this->validate_groups(this->groups_, label());
  }
  /// Over default_groups(graph, opts.lr, opts.weight_decay): no decay for rank <= 1.
  AdamW(Graph<T>& graph, AdamWOptions opts = {})
      : AdamW(graph, default_groups(graph, opts.lr, opts.weight_decay), opts) {}

  std::string kind() const override { return "adamw"; }
  const AdamWOptions& options() const noexcept { return options_; }

 protected:
  std::string label() const override { return "AdamW"; }

 private:
  AdamWOptions options_;
};

// --- group builders and clipping: implementation ----------------------------------------

namespace detail {

inline void check_lr_and_decay(const char* who, double lr, double weight_decay) {
  if (!(lr >= 0))
    throw InvalidArgument("hone.optim.hyper", hone::detail::concat(who, ": lr ", lr, " is negative"));
  if (!(weight_decay >= 0))
    throw InvalidArgument("hone.optim.hyper",
                          hone::detail::concat(who, ": weight_decay ", weight_decay, " is negative"));
}

/// The decay / no-decay pair of one set of parameter names (graph order kept).
template <class T>
void split_decay(const Graph<T>& graph, const std::vector<std::string>& names,
                 const std::string& decay_name, const std::string& no_decay_name, double lr,
                 double weight_decay, std::vector<GroupHyper>& out) {
  GroupHyper decay, no_decay;
  decay.name = decay_name;
  no_decay.name = no_decay_name;
  decay.lr = decay.initial_lr = no_decay.lr = no_decay.initial_lr = lr;
  decay.weight_decay = weight_decay;
  for (const std::string& name : names)
    (graph.parameter(name).data.rank() <= 1 ? no_decay : decay).params.push_back(name);
  if (!decay.params.empty()) out.push_back(std::move(decay));
  if (!no_decay.params.empty()) out.push_back(std::move(no_decay));
}

template <class T>
std::vector<GroupHyper> layer_groups_with_lrs(const Graph<T>& graph,
                                              const std::vector<std::vector<std::string>>& layer_groups,
                                              const std::vector<double>& lrs, double weight_decay) {
  const char* who = "discriminative_groups";
  std::unordered_map<std::string, std::size_t> owner;
  std::vector<GroupHyper> out;
  for (std::size_t g = 0; g < layer_groups.size(); ++g) {
    check_lr_and_decay(who, lrs[g], weight_decay);
    for (const std::string& name : layer_groups[g]) {
      if (!graph.has_parameter(name))
        throw InvalidArgument("hone.optim.group",
                              hone::detail::concat(who, ": layer group ", g, ": parameter \"", name,
                                                   "\" is not in the graph"));
      const Parameter<T>& p = graph.parameter(name);
      if (p.buffer || p.constant)
        throw InvalidArgument("hone.optim.group",
                              hone::detail::concat(who, ": layer group ", g, ": \"", name, "\" is a ",
                                                   p.buffer ? "buffer" : "constant",
                                                   ", never optimized"));
      const auto [it, fresh] = owner.emplace(name, g);
      if (!fresh)
        throw InvalidArgument("hone.optim.group",
                              hone::detail::concat(who, ": parameter \"", name, "\" is in layer groups ",
                                                   it->second, " and ", g));
    }
    const std::string base = hone::detail::concat("group", g);
    split_decay(graph, layer_groups[g], base, base + ".no_decay", lrs[g], weight_decay, out);
  }
  return out;
}

/// (sum |x|^p)^(1/p) of one tensor, or max |x| for p = infinity; accumulated in double.
template <class T>
double tensor_norm(const Tensor<T>& t, double p) {
  double acc = 0;
  const std::int64_t n = t.numel();
  const T* x = t.data();
  if (std::isinf(p)) {
    for (std::int64_t i = 0; i < n; ++i) acc = std::max(acc, std::fabs(static_cast<double>(x[i])));
    return acc;
  }
  for (std::int64_t i = 0; i < n; ++i) {
    const double a = std::fabs(static_cast<double>(x[i]));
    acc += p == 2 ? a * a : std::pow(a, p);
  }
  return p == 2 ? std::sqrt(acc) : std::pow(acc, 1 / p);
}

}  // namespace detail

template <class T>
std::vector<GroupHyper> default_groups(const Graph<T>& graph, double lr, double weight_decay) {
  detail::check_lr_and_decay("default_groups", lr, weight_decay);
  std::vector<std::string> names;
  for (const Parameter<T>& p : graph.parameters())
    if (!p.buffer && !p.constant) names.push_back(p.name);
  std::vector<GroupHyper> out;
  detail::split_decay(graph, names, "decay", "no_decay", lr, weight_decay, out);
  return out;
}

template <class T>
std::vector<GroupHyper> discriminative_groups(const Graph<T>& graph,
                                              const std::vector<std::vector<std::string>>& layer_groups,
                                              double base_lr, double factor, double weight_decay) {
  if (!(factor > 0))
    throw InvalidArgument("hone.optim.hyper",
                          hone::detail::concat("discriminative_groups: factor ", factor,
                                               " must be positive (e.g. 2.6)"));
  std::vector<double> lrs;
  const std::size_t n = layer_groups.size();
  for (std::size_t i = 0; i < n; ++i)
    lrs.push_back(base_lr / std::pow(factor, static_cast<double>(n - 1 - i)));
  return detail::layer_groups_with_lrs(graph, layer_groups, lrs, weight_decay);
}

template <class T>
std::vector<GroupHyper> discriminative_groups(const Graph<T>& graph,
                                              const std::vector<std::vector<std::string>>& layer_groups,
                                              LrRange range, double weight_decay) {
  if (!(range.min > 0 && range.max >= range.min))
    throw InvalidArgument("hone.optim.hyper",
                          hone::detail::concat("discriminative_groups: the lr range [", range.min, ", ",
                                               range.max, "] needs 0 < min <= max"));
  // fastai's even_mults(start, stop, n).
  std::vector<double> lrs;
  const std::size_t n = layer_groups.size();
  if (n == 1) lrs.push_back(range.max);
  else if (n > 1) {
    const double step = std::pow(range.max / range.min, 1.0 / static_cast<double>(n - 1));
    for (std::size_t i = 0; i < n; ++i)
      lrs.push_back(range.min * std::pow(step, static_cast<double>(i)));
  }
  return detail::layer_groups_with_lrs(graph, layer_groups, lrs, weight_decay);
}

template <class T>
std::vector<std::string> parameters_with_prefix(const Graph<T>& graph,
                                                const std::vector<std::string>& prefixes) {
  std::vector<std::string> out;
  for (const Parameter<T>& p : graph.parameters()) {
    if (p.buffer || p.constant) continue;
    for (const std::string& prefix : prefixes)
      if (p.name.compare(0, prefix.size(), prefix) == 0) {
        out.push_back(p.name);
        break;
      }
  }
  return out;
}

template <class T>
double clip_grad_norm(const std::vector<Tensor<T>>& grads, double max_norm, double norm_type) {
  if (!(max_norm >= 0))
    throw InvalidArgument("hone.optim.hyper",
                          hone::detail::concat("clip_grad_norm: max_norm ", max_norm, " is negative"));
  if (!(norm_type > 0))
    throw InvalidArgument("hone.optim.hyper",
                          hone::detail::concat("clip_grad_norm: norm_type ", norm_type,
                                               " must be positive or infinity"));
  const bool inf = std::isinf(norm_type);
  double total = 0;
  for (const Tensor<T>& g : grads) {
    if (!g.defined()) continue;
    const double norm = detail::tensor_norm(g, norm_type);
    total = inf ? std::max(total, norm) : total + std::pow(norm, norm_type);
  }
  if (!inf) total = std::pow(total, 1 / norm_type);
  const double coef = max_norm / (total + 1e-6);
  if (!(coef >= 1)) {  // also for a NaN norm, as PyTorch
    const T scale = static_cast<T>(coef);
    for (const Tensor<T>& g : grads) {
      if (!g.defined()) continue;
      Tensor<T> shared = g;  // a handle: scales the caller's storage
      for (T& x : shared) x = x * scale;
    }
  }
  return total;
}

template <class T>
double clip_grad_norm(Session<T>& session, double max_norm, double norm_type) {
  std::vector<Tensor<T>> grads;
  const GraphAnalysis& a = session.analysis();
  for (std::size_t v = 0; v < a.names.size(); ++v)
    if (a.param[v] != npos && session.has_grad(a.names[v])) grads.push_back(session.grad(a.names[v]));
  return clip_grad_norm(grads, max_norm, norm_type);
}

}  // namespace hone::train
