# The transfer-vs-scratch harness and its reports (include/hone/transfer/harness.hpp,
# report.hpp) and model/cut ranking (rank.hpp), partly on Fashion-MNIST (Debian's
# dataset-fashion-mnist, gzipped IDX through hone::zlib).
add_executable(hone_transfer_tests ${CMAKE_CURRENT_LIST_DIR}/test_harness.cpp)
target_link_libraries(hone_transfer_tests PRIVATE hone::hone hone::zlib hone_catch_main)
target_compile_definitions(hone_transfer_tests PRIVATE HONE_ENABLE_ASSERTS)
hone_target_warnings(hone_transfer_tests)
catch_discover_tests(hone_transfer_tests TEST_PREFIX "transfer: " PROPERTIES LABELS train TIMEOUT 600)

# Ranking needs the transferability scores, hence Eigen.
if(TARGET hone::eigen)
  add_executable(hone_rank_tests ${CMAKE_CURRENT_LIST_DIR}/test_rank.cpp)
  target_link_libraries(hone_rank_tests PRIVATE hone::hone hone::zlib hone::eigen hone_catch_main)
  target_compile_definitions(hone_rank_tests PRIVATE HONE_ENABLE_ASSERTS)
  hone_target_warnings(hone_rank_tests)
  catch_discover_tests(hone_rank_tests TEST_PREFIX "transfer: " PROPERTIES LABELS train TIMEOUT 600)
endif()
