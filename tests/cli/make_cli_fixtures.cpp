// Writes what the `hone` command-line tests run on, into the folder given as argv[1]:
//   gray.onnx  (1, 28, 28) -> five conv/BatchNorm/ReLU blocks -> fc1 (64) -> "features"
//              (ReLU) -> fc2 (10 classes); for Fashion-MNIST's IDX files
//   rgb.onnx   (3, 32, 32) -> two conv/BatchNorm/ReLU/pool blocks -> global average pool
//              -> fc (4 classes) -> "probs" (Softmax), so training must find the logits
//   images/<blue|green|red>/*.ppm|pgm  an image folder of 3 classes, 10 colour images each
//              of 36x44, 40x40 or 24x30 pixels (shrunk and enlarged to 32x32) plus one grey
//              image per class (replicated to RGB by the decoder)
// The weights are freshly initialised (seeded): the tests check the tool, not accuracy.
#include <cstdint>     // extents
#include <cstdio>      // messages
#include <exception>   // std::exception
#include <filesystem>  // folders
#include <fstream>     // image files
#include <random>      // std::mt19937: pixel noise
#include <stdexcept>   // std::runtime_error
#include <string>      // names

#include "hone/hone.hpp"
#include "hone/onnx/export.hpp"

namespace {

hone::Graph<float> gray_model() {
  hone::Builder<float> b(7);
  auto h = b.input("image", {1, 28, 28});
  const std::int64_t widths[] = {8, 16, 32, 32, 32};
  for (int i = 0; i < 5; ++i) {
    const std::string n = std::to_string(i + 1);
    h = b.relu(b.batch_norm(b.conv(h, widths[i], {.kernel = 3, .padding = 1}, "conv" + n), "bn" + n));
    if (i < 3) h = b.max_pool(h, {.kernel = 2});
  }
  auto f = b.op("Relu", {b.linear(b.flatten(h), 64, true, "fc1")}, {}, "features");
  b.output(b.linear(f, 10, true, "fc2"));
  return b.build();
}

hone::Graph<float> rgb_model() {
  hone::Builder<float> b(8);
  auto h = b.input("image", {3, 32, 32});
  h = b.max_pool(b.relu(b.batch_norm(b.conv(h, 8, {.kernel = 3, .padding = 1}, "conv1"), "bn1")), {.kernel = 2});
  h = b.max_pool(b.relu(b.batch_norm(b.conv(h, 16, {.kernel = 3, .padding = 1}, "conv2"), "bn2")), {.kernel = 2});
  auto logits = b.linear(b.flatten(b.global_avg_pool(h)), 4, true, "fc");
  hone::Attributes axis;
  axis.set_int("axis", 1);
  b.output(b.op("Softmax", {logits}, axis, "probs"));
  return b.build();
}

/// A binary PPM (channels 3) or PGM (channels 1) whose colour leans to channel `dominant`.
void write_image(const std::filesystem::path& path, int height, int width, int channels, int dominant,
                 std::mt19937& rng) {
  std::ofstream out(path, std::ios::binary);
  out << (channels == 3 ? "P6" : "P5") << "\n" << width << " " << height << "\n255\n";
  std::uniform_int_distribution<int> noise(0, 90);
  for (int p = 0; p < height * width; ++p)
    for (int c = 0; c < channels; ++c) {
      const int v = (channels == 1 ? 60 + 60 * dominant : (c == dominant ? 160 : 20)) + noise(rng);
      out.put(static_cast<char>(static_cast<unsigned char>(v > 255 ? 255 : v)));
    }
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_cli_fixtures OUTDIR\n");
    return 2;
  }
  try {
    namespace fs = std::filesystem;
    const fs::path dir = argv[1];
    fs::remove_all(dir / "images");
    fs::create_directories(dir);
    hone::onnx::save(gray_model(), (dir / "gray.onnx").string());
    hone::onnx::save(rgb_model(), (dir / "rgb.onnx").string());
    const char* classes[] = {"red", "green", "blue"};  // channel 0, 1, 2
    const int sizes[][2] = {{36, 44}, {40, 40}, {24, 30}};
    std::mt19937 rng(3);
    for (int c = 0; c < 3; ++c) {
      const fs::path folder = dir / "images" / classes[c];
      fs::create_directories(folder);
      for (int i = 0; i < 10; ++i)
        write_image(folder / ("img" + std::to_string(i) + ".ppm"), sizes[i % 3][0], sizes[i % 3][1], 3, c, rng);
      write_image(folder / "grey.pgm", 32, 32, 1, c, rng);
    }
    std::printf("wrote %s/{gray,rgb}.onnx and %s/images\n", dir.string().c_str(), dir.string().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_cli_fixtures: %s\n", e.what());
    return 1;
  }
}
