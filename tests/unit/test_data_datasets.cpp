// Tests for hone/data/datasets.hpp and hone/data/idx.hpp. Oracles: folder trees, CSV
// lists and IDX files the tests write themselves (so the expected classes, labels, paths,
// values and errors are known), and for Debian's Fashion-MNIST the published facts of the
// dataset: 60000 training and 10000 test images of 28x28, 6000 and 1000 per class.
#include <catch2/catch.hpp>

#include <hone/data/datasets.hpp>

#include "data_test_util.hpp"

#include <zlib.h>  // writing gzipped IDX files

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

using hone_test::TempDir;
namespace fs = std::filesystem;

namespace {

std::vector<std::uint8_t> idx_bytes(std::uint8_t type, const std::vector<std::uint32_t>& dims,
                                    const std::vector<std::uint8_t>& payload) {
  std::vector<std::uint8_t> out = {0, 0, type, static_cast<std::uint8_t>(dims.size())};
  for (std::uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(d >> shift));
  for (std::uint8_t b : payload) out.push_back(b);
  return out;
}

void write_gz(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
  gzclose(f);
}

std::vector<std::string> recorded;

}  // namespace

TEST_CASE("data/datasets: image_folder finds classes and images by content", "[data][datasets]") {
  TempDir dir("folder");
  for (const char* c : {"zebra", "apple", "mango", ".hidden_class"}) fs::create_directories(dir.path() / c);
  fs::create_directories(dir.path() / "mango" / "nested");
  const auto img = hone_test::pattern(6, 4, 3);
  hone_test::write_png(dir / "zebra/b.png", img);
  hone_test::write_png(dir / "zebra/a_png_named.jpg", img);
  hone_test::write_jpg(dir / "apple/photo", img);          // no suffix
  hone_test::write_png(dir / "mango/nested/deep.PNG", img);
  hone_test::write_png(dir / "mango/top.png", img);
  hone_test::write_png(dir / "mango/.hidden.png", img);  // hidden: ignored
  hone_test::write_png(dir / ".hidden_class/x.png", img);
  hone_test::write_bytes(dir / "zebra/readme.txt", {'n', 'o', 't', 'e'});
  hone_test::write_bytes(dir / "zebra/Thumbs.db", std::vector<std::uint8_t>(64, 0));

  const auto data = hone::data::image_folder(dir.path().string());
  CHECK(data.class_names() == std::vector<std::string>{"apple", "mango", "zebra"});
  REQUIRE(data.size() == 5);
  CHECK(data.class_counts() == std::vector<std::size_t>{1, 2, 2});
  const std::vector<std::string> expected = {"apple/photo", "mango/nested/deep.PNG", "mango/top.png",
                                             "zebra/a_png_named.jpg", "zebra/b.png"};
  for (std::size_t i = 0; i < 5; ++i) {
    CHECK(data.describe(i) == dir / expected[i]);
    CHECK(data.label(i) == (i == 0 ? 0 : i < 3 ? 1 : 2));
  }
  // Without a transform a sample is the image as (C, H, W) floats in [0, 1].
  hone::Generator gen(0);
  const auto sample = data.get(4, gen);
  REQUIRE(sample);
  CHECK(sample->label == 2);
  REQUIRE(sample->input.shape() == hone::Shape{3, 4, 6});
  for (std::int64_t k = 0; k < 3; ++k)
    for (std::int64_t y = 0; y < 4; ++y)
      for (std::int64_t x = 0; x < 6; ++x)
        REQUIRE(sample->input(k, y, x) == static_cast<float>(img.at(y, x, k)) * (1.0f / 255.0f));
  // Grey models get one channel.
  const auto grey = hone::data::image_folder(dir.path().string(), {}, {.channels = 1});
  CHECK(grey.get(0, gen)->input.shape() == hone::Shape{1, 4, 6});
}

TEST_CASE("data/datasets: image_folder errors name the folder", "[data][datasets]") {
  TempDir dir("folder_errors");
  CHECK_THROWS_AS(hone::data::image_folder(dir / "missing"), hone::IOError);
  try {
    hone::data::image_folder(dir.path().string());
    FAIL("a folder without classes was accepted");
  } catch (const hone::IOError& e) {
    CHECK(e.id() == "hone.data.empty");
  }
  fs::create_directories(dir.path() / "cats");
  fs::create_directories(dir.path() / "dogs");
  hone_test::write_png(dir / "cats/a.png", hone_test::pattern(3, 3, 3));
  hone_test::write_bytes(dir / "dogs/notes.txt", {'x'});
  try {
    hone::data::image_folder(dir.path().string());
    FAIL("an empty class folder was accepted");
  } catch (const hone::IOError& e) {
    CHECK(e.id() == "hone.data.empty");
    CHECK_THAT(e.what(), Catch::Contains("dogs") && Catch::Contains("no image"));
  }
}

