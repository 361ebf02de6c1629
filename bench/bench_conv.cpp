// Convolution layers: hone's float convolution kernels (include/hone/kernels/conv.hpp, NCHW)
// next to oneDNN's f32 convolution primitives, per pass (forward, backward-data,
// backward-weights), on every distinct convolution of torchvision's ResNet-18 and
// MobileNetV2 at 224x224, batch 8 (or HONE_BENCH_CONV_BATCH images), at 1 and 2 threads.
//
// oneDNN runs in two set-ups: "onednn" lets the primitive choose every layout (format tag
// `any`: usually blocked nChw16c activations), "onednn-nhwc" keeps the activations in the
// user's NHWC and lets the primitive choose only the weight layout. Reorders happen outside
// the timed region; only the primitive's execution is timed. oneDNN here (Debian's 2.6)
// runs on OpenMP, so its thread count is omp_set_num_threads; hone's is set_num_threads.
//
// Benchmarks are named conv/<library>/<model>/<layer>/<pass>/threads:<t>; counter GFLOPS
// (2 * N * OC * OH * OW * C/groups * KH * KW per pass); the label is the readable layer
// ("3x3/2 64->128 @56, x1": kernel/stride, channels, input size, layers of that shape in
// the model). check/<model>/<layer>/<pass> runs each pass once in both libraries (oneDNN
// with `any`) on the same NCHW data and reports counter max_rel_diff: max |hone - oneDNN|
// over max |oneDNN|. bench/compare-conv turns the JSON output into the comparison tables.
#include <benchmark/benchmark.h>

#include <hone/hone.hpp>
#include <hone/kernels/conv.hpp>

#include <dnnl.hpp>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

namespace {

/// Images per call: 8, or the HONE_BENCH_CONV_BATCH environment variable.
std::int64_t batch() {
  static const std::int64_t b = [] {
    const char* env = std::getenv("HONE_BENCH_CONV_BATCH");
    return env ? std::max<std::int64_t>(1, std::atoll(env)) : std::int64_t{8};
  }();
  return b;
}

using hone::kernels::reference::ConvGeometry;

// Appends the parts (strings, C strings, integers) to one string (operator+ on a temporary
// trips GCC 12's -Wrestrict false positive).
template <class... Parts>
std::string cat(const Parts&... parts) {
  std::string s;
  auto add = [&s](const auto& part) {
    if constexpr (std::is_integral_v<std::decay_t<decltype(part)>>) s += std::to_string(part);
    else s += part;
  };
  (add(parts), ...);
  return s;
}

struct Layer {
  const char* model;
  std::int64_t c, oc, k, stride, in;  // square input and kernel; groups = c when depthwise
  bool depthwise;
  int count;  // layers of this shape in the model

