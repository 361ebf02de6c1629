// ONNX messages and tensor data (hone/onnx/proto.hpp, tensor_data.hpp). The oracles are
// independent of hone: python3-onnx (tests/onnx/proto_oracle.py, run at test time) writes
// models holding every attribute kind and every tensor type, raw and typed, and prints
// their contents; onnx.checker must accept what hone writes and python must read back what
// hone wrote; ONNX's node tests (libonnx-testdata) must round-trip and decode to the
// values numpy reads from them. Truncation, corruption, nesting and external-data attacks
// must fail with the documented errors, and the fuzz regression inputs are replayed.
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "../fuzz/fuzz_onnx_check.hpp"
#include "hone/onnx/proto.hpp"
#include "onnx_test_util.hpp"

namespace {

namespace fs = std::filesystem;
namespace ox = hone::onnx;
using onnx_test::TempDir;
using onnx_test::unhex;
using Bytes = std::vector<std::uint8_t>;
using Tokens = std::vector<std::string>;

std::string oracle(const std::string& args) {
  return std::string(HONE_TEST_PYTHON) + " " + HONE_TEST_ORACLE + " " + args;
}

/// Runs the oracle's `make` into dir and returns the records it prints.
std::vector<Tokens> make_models(const TempDir& dir) {
  const auto r = onnx_test::run(oracle("make " + dir.path().string()));
  REQUIRE(r.status == 0);
  std::vector<Tokens> records;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    Tokens t;
    for (std::string w; words >> w;) t.push_back(w);
    if (!t.empty()) records.push_back(std::move(t));
  }
  return records;
}

std::vector<Tokens> print_model(const std::string& path) {
  const auto r = onnx_test::run(oracle("print " + path));
  REQUIRE(r.status == 0);
  std::vector<Tokens> records;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    Tokens t;
    for (std::string w; words >> w;) t.push_back(w);
    if (!t.empty()) records.push_back(std::move(t));
  }
  return records;
}

bool same_double(double a, double b) {
  return (std::isnan(a) && std::isnan(b)) || std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b);
}
bool same_float(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) || std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b);
}

/// The tensor's values against the oracle's tokens, through every decoder.
void check_values(const ox::TensorProto& t, const Tokens& values, const std::string& base_dir = ".") {
  INFO("tensor " << t.name);
  const auto d = ox::tensor_to_double(t, base_dir);
  const auto f = ox::tensor_to_float(t, base_dir);
  REQUIRE(d.size() == values.size());
  REQUIRE(f.size() == values.size());
  if (ox::is_integer_type(t.data_type)) {
    std::vector<std::int64_t> ints;
    bool fit = true;
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (values[i][0] == '-') {
        const std::int64_t v = std::stoll(values[i]);
        CHECK(d[i] == static_cast<double>(v));
        CHECK(f[i] == static_cast<float>(v));
        ints.push_back(v);
      } else {
        const std::uint64_t v = std::stoull(values[i]);
        CHECK(d[i] == static_cast<double>(v));
        CHECK(f[i] == static_cast<float>(v));
        fit = fit && v <= static_cast<std::uint64_t>(INT64_MAX);
        ints.push_back(static_cast<std::int64_t>(v));
      }
    }
    if (fit) {
      CHECK(ox::tensor_to_int64(t, base_dir) == ints);
    } else {
      CHECK_THROWS_AS(ox::tensor_to_int64(t, base_dir), hone::InvalidArgument);
    }
  } else {
    for (std::size_t i = 0; i < values.size(); ++i) {
      const double e = std::strtod(values[i].c_str(), nullptr);
      CHECK(same_double(d[i], e));
      CHECK(same_float(f[i], static_cast<float>(e)));
    }
    CHECK_THROWS_AS(ox::tensor_to_int64(t, base_dir), hone::InvalidArgument);
    const auto tensor = ox::to_tensor<double>(t, base_dir);
    CHECK(tensor.shape() == hone::Shape(std::span<const std::int64_t>(t.dims)));
    for (std::size_t i = 0; i < values.size(); ++i) CHECK(same_double(tensor[static_cast<std::int64_t>(i)], d[i]));
  }
}

/// Every tensor of a graph by name: initializers and attribute tensors.
std::map<std::string, const ox::TensorProto*> tensors_by_name(const ox::GraphProto& g) {
  std::map<std::string, const ox::TensorProto*> out;
  for (const auto& t : g.initializer) out[t.name] = &t;
  for (const auto& n : g.node)
    for (const auto& a : n.attribute) {
      if (a.type == ox::AttributeProto::TENSOR) out[a.t.name] = &a.t;
      for (const auto& t : a.tensors) out[t.name] = &t;
    }
  return out;
}

std::string hex_of(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string s = "x";
  for (unsigned char c : bytes) {
    s += digits[c >> 4];
    s += digits[c & 15];
  }
  return s;
}

