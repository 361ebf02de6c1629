// Tests for hone/data/loader.hpp. Oracles: the loader with no worker threads (the caller
// builds every batch in order) is the reference that 1, 2 and 4 workers must reproduce bit
// for bit; the epoch order is checked as a permutation; batch sizes against arithmetic.
#include <catch2/catch.hpp>

#include <hone/data/loader.hpp>

#include "data_test_util.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

using hone::data::Batch;
using hone::data::Loader;
using hone::data::LoaderOptions;
using hone_test::TempDir;

namespace {

// 50 random 8-bit RGB images of 20x24 in memory, labels i % 5.
hone::data::Dataset image_tensors(hone::data::Pipeline transform) {
  const std::int64_t n = 50;
  hone::Tensor<std::uint8_t> images({n, 20, 24, 3});
  hone::Generator gen(5);
  for (auto& v : images) v = static_cast<std::uint8_t>(gen.uniform_int(256));
  hone::Tensor<std::int64_t> labels({n});
  for (std::int64_t i = 0; i < n; ++i) labels[i] = i % 5;
  return hone::data::tensor_dataset(images, labels, {}, std::move(transform));
}

hone::data::Pipeline augment() {
  hone::data::Pipeline p = hone::data::imagenet_train(16);
  p.color_jitter(0.3f, 0.3f, 0.3f).random_rotation(15.0);
  return p;
}

std::vector<Batch> epoch(Loader& loader, std::uint64_t e) {
  loader.start_epoch(e);
  std::vector<Batch> out;
  while (auto b = loader.next()) out.push_back(std::move(*b));
  return out;
}

bool same(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].indices != b[i].indices || !(a[i].inputs.shape() == b[i].inputs.shape())) return false;
    if (!std::equal(a[i].inputs.begin(), a[i].inputs.end(), b[i].inputs.begin())) return false;
    if (!std::equal(a[i].labels.begin(), a[i].labels.end(), b[i].labels.begin())) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("data/loader: batches are bit-identical for 0, 1, 2 and 4 worker threads", "[data][loader]") {
  const auto data = image_tensors(augment());
  Loader reference(data, {.batch_size = 8, .num_workers = 0, .seed = 77});
  const auto e0 = epoch(reference, 0), e1 = epoch(reference, 1);
  REQUIRE(e0.size() == 7);  // 50 = 6 * 8 + 2
  CHECK(e0.back().inputs.shape() == hone::Shape{2, 3, 16, 16});
  CHECK_FALSE(same(e0, e1));  // a new order and new augmentations each epoch
  for (std::size_t workers : {1, 2, 4}) {
    INFO(workers << " workers");
    Loader loader(data, {.batch_size = 8, .num_workers = workers, .prefetch = 3, .seed = 77});
    CHECK(same(epoch(loader, 0), e0));
    CHECK(same(epoch(loader, 1), e1));
  }
  Loader other_seed(data, {.batch_size = 8, .num_workers = 2, .seed = 78});
  CHECK_FALSE(same(epoch(other_seed, 0), e0));
  // A sample's augmentation depends on (seed, epoch, index), not on its batch.
  Loader big_batches(data, {.batch_size = 50, .num_workers = 2, .seed = 77});
  const auto whole = epoch(big_batches, 0);
  REQUIRE(whole.size() == 1);
  const std::int64_t per = 3 * 16 * 16;
  for (std::size_t b = 0; b < e0.size(); ++b)
    for (std::size_t i = 0; i < e0[b].indices.size(); ++i) {
      const std::size_t at = b * 8 + i;
      REQUIRE(whole[0].indices[at] == e0[b].indices[i]);
      REQUIRE(std::equal(e0[b].inputs.data() + std::int64_t(i) * per, e0[b].inputs.data() + std::int64_t(i + 1) * per,
                         whole[0].inputs.data() + std::int64_t(at) * per));
    }
}

TEST_CASE("data/loader: decoding image files gives the same batches on any thread count", "[data][loader]") {
  TempDir dir("loader_files");
  for (int c = 0; c < 3; ++c) {
    std::filesystem::create_directories(dir.path() / ("class" + std::to_string(c)));
    for (int i = 0; i < 5; ++i)
      hone_test::write_jpg(dir / ("class" + std::to_string(c) + "/" + std::to_string(i) + ".jpg"),
                           hone_test::pattern(30 + 3 * i, 22 + c, 3));
  }
  const auto data = hone::data::image_folder(dir.path().string(), hone::data::imagenet_train(12));
  Loader serial(data, {.batch_size = 4, .num_workers = 0, .seed = 1});
  Loader threaded(data, {.batch_size = 4, .num_workers = 2, .prefetch = 1, .seed = 1});
  CHECK(same(epoch(serial, 3), epoch(threaded, 3)));
}

