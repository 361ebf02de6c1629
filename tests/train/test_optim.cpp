// Tests for hone/train/optim.hpp and hone/train/schedule.hpp.
//
// [torch]: PyTorch parity. tests/train/gen_optim_ref.py runs torch.optim and
// torch.optim.lr_scheduler at test time (ctest fixture "train-optim-ref") and writes
// trajectories to $HONE_OPTIM_REF_DIR/optim_ref.json; here the same runs are replayed:
//   - SGD (plain, momentum, dampening, Nesterov, weight decay), Adam (L2 decay, amsgrad),
//     AdamW, with two parameter groups of different lr and weight decay, a parameter
//     without gradient at some steps, and OneCycle on SGD momentum and AdamW beta1: the
//     parameters after each of 20 steps, 1e-10 relative in float64 (measured: ~1e-15) and
//     1e-5 in float32 (PyTorch's vectorised float kernels round differently; measured ~5e-7);
//   - ConstantLR, StepLR, MultiStepLR, warmup + cosine (PyTorch's SequentialLR of LinearLR
//     and CosineAnnealingLR), OneCycleLR (cos/linear, two/three phases) with momentum and
//     beta1 cycling: every step's lr and momentum within 1e-12 relative (PyTorch computes
//     some of them recursively, we in closed form);
//   - clip_grad_norm against torch.nn.utils.clip_grad_norm_ (2, 1 and infinity norms).
// [train]: C++ only: frozen parameters, state round trips, error messages, group builders,
// schedule conventions, the LR range finder.
#include <catch2/catch.hpp>

#include <hone/graph/builder.hpp>
#include <hone/graph/session.hpp>
#include <hone/train/optim.hpp>
#include <hone/train/schedule.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

using hone::Graph;
using hone::Tensor;
using hone::detail::concat;
namespace train = hone::train;

namespace {

// --- a minimal JSON reader for the generator's output -----------------------------------

struct Json {
  enum class Kind { null, boolean, number, string, array, object };
  Kind kind = Kind::null;
  bool boolean = false;
  double number = 0;
  std::string text;
  std::vector<Json> items;       // array elements, or object values
  std::vector<std::string> keys;  // object keys, parallel to items

  bool is_null() const { return kind == Kind::null; }
  bool has(const std::string& key) const {
    return kind == Kind::object && std::find(keys.begin(), keys.end(), key) != keys.end();
  }
  const Json& operator[](const std::string& key) const {
    const auto it = std::find(keys.begin(), keys.end(), key);
    if (kind != Kind::object || it == keys.end()) throw std::runtime_error("JSON: no member " + key);
    return items[static_cast<std::size_t>(it - keys.begin())];
  }
  const Json& operator[](std::size_t i) const { return items.at(i); }
  std::size_t size() const { return items.size(); }
  double num() const {
    if (kind == Kind::string && text == "inf") return INFINITY;
    if (kind != Kind::number) throw std::runtime_error("JSON: not a number");
    return number;
  }
  double num_or(const std::string& key, double fallback) const {
    return has(key) ? (*this)[key].num() : fallback;
  }
  bool bool_or(const std::string& key, bool fallback) const {
    return has(key) ? (*this)[key].boolean : fallback;
  }
  std::vector<double> nums() const {
    std::vector<double> out;
    for (const auto& v : items) out.push_back(v.num());
    return out;
  }
  std::vector<std::string> strings() const {
    std::vector<std::string> out;
    for (const auto& v : items) out.push_back(v.text);
    return out;
  }
};

class JsonReader {
 public:
  explicit JsonReader(const std::string& text) : s_(text) {}
  Json parse() {
    Json v = value();
    space();
    if (pos_ != s_.size()) fail("trailing characters");
    return v;
  }

