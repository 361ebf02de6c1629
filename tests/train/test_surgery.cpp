// Tests for hone/train/surgery.hpp on Builder-built and hand-assembled graphs: layer names
// (from parameter names and from PyTorch's node scopes), blocks, finding the head through
// shape/activation/loss ops, replacing it (shapes, PyTorch's initialisation bounds, the
// downstream Reshape, atomicity on failure, ONNX export), truncation, splitting (prefix then
// suffix equals the whole model, bit for bit; a residual crossing the cut is refused) and
// attaching a new head.
#include <catch2/catch.hpp>

#include <hone/graph/session.hpp>
#include <hone/onnx/export.hpp>
#include <hone/onnx/import.hpp>
#include <hone/train/select.hpp>
#include <hone/train/surgery.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "surgery_test_util.hpp"

using hone::Builder;
using hone::Graph;
using hone::Mode;
using hone::Session;
using hone::Shape;
using hone::Tensor;
using hone::Var;
namespace ht = hone::train;

namespace {

template <class T>
Tensor<T> run(Graph<T>& g, const std::vector<Tensor<T>>& inputs, Mode mode = Mode::eval) {
  Session<T> s(g, {.mode = mode});
  return s.forward(inputs)[0];
}

bool identical(const Tensor<float>& a, const Tensor<float>& b) {
  if (!(a.shape() == b.shape())) return false;
  for (std::int64_t i = 0; i < a.numel(); ++i)
    if (a[i] != b[i]) return false;
  return true;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const hone::Error& e) {
    return e.what();
  }
  return "(no exception)";
}

}  // namespace

TEST_CASE("surgery: layers are the parameterised nodes in topological order", "[train][surgery]") {
  const Graph<float> g = hone_test::resnetish<float>().graph;
  const auto L = ht::layers(g);
  std::vector<std::string> names;
  for (const auto& l : L) names.push_back(l.name);
  CHECK(names == std::vector<std::string>{"conv1", "bn1", "layer1.0.conv1", "layer1.0.bn1", "layer1.0.conv2",
                                          "layer1.0.bn2", "layer2.0.conv1", "layer2.0.bn1", "layer2.0.conv2",
                                          "layer2.0.bn2", "layer2.0.downsample.0", "layer2.0.downsample.1", "fc"});
  for (std::size_t i = 0; i < L.size(); ++i) CHECK(L[i].depth == i);
  const auto& c = L[6];
  CHECK(c.op == "Conv");
  CHECK(c.params == 8 * 4 * 9);
  CHECK(c.output_shape == Shape{1, 8, 4, 4});
  CHECK(c.param_names == std::vector<std::string>{"layer2.0.conv1.weight"});
  CHECK(L[7].param_names == std::vector<std::string>{"layer2.0.bn1.weight", "layer2.0.bn1.bias"});
  CHECK(L[7].params == 16);  // running statistics are buffers, not counted
  CHECK(L[12].op == "Gemm");
  CHECK(L[12].params == 45);

  const auto B = ht::blocks(g);
  CHECK(ht::block_names(g) == std::vector<std::string>{"conv1", "bn1", "layer1.0", "layer2.0", "fc"});
  REQUIRE(B.size() == 5);
  CHECK(B[0] == std::vector<std::string>{"conv1.weight"});
  CHECK(B[2].size() == 6);
  CHECK(B[3].size() == 9);
  CHECK(B[3].back() == "layer2.0.downsample.1.bias");
  CHECK(B[4] == std::vector<std::string>{"fc.weight", "fc.bias"});
}

