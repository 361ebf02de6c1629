// Metrics and the JSON writer, against values worked out by hand in the comments.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "hone/core/json.hpp"
#include "hone/train/metrics.hpp"

using hone::Shape;
using hone::Tensor;
using hone::train::ConfusionMatrix;

TEST_CASE("metrics: confusion matrix, accuracy, top-k and per-class accuracy", "[train][metrics]") {
  // 5 samples, 3 classes. Row arg-max / top-2:
  //   s0 [3,1,2] label 0 -> pred 0 (hit), top2 {0,2}
  //   s1 [0,5,1] label 2 -> pred 1,       top2 {1,2} (top-2 hit)
  //   s2 [1,1,0] label 1 -> tie 0/1 goes to 0; top2 {0,1} (top-2 hit)
  //   s3 [0,0,9] label 2 -> pred 2 (hit)
  //   s4 [2,3,4] label 0 -> pred 2,       top2 {2,1} (miss)
  const auto logits = Tensor<float>::from(Shape{5, 3}, {3, 1, 2, 0, 5, 1, 1, 1, 0, 0, 0, 9, 2, 3, 4});
  const auto labels = Tensor<std::int64_t>::from(Shape{5}, {0, 2, 1, 2, 0});
  ConfusionMatrix cm(3, 2);
  cm.add(logits, labels);
  CHECK(cm.total() == 5);
  CHECK(cm.count(0, 0) == 1);
  CHECK(cm.count(0, 2) == 1);
  CHECK(cm.count(1, 0) == 1);
  CHECK(cm.count(2, 1) == 1);
  CHECK(cm.count(2, 2) == 1);
  CHECK(cm.accuracy() == Approx(2.0 / 5.0));
  CHECK(cm.top_k_accuracy() == Approx(4.0 / 5.0));
  const auto per_class = cm.per_class_accuracy();
  CHECK(per_class[0] == Approx(0.5));
  CHECK(per_class[1] == Approx(0.0));
  CHECK(per_class[2] == Approx(0.5));
  // A second batch accumulates.
  cm.add(Tensor<double>::from(Shape{1, 3}, {0, 1, 0}), Tensor<std::int64_t>::from(Shape{1}, {1}));
  CHECK(cm.accuracy() == Approx(3.0 / 6.0));
  CHECK(cm.per_class_accuracy()[1] == Approx(0.5));
  const std::string table = cm.to_string({"cat", "dog", "owl"});
  CHECK(table.find("dog") != std::string::npos);
  CHECK(table.find("0.5000") != std::string::npos);
}

TEST_CASE("metrics: empty classes, k capped, errors", "[train][metrics]") {
  ConfusionMatrix cm(2, 5);
  CHECK(cm.top_k() == 2);
  CHECK(std::isnan(cm.accuracy()));
  cm.add(Tensor<float>::from(Shape{1, 2}, {1, 0}), Tensor<std::int64_t>::from(Shape{1}, {0}));
  CHECK(std::isnan(cm.per_class_accuracy()[1]));
  CHECK(cm.to_string().find("n/a") != std::string::npos);
  CHECK_THROWS_WITH(cm.add(Tensor<float>(Shape{1, 3}), Tensor<std::int64_t>(Shape{1})),
                    Catch::Contains("expected (N, 2)"));
  CHECK_THROWS_WITH(cm.add(Tensor<float>(Shape{2, 2}), Tensor<std::int64_t>(Shape{1})),
                    Catch::Contains("1 labels for 2 rows"));
  CHECK_THROWS_WITH(cm.add(Tensor<float>(Shape{1, 2}), Tensor<std::int64_t>::from(Shape{1}, {2})),
                    Catch::Contains("sample 0 has label 2"));
  CHECK_THROWS_AS(ConfusionMatrix(0), hone::InvalidArgument);
}

TEST_CASE("json: nesting, escaping and non-finite numbers", "[train][json]") {
  hone::JsonWriter j;
  j.begin_object();
  j.key("name").value("a\"b\\c\n\x01");
  j.key("n").value(std::int64_t{-3});
  j.key("x").value(0.1);
  j.key("nan").value(std::nan(""));
  j.key("list").begin_array().value(true).value(false).end_array();
  j.key("empty").begin_array().end_array();
  j.end_object();
  const std::string expected =
      "{\n  \"name\": \"a\\\"b\\\\c\\n\\u0001\",\n  \"n\": -3,\n  \"x\": 0.10000000000000001,\n"
      "  \"nan\": null,\n  \"list\": [\n    true,\n    false\n  ],\n  \"empty\": []\n}";
  CHECK(j.str() == expected);
}
