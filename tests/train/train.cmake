# The trainer, metrics, checkpoints, L2-SP, the feature cache and the end-to-end transfer test
# on Fashion-MNIST (Debian's dataset-fashion-mnist).
add_executable(hone_train_tests
  ${CMAKE_CURRENT_LIST_DIR}/test_metrics.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_trainer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_recipes.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_transfer_e2e.cpp)
target_link_libraries(hone_train_tests PRIVATE hone::hone hone_catch_main)
if(TARGET hone::zlib)
  target_link_libraries(hone_train_tests PRIVATE hone::zlib)
endif()
target_compile_definitions(hone_train_tests PRIVATE HONE_ENABLE_ASSERTS
  HONE_TEST_FASHION_MNIST_DIR="/usr/share/datasets/fashion-mnist")
hone_target_warnings(hone_train_tests)
catch_discover_tests(hone_train_tests TEST_PREFIX "train: " PROPERTIES LABELS train TIMEOUT 600)
