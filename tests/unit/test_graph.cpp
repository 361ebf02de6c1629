// Tests for hone/graph/graph.hpp: IR validation (dangling values, cycles, duplicates,
// unsupported ops, arity, shape mismatches naming the node) and shape inference with a
// symbolic batch dimension. Oracles: the expected messages and hand-computed shapes.
#include <catch2/catch.hpp>

#include <hone/graph/graph.hpp>

using hone::Attributes;
using hone::Graph;
using hone::Shape;
using hone::Tensor;

namespace {
Graph<float> conv_graph(std::int64_t in_channels) {
  Graph<float> g;
  g.add_input("x", Shape{1, in_channels, 8, 8});
  g.add_parameter("conv1.weight", Tensor<float>(Shape{8, 3, 3, 3}));
  Attributes a;
  a.set_ints("pads", {1, 1, 1, 1});
  g.add_node("Conv", {"x", "conv1.weight"}, {"y"}, a, "conv1");
  g.add_output("y");
  return g;
}
}  // namespace

TEST_CASE("graph: shape inference through a small network", "[graph]") {
  Graph<float> g = conv_graph(3);
  g.add_node("Relu", {"y"}, {"r"}, {}, "relu1");
  Attributes pool;
  pool.set_ints("kernel_shape", {2, 2}).set_ints("strides", {2, 2});
  g.add_node("MaxPool", {"r"}, {"p"}, pool, "pool1");
  g.add_node("Flatten", {"p"}, {"f"}, {}, "flat");
  const auto a = g.analyze();
  CHECK(a.shapes[a.value("y")] == Shape{1, 8, 8, 8});
  CHECK(a.shapes[a.value("p")] == Shape{1, 8, 4, 4});
  CHECK(a.shapes[a.value("f")] == Shape{1, 128});
  CHECK(a.order.size() == 4);
  CHECK(a.kind[a.value("conv1.weight")] == hone::ValueKind::parameter);
}

TEST_CASE("graph: the batch dimension is symbolic", "[graph]") {
  Graph<float> g = conv_graph(3);
  const std::vector<Shape> batch5 = {Shape{5, 3, 8, 8}};
  const auto a = g.analyze(&batch5);
  CHECK(a.shapes[a.value("y")] == Shape{5, 8, 8, 8});
  const std::vector<Shape> wrong = {Shape{5, 3, 8, 9}};
  CHECK_THROWS_WITH(g.analyze(&wrong),
                    "[hone.shape] input \"x\" expects shape (N, 3, 8, 8) but got (5, 3, 8, 9)");
}

TEST_CASE("graph: nodes may be added out of order; the order is topological", "[graph]") {
  Graph<float> g;
  g.add_input("x", Shape{2, 3});
  g.add_node("Relu", {"b"}, {"c"}, {}, "second");
  g.add_node("Neg", {"x"}, {"b"}, {}, "first");
  g.add_output("c");
  const auto a = g.analyze();
  REQUIRE(a.order.size() == 2);
  CHECK(g.nodes()[a.order[0]].name == "first");
  CHECK(g.nodes()[a.order[1]].name == "second");
}