 private:
  [[noreturn]] void fail(const char* what) const {
    throw std::runtime_error(concat("JSON: ", what, " at offset ", pos_));
  }
  void space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\t' || s_[pos_] == '\r'))
      ++pos_;
  }
  bool take(char c) {
    space();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool word(const char* w) {
    const std::string ws(w);
    if (s_.compare(pos_, ws.size(), ws) != 0) return false;
    pos_ += ws.size();
    return true;
  }
  std::string string() {
    if (!take('"')) fail("expected a string");
    std::string out;
    while (pos_ < s_.size() && s_[pos_] != '"') {
      if (s_[pos_] == '\\') ++pos_;  // the generator writes plain ASCII names only
      out += s_[pos_++];
    }
    if (!take('"')) fail("unterminated string");
    return out;
  }
  Json value() {
    space();
    Json v;
    if (pos_ >= s_.size()) fail("unexpected end");
    const char c = s_[pos_];
    if (c == '{') {
      ++pos_;
      v.kind = Json::Kind::object;
      if (take('}')) return v;
      do {
        v.keys.push_back(string());
        if (!take(':')) fail("expected ':'");
        v.items.push_back(value());
      } while (take(','));
      if (!take('}')) fail("expected '}'");
    } else if (c == '[') {
      ++pos_;
      v.kind = Json::Kind::array;
      if (take(']')) return v;
      do v.items.push_back(value());
      while (take(','));
      if (!take(']')) fail("expected ']'");
    } else if (c == '"') {
      v.kind = Json::Kind::string;
      v.text = string();
    } else if (word("null")) {
      v.kind = Json::Kind::null;
    } else if (word("true") || word("false")) {
      v.kind = Json::Kind::boolean;
      v.boolean = s_[pos_ - 1] == 'e' && s_[pos_ - 2] == 'u';
    } else {
      const char* begin = s_.c_str() + pos_;
      char* end = nullptr;
      v.kind = Json::Kind::number;
      v.number = std::strtod(begin, &end);  // exact for Python's repr() of a double
      if (end == begin) fail("bad value");
      pos_ += static_cast<std::size_t>(end - begin);
    }
    return v;
  }

  const std::string& s_;
  std::size_t pos_ = 0;
};

const Json& reference() {
  static const Json ref = [] {
    const char* dir = std::getenv("HONE_OPTIM_REF_DIR");
    if (!dir) throw std::runtime_error("HONE_OPTIM_REF_DIR is not set (ctest sets it; "
                                       "tests/train/gen_optim_ref.py writes the file)");
    const std::string path = std::string(dir) + "/optim_ref.json";
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open " + path);
    const std::string text((std::istreambuf_iterator<char>(in)), {});
    return JsonReader(text).parse();
  }();
  return ref;
}

// --- the reference problem ---------------------------------------------------------------

const char* const kParams[] = {"w1", "b1", "w2"};

template <class T>
Tensor<T> tensor_of(const std::vector<std::int64_t>& dims, const std::vector<double>& values) {
  Tensor<T> t{hone::Shape(std::span<const std::int64_t>(dims))};
  REQUIRE(static_cast<std::size_t>(t.numel()) == values.size());
  for (std::size_t i = 0; i < values.size(); ++i) t[static_cast<std::int64_t>(i)] = static_cast<T>(values[i]);
  return t;
}

template <class T>
Graph<T> reference_graph(const Json& ref) {
  Graph<T> g;
  for (const char* name : kParams) {
    const Json& p = ref["params"][name];
    std::vector<std::int64_t> dims;
    for (double d : p["shape"].nums()) dims.push_back(static_cast<std::int64_t>(d));
    g.add_parameter(name, tensor_of<T>(dims, p["init"].nums()));
  }
  return g;
}

/// The generator's gradient at `step`: scale * p + noise[step], or none.
template <class T>
Tensor<T> reference_grad(const Json& ref, const Graph<T>& g, const std::string& name, std::size_t step) {
  const Json& noise = ref["noise"][step][name];
  if (noise.is_null()) return {};
  const Tensor<T>& p = g.parameter(name).data;
  const std::vector<double> scale = ref["grad_scale"][name].nums(), n = noise.nums();
  Tensor<T> out(p.shape());
  for (std::int64_t i = 0; i < p.numel(); ++i) {
    const auto k = static_cast<std::size_t>(i);
    out[i] = static_cast<T>(scale[k]) * p[i] + static_cast<T>(n[k]);
  }
  return out;
}

train::OneCycleOptions onecycle_options(const Json& s) {
  train::OneCycleOptions o;
  o.pct_start = s["pct_start"].num();
  o.div_factor = s["div_factor"].num();
  o.final_div_factor = s["final_div_factor"].num();
  o.anneal = s["anneal"].text == "cos" ? train::OneCycleOptions::Anneal::cos
                                       : train::OneCycleOptions::Anneal::linear;
  o.three_phase = s["three_phase"].boolean;
  o.cycle_momentum = s["cycle_momentum"].boolean;
  o.base_momentum = s["base_momentum"].num();
  o.max_momentum = s["max_momentum"].num();
  return o;
}

template <class T>
std::unique_ptr<train::Optimizer<T>> reference_optimizer(Graph<T>& g, const Json& run) {
  std::vector<train::GroupHyper> groups;
  for (std::size_t i = 0; i < run["groups"].size(); ++i) {
    const Json& j = run["groups"][i];
    train::GroupHyper h;
    h.name = concat("g", i);
    h.params = j["params"].strings();
    h.lr = j["lr"].num();
    h.weight_decay = j["weight_decay"].num();
    groups.push_back(h);
  }
  const Json& o = run["options"];
  const std::string kind = run["kind"].text;
  if (kind == "sgd")
    return std::make_unique<train::SGD<T>>(
        g, groups, train::SGDOptions{.lr = 0.1, .momentum = o.num_or("momentum", 0),
                                     .dampening = o.num_or("dampening", 0),
                                     .nesterov = o.bool_or("nesterov", false)});
  if (kind == "adam")
    return std::make_unique<train::Adam<T>>(
        g, groups, train::AdamOptions{.lr = 0.1, .beta1 = o.num_or("beta1", 0.9),
                                      .beta2 = o.num_or("beta2", 0.999), .eps = o.num_or("eps", 1e-8),
                                      .amsgrad = o.bool_or("amsgrad", false)});
  return std::make_unique<train::AdamW<T>>(
      g, groups, train::AdamWOptions{.lr = 0.1, .beta1 = o.num_or("beta1", 0.9),
                                     .beta2 = o.num_or("beta2", 0.999), .eps = o.num_or("eps", 1e-8),
                                     .amsgrad = o.bool_or("amsgrad", false)});
}

/// max |a - b| / max |b| over one tensor: the error relative to the reference's scale.
template <class T>
double relative_error(const Tensor<T>& a, const std::vector<double>& b) {
  double diff = 0, scale = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    const double r = b[static_cast<std::size_t>(i)];
    diff = std::max(diff, std::fabs(static_cast<double>(a[i]) - r));
    scale = std::max(scale, std::fabs(r));
  }
  return scale > 0 ? diff / scale : diff;
}

/// Replays every run of `dtype` and checks each step's parameters; returns the worst error.
template <class T>
double check_trajectories(const std::string& dtype, double tolerance) {
  const Json& ref = reference();
  double worst = 0;
  int runs = 0;
  for (const Json& run : ref["runs"].items) {
    if (run["dtype"].text != dtype) continue;
    ++runs;
    Graph<T> g = reference_graph<T>(ref);
    auto opt = reference_optimizer<T>(g, run);
    std::unique_ptr<train::OneCycle> schedule;
    if (!run["schedule"].is_null())
      schedule = std::make_unique<train::OneCycle>(
          static_cast<std::int64_t>(run["schedule"]["total_steps"].num()), onecycle_options(run["schedule"]));
    const Json& trajectory = run["trajectory"];
    for (std::size_t k = 0; k < trajectory.size(); ++k) {
      if (schedule) schedule->apply(*opt, static_cast<std::int64_t>(k));
      opt->step([&](const std::string& name) { return reference_grad(ref, g, name, k); });
      for (const char* name : kParams) {
        const double err = relative_error(g.parameter(name).data, trajectory[k][name].nums());
        worst = std::max(worst, err);
        INFO(run["name"].text << " (" << dtype << "): " << name << " after step " << k + 1);
        CHECK(err <= tolerance);
      }
    }
    CHECK(opt->steps() == static_cast<std::int64_t>(trajectory.size()));
  }
  CHECK(runs == 12);
  return worst;
}

