// Tests for hone/core/error.hpp: ids, messages, the hierarchy and HONE_ASSERT (enabled).
#include <catch2/catch.hpp>

#include <hone/core/error.hpp>

#include <string>

TEST_CASE("error: what() starts with the stable id in brackets", "[error]") {
  const hone::ShapeError e("Conv: weight (8, 3, 3, 3) does not match input channels 4");
  CHECK(std::string(e.what()) == "[hone.shape] Conv: weight (8, 3, 3, 3) does not match input channels 4");
  CHECK(e.id() == "hone.shape");
  CHECK(e.message() == "Conv: weight (8, 3, 3, 3) does not match input channels 4");
}

TEST_CASE("error: every subclass has its own default id and is a hone::Error", "[error]") {
  auto id_of = [](const hone::Error& e) { return e.id(); };
  CHECK(id_of(hone::ShapeError("m")) == "hone.shape");
  CHECK(id_of(hone::InvalidArgument("m")) == "hone.invalid_argument");
  CHECK(id_of(hone::ParseError("m")) == "hone.parse");
  CHECK(id_of(hone::IOError("m")) == "hone.io");
  CHECK(id_of(hone::UnsupportedError("m")) == "hone.unsupported");
  CHECK(id_of(hone::StateError("m")) == "hone.state");
  CHECK(id_of(hone::InternalError("m")) == "hone.internal");
  CHECK_THROWS_AS(throw hone::IOError("x"), std::runtime_error);
  CHECK_THROWS_AS(throw hone::UnsupportedError("x"), hone::Error);
}

TEST_CASE("error: call sites can refine the id", "[error]") {
  const hone::UnsupportedError e("hone.onnx.unsupported_op", "node \"Conv_12\" (op Resize)");
  CHECK(e.id() == "hone.onnx.unsupported_op");
  CHECK(std::string(e.what()) == "[hone.onnx.unsupported_op] node \"Conv_12\" (op Resize)");
}

TEST_CASE("error: ParseError carries the byte offset", "[error]") {
  const hone::ParseError with("hone.onnx.truncated", "field 7 of GraphProto is truncated", 1234);
  REQUIRE(with.byte_offset().has_value());
  CHECK(*with.byte_offset() == 1234);
  CHECK(std::string(with.what()) ==
        "[hone.onnx.truncated] field 7 of GraphProto is truncated (at byte offset 1234)");
  CHECK_FALSE(hone::ParseError("no offset").byte_offset().has_value());
}

TEST_CASE("error: concat streams mixed arguments", "[error]") {
  CHECK(hone::detail::concat("a", 1, ' ', 2.5, "b") == "a1 2.5b");
  CHECK(hone::detail::concat() == "");
}

TEST_CASE("error: HONE_ASSERT throws InternalError naming the expression and place", "[error]") {
  const int answer = 41;
  try {
    HONE_ASSERT(answer == 42, "answer was ", answer);
    FAIL("HONE_ASSERT did not throw");
  } catch (const hone::InternalError& e) {
    const std::string what = e.what();
    CHECK(what.rfind("[hone.internal] assertion `answer == 42` failed at ", 0) == 0);
    CHECK(what.find("test_error.cpp") != std::string::npos);
    CHECK(what.find("answer was 41") != std::string::npos);
  }
  CHECK_NOTHROW([&] { HONE_ASSERT(answer == 41); }());
}
