// The ONNX importer on hand-built models: error reporting (every unsupported node at once,
// the opset range, dangling values, impossible shapes naming the node, symbolic extents),
// initializer roles, constant folding of exporters' shape subgraphs with a symbolic batch,
// opset-dependent operand forms, and the exporter's refusal of hone-only ops. Expected
// values are the ONNX definitions applied by hand to tiny inputs.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "hone/hone.hpp"
#include "hone/onnx/export.hpp"
#include "hone/onnx/import.hpp"

namespace {

namespace ox = hone::onnx;

ox::ModelProto model(std::int64_t opset = 13) {
  ox::ModelProto m;
  m.ir_version = 7;
  ox::OperatorSetIdProto o;
  o.domain = "";
  o.version = opset;
  m.opset_import.push_back(o);
  m.graph.name = "test";
  return m;
}

ox::ValueInfoProto tensor_info(const std::string& name, std::vector<std::int64_t> dims,
                               bool symbolic_batch = false) {
  ox::ValueInfoProto v;
  v.name = name;
  v.type.has_tensor_type = true;
  v.type.tensor_type.elem_type = ox::TensorProto::FLOAT;
  v.type.tensor_type.has_shape = true;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    ox::TensorShapeProto::Dimension d;
    if (i == 0 && symbolic_batch) {
      d.dim_param = "N";
    } else {
      d.has_dim_value = true;
      d.dim_value = dims[i];
    }
    v.type.tensor_type.shape.dim.push_back(d);
  }
  return v;
}

ox::NodeProto node(const std::string& op, std::vector<std::string> in, std::vector<std::string> out,
                   const std::string& name = {}) {
  ox::NodeProto n;
  n.op_type = op;
  n.input = std::move(in);
  n.output = std::move(out);
  n.name = name;
  return n;
}

ox::AttributeProto int_attr(const std::string& name, std::int64_t v) {
  ox::AttributeProto a;
  a.name = name;
  a.type = ox::AttributeProto::INT;
  a.i = v;
  return a;
}

ox::TensorProto int64_tensor(const std::string& name, std::vector<std::int64_t> v) {
  ox::TensorProto t;
  t.name = name;
  t.data_type = ox::TensorProto::INT64;
  t.dims = {static_cast<std::int64_t>(v.size())};
  t.int64_data = std::move(v);
  return t;
}

ox::TensorProto float_tensor(const std::string& name, std::vector<std::int64_t> dims, std::vector<float> v) {
  ox::TensorProto t;
  t.name = name;
  t.data_type = ox::TensorProto::FLOAT;
  t.dims = std::move(dims);
  t.float_data = std::move(v);
  return t;
}

}  // namespace

TEST_CASE("every unsupported node is listed in one error", "[onnx][import]") {
  auto m = model();
  m.graph.input.push_back(tensor_info("x", {1, 4}));
  m.graph.node.push_back(node("Relu", {"x"}, {"a"}, "ok"));
  m.graph.node.push_back(node("NonMaxSuppression", {"a"}, {"b"}, "nms"));
  auto custom = node("FusedGemm", {"b"}, {"c"}, "fused");
  custom.domain = "com.microsoft";
  m.graph.node.push_back(custom);
  m.graph.output.push_back(tensor_info("c", {1, 4}));
  try {
    (void)ox::import_model<float>(m);
    FAIL("no exception");
  } catch (const hone::UnsupportedError& e) {
    CHECK(e.id() == "hone.onnx.unsupported_op");
    const std::string msg = e.what();
    CHECK(msg.find("2 node(s)") != std::string::npos);
    CHECK(msg.find("NonMaxSuppression (domain \"ai.onnx\", opset 13) node \"nms\"") != std::string::npos);
    CHECK(msg.find("FusedGemm (domain \"com.microsoft\"") != std::string::npos);
    CHECK(msg.find("\"fused\"") != std::string::npos);
  }
  CHECK(ox::unsupported_nodes(m).size() == 2);
}

TEST_CASE("opsets above 18 are refused, and ops whose semantics changed before 7", "[onnx][import]") {
  for (std::int64_t opset : {19, 21}) {
    auto m = model(opset);
    m.graph.input.push_back(tensor_info("x", {1, 4}));
    m.graph.node.push_back(node("Relu", {"x"}, {"y"}));
    m.graph.output.push_back(tensor_info("y", {1, 4}));
    CHECK_THROWS_WITH(ox::import_model<float>(m), Catch::Contains("opset " + std::to_string(opset)));
  }
  // Relu has not changed since opset 6; Add's broadcasting did at 7.
  auto m = model(6);
  m.graph.input.push_back(tensor_info("x", {1, 4}));
  m.graph.node.push_back(node("Relu", {"x"}, {"y"}));
  m.graph.output.push_back(tensor_info("y", {1, 4}));
  CHECK_NOTHROW(ox::import_model<float>(m));
  m.graph.node.push_back(node("Add", {"y", "y"}, {"z"}, "legacy"));
  m.graph.output[0] = tensor_info("z", {1, 4});
  CHECK_THROWS_WITH(ox::import_model<float>(m), Catch::Contains("node \"legacy\"") && Catch::Contains("before 7"));
}