template <class T>
Graph<T> two_param_graph() {
  Graph<T> g;
  g.add_parameter("p0", Tensor<T>({2}));
  g.add_parameter("p1", Tensor<T>({2}));
  return g;
}

std::vector<train::GroupHyper> groups_with_lrs(const std::vector<double>& lrs) {
  std::vector<train::GroupHyper> groups;
  for (std::size_t i = 0; i < lrs.size(); ++i) {
    train::GroupHyper h;
    h.name = concat("g", i);
    h.params = {concat("p", i)};
    h.lr = lrs[i];
    groups.push_back(h);
  }
  return groups;
}

std::unique_ptr<train::Schedule> reference_schedule(const Json& args) {
  const std::string kind = args["kind"].text;
  const auto integer = [&](const char* key) { return static_cast<std::int64_t>(args[key].num()); };
  if (kind == "onecycle") return std::make_unique<train::OneCycle>(integer("total_steps"), onecycle_options(args));
  if (kind == "step") return std::make_unique<train::StepLR>(integer("step_size"), args["gamma"].num());
  if (kind == "constant") return std::make_unique<train::ConstantLR>(args["factor"].num(), integer("total_iters"));
  if (kind == "multistep") {
    std::vector<std::int64_t> milestones;
    for (double m : args["milestones"].nums()) milestones.push_back(static_cast<std::int64_t>(m));
    return std::make_unique<train::MultiStepLR>(milestones, args["gamma"].num());
  }
  REQUIRE(kind == "cosine_warmup");
  return std::make_unique<train::CosineWithWarmup>(integer("warmup_steps"), integer("total_steps"),
                                                   args["warmup_start_factor"].num(),
                                                   args["min_lr_factor"].num());
}

// --- problems for the C++-only tests -----------------------------------------------------

/// A deterministic gradient for any parameter: sin of the parameter plus a step-dependent
/// offset (not a function with a closed-form optimum; only determinism matters here).
template <class T>
Tensor<T> wiggle_grad(const Tensor<T>& p, std::int64_t step) {
  Tensor<T> g(p.shape());
  for (std::int64_t i = 0; i < p.numel(); ++i)
    g[i] = static_cast<T>(std::sin(static_cast<double>(p[i]) * 3 + static_cast<double>(step + i) * 0.7));
  return g;
}

template <class T>
bool bit_identical(const Tensor<T>& a, const Tensor<T>& b) {
  if (!(a.shape() == b.shape())) return false;
  for (std::int64_t i = 0; i < a.numel(); ++i)
    if (std::memcmp(&a.data()[i], &b.data()[i], sizeof(T)) != 0) return false;
  return true;
}

/// conv1 (weight, bias), bn1 (weight, bias, running stats), fc (weight, bias), a constant.
Graph<double> small_model() {
  hone::Builder<double> b(7);
  hone::Var x = b.input("x", {2, 4, 4});
  hone::Var t = b.input("t", {3});
  hone::Var h = b.relu(b.batch_norm(b.conv(x, 3, {.kernel = 3, .padding = 1}, "conv1"), "bn1"));
  hone::Var y = b.linear(b.flatten(b.global_avg_pool(h)), 3, true, "fc");
  b.output(b.mse(y, t));
  Graph<double> g = b.build();
  g.add_constant("table", Tensor<double>({2}, 1.0));
  return g;
}

}  // namespace

// ===== PyTorch parity ======================================================================

TEST_CASE("optim: SGD, Adam and AdamW trajectories match PyTorch in float64", "[train][torch]") {
  const double worst = check_trajectories<double>("float64", 1e-10);
  WARN("float64 worst relative error " << worst);
}

TEST_CASE("optim: SGD, Adam and AdamW trajectories match PyTorch in float32", "[train][torch]") {
  const double worst = check_trajectories<float>("float32", 1e-5);
  WARN("float32 worst relative error " << worst);
}

TEST_CASE("schedule: lr and momentum per step match torch.optim.lr_scheduler", "[train][torch]") {
  const Json& ref = reference();
  REQUIRE(ref["schedules"].size() == 9);
  double worst = 0;
  for (const Json& s : ref["schedules"].items) {
    const std::vector<double> lrs = s["initial_lrs"].nums();
    Graph<double> g = two_param_graph<double>();
    std::unique_ptr<train::OptimizerBase> opt;
    if (s["optimizer"].text == "sgd")
      opt = std::make_unique<train::SGD<double>>(g, groups_with_lrs(lrs), train::SGDOptions{.momentum = 0.9});
    else
      opt = std::make_unique<train::Adam<double>>(g, groups_with_lrs(lrs), train::AdamOptions{.beta2 = 0.99});
    const auto schedule = reference_schedule(s["args"]);
    for (std::size_t k = 0; k < s["lr"].size(); ++k) {
      schedule->apply(*opt, static_cast<std::int64_t>(k));
      for (std::size_t i = 0; i < lrs.size(); ++i) {
        const double lr = s["lr"][k][i].num(), momentum = s["momentum"][k][i].num();
        INFO(s["name"].text << " (" << schedule->describe() << ") step " << k << " group " << i
                            << ": lr " << opt->groups()[i].lr << " vs torch " << lr);
        CHECK(std::fabs(opt->groups()[i].lr - lr) <= 1e-12 * std::fabs(lr));
        CHECK(std::fabs(opt->groups()[i].momentum - momentum) <= 1e-12 * std::fabs(momentum));
        worst = std::max(worst, std::fabs(opt->groups()[i].lr - lr) / std::fabs(lr));
      }
    }
  }
  WARN("schedules: worst relative lr error " << worst);
}

