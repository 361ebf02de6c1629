// The smallest complete fine-tuning program: an ONNX classifier gets a new head for the
// classes of an image folder (one subfolder per class), its backbone is frozen, the head is
// trained, and the tuned model is written back to ONNX.
// Usage: minimal_finetune MODEL.onnx IMAGES/ TUNED.onnx   (MODEL takes (N, C, S, S) images)
#include <hone/onnx/export.hpp>
#include <hone/onnx/import.hpp>
#include <hone/train.hpp>
#include <cstdio>
#include <exception>

int main(int argc, char** argv) {
  if (argc != 4) return std::fputs("usage: minimal_finetune MODEL.onnx IMAGES/ TUNED.onnx\n", stderr), 2;
  namespace ht = hone::train;
  try {
    hone::Graph<float> model = hone::onnx::load<float>(argv[1]);
    const std::int64_t size = model.inputs()[0].shape[2];  // (C, H, W), H == W
    const auto images = hone::data::image_folder(argv[2], hone::data::imagenet_eval(size));
    const auto [train, val] = images.split(/*val_fraction=*/0.2, /*seed=*/1);

    const ht::HeadInfo head = ht::replace_head(model, images.num_classes());  // fresh weights
    ht::train_head_only(model);                                               // backbone frozen
    ht::AdamW<float> optimizer(model, {.lr = 1e-2});
    ht::TrainerOptions options{.epochs = 10, .batch_size = 8, .progress = ht::Progress::none};
    options.loss.logits = head.output;  // the logits, also when a Softmax follows the head
    ht::Trainer<float> trainer(model, optimizer, nullptr, options);
    trainer.fit(train, &val);

    std::printf("%zu classes, %zu training images, val accuracy %.3f on %zu images\n", images.num_classes(),
                train.size(), trainer.evaluate(val).accuracy(), val.size());
    hone::onnx::save(model, argv[3]);
    std::printf("wrote %s\n", argv[3]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "minimal_finetune: %s\n", e.what());
    return 1;
  }
}