TEST_CASE("data/datasets: undecodable files raise or are skipped, counted and reported", "[data][datasets]") {
  TempDir dir("folder_skip");
  fs::create_directories(dir.path() / "a");
  hone_test::write_png(dir / "a/good.png", hone_test::pattern(5, 5, 3));
  auto bytes = hone::data::read_file_bytes(dir / "a/good.png");
  bytes.resize(bytes.size() / 2);
  hone_test::write_bytes(dir / "a/truncated.png", bytes);

  const auto strict = hone::data::image_folder(dir.path().string());
  hone::Generator gen(0);
  REQUIRE(strict.describe(1) == dir / "a/truncated.png");
  try {
    strict.get(1, gen);
    FAIL("a truncated file decoded");
  } catch (const hone::IOError& e) {
    CHECK(e.id() == "hone.data.decode");
    CHECK_THAT(e.what(), Catch::Contains("truncated.png"));
  }
  recorded.clear();
  const auto lenient = hone::data::image_folder(
      dir.path().string(), {},
      {.on_error = hone::data::OnError::skip, .warn = [](const std::string& w) { recorded.push_back(w); }});
  CHECK(lenient.get(0, gen).has_value());
  CHECK_FALSE(lenient.get(1, gen).has_value());
  CHECK_FALSE(lenient.split(0.0, 1).first.get(1, gen).has_value());  // views share the count
  CHECK(lenient.skipped() == 2);
  REQUIRE(recorded.size() == 2);
  CHECK_THAT(recorded[0], Catch::Contains("truncated.png") && Catch::Contains("hone.data.decode"));
}

TEST_CASE("data/datasets: csv_list reads paths and labels", "[data][datasets]") {
  TempDir dir("csv");
  fs::create_directories(dir.path() / "imgs");
  hone_test::write_png(dir / "imgs/one.png", hone_test::pattern(4, 4, 3));
  hone_test::write_png(dir / "imgs/with,comma.png", hone_test::pattern(4, 4, 3));
  std::ofstream(dir / "named.csv") << "path,label\r\nimgs/one.png, dog\n\n\"imgs/with,comma.png\",cat\n" << dir / "imgs/one.png" << ",dog\n";
  const auto named = hone::data::csv_list(dir / "named.csv");
  CHECK(named.class_names() == std::vector<std::string>{"cat", "dog"});
  REQUIRE(named.size() == 3);
  CHECK(named.label(0) == 1);
  CHECK(named.label(1) == 0);
  CHECK(named.describe(0) == (dir.path() / "imgs/one.png").string());
  CHECK(named.describe(1) == (dir.path() / "imgs/with,comma.png").string());
  hone::Generator gen(0);
  CHECK(named.get(1, gen)->input.shape() == hone::Shape{3, 4, 4});

  std::ofstream(dir / "numeric.csv") << "imgs/one.png,3\nimgs/one.png,0\n";
  const auto numeric = hone::data::csv_list(dir / "numeric.csv");
  CHECK(numeric.num_classes() == 4);
  CHECK(numeric.label(0) == 3);

  std::ofstream(dir / "bad.csv") << "imgs/one.png,1\nimgs/one.png\n";
  try {
    hone::data::csv_list(dir / "bad.csv");
    FAIL("a line without a label was accepted");
  } catch (const hone::ParseError& e) {
    CHECK(e.id() == "hone.data.csv");
    CHECK_THAT(e.what(), Catch::Contains("line 2"));
  }
  std::ofstream(dir / "empty.csv") << "path,label\n";
  CHECK_THROWS_AS(hone::data::csv_list(dir / "empty.csv"), hone::ParseError);
}