TEST_CASE("optim: clip_grad_norm matches torch.nn.utils.clip_grad_norm_", "[train][torch]") {
  const Json& ref = reference();
  REQUIRE(ref["clip"].size() == 5);
  for (const Json& c : ref["clip"].items) {
    const bool f32 = c["dtype"].text == "float32";
    const double tol = f32 ? 1e-6 : 1e-12;
    auto run = [&](auto zero) {
      using T = decltype(zero);
      std::vector<Tensor<T>> grads;
      for (std::size_t i = 0; i < c["shapes"].size(); ++i) {
        std::vector<std::int64_t> dims;
        for (double d : c["shapes"][i].nums()) dims.push_back(static_cast<std::int64_t>(d));
        grads.push_back(tensor_of<T>(dims, c["grads"][i].nums()));
      }
      grads.insert(grads.begin() + 1, Tensor<T>());  // undefined tensors are skipped
      const std::vector<Tensor<T>> handles = grads;  // copies share storage
      const double norm = train::clip_grad_norm(grads, c["max_norm"].num(), c["norm_type"].num());
      INFO(c["name"].text << ": norm " << norm << " vs torch " << c["total_norm"].num());
      CHECK(std::fabs(norm - c["total_norm"].num()) <= tol * c["total_norm"].num());
      for (std::size_t i = 0; i < c["shapes"].size(); ++i)
        CHECK(relative_error(handles[i == 0 ? 0 : i + 1], c["clipped"][i].nums()) <= tol);
    };
    if (f32) run(0.0f);
    else run(0.0);
  }
}

// ===== C++ only ============================================================================

TEST_CASE("optim: frozen parameters and parameters without gradient stay bit-identical", "[train]") {
  for (const std::string kind : {"sgd", "adam", "adamw"}) {
    Graph<double> g = two_param_graph<double>();
    g.add_parameter("frozen", Tensor<double>::from({3}, {0.5, -1.0, 2.0}));
    g.parameter("p0").data.fill(0.25);
    g.parameter("p1").data.fill(-0.75);
    g.freeze("frozen");
    // One group with weight decay, so a skipped parameter would move if it were touched.
    train::GroupHyper all;
    all.name = "all";
    all.params = {"p0", "p1", "frozen"};
    all.lr = 0.1;
    all.weight_decay = 0.1;
    std::unique_ptr<train::Optimizer<double>> opt;
    if (kind == "sgd")
      opt = std::make_unique<train::SGD<double>>(g, std::vector{all}, train::SGDOptions{.momentum = 0.9});
    else if (kind == "adam")
      opt = std::make_unique<train::Adam<double>>(g, std::vector{all}, train::AdamOptions{});
    else
      opt = std::make_unique<train::AdamW<double>>(g, std::vector{all}, train::AdamWOptions{});
    const Tensor<double> frozen = g.parameter("frozen").data.clone();
    const Tensor<double> p1 = g.parameter("p1").data.clone();
    for (std::int64_t k = 0; k < 5; ++k)
      opt->step([&](const std::string& name) {
        // A gradient is offered for the frozen parameter too: it must be ignored.
        return name == "p1" ? Tensor<double>() : wiggle_grad(g.parameter(name).data, k);
      });
    INFO(kind);
    CHECK(bit_identical(g.parameter("frozen").data, frozen));
    CHECK(bit_identical(g.parameter("p1").data, p1));
    CHECK_FALSE(bit_identical(g.parameter("p0").data, Tensor<double>({2}, 0.25)));
    const auto state = opt->state();
    for (const auto& [name, tensor] : state.tensors) CHECK(name.rfind("p0.", 0) == 0);
    REQUIRE(state.param_steps.size() == 1);
    CHECK(state.param_steps[0] == std::pair<std::string, std::int64_t>("p0", 5));
    // Unfrozen later, the parameter joins in without a new optimizer; its state starts then.
    g.unfreeze("frozen");
    opt->step([&](const std::string& name) { return wiggle_grad(g.parameter(name).data, 9); });
    CHECK_FALSE(bit_identical(g.parameter("frozen").data, frozen));
    CHECK(opt->state().param_steps.size() == 3);
    CHECK(opt->steps() == 6);
  }
}

