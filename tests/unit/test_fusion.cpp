// Tests for hone/graph/fusion.hpp: Conv -> BatchNormalization -> Relu/Clip chains run as one
// convolution in Mode::inference, BatchNormalization -> Relu/Clip pairs as one kernel in
// Mode::train and Mode::eval. Oracle: the same graph run op by op (SessionOptions::fuse
// off: the BatchNormalization, Relu and Clip kernels on the materialised values), and the
// rules of fusion.hpp for which chains may fuse (checked through the profile, which names
// fused chains "Conv+BatchNormalization+Relu" and pairs "BatchNormalization+Relu").
#include <catch2/catch.hpp>

#include <hone/graph/builder.hpp>
#include <hone/graph/session.hpp>
#include <hone/train/bn_policy.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

using hone::Builder;
using hone::Graph;
using hone::Mode;
using hone::Session;
using hone::Tensor;
using hone::Var;

namespace {

Tensor<float> wave(const hone::Shape& s, double f, double offset = 0) {
  Tensor<float> t(s);
  for (std::int64_t i = 0; i < t.numel(); ++i) t[i] = static_cast<float>(std::sin(f * static_cast<double>(i + 1)) + offset);
  return t;
}

// Gives every BatchNormalization non-trivial scale, bias and running statistics.
void perturb_bn(Graph<float>& g, const std::vector<std::string>& names) {
  double f = 0.37;
  for (const auto& n : names) {
    auto& w = g.parameter(n + ".weight").data;
    w = wave(w.shape(), f += 0.11, 1.2);
    auto& b = g.parameter(n + ".bias").data;
    b = wave(b.shape(), f += 0.13);
    auto& m = g.parameter(n + ".running_mean").data;
    m = wave(m.shape(), f += 0.17, 0.1);
    auto& v = g.parameter(n + ".running_var").data;
    v = wave(v.shape(), f += 0.19, 1.5);  // in [0.5, 2.5]
  }
}

// Chains of every kind, and values that must not fuse:
//   c1 -> bn1 -> relu                 (fuses: Conv+BatchNormalization+Relu)
//   dw -> bn2 -> relu6 (Clip 0..6)    (depthwise, stride 2: Conv+BatchNormalization+Clip)
//   pw -> bn3                         (1x1, no bias, no activation: Conv+BatchNormalization)
//   c4 -> relu                        (no BatchNormalization: Conv+Relu)
//   c5 -> bn5 -> relu, c5 also read by Add   (c5 has two readers: nothing fuses)
//   c6 -> bn6 (batch statistics) -> relu     (BN not fused; Conv+Relu neither: relu reads bn6)
//   c7 -> bn7, c7 a graph output             (not fused)
Graph<float> net() {
  Builder<float> b(11);
  Var x = b.input("x", {3, 9, 11});
  Var h = b.relu(b.batch_norm(b.conv(x, 8, {.kernel = 3, .padding = 1}, "c1"), "bn1"));
  h = b.relu6(b.batch_norm(b.conv(h, 8, {.kernel = 3, .stride = 2, .padding = 1, .groups = 8}, "dw"), "bn2"));
  h = b.batch_norm(b.conv(h, 12, {.kernel = 1, .bias = false}, "pw"), "bn3");
  h = b.relu(b.conv(h, 12, {.kernel = 3, .padding = 1}, "c4"));
  Var c5 = b.conv(h, 12, {.kernel = 3, .padding = 1}, "c5");
  h = b.add(b.relu(b.batch_norm(c5, "bn5")), c5);
  h = b.relu(b.batch_norm(b.conv(h, 6, {.kernel = 1}, "c6"), "bn6"));
  Var c7 = b.conv(h, 5, {.kernel = 3}, "c7");
  b.output(b.batch_norm(c7, "bn7"));
  b.output(c7);
  Graph<float> g = b.build();
  perturb_bn(g, {"bn1", "bn2", "bn3", "bn5", "bn6", "bn7"});
  hone::train::set_bn_policy(g, hone::train::BnPolicy::adabn, "bn6");
  return g;
}

std::map<std::string, std::int64_t> profile_calls(const Session<float>& s) {
  std::map<std::string, std::int64_t> m;
  for (const auto& p : s.profile()) m[p.op] = p.forward_calls;
  return m;
}

void check_close(const Tensor<float>& got, const Tensor<float>& want) {
  REQUIRE(got.shape() == want.shape());
  double scale = 0;
  for (std::int64_t i = 0; i < want.numel(); ++i) scale = std::max(scale, std::fabs(static_cast<double>(want[i])));
  for (std::int64_t i = 0; i < want.numel(); ++i)
    REQUIRE(std::fabs(static_cast<double>(got[i]) - want[i]) <= 1e-5 * scale + 1e-6);
}

}  // namespace

