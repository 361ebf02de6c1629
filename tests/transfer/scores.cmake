# The transferability scores (include/hone/transfer/scores.hpp), which need hone::eigen.
# The numpy references for LEEP, NCE, H-score and GBC are written at test time by
# tests/transfer/scores_ref.py (ctest fixture "transfer-scores-ref", numpy under
# HONE_TEST_PYTHON), so they cannot drift from the script. Test cases tagged [numpy] need them
# and carry the "parity" label; the others (the issue's values, LogME against a brute-force
# maximisation and against the published code's numbers, errors) are label "train" and need
# nothing.
if(NOT TARGET hone::eigen)
  message(WARNING "Eigen not found (run scripts/install-deps): the transferability score tests are not built")
  return()
endif()

set(_hone_scores_ref_dir ${CMAKE_CURRENT_BINARY_DIR}/transfer/scores_ref)
add_executable(hone_score_tests ${CMAKE_CURRENT_LIST_DIR}/test_scores.cpp)
target_link_libraries(hone_score_tests PRIVATE hone::hone hone::eigen hone_catch_main)
target_compile_definitions(hone_score_tests PRIVATE HONE_ENABLE_ASSERTS)
hone_target_warnings(hone_score_tests)

add_test(NAME "transfer: generate the numpy transferability-score references"
  COMMAND ${HONE_TEST_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/scores_ref.py ${_hone_scores_ref_dir})
set_tests_properties("transfer: generate the numpy transferability-score references" PROPERTIES
  LABELS parity FIXTURES_SETUP transfer-scores-ref TIMEOUT 120)
catch_discover_tests(hone_score_tests TEST_SPEC "[numpy]" TEST_PREFIX "transfer: "
  PROPERTIES LABELS parity FIXTURES_REQUIRED transfer-scores-ref
  ENVIRONMENT "HONE_SCORES_REF_DIR=${_hone_scores_ref_dir}")
catch_discover_tests(hone_score_tests TEST_SPEC "~[numpy]" TEST_PREFIX "transfer: "
  PROPERTIES LABELS train)