TEST_CASE("optim: state() and load_state() continue bit-identically", "[train]") {
  // Each kind with a schedule that changes lr and momentum, so the groups must be restored.
  const auto make = [](const std::string& kind, Graph<double>& g) -> std::unique_ptr<train::Optimizer<double>> {
    if (kind == "sgd")
      return std::make_unique<train::SGD<double>>(g, train::SGDOptions{.lr = 0.05, .momentum = 0.9, .dampening = 0.1, .weight_decay = 0.01});
    if (kind == "nesterov")
      return std::make_unique<train::SGD<double>>(g, train::SGDOptions{.lr = 0.05, .momentum = 0.9, .nesterov = true});
    if (kind == "adam")
      return std::make_unique<train::Adam<double>>(g, train::AdamOptions{.lr = 0.01, .weight_decay = 0.01, .amsgrad = true});
    return std::make_unique<train::AdamW<double>>(g, train::AdamWOptions{.lr = 0.01});
  };
  for (const std::string kind : {"sgd", "nesterov", "adam", "adamw"}) {
    INFO(kind);
    const train::OneCycle schedule(20);
    auto grad_at = [](Graph<double>& g, std::int64_t k) {
      return [&g, k](const std::string& name) {
        // p1 misses every third step: its update count differs from the step count.
        if (name == "fc.bias" && k % 3 == 0) return Tensor<double>();
        return wiggle_grad(g.parameter(name).data, k);
      };
    };
    Graph<double> a = small_model();
    auto opt_a = make(kind, a);
    for (std::int64_t k = 0; k < 8; ++k) {
      schedule.apply(*opt_a, k);
      opt_a->step(grad_at(a, k));
    }
    const auto saved = opt_a->state();
    Graph<double> b = a;  // copies share storage: clone the parameters
    for (auto& p : b.parameters()) p.data = p.data.clone();
    for (std::int64_t k = 8; k < 14; ++k) {
      schedule.apply(*opt_a, k);
      opt_a->step(grad_at(a, k));
    }
    auto opt_b = make(kind, b);
    opt_b->load_state(saved);
    CHECK(opt_b->steps() == 8);
    CHECK(opt_b->groups()[0].lr == saved.groups[0].lr);
    for (std::int64_t k = opt_b->steps(); k < 14; ++k) {
      schedule.apply(*opt_b, k);
      opt_b->step(grad_at(b, k));
    }
    for (const auto& p : a.parameters()) {
      INFO(p.name);
      CHECK(bit_identical(p.data, b.parameter(p.name).data));
    }
    const auto end_a = opt_a->state(), end_b = opt_b->state();
    REQUIRE(end_a.tensors.size() == end_b.tensors.size());
    for (std::size_t i = 0; i < end_a.tensors.size(); ++i) {
      CHECK(end_a.tensors[i].first == end_b.tensors[i].first);
      CHECK(bit_identical(end_a.tensors[i].second, end_b.tensors[i].second));
    }
    CHECK(end_a.param_steps == end_b.param_steps);
    // The saved state is a copy: the steps after state() did not change it.
    CHECK(saved.steps == 8);
    if (kind == "adam") {
      std::vector<std::string> names;
      for (const auto& t : saved.tensors) names.push_back(t.first);
      CHECK(names[0] == "conv1.weight.exp_avg");
      CHECK(names[1] == "conv1.weight.exp_avg_sq");
      CHECK(names[2] == "conv1.weight.max_exp_avg_sq");
    }
    if (kind == "sgd") CHECK(saved.tensors[0].first == "conv1.weight.momentum_buffer");
  }
}

TEST_CASE("optim: load_state rejects a state that does not fit, naming the problem", "[train]") {
  Graph<double> g = small_model();
  train::Adam<double> adam(g, train::AdamOptions{.lr = 0.01});
  adam.step([&](const std::string& name) { return wiggle_grad(g.parameter(name).data, 0); });
  const auto good = adam.state();
  train::SGD<double> sgd(g);
  CHECK_THROWS_WITH(sgd.load_state(good),
                    "[hone.optim.state] SGD: load_state: the state is of a \"adam\" optimizer, this is \"sgd\"");
  auto unknown = good;
  unknown.tensors[0].first = "conv1.weight.momentum_buffer";
  CHECK_THROWS_WITH(adam.load_state(unknown),
                    "[hone.optim.state] Adam: load_state: unknown state tensor "
                    "\"conv1.weight.momentum_buffer\" (a adam optimizer holds <param>.exp_avg, "
                    "<param>.exp_avg_sq)");
  auto stranger = good;
  stranger.tensors[0].first = "conv9.weight.exp_avg";
  CHECK_THROWS_WITH(adam.load_state(stranger),
                    "[hone.optim.state] Adam: load_state: state tensor \"conv9.weight.exp_avg\": "
                    "parameter \"conv9.weight\" is in no group");
  auto misshapen = good;
  misshapen.tensors[0].second = Tensor<double>({2, 2});
  CHECK_THROWS_WITH(adam.load_state(misshapen),
                    "[hone.optim.state] Adam: load_state: state tensor \"conv1.weight.exp_avg\" has "
                    "shape (2, 2), the parameter (3, 2, 3, 3)");
  auto incomplete = good;
  incomplete.tensors.erase(incomplete.tensors.begin() + 1);
  CHECK_THROWS_WITH(adam.load_state(incomplete),
                    "[hone.optim.state] Adam: load_state: parameter \"conv1.weight\": an update count "
                    "but not every state tensor");
  auto regrouped = good;
  regrouped.groups[1].params.pop_back();
  CHECK_THROWS_WITH(adam.load_state(regrouped),
                    "[hone.optim.state] Adam: load_state: group \"no_decay\" holds other parameters in "
                    "the state");
  auto fewer = good;
  fewer.groups.pop_back();
  CHECK_THROWS_WITH(adam.load_state(fewer),
                    "[hone.optim.state] Adam: load_state: the state has 1 groups, the optimizer 2");
  // A failed load leaves the optimizer as it was.
  const auto after = adam.state();
  CHECK(after.steps == 1);
  REQUIRE(after.tensors.size() == good.tensors.size());
  for (std::size_t i = 0; i < after.tensors.size(); ++i)
    CHECK(bit_identical(after.tensors[i].second, good.tensors[i].second));
}