/// Compares a model with the oracle's records of it (see proto_oracle.py print_model);
/// returns the number of tensors compared.
std::size_t check_records(const ox::ModelProto& m, const std::vector<Tokens>& records) {
  const auto tensors = tensors_by_name(m.graph);
  std::map<std::string, std::size_t> seen;
  std::size_t tensor_records = 0;
  for (const Tokens& r : records) {
    INFO("record: " << r[0] << " " << (r.size() > 1 ? r[1] : ""));
    const std::size_t k = seen[r[0]]++;
    if (r[0] == "model") {
      CHECK(m.ir_version == std::stoll(r[1]));
      CHECK(m.producer_name == unhex(r[2]));
      CHECK(m.producer_version == unhex(r[3]));
      CHECK(m.domain == unhex(r[4]));
      CHECK(m.model_version == std::stoll(r[5]));
      CHECK(m.doc_string == unhex(r[6]));
      REQUIRE(m.functions.size() == std::stoul(r[7]));
      for (std::size_t i = 0; i < m.functions.size(); ++i) CHECK(hex_of(m.functions[i]) == r[8 + i]);
    } else if (r[0] == "opset") {
      REQUIRE(k < m.opset_import.size());
      CHECK(m.opset_import[k].domain == unhex(r[1]));
      CHECK(m.opset_import[k].version == std::stoll(r[2]));
    } else if (r[0] == "meta") {
      REQUIRE(k < m.metadata_props.size());
      CHECK(m.metadata_props[k].key == unhex(r[1]));
      CHECK(m.metadata_props[k].value == unhex(r[2]));
    } else if (r[0] == "graph") {
      const auto& g = m.graph;
      CHECK(g.name == unhex(r[1]));
      CHECK(g.doc_string == unhex(r[2]));
      CHECK(g.node.size() == std::stoul(r[3]));
      CHECK(g.initializer.size() == std::stoul(r[4]));
      CHECK(g.input.size() == std::stoul(r[5]));
      CHECK(g.output.size() == std::stoul(r[6]));
      CHECK(g.value_info.size() == std::stoul(r[7]));
      REQUIRE(g.sparse_initializer.size() == std::stoul(r[8]));
      for (std::size_t i = 0; i < g.sparse_initializer.size(); ++i) CHECK(hex_of(g.sparse_initializer[i]) == r[9 + i]);
    } else if (r[0] == "input" || r[0] == "output" || r[0] == "value_info") {
      const auto& list = r[0] == "input" ? m.graph.input : r[0] == "output" ? m.graph.output : m.graph.value_info;
      REQUIRE(k < list.size());
      const auto& v = list[k];
      CHECK(v.name == unhex(r[1]));
      if (r[2] == "tensor") {
        REQUIRE(v.type.has_tensor_type);
        CHECK(v.type.tensor_type.elem_type == std::stoi(r[3]));
        const int rank = std::stoi(r[4]);
        CHECK(v.type.tensor_type.has_shape == (rank >= 0));
        REQUIRE(v.type.tensor_type.shape.dim.size() == static_cast<std::size_t>(std::max(rank, 0)));
        for (int i = 0; i < rank; ++i) {
          const auto& d = v.type.tensor_type.shape.dim[static_cast<std::size_t>(i)];
          const std::string& want = r[5 + static_cast<std::size_t>(i)];
          CHECK(d.has_dim_value == (want[0] == 'v'));
          if (want[0] == 'v') CHECK(d.dim_value == std::stoll(want.substr(1)));
          if (want[0] == 'p') CHECK(d.dim_param == unhex(want.substr(1)));
          if (want[0] == 'u') CHECK(d.dim_param.empty());
        }
      } else {
        CHECK_FALSE(v.type.has_tensor_type);
        const std::map<std::string, std::uint32_t> fields = {
            {"sequence_type", 4}, {"map_type", 5}, {"opaque_type", 7}, {"sparse_tensor_type", 8}, {"optional_type", 9}};
        CHECK(v.type.other_type_field == fields.at(r[2]));
        CHECK(hex_of(v.type.other_type) == r[3]);
      }
    } else if (r[0] == "node") {
      const auto& n = m.graph.node.at(std::stoul(r[1]));
      CHECK(n.op_type == unhex(r[2]));
      CHECK(n.domain == unhex(r[3]));
      CHECK(n.name == unhex(r[4]));
      CHECK(n.doc_string == unhex(r[5]));
      std::size_t at = 6;
      REQUIRE(n.input.size() == std::stoul(r[at]));
      for (const auto& in : n.input) CHECK(in == unhex(r[++at]));
      REQUIRE(n.output.size() == std::stoul(r[++at]));
      for (const auto& out : n.output) CHECK(out == unhex(r[++at]));
      CHECK(n.attribute.size() == std::stoul(r[++at]));
      seen["attr"] = 0;
    } else if (r[0] == "attr") {
      const auto& n = m.graph.node.at(std::stoul(r[1]));
      REQUIRE(k < n.attribute.size());
      const auto& a = n.attribute[k];
      CHECK(a.name == unhex(r[2]));
      const int type = std::stoi(r[3]);
      CHECK(static_cast<int>(a.type) == type);
      using A = ox::AttributeProto;
      switch (type) {
        case A::FLOAT: CHECK(same_float(a.f, static_cast<float>(std::strtod(r[4].c_str(), nullptr)))); break;
        case A::INT: CHECK(a.i == std::stoll(r[4])); break;
        case A::STRING: CHECK(a.s == unhex(r[4])); break;
        case A::TENSOR: CHECK(a.t.name == unhex(r[4])); break;
        case A::GRAPH:
          CHECK(a.g.name == unhex(r[4]));
          CHECK(a.g.node.size() == std::stoul(r[5]));
          break;
        case A::FLOATS:
          REQUIRE(a.floats.size() == std::stoul(r[4]));
          for (std::size_t i = 0; i < a.floats.size(); ++i)
            CHECK(same_float(a.floats[i], static_cast<float>(std::strtod(r[5 + i].c_str(), nullptr))));
          break;
        case A::INTS:
          REQUIRE(a.ints.size() == std::stoul(r[4]));
          for (std::size_t i = 0; i < a.ints.size(); ++i) CHECK(a.ints[i] == std::stoll(r[5 + i]));
          break;
        case A::STRINGS:
          REQUIRE(a.strings.size() == std::stoul(r[4]));
          for (std::size_t i = 0; i < a.strings.size(); ++i) CHECK(a.strings[i] == unhex(r[5 + i]));
          break;
        case A::TENSORS:
          REQUIRE(a.tensors.size() == std::stoul(r[4]));
          for (std::size_t i = 0; i < a.tensors.size(); ++i) CHECK(a.tensors[i].name == unhex(r[5 + i]));
          break;
        case A::GRAPHS:
          REQUIRE(a.graphs.size() == std::stoul(r[4]));
          for (std::size_t i = 0; i < a.graphs.size(); ++i) {
            CHECK(a.graphs[i].name == unhex(r[5 + i]));
            CHECK(a.graphs[i].node.size() == 1);
          }
          break;
        case A::SPARSE_TENSOR: CHECK(hex_of(a.sparse_tensor) == r[4]); break;
        case A::TYPE_PROTO: CHECK(hex_of(a.tp) == r[4]); break;
        default: FAIL("unexpected attribute type " << type);
      }
    } else if (r[0] == "tensor") {
      ++tensor_records;
      const std::string name = unhex(r[1]);
      INFO("tensor " << name);
      REQUIRE(tensors.count(name));
      const auto& t = *tensors.at(name);
      CHECK(t.data_type == std::stoi(r[2]));
      const std::size_t rank = std::stoul(r[3]);
      REQUIRE(t.dims.size() == rank);
      for (std::size_t i = 0; i < rank; ++i) CHECK(t.dims[i] == std::stoll(r[4 + i]));
      if (r[4 + rank] != "unlisted") {
        REQUIRE(std::stoul(r[4 + rank]) == r.size() - 5 - rank);
        check_values(t, Tokens(r.begin() + static_cast<std::ptrdiff_t>(5 + rank), r.end()));
      }
    } else {
      FAIL("unknown record " << r[0]);
    }
  }
  return tensor_records;
}

