// ODR check for the fine-tuning API, second translation unit (headers in another order).
#include <hone/train/select.hpp>
#include <hone/train.hpp>
#include <hone/hone.hpp>

#include <cstdio>
#include <string>

std::string odr_train_a();

int main() {
  hone::train::ConfusionMatrix cm(2);
  cm.add(hone::Tensor<float>::from(hone::Shape{1, 2}, {0.0f, 1.0f}),
         hone::Tensor<std::int64_t>::from(hone::Shape{1}, {1}));
  hone::JsonWriter j;
  j.begin_object().key("glob").value(hone::train::glob_match("layer4.*", "layer4.1.conv2.weight"));
  j.key("accuracy").value(cm.accuracy()).end_object();
  if (j.str() != odr_train_a() || j.str().find("true") == std::string::npos) {
    std::puts("the two translation units disagree");
    return 1;
  }
  std::puts("odr train ok");
  return 0;
}