TEST_CASE("surgery: module paths come from PyTorch's node scopes when parameters are unnamed",
          "[train][surgery]") {
  // What a PyTorch export with BatchNorm folded looks like: "onnx::Conv_N" parameters.
  Graph<float> g;
  g.add_input("x", Shape{1, 2, 4, 4});
  auto conv = [&](const std::string& node, const std::string& in, const std::string& w, std::int64_t out) {
    g.add_parameter(w, hone_test::wave<float>({out, 2, 1, 1}, 0.3));
    hone::Attributes a;
    a.set_ints("kernel_shape", {1, 1});
    g.add_node("Conv", {in, w}, {node + "_output_0"}, a, node);
    return node + "_output_0";
  };
  std::string v = conv("/features/features.0/features.0.0/Conv", "x", "onnx::Conv_1", 2);
  v = conv("/features/features.1/conv/conv.0/conv.0.0/Conv", v, "onnx::Conv_2", 2);
  v = conv("/features/features.1/conv/conv.1/Conv", v, "onnx::Conv_3", 2);
  v = conv("/layer1/layer1.0/conv1/Conv", v, "onnx::Conv_4", 2);
  v = conv("Conv_9", v, "w", 2);
  v = conv("/head/Conv", v, "onnx::Conv_5", 2);
  g.add_output(v);
  std::vector<std::string> names;
  for (const auto& l : ht::layers(g)) names.push_back(l.name);
  CHECK(names == std::vector<std::string>{"features.0.0", "features.1.conv.0.0", "features.1.conv.1",
                                          "layer1.0.conv1", "Conv_9", "head"});
  CHECK(ht::block_names(g) == std::vector<std::string>{"features.0", "features.1", "layer1.0", "Conv_9", "head"});
  CHECK(ht::blocks(g)[1] == std::vector<std::string>{"onnx::Conv_2", "onnx::Conv_3"});
  // freeze_until accepts those paths.
  CHECK(ht::freeze_until(g, "features.1") == 1);
  CHECK_FALSE(g.parameter("onnx::Conv_1").trainable);
  CHECK(g.parameter("onnx::Conv_2").trainable);
}

TEST_CASE("surgery: find_head looks through shape, activation and loss ops", "[train][surgery]") {
  SECTION("a Linear after flatten") {
    const auto m = hone_test::resnetish<float>();
    const ht::HeadInfo h = ht::find_head(m.graph);
    CHECK(h.node == "fc");
    CHECK(h.op == "Gemm");
    CHECK(h.weight == "fc.weight");
    CHECK(h.bias == "fc.bias");
    CHECK(h.in_features == 8);
    CHECK(h.out_features == 5);
    CHECK(h.input == m.features);
    CHECK(h.output == m.logits);
  }
  SECTION("the logits of a loss output") {
    const auto m = hone_test::resnetish<float>(1, true);
    CHECK(ht::find_head(m.graph).weight == "fc.weight");
  }
  SECTION("SqueezeNet's 1x1 Conv -> Relu -> GlobalAveragePool -> Flatten") {
    Builder<float> b;
    const Var x = b.input("x", {6, 5, 5});
    const Var c = b.conv(x, 4, {.kernel = 1}, "classifier.1");
    b.output(b.flatten(b.global_avg_pool(b.relu(c))));
    const ht::HeadInfo h = ht::find_head(b.build());
    CHECK(h.node == "classifier.1");
    CHECK(h.in_features == 6);
    CHECK(h.out_features == 4);
    CHECK(h.bias == "classifier.1.bias");
  }
  SECTION("a MatMul whose bias is a separate Add, then Softmax") {
    Graph<float> g;
    g.add_input("x", Shape{1, 3});
    g.add_parameter("W", hone_test::wave<float>({3, 4}, 0.5));
    g.add_parameter("b", hone_test::wave<float>({4}, 0.9));
    g.add_node("MatMul", {"x", "W"}, {"xw"}, {}, "mm");
    g.add_node("Add", {"b", "xw"}, {"z"}, {}, "add");
    g.add_node("Softmax", {"z"}, {"p"}, {}, "softmax");
    g.add_output("p");
    const ht::HeadInfo h = ht::find_head(g);
    CHECK(h.node == "mm");
    CHECK(h.bias == "b");
    CHECK(h.bias_node == "add");
    CHECK(h.in_features == 3);
    CHECK(h.out_features == 4);
    CHECK(h.output == "z");
    // A new width: W becomes (3, 7), b (7), the softmax output (N, 7).
    ht::replace_head(g, 7, 2);
    CHECK(g.parameter("W").data.shape() == Shape{3, 7});
    CHECK(g.parameter("b").data.shape() == Shape{7});
    CHECK(run(g, {hone_test::wave<float>({2, 3}, 0.2)}).shape() == Shape{2, 7});
  }
  SECTION("no classifier: the message says where the search stopped") {
    Builder<float> b;
    const Var x = b.input("x", {2, 5, 5});
    b.output(b.relu(b.conv(x, 3, {.kernel = 3}, "body")));
    const Graph<float> g = b.build();
    const std::string m = message_of([&] { ht::find_head(g); });
    CHECK(m.find("[hone.train.no_head]") != std::string::npos);
    CHECK(m.find("node \"body\" (Conv)") != std::string::npos);
    CHECK(m.find("1x1 Conv") != std::string::npos);
    CHECK(m.find("attach_head") != std::string::npos);
  }
}