ox::ModelProto parse_file(const std::string& path) { return ox::read_model_file(path); }

}  // namespace

TEST_CASE("proto: a model with every attribute kind and tensor type reads as python-onnx wrote it",
          "[onnx][proto]") {
  TempDir dir("kinds");
  const auto records = make_models(dir);
  const ox::ModelProto m = parse_file(dir / "all_kinds.onnx");
  CHECK(check_records(m, records) == 35);

  // Every float16 and bfloat16 bit pattern decodes to what numpy computes for it.
  const auto t = tensors_by_name(m.graph);
  for (const std::string kind : {"float16", "bfloat16"}) {
    const auto got = ox::tensor_to_float(*t.at(kind + "_every"));
    const auto want = ox::tensor_to_float(*t.at(kind + "_every_as_float"));
    REQUIRE(got.size() == 65536);
    REQUIRE(want.size() == 65536);
    int mismatches = 0;
    for (std::size_t i = 0; i < got.size(); ++i)
      if (std::bit_cast<std::uint32_t>(got[i]) != std::bit_cast<std::uint32_t>(want[i])) ++mismatches;
    CHECK(mismatches == 0);
  }
}

TEST_CASE("proto: what hone writes passes onnx.checker and reads back equal in python", "[onnx][proto]") {
  TempDir dir("write");
  make_models(dir);
  for (const std::string name : {"all_kinds", "external", "small"}) {
    INFO(name);
    const ox::ModelProto m = parse_file(dir / (name + ".onnx"));
    const std::string out = dir / (name + "_hone.onnx");
    ox::write_model_file(m, out);
    const auto r = onnx_test::run(oracle("check " + out + " " + (dir / (name + ".onnx"))));
    CHECK(r.status == 0);
    CHECK(r.out == "OK\n");
    CHECK(ox::serialize(ox::read_model_file(out)) == ox::serialize(m));  // bytes: NaN != NaN
  }

  // A model built in C++ (as the exporter builds one) is read by python as hone meant it.
  ox::ModelProto m;
  m.ir_version = 8;
  m.producer_name = "hone";
  m.opset_import.push_back({"", 17});
  m.metadata_props.push_back({"note", "written by hone"});
  m.graph.name = "built";
  hone::Tensor<float> w = hone::Tensor<float>::from({2, 3}, {1.0f, -2.0f, 0.5f, 1e-20f, -0.0f, 3e38f});
  hone::Tensor<double> b = hone::Tensor<double>::from({2}, {0.1, -1e300});
  m.graph.initializer.push_back(ox::from_tensor(w, "w"));
  m.graph.initializer.push_back(ox::from_tensor(b, "b"));
  ox::ValueInfoProto x;
  x.name = "x";
  x.type.has_tensor_type = true;
  x.type.tensor_type.elem_type = ox::TensorProto::FLOAT;
  x.type.tensor_type.has_shape = true;
  x.type.tensor_type.shape.dim.resize(2);
  x.type.tensor_type.shape.dim[0].dim_param = "batch";
  x.type.tensor_type.shape.dim[1].has_dim_value = true;
  x.type.tensor_type.shape.dim[1].dim_value = 3;
  ox::ValueInfoProto y = x;
  y.name = "y";
  y.type.tensor_type.shape.dim[1].dim_value = 2;
  m.graph.input.push_back(x);
  m.graph.output.push_back(y);
  ox::NodeProto gemm;
  gemm.op_type = "Gemm";
  gemm.name = "fc";
  gemm.input = {"x", "w"};
  gemm.output = {"y"};
  ox::AttributeProto trans_b;
  trans_b.name = "transB";
  trans_b.type = ox::AttributeProto::INT;
  trans_b.i = 1;
  ox::AttributeProto alpha;
  alpha.name = "alpha";
  alpha.type = ox::AttributeProto::FLOAT;
  alpha.f = 1.0f;
  ox::AttributeProto beta;  // a value equal to the default is still written
  beta.name = "beta";
  beta.type = ox::AttributeProto::FLOAT;
  beta.f = 0.0f;
  gemm.attribute = {alpha, beta, trans_b};
  m.graph.node.push_back(gemm);
  const std::string path = dir / "built.onnx";
  ox::write_model_file(m, path);
  const auto check = onnx_test::run(oracle("check " + path + " " + path));
  CHECK(check.out == "OK\n");
  CHECK(check_records(m, print_model(path)) == 2);
}