TEST_CASE("graph: validation errors name the node and the problem", "[graph]") {
  SECTION("channel mismatch") {
    CHECK_THROWS_WITH(conv_graph(4).validate(),
                      "[hone.shape] node \"conv1\" (Conv): weight (8, 3, 3, 3) expects 3 input "
                      "channels but the input has 4");
  }
  SECTION("dangling input") {
    Graph<float> g;
    g.add_input("x", Shape{1, 4});
    g.add_node("Relu", {"feat"}, {"y"}, {}, "act");
    CHECK_THROWS_WITH(g.validate(), "[hone.graph.dangling] node \"act\" (Relu): input \"feat\" is "
                                    "not a graph input, parameter or output of any node");
  }
  SECTION("dangling output") {
    Graph<float> g;
    g.add_input("x", Shape{1, 4});
    g.add_output("nothing");
    CHECK_THROWS_WITH(g.validate(), "[hone.graph.dangling] graph output \"nothing\" is not defined");
  }
  SECTION("cycle") {
    Graph<float> g;
    g.add_input("x", Shape{1, 4});
    g.add_node("Add", {"x", "b"}, {"a"}, {}, "A");
    g.add_node("Relu", {"a"}, {"b"}, {}, "B");
    CHECK_THROWS_WITH(g.validate(),
                      "[hone.graph.cycle] nodes \"A\", \"B\" form a cycle (or depend on one)");
  }
  SECTION("duplicate definition") {
    Graph<float> g;
    g.add_input("x", Shape{1, 4});
    g.add_node("Relu", {"x"}, {"x"}, {}, "again");
    CHECK_THROWS_WITH(g.validate(), "[hone.graph.duplicate] value \"x\" is defined more than "
                                    "once (again by node \"again\")");
    CHECK_THROWS_WITH(g.add_parameter("x", Tensor<float>(Shape{1})),
                      "[hone.graph.duplicate] value \"x\" is defined more than once");
  }
  SECTION("unsupported op") {
    Graph<float> g;
    g.add_input("x", Shape{1, 4});
    g.add_node("Resize", {"x"}, {"y"}, {}, "up");
    try {
      g.validate();
      FAIL("no exception");
    } catch (const hone::UnsupportedError& e) {
      CHECK(e.id() == "hone.graph.unsupported_op");
      CHECK_THAT(e.what(), Catch::Contains("node \"up\" (Resize): op Resize is not supported; "
                                           "supported: Abs, Add, AveragePool"));
    }
  }
  SECTION("arity") {
    Graph<float> g;
    g.add_input("x", Shape{1, 4});
    g.add_node("Add", {"x"}, {"y"}, {}, "add1");
    CHECK_THROWS_WITH(g.validate(), "[hone.graph.arity] node \"add1\" (Add): takes 2 inputs, got 1");
  }
  SECTION("broadcast mismatch") {
    Graph<float> g;
    g.add_input("a", Shape{2, 3});
    g.add_input("b", Shape{2, 4});
    g.add_node("Add", {"a", "b"}, {"y"}, {}, "res");
    CHECK_THROWS_WITH(g.validate(), "[hone.shape] node \"res\" (Add): shapes (2, 3) and (2, 4) do "
                                    "not broadcast (axis 1 of the result: 3 vs 4)");
  }
  SECTION("gemm inner dimensions") {
    Graph<float> g;
    g.add_input("a", Shape{2, 3});
    g.add_parameter("fc.weight", Tensor<float>(Shape{10, 4}));
    Attributes t;
    t.set_int("transB", 1);
    g.add_node("Gemm", {"a", "fc.weight"}, {"y"}, t, "fc");
    CHECK_THROWS_WITH(g.validate(),
                      "[hone.shape] node \"fc\" (Gemm): op(A) is (2, 3) but op(B) is (4, 10): inner "
                      "dimensions differ (A (2, 3) transA=0, B (10, 4) transB=1)");
  }
  SECTION("batchnorm parameters of the wrong size") {
    Graph<float> g;
    g.add_input("x", Shape{1, 4, 2, 2});
    for (const char* p : {"bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"})
      g.add_parameter(p, Tensor<float>(Shape{3}));
    g.add_node("BatchNormalization", {"x", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"},
               {"y"}, {}, "bn");
    CHECK_THROWS_WITH(g.validate(), "[hone.shape] node \"bn\" (BatchNormalization): scale must have "
                                    "shape (4) for input (1, 4, 2, 2), got (3)");
  }
  SECTION("reshape to a different element count") {
    Graph<float> g;
    g.add_input("x", Shape{2, 3, 4});
    Attributes a;
    a.set_ints("shape", {0, 5});
    g.add_node("Reshape", {"x"}, {"y"}, a, "r");
    CHECK_THROWS_WITH(g.validate(), "[hone.shape] node \"r\" (Reshape): target shape (2, 5) holds 10 "
                                    "elements but input (2, 3, 4) holds 24");
  }
  SECTION("an unknown auto_pad is rejected naming the node") {
    Graph<float> h;
    h.add_input("x", Shape{1, 3, 8, 8});
    h.add_parameter("w", Tensor<float>(Shape{8, 3, 3, 3}));
    Attributes a;
    a.set_string("auto_pad", "SAME_MIDDLE");
    h.add_node("Conv", {"x", "w"}, {"y"}, a, "c");
    CHECK_THROWS_WITH(h.validate(), Catch::Contains("node \"c\"") && Catch::Contains("SAME_MIDDLE"));
  }
  SECTION("auto_pad SAME_UPPER keeps ceil(extent / stride)") {
    Graph<float> h;
    h.add_input("x", Shape{1, 3, 7, 8});
    h.add_parameter("w", Tensor<float>(Shape{8, 3, 3, 3}));
    Attributes a;
    a.set_string("auto_pad", "SAME_UPPER").set_ints("strides", {2, 3});
    h.add_node("Conv", {"x", "w"}, {"y"}, a, "c");
    h.add_output("y");
    const auto an = h.analyze();
    CHECK(an.shapes[an.value("y")] == Shape{1, 8, 4, 3});
  }
}

TEST_CASE("graph: freeze and unfreeze by name prefix; buffers never train", "[graph]") {
  Graph<float> g;
  g.add_parameter("layer1.weight", Tensor<float>(Shape{2}));
  g.add_parameter("layer2.weight", Tensor<float>(Shape{2}));
  g.add_buffer("layer1.running_mean", Tensor<float>(Shape{2}));
  CHECK(g.freeze() == 2);
  CHECK_FALSE(g.parameter("layer2.weight").trainable);
  CHECK(g.unfreeze("layer2") == 1);
  CHECK(g.parameter("layer2.weight").trainable);
  CHECK_FALSE(g.parameter("layer1.weight").trainable);
  CHECK_FALSE(g.parameter("layer1.running_mean").trainable);
  CHECK(g.parameter("layer1.running_mean").buffer);
  CHECK_THROWS_WITH(g.parameter("nope"),
                    "[hone.graph.unknown_value] no parameter or buffer is named \"nope\"");
}

TEST_CASE("graph: a copy shares parameter storage, clone() does not", "[graph]") {
  Graph<float> g;
  g.add_input("x", Shape{1, 2});
  g.add_parameter("w", Tensor<float>(Shape{2, 2}, 1.0f));
  g.add_buffer("b", Tensor<float>(Shape{2}, 2.0f));
  Graph<float> shared = g;
  Graph<float> cloned = g.clone();
  g.parameter("w").data[0] = 5.0f;
  g.parameter("b").data[1] = 7.0f;
  CHECK(shared.parameter("w").data[0] == 5.0f);
  CHECK(cloned.parameter("w").data[0] == 1.0f);
  CHECK(cloned.parameter("b").data[1] == 2.0f);
  CHECK(cloned.parameter("b").buffer);
}