TEST_CASE("optim: invalid hyper-parameters and groups are rejected with a message naming them", "[train]") {
  Graph<double> g = small_model();
  auto group = [](std::string name, std::vector<std::string> params, double lr) {
    train::GroupHyper h;
    h.name = std::move(name);
    h.params = std::move(params);
    h.lr = lr;
    return h;
  };
  CHECK_THROWS_WITH(train::SGD<double>(g, {group("head", {"fc.weight"}, -0.1)}, {}),
                    "[hone.optim.hyper] SGD: group \"head\": lr -0.1 is outside [0, inf)");
  CHECK_THROWS_WITH(train::Adam<double>(g, {group("head", {"fc.weight"}, 0.1)}, {.beta1 = 1.0}),
                    "[hone.optim.hyper] Adam: group \"head\": beta1 (momentum) 1 is outside [0, 1)");
  CHECK_THROWS_WITH(train::AdamW<double>(g, {group("head", {"fc.weight"}, 0.1)}, {.beta2 = -0.5}),
                    "[hone.optim.hyper] AdamW: group \"head\": beta2 -0.5 is outside [0, 1)");
  CHECK_THROWS_WITH(train::SGD<double>(g, {group("head", {"fc.wieght"}, 0.1)}, {}),
                    "[hone.optim.group] SGD: group \"head\": parameter \"fc.wieght\" is not in the graph");
  CHECK_THROWS_WITH(
      train::SGD<double>(g, {group("head", {"fc.weight", "fc.bias"}, 0.1), group("all", {"fc.bias"}, 0.1)}, {}),
      "[hone.optim.group] SGD: parameter \"fc.bias\" is in group \"head\" and in group \"all\"; a "
      "parameter belongs to one group");
  CHECK_THROWS_WITH(train::Adam<double>(g, {group("bn", {"bn1.running_mean"}, 0.1)}, {}),
                    "[hone.optim.group] Adam: group \"bn\": \"bn1.running_mean\" is a buffer (state "
                    "updated by forward, such as running statistics), never optimized");
  CHECK_THROWS_WITH(train::Adam<double>(g, {group("c", {"table"}, 0.1)}, {}),
                    "[hone.optim.group] Adam: group \"c\": \"table\" is a constant of the model, never "
                    "optimized");
  CHECK_THROWS_WITH(train::SGD<double>(g, {.lr = 0.1, .nesterov = true}),
                    "[hone.optim.hyper] SGD: group \"decay\": Nesterov momentum needs momentum > 0 and "
                    "dampening 0 (momentum 0, dampening 0)");
  CHECK_THROWS_WITH(train::default_groups(g, -1.0, 0.0), "[hone.optim.hyper] default_groups: lr -1 is negative");
  // Groups are checked again at every step (a schedule or the user may have changed them).
  train::SGD<double> sgd(g);
  sgd.groups()[0].lr = -1;
  CHECK_THROWS_WITH(sgd.step([](const std::string&) { return Tensor<double>(); }),
                    "[hone.optim.hyper] SGD: group \"decay\": lr -1 is outside [0, inf)");
  sgd.groups()[0].lr = 0.1;
  CHECK_THROWS_WITH(sgd.step([](const std::string&) { return Tensor<double>({7}); }),
                    "[hone.shape] SGD: the gradient of \"conv1.weight\" has shape (7), the parameter "
                    "(3, 2, 3, 3)");
}

TEST_CASE("optim: default_groups splits decay and no-decay, keeps frozen, skips buffers and constants", "[train]") {
  Graph<double> g = small_model();
  g.freeze("conv1");
  const auto groups = train::default_groups(g, 0.01, 0.05);
  REQUIRE(groups.size() == 2);
  CHECK(groups[0].name == "decay");
  CHECK(groups[0].params == std::vector<std::string>{"conv1.weight", "fc.weight"});
  CHECK(groups[0].weight_decay == 0.05);
  CHECK(groups[1].name == "no_decay");
  CHECK(groups[1].params == std::vector<std::string>{"conv1.bias", "bn1.weight", "bn1.bias", "fc.bias"});
  CHECK(groups[1].weight_decay == 0);
  CHECK(groups[1].lr == 0.01);
  CHECK(groups[1].initial_lr == 0.01);
  // AdamW's convenience constructor uses them with its default weight decay 0.01.
  train::AdamW<double> adamw(g);
  CHECK(adamw.groups()[0].weight_decay == 0.01);
  CHECK(adamw.groups()[1].weight_decay == 0);
  CHECK(adamw.groups()[0].momentum == 0.9);
  CHECK(adamw.groups()[0].beta2 == 0.999);
  CHECK(adamw.kind() == "adamw");
}

TEST_CASE("optim: discriminative_groups spreads learning rates over layer groups", "[train]") {
  Graph<double> g = small_model();
  const std::vector<std::vector<std::string>> layers = {
      train::parameters_with_prefix(g, {"conv1."}), train::parameters_with_prefix(g, {"bn1."}),
      train::parameters_with_prefix(g, {"fc."})};
  CHECK(layers[1] == std::vector<std::string>{"bn1.weight", "bn1.bias"});  // buffers left out
  const auto groups = train::discriminative_groups(g, layers, 0.01, 2.6, 0.1);
  REQUIRE(groups.size() == 5);  // group1 has no rank >= 2 parameter
  CHECK(groups[0].name == "group0");
  CHECK(groups[0].lr == Approx(0.01 / (2.6 * 2.6)).epsilon(1e-15));
  CHECK(groups[0].weight_decay == 0.1);
  CHECK(groups[1].name == "group0.no_decay");
  CHECK(groups[1].params == std::vector<std::string>{"conv1.bias"});
  CHECK(groups[1].weight_decay == 0);
  CHECK(groups[2].name == "group1.no_decay");
  CHECK(groups[2].lr == Approx(0.01 / 2.6).epsilon(1e-15));
  CHECK(groups[3].name == "group2");
  CHECK(groups[3].lr == 0.01);
  const auto sliced = train::discriminative_groups(g, layers, train::LrRange{1e-5, 1e-3}, 0.0);
  CHECK(sliced[0].lr == Approx(1e-5).epsilon(1e-14));
  CHECK(sliced[2].lr == Approx(1e-4).epsilon(1e-14));
  CHECK(sliced[4].lr == Approx(1e-3).epsilon(1e-14));
  CHECK_THROWS_WITH(train::discriminative_groups(g, {{"fc.weight"}, {"fc.weight"}}, 0.01, 2.6, 0.0),
                    "[hone.optim.group] discriminative_groups: parameter \"fc.weight\" is in layer groups 0 and 1");
  CHECK_THROWS_WITH(train::discriminative_groups(g, {{"bn1.running_var"}}, 0.01, 2.6, 0.0),
                    "[hone.optim.group] discriminative_groups: layer group 0: \"bn1.running_var\" is a "
                    "buffer, never optimized");
  CHECK_THROWS_WITH(train::discriminative_groups(g, {{"nope"}}, 0.01, 2.6, 0.0),
                    "[hone.optim.group] discriminative_groups: layer group 0: parameter \"nope\" is not in the graph");
}

