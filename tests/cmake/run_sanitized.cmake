# Builds hone's unit tests with clang, AddressSanitizer, UBSan and -Werror in a nested build
# tree and runs them (the canary test checks that the sanitizer is really active).
include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
hone_step("configure (clang, address+undefined)" COMMAND ${CMAKE_COMMAND} -S ${HONE_SOURCE_DIR}
  -B ${WORK_DIR}/build -G ${HONE_GENERATOR} -DCMAKE_CXX_COMPILER=${HONE_CLANGXX}
  -DCMAKE_BUILD_TYPE=Debug -DHONE_SANITIZE=address,undefined -DHONE_WERROR=ON
  -DHONE_NESTED_CHECKS=OFF -DHONE_BUILD_EXAMPLES=OFF -DHONE_BUILD_BENCH=OFF)
# Only the programs behind the "unit" label (the others are not run here).
hone_step("build" COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build --parallel 2 --target
  hone_unit_tests hone_data_tests hone_onnx_import_tests hone_interop_eigen_tests hone_interop_xtensor_tests
  hone_sanitizer_canary)
set(ENV{ASAN_OPTIONS} "detect_leaks=1:abort_on_error=0:strict_string_checks=1")
set(ENV{UBSAN_OPTIONS} "print_stacktrace=1:halt_on_error=1")
hone_step("run the sanitized tests" COMMAND ${CMAKE_CTEST_COMMAND} --test-dir ${WORK_DIR}/build
  -L unit --output-on-failure --parallel 2 OUTPUT_VARIABLE out)
message(STATUS "${out}")