TEST_CASE("data/loader: order, shuffling, drop_last and batch sizes", "[data][loader]") {
  const auto data = image_tensors({});
  Loader shuffled(data, {.batch_size = 16, .seed = 3});
  const auto order = shuffled.epoch_order(0);
  std::vector<std::size_t> sorted = order, identity(50);
  std::sort(sorted.begin(), sorted.end());
  std::iota(identity.begin(), identity.end(), std::size_t{0});
  CHECK(sorted == identity);
  CHECK(order != identity);
  CHECK(order != shuffled.epoch_order(1));
  CHECK(order == Loader(data, {.seed = 3}).epoch_order(0));

  Loader in_order(data, {.batch_size = 16, .shuffle = false, .drop_last = true, .num_workers = 2});
  CHECK(in_order.batches_per_epoch() == 3);
  const auto batches = epoch(in_order, 0);
  REQUIRE(batches.size() == 3);
  for (std::size_t b = 0; b < 3; ++b) {
    CHECK(batches[b].inputs.shape() == hone::Shape{16, 3, 20, 24});
    for (std::size_t i = 0; i < 16; ++i) {
      CHECK(batches[b].indices[i] == b * 16 + i);
      CHECK(batches[b].labels[std::int64_t(i)] == std::int64_t((b * 16 + i) % 5));
    }
  }
  CHECK(Loader(data, {.batch_size = 16}).batches_per_epoch() == 4);
  CHECK_THROWS_AS(Loader(data, {.batch_size = 0}), hone::InvalidArgument);
  Loader not_started(data, {});
  CHECK_THROWS_AS(not_started.next(), hone::StateError);
}

TEST_CASE("data/loader: worker errors reach the consumer; skipped files shrink the batch", "[data][loader]") {
  TempDir dir("loader_errors");
  std::filesystem::create_directories(dir.path() / "a");
  for (int i = 0; i < 6; ++i) hone_test::write_png(dir / ("a/" + std::to_string(i) + ".png"), hone_test::pattern(8, 8, 3));
  auto bytes = hone::data::read_file_bytes(dir / "a/3.png");
  bytes.resize(bytes.size() / 2);
  hone_test::write_bytes(dir / "a/3.png", bytes);

  const auto strict = hone::data::image_folder(dir.path().string());
  Loader loader(strict, {.batch_size = 2, .shuffle = false, .num_workers = 2});
  loader.start_epoch(0);
  CHECK(loader.next()->indices == std::vector<std::size_t>{0, 1});
  try {
    loader.next();
    FAIL("the truncated file in batch 1 did not raise");
  } catch (const hone::IOError& e) {
    CHECK(e.id() == "hone.data.decode");
    CHECK_THAT(e.what(), Catch::Contains("3.png"));
  }
  CHECK(loader.next()->indices == std::vector<std::size_t>{4, 5});
  CHECK_FALSE(loader.next().has_value());

  std::atomic<int> warnings{0};
  const auto lenient = hone::data::image_folder(
      dir.path().string(), {}, {.on_error = hone::data::OnError::skip, .warn = [&](const std::string&) { ++warnings; }});
  Loader skipping(lenient, {.batch_size = 2, .shuffle = false, .num_workers = 2});
  const auto batches = epoch(skipping, 0);
  REQUIRE(batches.size() == 3);
  CHECK(batches[1].indices == std::vector<std::size_t>{2});
  CHECK(batches[1].skipped == 1);
  CHECK(batches[1].inputs.shape() == hone::Shape{1, 3, 8, 8});
  CHECK(lenient.skipped() == 1);
  CHECK(warnings.load() == 1);
}

TEST_CASE("data/loader: prefetch is bounded and destroying a loader mid-epoch stops it", "[data][loader]") {
  std::atomic<int> built{0};
  hone::data::Pipeline counting;
  counting.then("count", [&](hone::data::Image&, hone::Generator&) { ++built; });
  const auto data = image_tensors(counting);
  {
    Loader loader(data, {.batch_size = 5, .num_workers = 3, .prefetch = 2, .seed = 1});
    loader.start_epoch(0);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK(built.load() <= 2 * 5);  // 2 batches ahead, no more
    REQUIRE(loader.next().has_value());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK(built.load() <= 3 * 5);
    // The loader is destroyed here with batches in flight: it must not hang or leak.
  }
  {
    Loader restarted(data, {.batch_size = 5, .num_workers = 2});
    restarted.start_epoch(0);
    restarted.start_epoch(1);  // abandons epoch 0
    std::size_t count = 0;
    while (restarted.next()) ++count;
    CHECK(count == 10);
  }
}
