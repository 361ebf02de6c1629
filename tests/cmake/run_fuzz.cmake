# Builds the ONNX fuzzer (tests/fuzz/fuzz_onnx.cpp) with clang, libFuzzer, AddressSanitizer
# and UBSan in a nested build tree, and runs it for FUZZ_SECONDS from the committed corpus
# (tests/fuzz/corpus) and the crash regressions (tests/fuzz/regressions). New corpus entries
# go to the work folder, never into the source tree; a crashing input is left in
# WORK_DIR/artifacts, to be copied into tests/fuzz/regressions once fixed.
include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
if(NOT FUZZ_SECONDS)
  set(FUZZ_SECONDS 60)
endif()
hone_step("configure (clang, libFuzzer)" COMMAND ${CMAKE_COMMAND} -S ${HONE_SOURCE_DIR}
  -B ${WORK_DIR}/build -G ${HONE_GENERATOR} -DCMAKE_CXX_COMPILER=${HONE_CLANGXX}
  -DCMAKE_BUILD_TYPE=Debug -DHONE_FUZZ=ON -DHONE_WERROR=ON -DHONE_NESTED_CHECKS=OFF
  -DHONE_BUILD_EXAMPLES=OFF -DHONE_BUILD_BENCH=OFF)
hone_step("build the fuzzer" COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build --target hone_fuzz_onnx)
file(MAKE_DIRECTORY ${WORK_DIR}/corpus ${WORK_DIR}/artifacts)
set(ENV{ASAN_OPTIONS} "detect_leaks=1:abort_on_error=0")
set(ENV{UBSAN_OPTIONS} "print_stacktrace=1:halt_on_error=1")
execute_process(
  COMMAND ${WORK_DIR}/build/tests/hone_fuzz_onnx -max_total_time=${FUZZ_SECONDS} -rss_limit_mb=2048
          -max_len=65536 -timeout=20 -print_final_stats=1 -artifact_prefix=${WORK_DIR}/artifacts/
          ${WORK_DIR}/corpus ${HONE_TESTS_DIR}/fuzz/corpus ${HONE_TESTS_DIR}/fuzz/regressions
  WORKING_DIRECTORY ${WORK_DIR}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
string(REGEX MATCH "Done [0-9]+ runs in [0-9]+ second\\(s\\)" done "${err}")
string(REGEX MATCH "#[0-9]+[ \t]*DONE[^\n]*" final "${err}")
message(STATUS "fuzz_onnx: ${done}; ${final}")
if(NOT rc EQUAL 0)
  file(GLOB crashes ${WORK_DIR}/artifacts/*)
  message(FATAL_ERROR "fuzz_onnx failed (${rc}); inputs: ${crashes}\n"
                      "Fix the bug, then copy the input into tests/fuzz/regressions/.\n${err}")
endif()