TEST_CASE("optim: step(session) and clip_grad_norm(session) use the session's gradients", "[train]") {
  Graph<double> g = small_model();
  g.freeze("conv1");
  hone::Session<double> session(g);
  Tensor<double> x({4, 2, 4, 4}), t({4, 3});
  for (std::int64_t i = 0; i < x.numel(); ++i) x[i] = std::sin(0.37 * static_cast<double>(i));
  for (std::int64_t i = 0; i < t.numel(); ++i) t[i] = std::cos(0.11 * static_cast<double>(i));
  session.forward({x, t});
  session.backward();
  const Tensor<double> before_w = g.parameter("fc.weight").data.clone();
  const Tensor<double> conv = g.parameter("conv1.weight").data.clone();
  const Tensor<double> grad = session.grad("fc.weight").clone();
  // The total norm, by hand, over the trainable parameters that got gradients.
  double sq = 0;
  for (const char* name : {"bn1.weight", "bn1.bias", "fc.weight", "fc.bias"})
    for (double v : session.grad(name)) sq += v * v;
  const double norm = train::clip_grad_norm(session, 0.5 * std::sqrt(sq));
  CHECK(norm == Approx(std::sqrt(sq)).epsilon(1e-14));
  const double coef = 0.5 * std::sqrt(sq) / (std::sqrt(sq) + 1e-6);  // PyTorch's 1e-6
  for (std::int64_t i = 0; i < grad.numel(); ++i)
    CHECK(session.grad("fc.weight")[i] == Approx(grad[i] * coef).epsilon(1e-14));
  train::SGD<double> sgd(g, {.lr = 0.1});
  sgd.step(session);
  CHECK(bit_identical(g.parameter("conv1.weight").data, conv));
  const Tensor<double> clipped = session.grad("fc.weight");
  for (std::int64_t i = 0; i < before_w.numel(); ++i)
    CHECK(g.parameter("fc.weight").data[i] == before_w[i] + (-0.1) * clipped[i]);
}

TEST_CASE("schedule: apply(opt, k) is the lr of step k, a pure function of k", "[train]") {
  Graph<double> g = two_param_graph<double>();
  train::SGD<double> sgd(g, groups_with_lrs({0.1, 0.01}), {.momentum = 0.9});
  const train::OneCycle one(10);
  one.apply(sgd, 7);
  const double lr7 = sgd.groups()[0].lr, mom7 = sgd.groups()[0].momentum;
  one.apply(sgd, 0);
  CHECK(sgd.groups()[0].lr == Approx(0.1 / 25).epsilon(1e-14));
  CHECK(sgd.groups()[1].lr == Approx(0.01 / 25).epsilon(1e-14));
  CHECK(sgd.groups()[0].momentum == 0.95);
  one.apply(sgd, 7);  // no hidden state: the same values again
  CHECK(sgd.groups()[0].lr == lr7);
  CHECK(sgd.groups()[0].momentum == mom7);
  one.apply(sgd, 9);
  CHECK(sgd.groups()[0].lr == Approx(0.1 / 25 / 1e4).epsilon(1e-12));
  one.apply(sgd, 500);  // past the end: the final values
  CHECK(sgd.groups()[0].lr == Approx(0.1 / 25 / 1e4).epsilon(1e-12));
  CHECK(sgd.groups()[0].momentum == 0.95);
  CHECK(sgd.groups()[0].initial_lr == 0.1);  // schedules never change initial_lr

  const train::CosineWithWarmup cosine(5, 25, 0.0, 0.1);
  CHECK(cosine.factor(0) == 0.0);
  CHECK(cosine.factor(1) == Approx(0.2).epsilon(1e-15));
  CHECK(cosine.factor(5) == 1.0);
  CHECK(cosine.factor(15) == Approx(0.55).epsilon(1e-15));
  CHECK(cosine.factor(25) == Approx(0.1).epsilon(1e-15));
  CHECK(cosine.factor(99) == Approx(0.1).epsilon(1e-15));
  CHECK(train::StepLR(3, 0.5).factor(7) == 0.25);
  CHECK(train::MultiStepLR({4, 2}, 0.1).factor(3) == Approx(0.1));
  CHECK(train::ConstantLR().factor(123) == 1.0);
  CHECK(train::LambdaLR([](std::int64_t k) { return 1.0 / static_cast<double>(k + 1); }).factor(3) == 0.25);

  CHECK(one.describe() == "OneCycle(total_steps=10, pct_start=0.3, div_factor=25, final_div_factor=10000, "
                          "anneal=cos, momentum 0.95 -> 0.85 -> 0.95)");
  CHECK(cosine.describe() == "CosineWithWarmup(warmup_steps=5, total_steps=25, warmup_start_factor=0, "
                             "min_lr_factor=0.1)");
  CHECK_THROWS_WITH(one.apply(sgd, -1), "[hone.schedule] OneCycle: step -1 is negative (steps count from 0)");
  CHECK_THROWS_WITH(train::CosineWithWarmup(10, 10),
                    "[hone.schedule] CosineWithWarmup: needs 0 <= warmup_steps (10) < total_steps (10)");
  CHECK_THROWS_WITH(train::OneCycle(100, {.base_momentum = 0.99}),
                    "[hone.schedule] OneCycle: needs 0 <= base_momentum (0.99) <= max_momentum (0.95) < 1");
}