TEST_CASE("surgery: replace_head gives fresh PyTorch-initialised weights of the new width",
          "[train][surgery]") {
  auto m = hone_test::resnetish<float>(5);
  Graph<float>& g = m.graph;
  ht::freeze(g);
  const Tensor<float> conv_before = g.parameter("layer2.0.conv2.weight").data.clone();
  const ht::HeadInfo h = ht::replace_head(g, 7, 11);
  CHECK(h.out_features == 7);
  CHECK(h.in_features == 8);
  const auto& w = g.parameter("fc.weight");
  const auto& b = g.parameter("fc.bias");
  CHECK(w.data.shape() == Shape{7, 8});
  CHECK(b.data.shape() == Shape{7});
  CHECK(w.trainable);
  CHECK(b.trainable);
  CHECK_FALSE(g.parameter("layer2.0.conv2.weight").trainable);
  CHECK(identical(g.parameter("layer2.0.conv2.weight").data, conv_before));
  // nn.Linear's default: kaiming_uniform(a = sqrt(5)) and the bias both U(-1/sqrt(in), 1/sqrt(in)).
  const double bound = 1.0 / std::sqrt(8.0);
  double wmax = 0, bmax = 0;
  for (float v : w.data) wmax = std::max(wmax, std::fabs(static_cast<double>(v)));
  for (float v : b.data) bmax = std::max(bmax, std::fabs(static_cast<double>(v)));
  CHECK(wmax <= bound);
  CHECK(wmax > 0.7 * bound);  // 56 uniform draws: the largest is near the bound
  CHECK(bmax <= bound);
  CHECK(bmax > 0.1 * bound);
  // The draws are Generator(seed).fork(0) in (out, in) order, as documented.
  Tensor<float> expected({7, 8});
  hone::Generator gen = hone::Generator(11).fork(0);
  hone::init::kaiming_uniform(expected, gen, std::sqrt(5.0));
  CHECK(identical(w.data, expected));
  // Another seed, other weights.
  Graph<float> other = hone_test::resnetish<float>(5).graph;
  ht::replace_head(other, 7, 12);
  CHECK_FALSE(identical(other.parameter("fc.weight").data, w.data));

  const Tensor<float> y = run(g, {hone_test::wave<float>({3, 3, 8, 8}, 0.1)});
  CHECK(y.shape() == Shape{3, 7});
}

TEST_CASE("surgery: replace_head fixes a Reshape after the head and is atomic on failure",
          "[train][surgery]") {
  SECTION("a Reshape naming the class count") {
    Builder<float> b;
    const Var x = b.input("x", {6});
    b.output(b.reshape(b.linear(x, 5, true, "fc"), {0, 5, 1}));
    Graph<float> g = b.build();
    ht::replace_head(g, 3);
    CHECK(run(g, {hone_test::wave<float>({2, 6}, 0.4)}).shape() == Shape{2, 3, 1});
  }
  SECTION("class weights of the old width: refused, graph unchanged") {
    Builder<float> b;
    const Var x = b.input("x", {6});
    const Var labels = b.input("labels", {});
    const Var logits = b.linear(x, 4, true, "fc");
    b.output(b.cross_entropy(logits, labels, {.class_weights = {1, 2, 1, 1}}));
    Graph<float> g = b.build();
    const Tensor<float> before = g.parameter("fc.weight").data.clone();
    const std::string m = message_of([&] { ht::replace_head(g, 3); });
    CHECK(m.find("no longer validates") != std::string::npos);
    CHECK(m.find("from 4 to 3") != std::string::npos);
    CHECK(identical(g.parameter("fc.weight").data, before));
    CHECK_THROWS_WITH(ht::replace_head(g, 0), Catch::Contains("num_classes must be >= 1"));
  }
}