TEST_CASE("fusion: inference chains match the ops run one by one", "[fusion][session]") {
  const Tensor<float> x = wave({2, 3, 9, 11}, 0.71);
  Graph<float> fused_g = net(), plain_g = net();
  Session<float> fused(fused_g, {.mode = Mode::inference, .profile = true});
  Session<float> plain(plain_g, {.mode = Mode::inference, .profile = true, .fuse = false});
  const auto a = fused.forward({x});
  const auto b = plain.forward({x});
  REQUIRE(a.size() == 2);
  check_close(a[0], b[0]);
  check_close(a[1], b[1]);

  const auto calls = profile_calls(fused);
  CHECK(calls.at("Conv+BatchNormalization+Relu") == 1);  // c1
  CHECK(calls.at("Conv+BatchNormalization+Clip") == 1);  // dw
  CHECK(calls.at("Conv+BatchNormalization") == 1);       // pw
  CHECK(calls.at("Conv+Relu") == 1);                     // c4
  CHECK(calls.at("Conv") == 3);                          // c5, c6, c7
  CHECK(calls.at("BatchNormalization") == 3);            // bn5, bn6, bn7
  CHECK(calls.at("Relu") == 2);                          // after bn5 and bn6
  CHECK(calls.count("Clip") == 0);
  const auto plain_calls = profile_calls(plain);
  CHECK(plain_calls.at("Conv") == 7);
  CHECK(plain_calls.at("BatchNormalization") == 6);
  // The values inside fused chains are never held: a smaller measured peak, and the plan
  // knows it.
  CHECK(fused.memory().actual_peak < plain.memory().actual_peak);
  CHECK(fused.memory().planned_peak == fused.memory().actual_peak);
  CHECK(plain.memory().planned_peak == plain.memory().actual_peak);
}

TEST_CASE("fusion: only Mode::inference fuses convolutions; eval gives the same outputs and can run backward",
          "[fusion][session]") {
  const Tensor<float> x = wave({1, 3, 9, 11}, 0.53);
  Graph<float> g = net();
  Session<float> inf(g, {.mode = Mode::inference});
  const auto a = inf.forward({x});
  Session<float> ev(g, {.mode = Mode::eval, .profile = true});
  const auto b = ev.forward({x});
  check_close(a[0], b[0]);
  for (const auto& p : ev.profile()) CHECK(p.op.find("Conv+") == std::string::npos);
  // Inference after a parameter change sees the new weights (the fold is not cached).
  auto& w = g.parameter("c1.weight").data;
  for (std::int64_t i = 0; i < w.numel(); ++i) w[i] *= 0.5f;
  const auto c = inf.forward({x});
  const auto d = ev.forward({x});
  check_close(c[0], d[0]);
  bool changed = false;
  for (std::int64_t i = 0; i < c[0].numel(); ++i) changed = changed || c[0][i] != a[0][i];
  CHECK(changed);
}

namespace {
// A chain that runs Winograd (16 -> 16 channels, 3x3, stride 1) between two that do not.
Graph<float> winograd_net() {
  Builder<float> b(5);
  Var x = b.input("x", {3, 10, 9});
  Var h = b.relu(b.batch_norm(b.conv(x, 16, {.kernel = 3, .padding = 1}, "c1"), "bn1"));
  h = b.relu(b.batch_norm(b.conv(h, 16, {.kernel = 3, .padding = 1}, "c2"), "bn2"));  // Winograd
  h = b.relu(b.conv(h, 16, {.kernel = 3, .padding = 1}, "c3"));                      // Winograd, no BN
  b.output(b.batch_norm(b.conv(h, 4, {.kernel = 1}, "c4"), "bn4"));
  Graph<float> g = b.build();
  perturb_bn(g, {"bn1", "bn2", "bn4"});
  return g;
}

bool same_bits(const Tensor<float>& a, const Tensor<float>& b) {
  if (!(a.shape() == b.shape())) return false;
  return std::equal(a.span().begin(), a.span().end(), b.span().begin(),
                    [](float p, float q) { return std::memcmp(&p, &q, sizeof p) == 0; });
}
}  // namespace