TEST_CASE("a dangling input and an impossible shape name the node", "[onnx][import]") {
  auto m = model();
  m.graph.input.push_back(tensor_info("x", {1, 4}));
  m.graph.node.push_back(node("Add", {"x", "nowhere"}, {"y"}, "adder"));
  m.graph.output.push_back(tensor_info("y", {1, 4}));
  CHECK_THROWS_WITH(ox::import_model<float>(m),
                    Catch::Contains("node \"adder\"") && Catch::Contains("\"nowhere\""));

  auto m2 = model();
  m2.graph.input.push_back(tensor_info("x", {1, 3, 8, 8}));
  m2.graph.initializer.push_back(float_tensor("w", {2, 4, 1, 1}, std::vector<float>(8, 1.f)));
  m2.graph.node.push_back(node("Conv", {"x", "w"}, {"y"}, "conv7"));
  m2.graph.output.push_back(tensor_info("y", {1, 2, 8, 8}));
  try {
    (void)ox::import_model<float>(m2);
    FAIL("no exception");
  } catch (const hone::ShapeError& e) {
    CHECK(std::string(e.what()).find("node \"conv7\"") != std::string::npos);
  }
}

TEST_CASE("only the first axis may be symbolic", "[onnx][import]") {
  auto m = model();
  auto x = tensor_info("x", {1, 4});
  x.type.tensor_type.shape.dim[1] = {};
  x.type.tensor_type.shape.dim[1].dim_param = "features";
  m.graph.input.push_back(x);
  m.graph.node.push_back(node("Relu", {"x"}, {"y"}));
  m.graph.output.push_back(tensor_info("y", {1, 4}));
  CHECK_THROWS_WITH(ox::import_model<float>(m), Catch::Contains("\"features\"") && Catch::Contains("axis 1"));
}