TEST_CASE("proto: every model and tensor of ONNX's node tests round-trips", "[onnx][proto]") {
  int models = 0, tensors = 0, identical = 0;
  for (const auto& entry : fs::directory_iterator(HONE_TEST_ONNX_NODE_DIR)) {
    const fs::path model_path = entry.path() / "model.onnx";
    if (!fs::exists(model_path)) continue;
    INFO(model_path.string());
    const Bytes bytes = onnx_test::read_bytes(model_path.string());
    const ox::ModelProto m = ox::parse_model(bytes, model_path.string());
    const Bytes out = ox::serialize(m);
    CHECK(ox::parse_model(out) == m);
    identical += out == bytes;
    ++models;
    std::vector<const ox::ValueInfoProto*> inputs;
    for (const auto& in : m.graph.input) {
      bool init = false;
      for (const auto& t : m.graph.initializer) init = init || t.name == in.name;
      if (!init) inputs.push_back(&in);
    }
    for (const auto& set : fs::directory_iterator(entry.path())) {
      if (!set.is_directory()) continue;
      for (const auto& [prefix, count] : {std::pair{"input_", inputs.size()}, std::pair{"output_", m.graph.output.size()}}) {
        for (std::size_t k = 0; k < count; ++k) {
          const auto& info = std::string(prefix) == "input_" ? *inputs[k] : m.graph.output[k];
          const fs::path p = set.path() / (std::string(prefix) + std::to_string(k) + ".pb");
          if (!info.type.has_tensor_type || !fs::exists(p)) continue;  // sequences, optionals, maps
          INFO(p.string());
          const Bytes tb = onnx_test::read_bytes(p.string());
          const ox::TensorProto t = ox::parse_tensor(tb, p.string());
          const Bytes tout = ox::serialize(t);
          CHECK(ox::parse_tensor(tout) == t);
          CHECK(tout == tb);  // tensors carry no explicit defaults: byte for byte
          ++tensors;
        }
      }
    }
  }
  CHECK(models > 900);
  CHECK(tensors > 2000);
  // The rest differ only by empty strings python wrote explicitly (node domain "").
  CHECK(identical > models * 8 / 10);
}

TEST_CASE("proto: tensors of ONNX's node tests decode to the values numpy reads", "[onnx][proto]") {
  const auto r = onnx_test::run(oracle(std::string("sums ") + HONE_TEST_ONNX_NODE_DIR));
  REQUIRE(r.status == 0);
  std::istringstream lines(r.out);
  int checked = 0;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream w(line);
    std::string rel, sum, abs_sum, first, last;
    std::size_t n = 0, nans = 0, pos_inf = 0, neg_inf = 0;
    w >> rel >> n >> sum >> abs_sum >> nans >> pos_inf >> neg_inf >> first >> last;
    INFO(rel);
    const auto t = ox::read_tensor_file(std::string(HONE_TEST_ONNX_NODE_DIR) + "/" + rel);
    const auto v = ox::tensor_to_double(t);
    REQUIRE(v.size() == n);
    long double s = 0;
    std::size_t got_nans = 0, got_pos = 0, got_neg = 0;
    for (double x : v) {
      if (std::isnan(x)) ++got_nans;
      else if (x == INFINITY) ++got_pos;
      else if (x == -INFINITY) ++got_neg;
      else s += x;
    }
    CHECK(got_nans == nans);
    CHECK(got_pos == pos_inf);
    CHECK(got_neg == neg_inf);
    const double want = std::strtod(sum.c_str(), nullptr), scale = std::strtod(abs_sum.c_str(), nullptr);
    CHECK(std::fabs(static_cast<double>(s) - want) <= 1e-12 * scale + 1e-300);
    if (n > 0) {
      CHECK(same_double(v.front(), std::strtod(first.c_str(), nullptr)));
      CHECK(same_double(v.back(), std::strtod(last.c_str(), nullptr)));
    }
    ++checked;
  }
  CHECK(checked > 2000);
}