TEST_CASE("data/idx: IDX files of every element type, plain and gzipped", "[data][idx]") {
  TempDir dir("idx");
  std::vector<std::uint8_t> pixels(2 * 3 * 4);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(i * 10);
  const auto images = idx_bytes(0x08, {2, 3, 4}, pixels);
  hone_test::write_bytes(dir / "images.idx", images);
  write_gz(dir / "images.idx.gz", images);
  for (const char* name : {"images.idx", "images.idx.gz"}) {
    const auto t = hone::data::read_idx<float>(dir / name);
    REQUIRE(t.shape() == hone::Shape{2, 3, 4});
    for (std::int64_t i = 0; i < 24; ++i) REQUIRE(t[i] == float(i * 10));
  }
  // Big-endian int16, int32, float32, float64 and signed bytes.
  hone_test::write_bytes(dir / "i16", idx_bytes(0x0B, {2}, {0xFF, 0xFE, 0x01, 0x00}));
  hone_test::write_bytes(dir / "i32", idx_bytes(0x0C, {1}, {0x00, 0x01, 0x00, 0x00}));
  hone_test::write_bytes(dir / "f32", idx_bytes(0x0D, {1}, {0x3F, 0xC0, 0x00, 0x00}));
  hone_test::write_bytes(dir / "f64", idx_bytes(0x0E, {1}, {0xC0, 0x04, 0, 0, 0, 0, 0, 0}));
  hone_test::write_bytes(dir / "i8", idx_bytes(0x09, {1}, {0x80}));
  CHECK(hone::data::read_idx<int>(dir / "i16")[0] == -2);
  CHECK(hone::data::read_idx<int>(dir / "i16")[1] == 256);
  CHECK(hone::data::read_idx<int>(dir / "i32")[0] == 65536);
  CHECK(hone::data::read_idx<float>(dir / "f32")[0] == 1.5f);
  CHECK(hone::data::read_idx<double>(dir / "f64")[0] == -2.5);
  CHECK(hone::data::read_idx<int>(dir / "i8")[0] == -128);

  auto parse_error = [&](const std::vector<std::uint8_t>& bytes) {
    hone_test::write_bytes(dir / "bad", bytes);
    try {
      hone::data::read_idx<float>(dir / "bad");
    } catch (const hone::ParseError& e) {
      CHECK(e.byte_offset().has_value());
      return e.id();
    }
    return std::string("no error");
  };
  auto truncated = images;
  truncated.pop_back();
  CHECK(parse_error(truncated) == "hone.data.idx");
  CHECK(parse_error({1, 0, 8, 1, 0, 0, 0, 0}) == "hone.data.idx");           // bad magic
  CHECK(parse_error({0, 0, 0x42, 1, 0, 0, 0, 0}) == "hone.data.idx");        // unknown type
  CHECK(parse_error({0, 0, 8, 2, 0, 0, 0, 1}) == "hone.data.idx");           // header cut
  auto gz = hone::data::read_file_bytes(dir / "images.idx.gz");
  gz.resize(gz.size() - 12);
  CHECK(parse_error(gz) == "hone.data.gzip");
  CHECK_THROWS_AS(hone::data::read_idx<float>(dir / "missing"), hone::IOError);

  // An IDX dataset of those images, labels 1 and 0, read as 3-channel images.
  hone_test::write_bytes(dir / "labels.idx", idx_bytes(0x08, {2}, {1, 0}));
  const auto data = hone::data::idx_dataset(dir / "images.idx.gz", dir / "labels.idx", {}, 3);
  CHECK(data.size() == 2);
  CHECK(data.class_names() == std::vector<std::string>{"0", "1"});
  hone::Generator gen(0);
  const auto second = data.get(1, gen);
  REQUIRE(second->input.shape() == hone::Shape{3, 3, 4});
  CHECK(second->label == 0);
  CHECK(second->input(2, 1, 3) == float(12 + 4 + 3) * 10.0f * (1.0f / 255.0f));
  hone_test::write_bytes(dir / "labels3.idx", idx_bytes(0x08, {3}, {1, 0, 1}));
  CHECK_THROWS_AS(hone::data::idx_dataset(dir / "images.idx", dir / "labels3.idx"), hone::ParseError);
}