TEST_CASE("initializers become trainable weights, buffers or constants by their use", "[onnx][import]") {
  auto m = model();
  m.graph.input.push_back(tensor_info("x", {1, 2, 3, 3}, true));
  m.graph.initializer.push_back(float_tensor("conv.weight", {2, 2, 1, 1}, {1, 0, 0, 1}));
  m.graph.initializer.push_back(float_tensor("bn.weight", {2}, {1, 1}));
  m.graph.initializer.push_back(float_tensor("bn.bias", {2}, {0, 0}));
  m.graph.initializer.push_back(float_tensor("bn.running_mean", {2}, {0, 0}));
  m.graph.initializer.push_back(float_tensor("bn.running_var", {2}, {1, 1}));
  m.graph.initializer.push_back(float_tensor("shift", {1}, {0.5f}));
  m.graph.node.push_back(node("Conv", {"x", "conv.weight"}, {"c"}));
  m.graph.node.push_back(node("BatchNormalization", {"c", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"}, {"b"}));
  m.graph.node.push_back(node("Add", {"b", "shift"}, {"y"}));
  m.graph.output.push_back(tensor_info("y", {1, 2, 3, 3}, true));
  hone::Graph<float> g = ox::import_model<float>(m);
  CHECK(g.parameter("conv.weight").trainable);
  CHECK(g.parameter("bn.weight").trainable);
  CHECK(g.parameter("bn.bias").trainable);
  CHECK(g.parameter("bn.running_mean").buffer);
  CHECK(g.parameter("bn.running_var").buffer);
  CHECK(g.parameter("shift").constant);
  CHECK_FALSE(g.parameter("shift").trainable);
  g.unfreeze();  // constants and buffers stay untrainable
  CHECK_FALSE(g.parameter("shift").trainable);
  CHECK_FALSE(g.parameter("bn.running_var").trainable);
  CHECK(g.inputs()[0].batched);
}

TEST_CASE("the exporters' flatten subgraph folds and keeps the batch symbolic", "[onnx][import]") {
  // y = Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1])): x.view(x.size(0), -1).
  for (std::int64_t opset : {11, 13}) {
    auto m = model(opset);
    m.graph.input.push_back(tensor_info("x", {1, 2, 3}, true));
    m.graph.initializer.push_back(int64_tensor("minus_one", {-1}));
    ox::TensorProto zero = int64_tensor("zero", {0});
    zero.dims.clear();  // a scalar index
    m.graph.initializer.push_back(zero);
    m.graph.node.push_back(node("Shape", {"x"}, {"s"}));
    m.graph.node.push_back(node("Gather", {"s", "zero"}, {"n"}));
    auto unsq = node("Unsqueeze", {"n"}, {"n1"});
    if (opset < 13) {
      ox::AttributeProto axes;
      axes.name = "axes";
      axes.type = ox::AttributeProto::INTS;
      axes.ints = {0};
      unsq.attribute.push_back(axes);
    } else {
      m.graph.initializer.push_back(int64_tensor("axes0", {0}));
      unsq.input.push_back("axes0");
    }
    m.graph.node.push_back(unsq);
    auto cat = node("Concat", {"n1", "minus_one"}, {"shape"});
    cat.attribute.push_back(int_attr("axis", 0));
    m.graph.node.push_back(cat);
    m.graph.node.push_back(node("Reshape", {"x", "shape"}, {"y"}));
    m.graph.output.push_back(tensor_info("y", {1, 6}, true));
    hone::Graph<float> g = ox::import_model<float>(m);
    CHECK(g.nodes().size() == 1);  // only the Reshape is left
    hone::Session<float> s(g, {.mode = hone::Mode::inference});
    hone::Tensor<float> x({3, 2, 3});
    for (std::int64_t i = 0; i < x.numel(); ++i) x[i] = static_cast<float>(i);
    const auto y = s.forward({x})[0];
    CHECK(y.shape() == hone::Shape{3, 6});
    for (std::int64_t i = 0; i < y.numel(); ++i) CHECK(y[i] == static_cast<float>(i));
  }
}

TEST_CASE("Clip bounds are attributes before opset 11 and constant inputs after", "[onnx][import]") {
  for (std::int64_t opset : {10, 13}) {
    auto m = model(opset);
    m.graph.input.push_back(tensor_info("x", {1, 4}));
    auto clip = node("Clip", {"x"}, {"y"});
    if (opset < 11) {
      ox::AttributeProto lo, hi;
      lo.name = "min";
      lo.type = ox::AttributeProto::FLOAT;
      lo.f = -1;
      hi.name = "max";
      hi.type = ox::AttributeProto::FLOAT;
      hi.f = 2;
      clip.attribute = {lo, hi};
    } else {
      m.graph.initializer.push_back(float_tensor("lo", {}, {-1}));
      m.graph.initializer.push_back(float_tensor("hi", {}, {2}));
      clip.input = {"x", "lo", "hi"};
    }
    m.graph.node.push_back(clip);
    m.graph.output.push_back(tensor_info("y", {1, 4}));
    hone::Graph<float> g = ox::import_model<float>(m);
    hone::Session<float> s(g, {.mode = hone::Mode::inference});
    const auto y = s.forward({hone::Tensor<float>::from({1, 4}, {-3.f, 0.5f, 1.5f, 7.f})})[0];
    CHECK(y[0] == -1.f);
    CHECK(y[1] == 0.5f);
    CHECK(y[2] == 1.5f);
    CHECK(y[3] == 2.f);
  }
}

TEST_CASE("a computed value where a constant is needed is refused naming it", "[onnx][import]") {
  auto m = model();
  m.graph.input.push_back(tensor_info("x", {1, 4}));
  m.graph.input.push_back(tensor_info("shape", {2}));
  m.graph.node.push_back(node("Reshape", {"x", "shape"}, {"y"}, "r"));
  m.graph.output.push_back(tensor_info("y", {2, 2}));
  CHECK_THROWS_WITH(ox::import_model<float>(m),
                    Catch::Contains("node \"r\"") && Catch::Contains("\"shape\"") && Catch::Contains("constant"));
  CHECK(ox::constant_operand_inputs(m) == std::set<std::string>{"shape"});
  ox::ImportOptions o;
  o.constant_inputs["shape"] = int64_tensor("shape", {2, 2});
  hone::Graph<float> g = ox::import_model<float>(m, o);
  CHECK(g.inputs().size() == 1);
}

TEST_CASE("the exporter refuses hone-only losses and exports the values before them", "[onnx][export]") {
  hone::Builder<float> b(3);
  hone::Var x = b.input("x", {4});
  hone::Var t = b.input("t", {2});
  hone::Var y = b.linear(x, 2, true, "fc");
  b.output(b.mse(y, t));
  hone::Graph<float> g = b.build();
  CHECK_THROWS_WITH(ox::export_model(g), Catch::Contains("MeanSquaredError") && Catch::Contains("outputs"));
  const ox::ModelProto m = ox::export_model(g, {.outputs = {"fc"}});
  REQUIRE(m.graph.input.size() == 1);
  CHECK(m.graph.input[0].name == "x");
  CHECK(m.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch");
  REQUIRE(m.graph.output.size() == 1);
  CHECK(m.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch");
  CHECK(m.graph.output[0].type.tensor_type.shape.dim[1].dim_value == 2);
}