  std::int64_t pad() const { return k / 2; }
  std::int64_t out() const { return (in + 2 * pad() - k) / stride + 1; }
  std::int64_t groups() const { return depthwise ? c : 1; }
  std::string name() const {
    return cat(depthwise ? "dw-" : "", "k", k, "s", stride, "-c", c, "-oc", oc, "-h", in);
  }
  std::string label() const {
    return cat(k, "x", k, stride > 1 ? cat("/", stride) : "", depthwise ? cat(" dw ", c) : cat(" ", c, "->", oc), " @",
               in, ", x", count);
  }
  ConvGeometry geometry() const {
    ConvGeometry g;
    g.n = batch();
    g.c = c;
    g.oc = oc;
    g.groups = groups();
    g.in = {1, in, in};
    g.k = {1, k, k};
    g.out = {1, out(), out()};
    g.stride = {1, stride, stride};
    g.pad_begin = {0, pad(), pad()};
    return g;
  }
  double flops() const {
    return 2.0 * double(batch()) * double(oc) * double(out() * out()) * double(c / groups()) * double(k * k);
  }
};

// Every distinct convolution of torchvision's ResNet-18 and MobileNetV2 (224x224 input),
// with how many layers share it.
const std::vector<Layer> kLayers = {
    // ResNet-18: stem, layer1..4 (first block of layers 2-4 strided, with a 1x1/2 downsample).
    {"resnet18", 3, 64, 7, 2, 224, false, 1},
    {"resnet18", 64, 64, 3, 1, 56, false, 4},
    {"resnet18", 64, 128, 3, 2, 56, false, 1},
    {"resnet18", 64, 128, 1, 2, 56, false, 1},
    {"resnet18", 128, 128, 3, 1, 28, false, 3},
    {"resnet18", 128, 256, 3, 2, 28, false, 1},
    {"resnet18", 128, 256, 1, 2, 28, false, 1},
    {"resnet18", 256, 256, 3, 1, 14, false, 3},
    {"resnet18", 256, 512, 3, 2, 14, false, 1},
    {"resnet18", 256, 512, 1, 2, 14, false, 1},
    {"resnet18", 512, 512, 3, 1, 7, false, 3},
    // MobileNetV2: stem, inverted residual blocks (t, c, n, s) = (1,16,1,1) (6,24,2,2)
    // (6,32,3,2) (6,64,4,2) (6,96,3,1) (6,160,3,2) (6,320,1,1), final 1x1 320->1280.
    {"mobilenetv2", 3, 32, 3, 2, 224, false, 1},
    {"mobilenetv2", 32, 32, 3, 1, 112, true, 1},
    {"mobilenetv2", 32, 16, 1, 1, 112, false, 1},
    {"mobilenetv2", 16, 96, 1, 1, 112, false, 1},
    {"mobilenetv2", 96, 96, 3, 2, 112, true, 1},
    {"mobilenetv2", 96, 24, 1, 1, 56, false, 1},
    {"mobilenetv2", 24, 144, 1, 1, 56, false, 2},
    {"mobilenetv2", 144, 144, 3, 1, 56, true, 1},
    {"mobilenetv2", 144, 24, 1, 1, 56, false, 1},
    {"mobilenetv2", 144, 144, 3, 2, 56, true, 1},
    {"mobilenetv2", 144, 32, 1, 1, 28, false, 1},
    {"mobilenetv2", 32, 192, 1, 1, 28, false, 3},
    {"mobilenetv2", 192, 192, 3, 1, 28, true, 2},
    {"mobilenetv2", 192, 32, 1, 1, 28, false, 2},
    {"mobilenetv2", 192, 192, 3, 2, 28, true, 1},
    {"mobilenetv2", 192, 64, 1, 1, 14, false, 1},
    {"mobilenetv2", 64, 384, 1, 1, 14, false, 4},
    {"mobilenetv2", 384, 384, 3, 1, 14, true, 4},
    {"mobilenetv2", 384, 64, 1, 1, 14, false, 3},
    {"mobilenetv2", 384, 96, 1, 1, 14, false, 1},
    {"mobilenetv2", 96, 576, 1, 1, 14, false, 3},
    {"mobilenetv2", 576, 576, 3, 1, 14, true, 2},
    {"mobilenetv2", 576, 96, 1, 1, 14, false, 2},
    {"mobilenetv2", 576, 576, 3, 2, 14, true, 1},
    {"mobilenetv2", 576, 160, 1, 1, 7, false, 1},
    {"mobilenetv2", 160, 960, 1, 1, 7, false, 3},
    {"mobilenetv2", 960, 960, 3, 1, 7, true, 3},
    {"mobilenetv2", 960, 160, 1, 1, 7, false, 2},
    {"mobilenetv2", 960, 320, 1, 1, 7, false, 1},
    {"mobilenetv2", 320, 1280, 1, 1, 7, false, 1},
};

enum class Pass { forward, backward_data, backward_weights };
const char* pass_name(Pass p) {
  return p == Pass::forward ? "forward" : p == Pass::backward_data ? "backward-data" : "backward-weights";
}

std::vector<float> random_vector(std::int64_t size, std::uint64_t seed) {
  hone::Generator g(seed);
  std::vector<float> v(static_cast<std::size_t>(size));
  for (float& x : v) x = g.uniform_float() - 0.5f;
  return v;
}

// The NCHW operands of one layer (x, w, dy), random, and zeroed outputs (y, dx, dw).
struct Operands {
  std::vector<float> x, w, dy, y, dx, dw;
  explicit Operands(const Layer& l) {
    const ConvGeometry g = l.geometry();
    x = random_vector(g.n * g.c * g.in_size(), 1);
    w = random_vector(g.oc * (g.c / g.groups) * g.kernel_size(), 2);
    dy = random_vector(g.n * g.oc * g.out_size(), 3);
    y.assign(dy.size(), 0.f);
    dx.assign(x.size(), 0.f);
    dw.assign(w.size(), 0.f);
  }
};

void set_threads(int threads) {
  hone::set_num_threads(static_cast<std::size_t>(threads));
  omp_set_num_threads(threads);
}

void finish(benchmark::State& state, const Layer& l) {
  state.counters["GFLOPS"] = benchmark::Counter(l.flops() / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(l.label());
}

void run_hone(benchmark::State& state, Layer l, Pass p, int threads) {
  set_threads(threads);
  const ConvGeometry g = l.geometry();
  Operands op(l);
  for (int warm_up = 0; warm_up < 2; ++warm_up) {  // scratch buffers, first touch, thread start
    if (p == Pass::forward)
      hone::kernels::conv_forward(g, op.x.data(), op.w.data(), nullptr, op.y.data());
    else
      hone::kernels::conv_backward(g, op.dy.data(), op.x.data(), op.w.data(),
                                   p == Pass::backward_data ? op.dx.data() : nullptr,
                                   p == Pass::backward_weights ? op.dw.data() : nullptr);
  }
  for (auto _ : state) {
    if (p == Pass::forward) hone::kernels::conv_forward(g, op.x.data(), op.w.data(), nullptr, op.y.data());
    else if (p == Pass::backward_data)
      hone::kernels::conv_backward(g, op.dy.data(), op.x.data(), op.w.data(), op.dx.data(), nullptr);
    else
      hone::kernels::conv_backward(g, op.dy.data(), op.x.data(), op.w.data(), nullptr, op.dw.data());
    benchmark::ClobberMemory();
  }
  finish(state, l);
}

// --- oneDNN -------------------------------------------------------------------------------

using dnnl::memory;
using tag = memory::format_tag;

struct Dnnl {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
};
Dnnl& dnnl_env() {
  static Dnnl env;
  return env;
}

struct DnnlDims {
  memory::dims src, weights, dst, strides, pad_l, pad_r;
  explicit DnnlDims(const Layer& l) {
    const std::int64_t n = batch(), out = l.out(), pad_r_ = (out - 1) * l.stride + l.k - l.in - l.pad();
    src = {n, l.c, l.in, l.in};
    dst = {n, l.oc, out, out};
    if (l.groups() > 1)
      weights = {l.groups(), l.oc / l.groups(), l.c / l.groups(), l.k, l.k};
    else
      weights = {l.oc, l.c, l.k, l.k};
    strides = {l.stride, l.stride};
    pad_l = {l.pad(), l.pad()};
    pad_r = {pad_r_, pad_r_};
  }
  tag weights_user_tag(const Layer& l) const { return l.groups() > 1 ? tag::goihw : tag::oihw; }
};

// A primitive's memory for desc, filled from the user's buffer (layout user) by a reorder
// when the layouts differ; the user's buffer itself when they do not.
memory prepare(const memory::desc& desc, const memory::dims& dims, tag user, float* data) {
  Dnnl& env = dnnl_env();
  memory user_mem({dims, memory::data_type::f32, user}, env.engine, data);
  if (user_mem.get_desc() == desc) return user_mem;
  memory mem(desc, env.engine);
  dnnl::reorder(user_mem, mem).execute(env.stream, user_mem, mem);
  env.stream.wait();
  return mem;
}

// Copies a primitive's result back into the user's buffer (layout user).
void fetch(const memory& mem, const memory::dims& dims, tag user, float* data) {
  Dnnl& env = dnnl_env();
  memory user_mem({dims, memory::data_type::f32, user}, env.engine, data), src = mem;
  dnnl::reorder(src, user_mem).execute(env.stream, src, user_mem);
  env.stream.wait();
}

// One oneDNN pass ready to run: the primitive and its arguments. act is the activations'
// format tag (any or nhwc); the weights always use any. The operands are NCHW; with NHWC
// activations they are reordered into NHWC buffers (same values). result/result_dims/
// result_tag say where the pass's output lands (for the correctness check).
struct DnnlPass {
  dnnl::primitive prim;
  std::unordered_map<int, memory> args;
  memory result;

  DnnlPass(const Layer& l, Pass p, tag act, Operands& op) {
    Dnnl& env = dnnl_env();
    const DnnlDims d(l);
    const auto f32 = memory::data_type::f32;
    const memory::desc src_md(d.src, f32, act), dst_md(d.dst, f32, act), w_md(d.weights, f32, tag::any);
    const auto alg = dnnl::algorithm::convolution_direct;
    const dnnl::convolution_forward::primitive_desc fwd(
        {dnnl::prop_kind::forward_training, alg, src_md, w_md, dst_md, d.strides, d.pad_l, d.pad_r}, env.engine);
    const tag wt = d.weights_user_tag(l);
    if (p == Pass::forward) {
      memory src = prepare(fwd.src_desc(), d.src, tag::nchw, op.x.data());
      memory w = prepare(fwd.weights_desc(), d.weights, wt, op.w.data());
      result = memory(fwd.dst_desc(), env.engine);
      prim = dnnl::convolution_forward(fwd);
      args = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, result}};
    } else if (p == Pass::backward_data) {
      const dnnl::convolution_backward_data::primitive_desc bwd(
          {alg, src_md, w_md, dst_md, d.strides, d.pad_l, d.pad_r}, env.engine, fwd);
      memory dy = prepare(bwd.diff_dst_desc(), d.dst, tag::nchw, op.dy.data());
      memory w = prepare(bwd.weights_desc(), d.weights, wt, op.w.data());
      result = memory(bwd.diff_src_desc(), env.engine);
      prim = dnnl::convolution_backward_data(bwd);
      args = {{DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DIFF_SRC, result}};
    } else {
      const dnnl::convolution_backward_weights::primitive_desc bwd(
          {alg, src_md, w_md, dst_md, d.strides, d.pad_l, d.pad_r}, env.engine, fwd);
      memory src = prepare(bwd.src_desc(), d.src, tag::nchw, op.x.data());
      memory dy = prepare(bwd.diff_dst_desc(), d.dst, tag::nchw, op.dy.data());
      result = memory(bwd.diff_weights_desc(), env.engine);
      prim = dnnl::convolution_backward_weights(bwd);
      args = {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_DIFF_WEIGHTS, result}};
    }
  }
  void run() {
    Dnnl& env = dnnl_env();
    prim.execute(env.stream, args);
    env.stream.wait();
  }
  // The pass's output in the user's NCHW (or (g)oihw) layout.
  std::vector<float> output(const Layer& l, Pass p) const {
    const DnnlDims d(l);
    const auto& dims = p == Pass::forward ? d.dst : p == Pass::backward_data ? d.src : d.weights;
    const tag t = p == Pass::backward_weights ? d.weights_user_tag(l) : tag::nchw;
    std::int64_t size = 1;
    for (auto v : dims) size *= v;
    std::vector<float> out(static_cast<std::size_t>(size));
    fetch(result, dims, t, out.data());
    return out;
  }
};

