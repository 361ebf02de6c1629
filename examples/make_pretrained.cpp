// hone_make_pretrained — writes the model `hone demo` starts from: the five-block CNN of
// tests/common/fashion_transfer.hpp, pretrained by hone on Fashion-MNIST classes 0-4 (1,200
// training images per class, 5 epochs, Adam 2e-3, batch 64), exactly as the tests pretrain
// it, saved as ONNX. The committed file data/pretrained/fashion_0to4.onnx was made with
//
//   build/test/examples/hone_make_pretrained data/pretrained/fashion_0to4.onnx
//
// The run is deterministic (seeded sampling, initialisation and shuffling; one compute
// thread, so no sum depends on how work is split): the same command writes the same bytes.
//
// Usage: hone_make_pretrained OUT.onnx   (Fashion-MNIST from /usr/share/datasets/fashion-mnist,
// Debian's dataset-fashion-mnist)
#include <cstdio>     // messages
#include <exception>  // std::exception

#include "hone/data.hpp"
#include "hone/hone.hpp"
#include "hone/onnx/export.hpp"
#include "hone/train.hpp"

#include "fashion_transfer.hpp"  // tests/common: the network and the pretraining the tests use

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fputs("usage: hone_make_pretrained OUT.onnx\n", stderr);
    return 2;
  }
  if (!hone_test::have_fashion_mnist()) {
    std::fprintf(stderr, "hone_make_pretrained: Fashion-MNIST not found in %s (install Debian's "
                         "dataset-fashion-mnist, e.g. with scripts/install-deps)\n",
                 hone_test::fashion_dir.c_str());
    return 1;
  }
  try {
    hone::set_num_threads(1);
    double accuracy = 0;
    const hone::Graph<float> model = hone_test::pretrain_on_classes_0_to_4(&accuracy);
    hone::onnx::save(model, argv[1]);
    std::printf("wrote %s (training accuracy on classes 0-4 in the last epoch: %.4f)\n", argv[1], accuracy);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hone_make_pretrained: %s\n", e.what());
    return 1;
  }
  return 0;
}