TEST_CASE("fusion: prepared weights are kept between forwards and rebuilt when parameters change",
          "[fusion][session]") {
  const bool winograd_was = hone::kernels::conv_winograd();
  hone::kernels::set_conv_winograd(true);
  const Tensor<float> x = wave({2, 3, 10, 9}, 0.61);
  Graph<float> g = winograd_net();
  Session<float> kept(g, {.mode = Mode::inference});
  Session<float> rebuilt(g, {.mode = Mode::inference, .keep_prepared_weights = false});
  Session<float> plain(g, {.mode = Mode::inference, .fuse = false});
  auto check_all = [&](const char* what) {
    INFO(what);
    const auto a = kept.forward({x});
    const auto b = rebuilt.forward({x});
    const auto c = plain.forward({x});
    // Kept or rebuilt, the chains compute the same folded and transformed weights.
    CHECK(same_bits(a[0], b[0]));
    check_close(a[0], c[0]);
    return a[0];
  };
  const Tensor<float> first = check_all("first forward");
  // c2's transforms (36 planes of 16 x 16, each padded by 16) at least, and c2's, c3's and
  // the others' folded biases.
  CHECK(kept.prepared_weight_bytes() >= 2 * 36 * (16 * 16 + 16) * 4);
  CHECK(rebuilt.prepared_weight_bytes() == 0);
  CHECK(plain.prepared_weight_bytes() == 0);
  const std::int64_t held = kept.prepared_weight_bytes();
  CHECK(same_bits(check_all("second forward, nothing changed"), first));
  CHECK(kept.prepared_weight_bytes() == held);

  // Each parameter a chain is made of, changed in place at one position, is seen. (A
  // position whose channel the ReLU zeroes everywhere changes nothing; the next is tried
  // until the output moves, so the check is never vacuous.)
  for (const char* name : {"c2.weight", "c2.bias", "bn2.weight", "bn2.bias", "bn2.running_mean",
                           "bn2.running_var", "c3.weight", "c1.weight", "bn4.running_var"}) {
    INFO(name);
    auto& p = g.parameter(name).data;
    const Tensor<float> before = rebuilt.forward({x})[0];
    bool moved = false;
    for (std::int64_t at = p.numel() / 2, tries = 0; !moved && tries < p.numel(); at = (at + 5) % p.numel(), ++tries) {
      p[at] = p[at] * 1.5f + 0.25f;
      moved = !same_bits(before, check_all(name));
    }
    CHECK(moved);
  }
  // Winograd switched off and on again between forwards: the kept chains follow.
  hone::kernels::set_conv_winograd(false);
  const Tensor<float> im2col = check_all("Winograd off");
  hone::kernels::set_conv_winograd(true);
  check_all("Winograd on again");
  CHECK_FALSE(same_bits(im2col, kept.forward({x})[0]));  // the two paths round differently
  // Released, or out of Mode::inference, nothing is held.
  kept.release_prepared_weights();
  CHECK(kept.prepared_weight_bytes() == 0);
  check_all("after release");
  CHECK(kept.prepared_weight_bytes() == held);
  kept.set_mode(Mode::eval);
  (void)kept.forward({x});
  CHECK(kept.prepared_weight_bytes() == 0);
  hone::kernels::set_conv_winograd(winograd_was);
}

TEST_CASE("fusion: a chain whose Conv has no output channels gives an empty output", "[fusion][session]") {
  // Zero-sized dimensions are legal shapes; the unfused ops give (N, 0, H, W), so must the
  // chain, with or without a BatchNormalization and with the prepared weights kept or not.
  for (const bool bn : {false, true})
    for (const bool keep : {true, false}) {
      Graph<float> g;
      g.add_input("x", {1, 3, 8, 8}, true);
      g.add_parameter("w", Tensor<float>({0, 3, 3, 3}));
      g.add_node("Conv", {"x", "w"}, {"y"}, {}, "c");
      std::string last = "y";
      if (bn) {
        for (const char* p : {"s", "b", "m", "v"}) g.add_parameter(p, Tensor<float>({0}));
        g.add_node("BatchNormalization", {"y", "s", "b", "m", "v"}, {"n"}, {}, "bn");
        last = "n";
      }
      g.add_node("Relu", {last}, {"z"}, {}, "r");
      g.add_output("z");
      Session<float> s(g, {.mode = Mode::inference, .profile = true, .keep_prepared_weights = keep});
      const auto out = s.forward({Tensor<float>({2, 3, 8, 8}, 1.0f)});
      CHECK(out[0].shape() == hone::Shape({2, 0, 6, 6}));
      CHECK(profile_calls(s).count(bn ? "Conv+BatchNormalization+Relu" : "Conv+Relu") == 1);
    }
}