void run_onednn(benchmark::State& state, Layer l, Pass p, tag act, int threads) {
  set_threads(threads);
  Operands op(l);
  DnnlPass pass(l, p, act, op);
  for (int warm_up = 0; warm_up < 2; ++warm_up) pass.run();  // first touch, OpenMP start
  for (auto _ : state) pass.run();
  finish(state, l);
}

// Runs the pass once in each library on the same NCHW data; max |hone - oneDNN| / max |oneDNN|.
void run_check(benchmark::State& state, Layer l, Pass p) {
  set_threads(2);
  Operands op(l);
  const ConvGeometry g = l.geometry();
  std::vector<float>* mine = nullptr;
  for (auto _ : state) {
    if (p == Pass::forward) {
      hone::kernels::conv_forward(g, op.x.data(), op.w.data(), nullptr, op.y.data());
      mine = &op.y;
    } else if (p == Pass::backward_data) {
      hone::kernels::conv_backward(g, op.dy.data(), op.x.data(), op.w.data(), op.dx.data(), nullptr);
      mine = &op.dx;
    } else {
      hone::kernels::conv_backward(g, op.dy.data(), op.x.data(), op.w.data(), nullptr, op.dw.data());
      mine = &op.dw;
    }
  }
  DnnlPass pass(l, p, tag::any, op);
  pass.run();
  const std::vector<float> theirs = pass.output(l, p);
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < theirs.size(); ++i) {
    diff = std::max(diff, double(std::fabs((*mine)[i] - theirs[i])));
    scale = std::max(scale, double(std::fabs(theirs[i])));
  }
  state.counters["max_rel_diff"] = scale > 0 ? diff / scale : diff;
  state.SetLabel(l.label());
}

}  // namespace

int main(int argc, char** argv) {
  const Pass passes[] = {Pass::forward, Pass::backward_data, Pass::backward_weights};
  for (const Layer& l : kLayers)
    for (Pass p : passes)
      benchmark::RegisterBenchmark(cat("check/", l.model, "/", l.name(), "/", pass_name(p)).c_str(), run_check, l, p)
          ->Iterations(1);
  for (int threads : {1, 2}) {
    const std::string t = cat("/threads:", threads);
    for (const Layer& l : kLayers)
      for (Pass p : passes) {
        const std::string n = cat("/", l.model, "/", l.name(), "/", pass_name(p), t);
        benchmark::RegisterBenchmark(cat("conv/hone", n).c_str(), run_hone, l, p, threads)->UseRealTime();
        benchmark::RegisterBenchmark(cat("conv/onednn", n).c_str(), run_onednn, l, p, tag::any, threads)
            ->UseRealTime();
        benchmark::RegisterBenchmark(cat("conv/onednn-nhwc", n).c_str(), run_onednn, l, p, tag::nhwc, threads)
            ->UseRealTime();
      }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
