// ODR check for the fine-tuning API, first translation unit: the whole of hone/train.hpp.
#include <hone/train.hpp>

#include <string>

std::string odr_train_a() {
  hone::train::ConfusionMatrix cm(2);
  cm.add(hone::Tensor<float>::from(hone::Shape{1, 2}, {0.0f, 1.0f}),
         hone::Tensor<std::int64_t>::from(hone::Shape{1}, {1}));
  hone::JsonWriter j;
  j.begin_object().key("glob").value(hone::train::glob_match("layer4.*", "layer4.1.conv2.weight"));
  j.key("accuracy").value(cm.accuracy()).end_object();
  return j.str();
}
