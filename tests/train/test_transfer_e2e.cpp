// End to end on real data: a small CNN pretrained on Fashion-MNIST classes 0-4 (T-shirt,
// trouser, pullover, dress, coat) is fine-tuned on classes 5-9 (sandal, shirt, sneaker, bag,
// ankle boot) with 10 images per class, and must beat the same network trained from scratch
// on the same 50 images with the same budget and seed. The oracle is the comparison itself:
// the direction of the gap, which the issue measured with PyTorch (0.82 vs 0.20 at 10 per
// class on a 5-block CNN).
#include <catch2/catch.hpp>

#include <cstdio>

#include "hone/train/surgery.hpp"

#include "../common/fashion_transfer.hpp"

namespace train = hone::train;

TEST_CASE("transfer: pretrained on classes 0-4, fine-tuned on 5-9 with 10 per class, beats scratch",
          "[train][e2e]") {
  INFO("needs Debian's dataset-fashion-mnist (scripts/install-deps)");
  REQUIRE(hone_test::have_fashion_mnist());
  double source_accuracy = 0;
  const auto pretrained = hone_test::pretrain_on_classes_0_to_4(&source_accuracy);
  CHECK(source_accuracy > 0.8);
  const auto [target, target_val] = hone_test::target_task(10);

  // A budget of 10 epochs (50 steps). One seed's gap is noisy on 50 images (measured 0.83 vs
  // 0.76, 0.83 vs 0.61, 0.78 vs 0.70, 0.81 vs 0.76), so three seeds (head, scratch init and
  // data order) are compared: the mean gap and the majority must favour transfer. After 30
  // epochs the gap narrows to about 3 points (0.83 vs 0.80): the budget is where transfer pays.
  const std::size_t epochs = 10;
  double sum_t = 0, sum_s = 0;
  int wins = 0;
  for (std::uint64_t seed : {12u, 13u, 14u}) {
    // Transfer: a new head for the 5 target classes, everything fine-tuned.
    auto transferred = pretrained.clone();
    train::replace_head(transferred, 5, seed);
    train::Adam<float> opt_t(transferred, {.lr = 1e-3});
    const auto ht = train::Trainer<float>(transferred, opt_t, nullptr, hone_test::quiet_options(epochs, 10, seed))
                        .fit(target, &target_val);
    // Scratch: the same network, freshly initialised, same data, budget and seed.
    auto scratch = hone_test::fashion_cnn(5, seed);
    train::Adam<float> opt_s(scratch, {.lr = 1e-3});
    const auto hs = train::Trainer<float>(scratch, opt_s, nullptr, hone_test::quiet_options(epochs, 10, seed))
                        .fit(target, &target_val);
    const double acc_t = ht.epochs.back().val_accuracy, acc_s = hs.epochs.back().val_accuracy;
    std::printf("transfer e2e: 10 images per class, %zu epochs, seed %llu: transferred %.3f (best %.3f), "
                "scratch %.3f (best %.3f)\n", epochs, static_cast<unsigned long long>(seed), acc_t,
                ht.best_val_accuracy, acc_s, hs.best_val_accuracy);
    sum_t += acc_t;
    sum_s += acc_s;
    wins += acc_t > acc_s ? 1 : 0;
  }
  std::printf("transfer e2e: mean over 3 seeds: transferred %.3f, scratch %.3f\n", sum_t / 3, sum_s / 3);
  CHECK(sum_t / 3 > sum_s / 3 + 0.05);
  CHECK(wins >= 2);
}