TEST_CASE("surgery: a replaced head exports to ONNX with the new width", "[train][surgery][onnx]") {
  auto m = hone_test::resnetish<float>(5);
  ht::replace_head(m.graph, 3, 4);
  const hone::onnx::ModelProto model = hone::onnx::export_model(m.graph);
  REQUIRE(model.graph.output.size() == 1);
  const auto& dims = model.graph.output[0].type.tensor_type.shape.dim;
  REQUIRE(dims.size() == 2);
  CHECK(dims[0].dim_param == "batch");
  CHECK(dims[1].dim_value == 3);
  Graph<float> back = hone::onnx::import_model<float>(model);
  const Tensor<float> x = hone_test::wave<float>({2, 3, 8, 8}, 0.3);
  CHECK(identical(run(back, {x}), run(m.graph, {x})));
}

TEST_CASE("surgery: truncate_at keeps what the new output needs", "[train][surgery]") {
  auto m = hone_test::resnetish<float>(2, true);  // with a loss reading "labels"
  Graph<float>& g = m.graph;
  const Tensor<float> x = hone_test::wave<float>({2, 3, 8, 8}, 0.3);
  Graph<float> full = g;
  full.set_outputs({m.features});
  const Tensor<float> want = run(full, {x, Tensor<float>({2})});
  CHECK(ht::truncate_at(g, m.features) == 2);  // fc and the loss
  CHECK(g.outputs() == std::vector<std::string>{m.features});
  CHECK_FALSE(g.has_parameter("fc.weight"));
  CHECK_FALSE(g.has_parameter("fc.bias"));
  CHECK(g.has_parameter("layer2.0.bn2.running_var"));
  REQUIRE(g.inputs().size() == 1);  // the labels input is gone
  CHECK(g.inputs()[0].name == "x");
  CHECK(identical(run(g, {x}), want));
  CHECK(ht::layers(g).size() == 12);

  const std::string msg = message_of([&] { ht::truncate_at(g, "flaten1"); });
  CHECK(msg.find("[hone.train.unknown_value]") != std::string::npos);
  CHECK(msg.find("\"flaten1\" is not a value") != std::string::npos);
  CHECK(msg.find("the closest node outputs are flatten1,") != std::string::npos);
  CHECK(message_of([&] { ht::truncate_at(g, "conv1.weight"); }).find("not a node output") != std::string::npos);
  CHECK(g.outputs() == std::vector<std::string>{m.features});
}

TEST_CASE("surgery: split_at's prefix then suffix computes the whole model", "[train][surgery]") {
  auto m = hone_test::resnetish<float>(6, true);
  Graph<float>& g = m.graph;
  hone_test::perturb_batch_norms(g);
  ht::freeze_until(g, "layer2");
  const Tensor<float> x = hone_test::wave<float>({3, 3, 8, 8}, 0.21);
  Tensor<float> labels({3});
  labels[0] = 4;
  labels[1] = 0;
  labels[2] = 2;
  Graph<float> logits_graph = g;
  logits_graph.set_outputs({m.logits});
  const Tensor<float> want = run(logits_graph, {x, labels});
  const Tensor<float> want_loss = run(g, {x, labels});

  ht::SplitGraphs<float> parts = ht::split_at(g, m.block1_out);
  REQUIRE(parts.prefix.inputs().size() == 1);
  CHECK(parts.prefix.outputs() == std::vector<std::string>{m.block1_out});
  REQUIRE(parts.suffix.inputs().size() == 2);
  CHECK(parts.suffix.inputs()[0].name == m.block1_out);
  CHECK(parts.suffix.inputs()[0].batched);
  CHECK(parts.suffix.inputs()[0].shape == Shape{1, 4, 8, 8});
  CHECK(parts.suffix.inputs()[1].name == "labels");
  CHECK_FALSE(parts.suffix.has_parameter("conv1.weight"));
  CHECK(parts.suffix.has_parameter("layer2.0.conv1.weight"));
  CHECK(parts.suffix.parameter("layer2.0.conv1.weight").trainable);
  CHECK_FALSE(parts.prefix.has_parameter("fc.weight"));
  CHECK_FALSE(parts.prefix.parameter("layer1.0.conv1.weight").trainable);

  const Tensor<float> features = run(parts.prefix, {x});
  CHECK(identical(run(parts.suffix, {features, labels}), want_loss));
  Graph<float> suffix_logits = parts.suffix;
  suffix_logits.set_outputs({m.logits});
  CHECK(identical(run(suffix_logits, {features, labels}), want));
  // Own copies: training the suffix does not touch the model.
  parts.suffix.parameter("fc.weight").data[0] += 1.0f;
  parts.prefix.parameter("conv1.weight").data[0] += 1.0f;
  CHECK(identical(run(logits_graph, {x, labels}), want));

  // Between the blocks too, and just before the head.
  ht::SplitGraphs<float> late = ht::split_at(logits_graph, m.features);
  CHECK(late.suffix.nodes().size() == 1);
  CHECK(late.suffix.inputs()[0].shape == Shape{1, 8});
  CHECK(identical(run(late.suffix, {run(late.prefix, {x})}), want));
}

