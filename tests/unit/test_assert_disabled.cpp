// HONE_ASSERT compiled out: with NDEBUG and without HONE_ENABLE_ASSERTS the condition is not
// evaluated. This translation unit includes only error.hpp so that no inline function of
// hone is compiled with a different HONE_ASSERT than elsewhere in the test program.
#include <catch2/catch.hpp>

#undef HONE_ENABLE_ASSERTS
#ifndef NDEBUG
#define NDEBUG
#endif
#include <hone/core/error.hpp>

TEST_CASE("error: HONE_ASSERT is compiled out in release builds", "[error]") {
  int evaluated = 0;
  HONE_ASSERT(++evaluated == 100, "never");
  CHECK(evaluated == 0);
}