namespace {

/// Linear regression y = x w + b on 64 fixed samples, full batch: graph, data, a train step.
struct Regression {
  Graph<double> graph;
  Tensor<double> x{{64, 4}}, y{{64, 1}};
  Regression() {
    hone::Builder<double> b(11);
    hone::Var in = b.input("x", {4});
    hone::Var target = b.input("y", {1});
    b.output(b.mse(b.linear(in, 1, true, "fc"), target));
    graph = b.build();
    const double w[] = {1.5, -2.0, 0.5, 3.0};
    for (std::int64_t n = 0; n < 64; ++n) {
      double s = 0.7;
      for (std::int64_t j = 0; j < 4; ++j) {
        x(n, j) = std::sin(static_cast<double>(n * 4 + j) * 1.3);  // in [-1, 1], spread out
        s += w[j] * x(n, j);
      }
      y(n, 0) = s;
    }
  }
  double train_step(hone::Session<double>& session, train::Optimizer<double>& opt) {
    session.zero_grad();
    const double loss = session.forward({x, y})[0][0];
    session.backward();
    opt.step(session);
    return loss;
  }
};

}  // namespace

TEST_CASE("lr_find: suggests a learning rate that trains, and restores model and optimizer", "[train]") {
  Regression r;
  hone::Session<double> session(r.graph);
  train::SGD<double> sgd(r.graph, {.lr = 0.01, .momentum = 0.9});
  for (int k = 0; k < 3; ++k) r.train_step(session, sgd);  // some optimizer state to restore
  const auto state = sgd.state();
  std::vector<Tensor<double>> params;
  for (const auto& p : r.graph.parameters()) params.push_back(p.data.clone());
  const Tensor<double> weight_handle = r.graph.parameter("fc.weight").data;

  const auto result = train::lr_find(r.graph, sgd, [&] { return r.train_step(session, sgd); },
                                     {.start_lr = 1e-5, .end_lr = 10, .num_steps = 100});
  // Restored bit for bit, in place.
  for (std::size_t i = 0; i < params.size(); ++i)
    CHECK(bit_identical(r.graph.parameters()[i].data, params[i]));
  CHECK(r.graph.parameter("fc.weight").data.shares_storage_with(weight_handle));
  const auto after = sgd.state();
  CHECK(after.steps == 3);
  CHECK(sgd.groups()[0].lr == 0.01);
  REQUIRE(after.tensors.size() == state.tensors.size());
  for (std::size_t i = 0; i < after.tensors.size(); ++i)
    CHECK(bit_identical(after.tensors[i].second, state.tensors[i].second));

  // The sweep is exponential and stops once the loss has blown up (momentum SGD on this
  // problem diverges for lr above ~1).
  REQUIRE(result.lrs.size() >= 20);
  CHECK(result.lrs[0] == 1e-5);
  CHECK(result.lrs[1] == Approx(1e-5 * std::pow(1e6, 1.0 / 99)).epsilon(1e-12));
  CHECK(result.diverged);
  CHECK(result.lrs.back() < 10);
  CHECK(result.losses.size() == result.lrs.size());
  CHECK(result.smoothed[0] == result.losses[0]);  // bias correction
  WARN("lr_find: suggested " << result.suggested_lr << ", min-loss lr " << result.min_loss_lr << ", stopped at "
                    << result.lrs.back());
  CHECK(result.suggested_lr > 1e-3);
  CHECK(result.suggested_lr < result.min_loss_lr);
  CHECK(result.min_loss_suggestion == result.min_loss_lr / 10);

  // Training with the suggestion converges: the loss falls by 100x in 100 steps.
  sgd.groups()[0].lr = sgd.groups()[1].lr = result.suggested_lr;
  const double first = r.train_step(session, sgd);
  double last = first;
  for (int k = 0; k < 100; ++k) last = r.train_step(session, sgd);
  CHECK(last < first / 100);
}

TEST_CASE("lr_find: restores buffers, and restores when the train step throws", "[train]") {
  Graph<double> g = small_model();
  hone::Session<double> session(g);
  train::AdamW<double> adamw(g, {.lr = 1e-3});
  Tensor<double> x({4, 2, 4, 4}), t({4, 3});
  for (std::int64_t i = 0; i < x.numel(); ++i) x[i] = std::sin(0.37 * static_cast<double>(i));
  std::vector<Tensor<double>> params;
  for (const auto& p : g.parameters()) params.push_back(p.data.clone());
  const Tensor<double> running_mean = g.parameter("bn1.running_mean").data.clone();
  int calls = 0;
  bool buffers_moved = false;
  const auto step = [&] {
    buffers_moved = buffers_moved || !bit_identical(g.parameter("bn1.running_mean").data, running_mean);
    if (++calls == 6) throw std::runtime_error("data loader failed");
    session.zero_grad();
    const double loss = session.forward({x, t})[0][0];
    session.backward();
    adamw.step(session);
    return loss;
  };
  CHECK_THROWS_WITH(train::lr_find(g, adamw, step, {.num_steps = 10}), "data loader failed");
  for (std::size_t i = 0; i < params.size(); ++i) {
    INFO(g.parameters()[i].name);
    CHECK(bit_identical(g.parameters()[i].data, params[i]));  // running stats included
  }
  CHECK(buffers_moved);  // forward in train mode updated them during the sweep
  CHECK(adamw.steps() == 0);
  CHECK(adamw.state().tensors.empty());
  calls = -100;
  const auto result = train::lr_find(g, adamw, step, {.num_steps = 10});
  CHECK(result.lrs.size() == 10);
  CHECK(result.lrs.back() == Approx(10.0).epsilon(1e-12));
  CHECK(bit_identical(g.parameter("bn1.running_mean").data, running_mean));
  CHECK_THROWS_WITH(train::lr_find(g, adamw, step, {.start_lr = 1.0, .end_lr = 0.1}),
                    "[hone.lr_find] lr_find: needs 0 < start_lr (1) < end_lr (0.1), num_steps >= 2 "
                    "(100), smooth in [0, 1) (0.98) and diverge > 1 (4)");
}
