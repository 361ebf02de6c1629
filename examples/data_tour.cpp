#include <hone/data.hpp>
#include <cstdio>
#include <exception>

// Usage: data_tour PHOTOS, where PHOTOS/<class>/<image> (classes sorted by name, images
// recognised by their content).
int main(int argc, char** argv) {
  if (argc != 2) return 2;
  try {
    auto photos = hone::data::image_folder(argv[1], hone::data::imagenet_train(224),
                                           {.on_error = hone::data::OnError::skip});
    auto [train, val] = photos.split(0.2, /*seed=*/1);  // stratified
    val = val.with_transform(hone::data::imagenet_eval(224));
    hone::data::Loader loader(train, {.batch_size = 32, .num_workers = 2, .seed = 1});
    for (std::uint64_t epoch = 0; epoch < 2; ++epoch) {
      loader.start_epoch(epoch);
      while (auto batch = loader.next())  // inputs (B, 3, 224, 224), labels (B)
        std::printf("epoch %llu: batch of %lld\n", static_cast<unsigned long long>(epoch),
                    static_cast<long long>(batch->labels.numel()));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "data_tour: %s\n", e.what());
    return 1;
  }
}