TEST_CASE("proto: external data reads as the inline tensors, inside the model's directory only",
          "[onnx][proto]") {
  TempDir dir("external");
  make_models(dir);
  const ox::ModelProto inline_model = parse_file(dir / "all_kinds.onnx");
  const ox::ModelProto ext = parse_file(dir / "external.onnx");
  REQUIRE(ext.graph.initializer.size() == inline_model.graph.initializer.size());
  int external = 0;
  for (std::size_t i = 0; i < ext.graph.initializer.size(); ++i) {
    const auto& e = ext.graph.initializer[i];
    INFO(e.name);
    external += e.data_location == ox::TensorProto::EXTERNAL;
    const auto want = ox::tensor_to_double(inline_model.graph.initializer[i]);
    const auto got = ox::tensor_to_double(e, dir.path().string());
    REQUIRE(got.size() == want.size());
    for (std::size_t k = 0; k < got.size(); ++k) CHECK(same_double(got[k], want[k]));
  }
  CHECK(external == 19);  // the tensors in raw_data; typed ones stay in the model

  // Hand-made external tensors: 4 floats at offset 8 of data.bin (24 bytes).
  Bytes data(24);
  const float values[4] = {1.0f, -2.0f, 0.25f, 8.0f};
  for (int i = 0; i < 4; ++i)
    for (int b = 0; b < 4; ++b) data[8 + 4 * i + b] = static_cast<std::uint8_t>(std::bit_cast<std::uint32_t>(values[i]) >> (8 * b));
  fs::create_directories(dir.path() / "sub");
  onnx_test::write_bytes(dir / "sub/data.bin", data);
  auto tensor = [](std::vector<ox::StringStringEntryProto> entries, std::vector<std::int64_t> dims = {2, 2}) {
    ox::TensorProto t;
    t.name = "w";
    t.data_type = ox::TensorProto::FLOAT;
    t.dims = std::move(dims);
    t.data_location = ox::TensorProto::EXTERNAL;
    t.external_data = std::move(entries);
    return t;
  };
  const std::string base = dir.path().string();
  CHECK(ox::tensor_to_float(tensor({{"location", "sub/data.bin"}, {"offset", "8"}, {"length", "16"}}), base) ==
        std::vector<float>{1.0f, -2.0f, 0.25f, 8.0f});
  CHECK(ox::tensor_to_float(tensor({{"location", "sub/data.bin"}, {"offset", "8"}}), base).size() == 4);
  CHECK(ox::tensor_to_float(tensor({{"location", "data.bin"}, {"offset", "8"}}), base + "/sub").size() == 4);

  const auto fails = [&](std::vector<ox::StringStringEntryProto> entries, const std::string& text) {
    INFO(text);
    CHECK_THROWS_WITH(ox::tensor_to_float(tensor(std::move(entries)), base), Catch::Contains(text) && Catch::Contains("tensor \"w\""));
  };
  fails({{"location", "../data.bin"}}, "must be a relative path inside the model's directory");
  fails({{"location", "sub/../../data.bin"}}, "must be a relative path inside");
  fails({{"location", "sub\\..\\..\\data.bin"}}, "must be a relative path inside");
  fails({{"location", "/etc/passwd"}}, "must be a relative path inside");
  fails({{"location", "C:/data.bin"}}, "must be a relative path inside");
  fails({{"offset", "8"}}, "no \"location\"");
  fails({{"location", "sub/data.bin"}, {"offset", "x8"}}, "not a non-negative integer");
  fails({{"location", "sub/data.bin"}, {"offset", "-8"}}, "not a non-negative integer");
  fails({{"location", "sub/data.bin"}, {"offset", "16"}, {"length", "16"}}, "runs past the end");
  fails({{"location", "sub/data.bin"}, {"offset", "30"}}, "beyond the end");
  fails({{"location", "sub/data.bin"}, {"length", "12"}}, "length 12 bytes; its dims and type need 16");
  fails({{"location", "sub/data.bin"}}, "to the end of the file");
  fails({{"location", "sub"}}, "not a regular file");
  CHECK_THROWS_AS(ox::tensor_to_float(tensor({{"location", "missing.bin"}}), base), hone::IOError);
  CHECK_THROWS_WITH(ox::tensor_to_float(tensor({{"location", "missing.bin"}}), base), Catch::Contains("missing.bin"));
  ox::TensorProto both = tensor({{"location", "sub/data.bin"}});
  both.raw_data = std::string(16, '\0');
  CHECK_THROWS_WITH(ox::tensor_to_float(both, base), Catch::Contains("also holds values"));
}