namespace {
// BatchNormalization -> Relu/Clip pairs for Mode::train and Mode::eval, and values that must
// not pair:
//   c1 -> bn1 -> relu           (pairs: BatchNormalization+Relu)
//   dw -> bn2 -> relu6          (pairs: BatchNormalization+Clip, 0..6)
//   pw -> bn3 -> relu           (pairs; bn3 frozen with its affine in `frozen_bn3`)
//   c5 -> bn5 -> relu, bn5 also read by Add   (two readers: no pair)
//   c6 -> bn6, a graph output                 (no pair)
Graph<float> pair_net(bool frozen_bn3) {
  Builder<float> b(17);
  Var x = b.input("x", {3, 9, 11});
  Var h = b.relu(b.batch_norm(b.conv(x, 8, {.kernel = 3, .padding = 1}, "c1"), "bn1"));
  h = b.relu6(b.batch_norm(b.conv(h, 8, {.kernel = 3, .stride = 2, .padding = 1, .groups = 8}, "dw"), "bn2"));
  h = b.relu(b.batch_norm(b.conv(h, 12, {.kernel = 1, .bias = false}, "pw"), "bn3"));
  Var y5 = b.batch_norm(b.conv(h, 12, {.kernel = 3, .padding = 1}, "c5"), "bn5");
  h = b.add(b.relu(y5), y5);
  b.output(b.batch_norm(b.conv(h, 6, {.kernel = 1}, "c6"), "bn6"));
  Graph<float> g = b.build();
  perturb_bn(g, {"bn1", "bn2", "bn3", "bn5", "bn6"});
  auto& b2 = g.parameter("bn2.bias").data;  // half of bn2's channels mostly above Clip's 6
  for (std::int64_t c = 0; c < b2.numel(); c += 2) b2[c] = 5.5f;
  if (frozen_bn3) hone::train::set_bn_policy(g, hone::train::BnPolicy::frozen, "bn3", false);
  return g;
}

std::map<std::string, std::int64_t> profile_backward_calls(const Session<float>& s) {
  std::map<std::string, std::int64_t> m;
  for (const auto& p : s.profile()) m[p.op] = p.backward_calls;
  return m;
}
}  // namespace

