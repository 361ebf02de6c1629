#include <hone/hone.hpp>
#include <cstdio>

int main() {
  // A small residual network, built functionally.
  hone::Builder<float> b(/*seed=*/1);
  hone::Var x = b.input("image", {3, 32, 32});                 // batch is symbolic
  hone::Var labels = b.input("labels", {});                    // (N) class indices
  hone::Var h = b.relu(b.batch_norm(b.conv(x, 16, {.kernel = 3, .padding = 1}, "stem")));
  hone::Var r = b.batch_norm(b.conv(h, 16, {.kernel = 3, .padding = 1, .bias = false}));
  h = b.relu(b.add(h, r));                                     // residual connection
  hone::Var logits = b.linear(b.flatten(b.global_avg_pool(h)), 10, true, "head");
  b.output(b.cross_entropy(logits, labels, {.label_smoothing = 0.1}));
  hone::Graph<float> model = b.build();

  model.freeze();          // everything frozen...
  model.unfreeze("head");  // ...but the classifier

  hone::Session<float> session(model, {.mode = hone::Mode::train, .seed = 0});
  hone::Tensor<float> images({8, 3, 32, 32}, 0.5f);
  hone::Tensor<float> targets({8}, 3.0f);
  const float loss = session.forward({images, targets})[0][0];
  session.backward();
  const hone::Tensor<float> g = session.grad("head.weight");   // (10, 16)
  std::printf("loss %.4f, head.weight grad %s, saved for backward %lld of %lld bytes\n",
              static_cast<double>(loss), g.shape().to_string().c_str(),
              static_cast<long long>(session.memory().saved_for_backward),
              static_cast<long long>(session.memory().all_activations));
}