TEST_CASE("proto: element counts must match the dims, and the message names the tensor", "[onnx][proto]") {
  ox::TensorProto t;
  t.name = "conv1.weight";
  t.data_type = ox::TensorProto::FLOAT;
  t.dims = {2, 3};
  t.float_data = {1, 2, 3, 4, 5};
  try {
    (void)ox::tensor_to_double(t);
    FAIL("no error");
  } catch (const hone::ParseError& e) {
    CHECK(e.id() == "hone.onnx.tensor");
    CHECK(e.message() == "tensor \"conv1.weight\" (float, dims [2, 3]): float_data holds 5 values; its dims need 6");
  }
  t.float_data.clear();
  t.raw_data = std::string(20, '\0');
  CHECK_THROWS_WITH(ox::tensor_to_double(t), Catch::Contains("raw_data holds 20 bytes; its dims need 24 (6 elements of 4 bytes)"));
  t.raw_data = std::string(24, '\0');
  CHECK(ox::tensor_to_double(t) == std::vector<double>(6, 0.0));
  t.float_data = {1, 2, 3, 4, 5, 6};
  CHECK_THROWS_WITH(ox::tensor_to_double(t), Catch::Contains("both in raw_data and in float_data"));
  t.raw_data.clear();
  t.float_data.clear();
  t.int64_data = {1, 2, 3, 4, 5, 6};
  CHECK_THROWS_WITH(ox::tensor_to_double(t), Catch::Contains("6 values are in typed fields other than float_data"));
  t.int64_data.clear();
  CHECK_THROWS_WITH(ox::tensor_to_double(t), Catch::Contains("float_data holds 0 values; its dims need 6"));
  t.dims = {0, 3};
  CHECK(ox::tensor_to_double(t).empty());
  CHECK(ox::to_tensor<float>(t).numel() == 0);
  t.dims = {};
  t.float_data = {4.5f};
  CHECK(ox::tensor_to_double(t) == std::vector<double>{4.5});
  CHECK(ox::to_tensor<float>(t).rank() == 0);
  t.dims = {-1};
  CHECK_THROWS_WITH(ox::tensor_to_double(t), Catch::Contains("extent -1 is negative"));
  t.dims = {std::int64_t{1} << 40, std::int64_t{1} << 40};
  CHECK_THROWS_WITH(ox::tensor_to_double(t), Catch::Contains("more than 2^60 elements"));
  t.dims = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  CHECK_THROWS_AS(ox::to_tensor<float>(t), hone::UnsupportedError);
  t.dims = {1};
  t.data_type = ox::TensorProto::STRING;
  t.float_data.clear();
  t.string_data = {"a"};
  CHECK_THROWS_AS(ox::tensor_to_double(t), hone::UnsupportedError);
  t.data_type = ox::TensorProto::UNDEFINED;
  CHECK_THROWS_WITH(ox::tensor_to_double(t), Catch::Contains("undefined"));
  t.data_type = 99;
  CHECK_THROWS_WITH(ox::tensor_to_double(t), Catch::Contains("data type 99"));
}

TEST_CASE("proto: hone tensors become little-endian raw_data and come back", "[onnx][proto]") {
  const auto one = ox::from_tensor(hone::Tensor<float>::from({1}, {1.0f}), "one");
  CHECK(one.raw_data == std::string("\x00\x00\x80\x3f", 4));  // IEEE 754 binary32 1.0 = 0x3f800000
  CHECK(one.dims == std::vector<std::int64_t>{1});
  CHECK(one.data_type == ox::TensorProto::FLOAT);
  const auto d = ox::from_tensor(hone::Tensor<double>::from({1}, {-2.0}), "d");
  CHECK(d.raw_data == std::string("\x00\x00\x00\x00\x00\x00\x00\xc0", 8));  // 0xc000000000000000
  const auto t = hone::Tensor<float>::from({2, 1, 3}, {1, -2, 3.5f, 1e-30f, -0.0f, 7});
  const auto back = ox::to_tensor<float>(ox::parse_tensor(ox::serialize(ox::from_tensor(t, "t"))));
  CHECK(back.shape() == t.shape());
  for (std::int64_t i = 0; i < t.numel(); ++i) CHECK(same_float(back[i], t[i]));
}