TEST_CASE("surgery: split_at refuses a cut that a residual connection crosses", "[train][surgery]") {
  const auto m = hone_test::resnetish<float>(6);
  // Inside layer1.0: its addition reads the stem's output, computed before the cut.
  const std::string msg = message_of([&] { ht::split_at(m.graph, "layer1.0.bn1"); });
  CHECK(msg.find("[hone.train.split]") != std::string::npos);
  CHECK(msg.find("split_at(\"layer1.0.bn1\")") != std::string::npos);
  CHECK(msg.find("reads \"" + m.stem_out + "\", computed before the cut") != std::string::npos);
  CHECK(msg.find("node \"add1\" (Add)") != std::string::npos);
  CHECK(msg.find("residual") != std::string::npos);
  CHECK(message_of([&] { ht::split_at(m.graph, "nope"); }).find("not a value") != std::string::npos);
}

TEST_CASE("surgery: attach_head replaces the classifier by a Builder-made head", "[train][surgery]") {
  auto m = hone_test::resnetish<float>(8, true);
  Graph<float>& g = m.graph;
  ht::freeze(g);
  const Var out = ht::attach_head(g, m.features, [](Builder<float>& b, const Var& f) {
    const Var h = b.relu(b.linear(f, 16, true, "head.0"));
    return b.linear(h, 3, true, "head.2");
  }, 9);
  CHECK(out.name == "head.2");
  CHECK(out.shape == Shape{1, 3});
  CHECK(g.outputs() == std::vector<std::string>{"head.2"});
  CHECK_FALSE(g.has_parameter("fc.weight"));
  REQUIRE(g.inputs().size() == 1);  // the loss and its labels are gone with the old head
  CHECK(g.parameter("head.0.weight").data.shape() == Shape{16, 8});
  CHECK(g.parameter("head.0.weight").trainable);
  CHECK(g.parameter("head.2.bias").trainable);
  CHECK_FALSE(g.parameter("layer2.0.conv1.weight").trainable);
  // Generated names do not collide with the model's own ("relu1", ...).
  CHECK(ht::find_head(g).node == "head.2");
  CHECK(run(g, {hone_test::wave<float>({2, 3, 8, 8}, 0.5)}).shape() == Shape{2, 3});
  // A head with its own loss: the head output comes first, the loss marked with output() next.
  auto with_loss = hone_test::resnetish<float>(8).graph;
  ht::attach_head(with_loss, m.features, [](Builder<float>& b, const Var& f) {
    const Var logits = b.linear(f, 3, true, "new_fc");
    b.output(b.cross_entropy(logits, b.input("y", {})));
    return logits;
  });
  CHECK(with_loss.outputs().size() == 2);
  CHECK(with_loss.outputs()[0] == "new_fc");
  CHECK(with_loss.inputs().size() == 2);
  CHECK_THROWS_WITH(ht::attach_head(with_loss, "missing", [](Builder<float>&, const Var& f) { return f; }),
                    Catch::Contains("\"missing\" is not a value"));
}