TEST_CASE("data/idx: Debian's Fashion-MNIST has the published counts and label histogram", "[data][idx]") {
  const std::string root = HONE_TEST_FASHION_MNIST_DIR;
  INFO("needs Debian's dataset-fashion-mnist (scripts/install-deps)");
  REQUIRE(fs::exists(root + "/train-images-idx3-ubyte.gz"));
  const auto train = hone::data::idx_dataset(root + "/train-images-idx3-ubyte.gz", root + "/train-labels-idx1-ubyte.gz",
                                             {}, 1, hone::data::fashion_mnist_classes());
  const auto test = hone::data::idx_dataset(root + "/t10k-images-idx3-ubyte.gz", root + "/t10k-labels-idx1-ubyte.gz",
                                            {}, 1, hone::data::fashion_mnist_classes());
  CHECK(train.size() == 60000);
  CHECK(test.size() == 10000);
  CHECK(train.class_counts() == std::vector<std::size_t>(10, 6000));
  CHECK(test.class_counts() == std::vector<std::size_t>(10, 1000));
  CHECK(train.class_names()[9] == "Ankle boot");
  hone::Generator gen(0);
  const auto first = train.get(0, gen);
  REQUIRE(first->input.shape() == hone::Shape{1, 28, 28});
  CHECK(*std::max_element(first->input.begin(), first->input.end()) <= 1.0f);
  // Few-shot use: 5 of each class, then 2 classes relabelled 0 and 1.
  const auto five = train.k_shot(5, 3);
  CHECK(five.class_counts() == std::vector<std::size_t>(10, 5));
  const auto shoes = five.filter_classes(std::vector<std::string>{"Sneaker", "Sandal"});
  CHECK(shoes.class_names() == std::vector<std::string>{"Sneaker", "Sandal"});
  CHECK(shoes.class_counts() == std::vector<std::size_t>{5, 5});
}

TEST_CASE("data/datasets: splits are stratified, disjoint and seeded; k-shot and relabelling", "[data][datasets]") {
  // 3 classes of 10, 20 and 7 samples; sample i's value is i, so samples can be traced.
  std::vector<std::int64_t> labels;
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < (c == 0 ? 10 : c == 1 ? 20 : 7); ++i) labels.push_back(c);
  const auto n = static_cast<std::int64_t>(labels.size());
  hone::Tensor<float> inputs({n, 1});
  for (std::int64_t i = 0; i < n; ++i) inputs[i] = float(i);
  const auto data = hone::data::tensor_dataset(inputs, hone::Tensor<std::int64_t>::from({n}, labels),
                                               {"a", "b", "c"});
  hone::Generator gen(0);
  auto value = [&](const hone::data::Dataset& d, std::size_t i) { return std::int64_t(d.get(i, gen)->input[0]); };

  const auto [train, val] = data.split(0.3, 42);
  CHECK(val.class_counts() == std::vector<std::size_t>{3, 6, 2});  // round(0.3 * count)
  CHECK(train.class_counts() == std::vector<std::size_t>{7, 14, 5});
  std::set<std::int64_t> seen;
  for (std::size_t i = 0; i < train.size(); ++i) seen.insert(value(train, i));
  for (std::size_t i = 0; i < val.size(); ++i) seen.insert(value(val, i));
  CHECK(seen.size() == std::size_t(n));  // disjoint and complete
  for (std::size_t i = 0; i < val.size(); ++i) CHECK(val.label(i) == labels[std::size_t(value(val, i))]);
  const auto again = data.split(0.3, 42).second, other = data.split(0.3, 43).second;
  std::vector<std::int64_t> v1, v2, v3;
  for (std::size_t i = 0; i < val.size(); ++i) v1.push_back(value(val, i)), v2.push_back(value(again, i)), v3.push_back(value(other, i));
  CHECK(v1 == v2);
  CHECK(v1 != v3);
  CHECK(std::is_sorted(v1.begin(), v1.end()));
  CHECK_THROWS_AS(data.split(1.5, 0), hone::InvalidArgument);

  const auto shots = data.k_shot(4, 9);
  CHECK(shots.class_counts() == std::vector<std::size_t>{4, 4, 4});
  try {
    data.k_shot(8, 9);
    FAIL("k_shot(8) with a class of 7 succeeded");
  } catch (const hone::InvalidArgument& e) {
    CHECK_THAT(e.what(), Catch::Contains("\"c\" has 7"));
  }

  const auto merged = data.relabel({1, 0, 1});
  CHECK(merged.class_names() == std::vector<std::string>{"b", "a+c"});
  CHECK(merged.class_counts() == std::vector<std::size_t>{20, 17});
  const auto dropped = data.relabel({-1, 0, -1}, {"only_b"});
  CHECK(dropped.size() == 20);
  CHECK(value(dropped, 0) == 10);
  CHECK(dropped.label(0) == 0);
  const auto ca = data.filter_classes(std::vector<std::string>{"c", "a"});
  CHECK(ca.class_counts() == std::vector<std::size_t>{7, 10});
  CHECK(ca.label(0) == 1);  // the first sample of "a" keeps dataset order
  CHECK_THROWS_AS(data.filter_classes(std::vector<std::string>{"dog"}), hone::InvalidArgument);
  CHECK_THROWS_AS(data.relabel({0, 2, 2}), hone::InvalidArgument);  // label 1 left empty
  CHECK_THROWS_AS(data.get(n, gen), hone::InvalidArgument);
}