TEST_CASE("fusion: BatchNormalization -> Relu/Clip pairs train bit-identically to the ops one by one",
          "[fusion][session]") {
  // x scaled so that a good share of every activation's inputs lie on each side of its
  // bounds (both branches of each mask are taken).
  const Tensor<float> x = wave({2, 3, 9, 11}, 0.71, 0.2);
  const Tensor<float> dy = wave({2, 6, 5, 6}, 0.29, 0.1);
  struct Case {
    const char* name;
    Mode mode;
    bool frozen_bn3;   // bn3: running statistics, affine frozen: masks from the pair's output
    bool bias_only;    // only the BatchNormalization biases train: no x kept, masks from outputs
  };
  for (const Case& k : {Case{"train", Mode::train, false, false}, Case{"eval", Mode::eval, false, false},
                        Case{"train, bn3 frozen", Mode::train, true, false},
                        Case{"train, BatchNormalization biases only", Mode::train, false, true}}) {
    INFO(k.name);
    Graph<float> fg = pair_net(k.frozen_bn3), pg = pair_net(k.frozen_bn3);
    if (k.bias_only)
      for (Graph<float>* g : {&fg, &pg}) {
        g->freeze("");
        for (const char* bn : {"bn1", "bn2", "bn3", "bn5", "bn6"}) g->unfreeze(std::string(bn) + ".bias");
      }
    const std::vector<std::string> grad_inputs = k.bias_only ? std::vector<std::string>{} : std::vector<std::string>{"x"};
    Session<float> fused(fg, {.mode = k.mode, .grad_inputs = grad_inputs, .profile = true});
    Session<float> plain(pg, {.mode = k.mode, .grad_inputs = grad_inputs, .profile = true, .fuse = false});
    for (int step = 0; step < 2; ++step) {  // the second step sees updated running statistics
      const auto a = fused.forward({x});
      const auto b = plain.forward({x});
      CHECK(same_bits(a[0], b[0]));
      fused.backward({dy});
      plain.backward({dy});
    }
    std::int64_t compared = 0;
    for (const auto& p : fg.parameters()) {
      INFO(p.name);
      CHECK(same_bits(p.data, pg.parameter(p.name).data));  // running statistics included
      if (!p.trainable) continue;
      CHECK(same_bits(fused.grad(p.name), plain.grad(p.name)));
      ++compared;
    }
    CHECK(compared == (k.bias_only ? 5 : k.frozen_bn3 ? 17 : 19));
    if (!k.bias_only) CHECK(same_bits(fused.grad("x"), plain.grad("x")));
    const auto calls = profile_calls(fused), bw = profile_backward_calls(fused);
    CHECK(calls.at("BatchNormalization+Relu") == 4);  // bn1, bn3, two steps
    CHECK(calls.at("BatchNormalization+Clip") == 2);  // bn2
    CHECK(calls.at("BatchNormalization") == 4);       // bn5, bn6
    CHECK(calls.at("Relu") == 2);                     // after bn5
    CHECK(calls.count("Clip") == 0);
    CHECK(bw.at("BatchNormalization+Relu") == 4);
    CHECK(bw.at("BatchNormalization+Clip") == 2);
    for (const auto& p : plain.profile()) CHECK(p.op.find('+') == std::string::npos);
    // The value between a pair's ops is never held; the plan knows it.
    CHECK(fused.memory().planned_peak == fused.memory().actual_peak);
    CHECK(plain.memory().planned_peak == plain.memory().actual_peak);
    CHECK(fused.memory().actual_peak <= plain.memory().actual_peak);
    CHECK(fused.memory().saved_for_backward <= plain.memory().saved_for_backward);
  }
}

TEST_CASE("fusion: the planned peak counts a fused output alive with the input it is made from",
          "[fusion][session]") {
  const std::int64_t n = 2, plane = 8 * 8 * static_cast<std::int64_t>(sizeof(float));
  {  // inference: c2's chain makes h2 while h1, its input, is alive: |h1| + |h2|
    Builder<float> b(3);
    Var x = b.input("x", {3, 8, 8});
    Var h1 = b.relu(b.batch_norm(b.conv(x, 4, {.kernel = 3, .padding = 1}, "c1"), "bn1"));
    b.output(b.relu(b.batch_norm(b.conv(h1, 6, {.kernel = 3, .padding = 1}, "c2"), "bn2")));
    Graph<float> g = b.build();
    Session<float> s(g, {.mode = Mode::inference, .profile = true});
    (void)s.forward({wave({n, 3, 8, 8}, 0.3)});
    CHECK(profile_calls(s).at("Conv+BatchNormalization+Relu") == 2);
    CHECK(s.memory().actual_peak == n * (4 + 6) * plane);
    CHECK(s.memory().planned_peak == s.memory().actual_peak);
  }
  {  // training, the BatchNormalization frozen with its affine: the pair keeps only its
     // output z, made while the convolution's output h is alive: |h| + |z|
    Builder<float> b(4);
    Var x = b.input("x", {3, 8, 8});
    b.output(b.relu(b.batch_norm(b.conv(x, 4, {.kernel = 3, .padding = 1}, "c"), "bn")));
    Graph<float> g = b.build();
    hone::train::set_bn_policy(g, hone::train::BnPolicy::frozen, "bn", false);
    Session<float> s(g, {.mode = Mode::train, .profile = true});
    (void)s.forward({wave({n, 3, 8, 8}, 0.3)});
    CHECK(profile_calls(s).at("BatchNormalization+Relu") == 1);
    CHECK(s.memory().actual_peak == n * (4 + 4) * plane);
    CHECK(s.memory().planned_peak == s.memory().actual_peak);
    s.backward({wave({n, 4, 8, 8}, 0.7)});
    CHECK(s.has_grad("c.weight"));
  }
}