TEST_CASE("proto: every C++ field survives serialize and parse, and unknown fields are skipped", "[onnx][proto]") {
  ox::ModelProto m;
  m.ir_version = 7;
  m.producer_name = "p";
  m.producer_version = "v";
  m.domain = "d";
  m.model_version = -3;
  m.doc_string = "doc";
  m.opset_import = {{"", 13}, {"ai.onnx.ml", 2}};
  m.metadata_props = {{"k", ""}};
  m.training_info = {std::string("\x0a\x00", 2)};
  auto& g = m.graph;
  g.name = "g";
  g.doc_string = "gd";
  g.sparse_initializer = {std::string("\x18\x04", 2)};
  g.quantization_annotation = {std::string("\x0a\x01x", 3)};
  ox::TensorProto t;
  t.name = "t";
  t.data_type = ox::TensorProto::UINT64;
  t.dims = {2};
  t.uint64_data = {0, ~std::uint64_t{0}};
  t.doc_string = "td";
  g.initializer.push_back(t);
  ox::ValueInfoProto v;
  v.name = "v";
  v.type.other_type_field = 4;
  v.type.other_type = std::string("\x0a\x02\x0a\x00", 4);
  v.type.denotation = "den";
  v.doc_string = "vd";
  g.value_info.push_back(v);
  ox::NodeProto n;
  n.op_type = "Op";
  n.domain = "dom";
  n.input = {"a", "", "b"};
  n.output = {"c"};
  n.doc_string = "nd";
  ox::AttributeProto a;
  a.name = "a";
  a.ref_attr_name = "outer";
  a.doc_string = "ad";
  a.type = ox::AttributeProto::GRAPHS;
  a.graphs.resize(2);
  a.graphs[1].name = "inner";
  a.graphs[1].node.push_back(n);
  n.attribute.push_back(a);
  ox::AttributeProto all;  // every field at once (not valid ONNX, but each must survive)
  all.name = "all";
  all.f = -0.0f;
  all.i = -1;
  all.s = std::string("\0", 1);
  all.t = t;
  all.g.name = "sub";
  all.floats = {1.5f};
  all.ints = {INT64_MIN};
  all.strings = {""};
  all.tensors = {t, t};
  all.tp = "\x08\x01";
  all.type_protos = {"", "\x08\x02"};
  all.sparse_tensor = "\x18\x01";
  all.sparse_tensors = {"\x18\x02"};
  n.attribute.push_back(all);
  g.node.push_back(n);
  const Bytes bytes = ox::serialize(m);
  CHECK(ox::parse_model(bytes) == m);

  // Unknown fields of every wire type, at the top level and inside the graph.
  hone::onnx::wire::Writer w;
  w.uint64_field(99, 5);
  w.fixed64_field(100, 1);
  w.bytes_field(101, "unknown");
  w.group_field(102, [&] { w.group_field(103, [&] { w.fixed32_field(104, 2); }); });
  w.fixed32_field(105, 3);
  Bytes with_unknown = w.bytes();
  with_unknown.insert(with_unknown.end(), bytes.begin(), bytes.end());
  with_unknown.insert(with_unknown.end(), w.bytes().begin(), w.bytes().end());
  hone::onnx::wire::Writer gw;
  gw.message_field(7, [&] { gw.write_raw(w.bytes()); });
  with_unknown.insert(with_unknown.end(), gw.bytes().begin(), gw.bytes().end());
  CHECK(ox::parse_model(with_unknown) == m);

  // A singular submessage that appears twice is merged; a scalar keeps its last value.
  hone::onnx::wire::Writer twice;
  twice.message_field(7, [&] { twice.bytes_field(2, "first"); });
  twice.message_field(7, [&] { twice.bytes_field(10, "doc"); });
  twice.int64_field(1, 3);
  twice.int64_field(1, 4);
  const auto merged = ox::parse_model(twice.bytes());
  CHECK(merged.graph.name == "first");
  CHECK(merged.graph.doc_string == "doc");
  CHECK(merged.ir_version == 4);
}

TEST_CASE("proto: every truncation of a model fails with ParseError unless it ends between fields",
          "[onnx][proto]") {
  // The model's fields one at a time: each partial model's encoding is a prefix of the next,
  // so the ends of the top-level fields are known without hone's reader.
  std::vector<ox::ModelProto> steps(1);
  auto add = [&](auto change) {
    steps.push_back(steps.back());
    change(steps.back());
  };
  add([](ox::ModelProto& m) { m.ir_version = 8; });
  add([](ox::ModelProto& m) { m.producer_name = "hone"; });
  add([](ox::ModelProto& m) {
    m.graph.name = "g";
    ox::NodeProto n;
    n.op_type = "Relu";
    n.input = {"x"};
    n.output = {"y"};
    ox::AttributeProto a;
    a.name = "t";
    a.type = ox::AttributeProto::TENSOR;
    a.t = ox::from_tensor(hone::Tensor<float>::from({3}, {1, 2, 3}), "c");
    n.attribute.push_back(a);
    m.graph.node.push_back(n);
    m.graph.initializer.push_back(ox::from_tensor(hone::Tensor<double>::from({2}, {1, 2}), "w"));
  });
  add([](ox::ModelProto& m) { m.opset_import.push_back({"", 13}); });
  add([](ox::ModelProto& m) { m.opset_import.push_back({"com.x", 1}); });
  add([](ox::ModelProto& m) { m.metadata_props.push_back({"k", "v"}); });
  std::map<std::size_t, const ox::ModelProto*> boundaries;
  Bytes full;
  for (const auto& s : steps) {
    const Bytes b = ox::serialize(s);
    REQUIRE(std::equal(full.begin(), full.end(), b.begin()));
    full = b;
    boundaries[b.size()] = &s;
  }
  for (std::size_t n = 0; n < full.size(); ++n) {
    INFO("prefix of " << n << " bytes");
    const std::span<const std::uint8_t> prefix(full.data(), n);
    if (boundaries.count(n)) {
      CHECK(ox::parse_model(prefix) == *boundaries.at(n));
    } else {
      try {
        (void)ox::parse_model(prefix);
        FAIL("parsed");
      } catch (const hone::ParseError& e) {
        CHECK(e.byte_offset().value_or(n + 1) <= n);
      }
    }
  }

  // A model written by python-onnx: every prefix parses or throws ParseError.
  TempDir dir("prefix");
  make_models(dir);
  const Bytes small = onnx_test::read_bytes(dir / "small.onnx");
  int errors = 0;
  for (std::size_t n = 0; n < small.size(); ++n) {
    try {
      (void)ox::parse_model(std::span<const std::uint8_t>(small.data(), n));
    } catch (const hone::ParseError&) {
      ++errors;
    }
  }
  CHECK(errors > static_cast<int>(small.size()) / 2);
}

