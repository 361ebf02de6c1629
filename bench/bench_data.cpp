// Data pipeline throughput: decode + train-preset augmentation (random resized crop to
// 224x224, flip, ImageNet normalisation, CHW) of JPEG photos through the Loader, in
// images/s, with 1 and 2 worker threads. The anchor, measured in the same run, is
// stb_image's decode alone on one thread (the floor of any decode+augment pipeline built
// on it). The program writes its own 64 JPEGs of 500x375 (a typical photo-dataset size,
// quality 90) into a temporary folder and removes them at exit.
#include <benchmark/benchmark.h>

#include <hone/data.hpp>

#include <stb_image_write.h>  // implementation in Debian's libstb

#include <algorithm>  // std::clamp
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>  // getpid: a private temporary folder

namespace {

constexpr int num_images = 64;
constexpr int width = 500, height = 375;

/// The folder of generated JPEGs (one class), created on first use, removed at exit.
struct Photos {
  std::filesystem::path root;
  std::vector<std::vector<std::uint8_t>> files;
  Photos() {
    root = std::filesystem::temp_directory_path() / ("hone_bench_data_" + std::to_string(::getpid()));
    std::filesystem::create_directories(root / "photos");
    hone::Generator gen(1);
    std::vector<std::uint8_t> pixels(static_cast<std::size_t>(width * height * 3));
    for (int n = 0; n < num_images; ++n) {
      // Smooth shading, a few shapes and sensor-like noise: compresses like a photo.
      for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x)
          for (int k = 0; k < 3; ++k) {
            const int base = (x * (k + 1) + y * (3 - k) + n * 17) % 256;
            const int blob = ((x - 250 + n) * (x - 250 + n) + (y - 180) * (y - 180) < 9000 + 300 * n) ? 60 : 0;
            const int noise = static_cast<int>(gen.uniform_int(17)) - 8;
            pixels[static_cast<std::size_t>((y * width + x) * 3 + k)] =
                static_cast<std::uint8_t>(std::clamp(base / 2 + blob + noise + 40, 0, 255));
          }
      const std::string path = (root / "photos" / ("img" + std::to_string(n) + ".jpg")).string();
      stbi_write_jpg(path.c_str(), width, height, 3, pixels.data(), 90);
      files.push_back(hone::data::read_file_bytes(path));
    }
  }
  ~Photos() {
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
  }
};

Photos& photos() {
  static Photos p;
  return p;
}

// Decode + augment: one epoch over the 64 files per iteration, through the Loader.
void BM_decode_augment(benchmark::State& state) {
  const auto workers = static_cast<std::size_t>(state.range(0));
  const auto data = hone::data::image_folder(photos().root.string(), hone::data::imagenet_train(224));
  hone::data::Loader loader(data, {.batch_size = 16, .num_workers = workers, .prefetch = 4, .seed = 1});
  std::uint64_t epoch = 0;
  std::int64_t images = 0;
  for (auto _ : state) {
    loader.start_epoch(epoch++);
    while (auto batch = loader.next()) {
      images += batch->inputs.dim(0);
      benchmark::DoNotOptimize(batch->inputs.data());
    }
  }
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(images), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_decode_augment)->Name("data/decode_augment_224")->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

// The anchor: stb_image decoding the same files from memory, one thread, nothing else.
void BM_stb_decode(benchmark::State& state) {
  const auto& files = photos().files;
  std::int64_t images = 0;
  for (auto _ : state) {
    for (const auto& f : files) {
      int w = 0, h = 0, c = 0;
      stbi_uc* px = stbi_load_from_memory(f.data(), static_cast<int>(f.size()), &w, &h, &c, 3);
      benchmark::DoNotOptimize(px);
      stbi_image_free(px);
      ++images;
    }
  }
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(images), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_stb_decode)->Name("data/anchor_stb_decode_only/threads:1")->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
