# ONNX checks that need more than the unit-test program: the conformance runner over ONNX's
# node tests (Debian's libonnx-testdata), real PyTorch exports (python3-torch, written at
# test time by tests/parity/gen_onnx_models.py), and ONNX Runtime round trips (npm
# onnxruntime-node, installed by scripts/install-deps under .deps/npm).
set(HONE_ONNX_TESTDATA "/usr/share/libonnx-testdata/data/node" CACHE PATH "ONNX node tests")
set(HONE_NODE_MODULES "${PROJECT_SOURCE_DIR}/.deps/npm/node_modules" CACHE PATH
    "node_modules holding onnxruntime-node")
find_program(HONE_NODE NAMES node nodejs)

add_executable(hone_onnx_conformance ${CMAKE_CURRENT_LIST_DIR}/conformance.cpp)
target_link_libraries(hone_onnx_conformance PRIVATE hone::hone)
target_compile_definitions(hone_onnx_conformance PRIVATE HONE_ENABLE_ASSERTS)
hone_target_warnings(hone_onnx_conformance)
add_test(NAME "onnx: conformance over ONNX's node tests"
  COMMAND hone_onnx_conformance ${HONE_ONNX_TESTDATA})
set_tests_properties("onnx: conformance over ONNX's node tests" PROPERTIES LABELS onnx TIMEOUT 600)

set(_hone_models_dir ${CMAKE_CURRENT_BINARY_DIR}/parity/onnx_models)
add_test(NAME "parity: export torchvision models to ONNX"
  COMMAND ${HONE_TEST_PYTHON} ${PROJECT_SOURCE_DIR}/tests/parity/gen_onnx_models.py ${_hone_models_dir})
set_tests_properties("parity: export torchvision models to ONNX" PROPERTIES
  LABELS parity FIXTURES_SETUP parity-onnx TIMEOUT 600)

add_executable(hone_onnx_model_tests
  ${PROJECT_SOURCE_DIR}/tests/parity/test_onnx_models.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_roundtrip.cpp)
target_link_libraries(hone_onnx_model_tests PRIVATE hone::hone hone_catch_main)
target_compile_definitions(hone_onnx_model_tests PRIVATE HONE_ENABLE_ASSERTS)
hone_target_warnings(hone_onnx_model_tests)
# catch_discover_tests passes one ENVIRONMENT entry intact; the other paths are compiled in.
target_compile_definitions(hone_onnx_model_tests PRIVATE
  HONE_TEST_NODE="${HONE_NODE}" HONE_ORT_RUN="${CMAKE_CURRENT_LIST_DIR}/ort_run.js"
  HONE_NODE_MODULES="${HONE_NODE_MODULES}")
catch_discover_tests(hone_onnx_model_tests TEST_PREFIX "onnx models: " PROPERTIES LABELS parity
  FIXTURES_REQUIRED parity-onnx TIMEOUT 900
  ENVIRONMENT "HONE_ONNX_MODELS_DIR=${_hone_models_dir}")

# The importer and exporter on hand-built models (no fixtures needed).
add_executable(hone_onnx_import_tests ${CMAKE_CURRENT_LIST_DIR}/test_import.cpp)
target_link_libraries(hone_onnx_import_tests PRIVATE hone::hone hone_catch_main)
target_compile_definitions(hone_onnx_import_tests PRIVATE HONE_ENABLE_ASSERTS)
hone_target_warnings(hone_onnx_import_tests)
if(HONE_SANITIZE)
  target_compile_options(hone_onnx_import_tests PRIVATE ${_hone_sanitize_flags})
  target_link_options(hone_onnx_import_tests PRIVATE -fsanitize=${HONE_SANITIZE})
endif()
catch_discover_tests(hone_onnx_import_tests TEST_PREFIX "onnx: " PROPERTIES LABELS unit)

# The command-line tool on a PyTorch export: info names the layers and says all ops are
# supported; run writes the output TensorProto; bad usage exits with 2.
if(HONE_BUILD_EXAMPLES)
  add_test(NAME "cli: hone info on resnet18"
    COMMAND hone_cli info ${_hone_models_dir}/resnet18_op13_bn.onnx)
  set_tests_properties("cli: hone info on resnet18" PROPERTIES LABELS parity
    FIXTURES_REQUIRED parity-onnx
    PASS_REGULAR_EXPRESSION "layer4\\.1\\.bn2.*supported: yes")
  add_test(NAME "cli: hone run on resnet18"
    COMMAND ${CMAKE_COMMAND} -DHONE=$<TARGET_FILE:hone_cli> -DMODELS=${_hone_models_dir}
            -DPYTHON=${HONE_TEST_PYTHON} -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/cli_run
            -P ${CMAKE_CURRENT_LIST_DIR}/run_cli.cmake)
  set_tests_properties("cli: hone run on resnet18" PROPERTIES LABELS parity
    FIXTURES_REQUIRED parity-onnx)
  add_test(NAME "cli: bad usage exits with 2"
    COMMAND ${CMAKE_COMMAND} "-DCOMMAND=$<TARGET_FILE:hone_cli>;run;model.onnx" -DEXPECTED=2
            "-DSTDERR_REGEX=run needs -o OUTDIR.*usage: hone info"
            -P ${CMAKE_CURRENT_LIST_DIR}/expect_exit.cmake)
  add_test(NAME "cli: a missing model exits with 1 naming the file"
    COMMAND ${CMAKE_COMMAND} "-DCOMMAND=$<TARGET_FILE:hone_cli>;info;/nonexistent/m.onnx" -DEXPECTED=1
            "-DSTDERR_REGEX=/nonexistent/m.onnx" -P ${CMAKE_CURRENT_LIST_DIR}/expect_exit.cmake)
  set_tests_properties("cli: bad usage exits with 2" "cli: a missing model exits with 1 naming the file"
    PROPERTIES LABELS unit)
endif()