TEST_CASE("proto: corrupt models name the field path, offset and file", "[onnx][proto]") {
  using hone::onnx::wire::Writer;
  // raw_data of the second attribute's tensor claims 100 bytes; 3 follow.
  Writer w;
  w.message_field(7, [&] {
    w.message_field(1, [&] {
      w.message_field(5, [&] { w.bytes_field(1, "first"); });
      w.message_field(5, [&] {
        w.bytes_field(1, "second");
        w.message_field(5, [&] {
          w.write_tag(9, hone::onnx::wire::WireType::length_delimited);
          w.write_varint(100);
          w.write_raw(Bytes{1, 2, 3});
        });
      });
    });
  });
  try {
    (void)ox::parse_model(w.bytes(), "bad.onnx");
    FAIL("parsed");
  } catch (const hone::ParseError& e) {
    CHECK(e.id() == "hone.onnx.truncated");
    CHECK_THAT(e.message(), Catch::StartsWith("bad.onnx: ModelProto.graph.node[0].attribute[1].t.raw_data: the length "
                                              "100 exceeds the 3 bytes left in its enclosing message"));
    CHECK(e.byte_offset() == w.bytes().size() - 4);
  }

  Writer wrong;  // NodeProto.op_type as a varint
  wrong.message_field(7, [&] { wrong.message_field(1, [&] { wrong.uint64_field(4, 1); }); });
  CHECK_THROWS_WITH(ox::parse_model(wrong.bytes()),
                    Catch::Contains("ModelProto.graph.node[0].op_type: field 4 has wire type varint, expected "
                                    "length-delimited"));

  Writer segment;
  segment.message_field(7, [&] { segment.message_field(5, [&] { segment.message_field(3, [] {}); }); });
  try {
    (void)ox::parse_model(segment.bytes());
    FAIL("parsed");
  } catch (const hone::ParseError& e) {
    CHECK(e.id() == "hone.onnx.unsupported");
    CHECK_THAT(e.message(), Catch::Contains("ModelProto.graph.initializer[0].segment"));
  }

  // Graphs nested through attributes: 20 levels parse, 40 exceed the depth limit.
  for (const int levels : {20, 40}) {
    ox::ModelProto m;
    ox::GraphProto* g = &m.graph;
    for (int i = 0; i < levels; ++i) {
      g->node.emplace_back();
      g->node[0].attribute.emplace_back();
      g->node[0].attribute[0].type = ox::AttributeProto::GRAPH;
      g = &g->node[0].attribute[0].g;
    }
    g->name = "innermost";
    const Bytes b = ox::serialize(m);
    if (levels == 20) {
      CHECK(ox::parse_model(b) == m);
    } else {
      CHECK_THROWS_WITH(ox::parse_model(b), Catch::Contains("nest deeper than 100 levels") &&
                                                Catch::Contains("ModelProto.graph.node[0].attribute[0].g.node[0]"));
    }
  }

  TempDir dir("files");
  CHECK_THROWS_AS(ox::read_model_file(dir / "missing.onnx"), hone::IOError);
  CHECK_THROWS_WITH(ox::read_model_file(dir / "missing.onnx"),
                    Catch::Contains("missing.onnx") && Catch::Contains("does not exist"));
  CHECK_THROWS_WITH(ox::read_model_file(dir.path().string()), Catch::Contains("is a directory"));
  CHECK_THROWS_AS(ox::write_model_file(ox::ModelProto{}, dir / "no/such/dir.onnx"), hone::IOError);
  onnx_test::write_bytes(dir / "bad.onnx", Bytes{0x08});
  CHECK_THROWS_WITH(ox::read_model_file(dir / "bad.onnx"), Catch::Contains(dir / "bad.onnx") && Catch::Contains("ModelProto"));
}

TEST_CASE("fuzz regressions: every saved input parses or fails with ParseError", "[onnx][fuzz]") {
  int files = 0;
  for (const char* sub : {"regressions", "corpus"}) {
    for (const auto& entry : fs::directory_iterator(fs::path(HONE_TEST_FUZZ_DIR) / sub)) {
      if (!entry.is_regular_file() || entry.path().filename().string()[0] == '.') continue;
      INFO(entry.path().string());
      const Bytes bytes = onnx_test::read_bytes(entry.path().string());
      std::string problem;
      CHECK_NOTHROW(problem = hone_fuzz::check_input(bytes));
      CHECK(problem.empty());
      ++files;
    }
  }
  CHECK(files >= 5);
}
