# Model surgery, selection/freezing and BatchNorm policies (include/hone/train/select.hpp,
# surgery.hpp, bn_policy.hpp). hone_surgery_tests runs on Builder-built and hand-assembled
# graphs (label "train"); hone_surgery_model_tests runs on torchvision models exported by
# PyTorch at test time (label "parity", fixture "parity-onnx" from tests/onnx/onnx_checks.cmake).
add_executable(hone_surgery_tests
  ${CMAKE_CURRENT_LIST_DIR}/test_select.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_surgery.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_bn_policy.cpp)
target_link_libraries(hone_surgery_tests PRIVATE hone::hone hone_catch_main)
target_compile_definitions(hone_surgery_tests PRIVATE HONE_ENABLE_ASSERTS)
hone_target_warnings(hone_surgery_tests)
catch_discover_tests(hone_surgery_tests TEST_PREFIX "train: " PROPERTIES LABELS train)

add_executable(hone_surgery_model_tests ${CMAKE_CURRENT_LIST_DIR}/test_surgery_models.cpp)
target_link_libraries(hone_surgery_model_tests PRIVATE hone::hone hone_catch_main)
target_compile_definitions(hone_surgery_model_tests PRIVATE HONE_ENABLE_ASSERTS)
hone_target_warnings(hone_surgery_model_tests)
catch_discover_tests(hone_surgery_model_tests TEST_PREFIX "train models: " PROPERTIES LABELS parity
  FIXTURES_REQUIRED parity-onnx TIMEOUT 600
  ENVIRONMENT "HONE_ONNX_MODELS_DIR=${CMAKE_CURRENT_BINARY_DIR}/parity/onnx_models")
